// The finished runs of this session, kept so the dashboard can overlay their accuracy curves:
// each with its settings, how it ended and one point per evaluated round (round, accuracy, loss),
// not the whole RoundMetrics with its lists of tabs. The coordinator owns the list and calls these
// when a run ends; the checkpoint carries it, and parsePastRuns checks it on the way back in.
import type { PastRoundPoint, PastRun, RoundMetrics } from '../shared/protocol/records.ts';
import { resolveSettings, SettingsError } from '../shared/settings.ts';

/** How many finished runs are kept; the oldest is dropped first. */
export const PAST_RUNS_KEPT = 12;

export class PastRunsError extends Error {
  override name = 'PastRunsError';
}

export function roundPoints(history: readonly RoundMetrics[]): PastRoundPoint[] {
  return history.map((m) => ({ round: m.round, accuracy: m.accuracy, loss: Number.isFinite(m.loss) ? m.loss : null }));
}

/** A new list: `pastRuns` and then `run`, without the oldest ones beyond PAST_RUNS_KEPT. */
export function withPastRun(pastRuns: readonly PastRun[], run: PastRun): PastRun[] {
  return [...pastRuns, run].slice(-PAST_RUNS_KEPT);
}

const show = (value: unknown) => (typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value)).slice(0, 60));

function fail(where: string, expected: string, got: unknown): never {
  throw new PastRunsError(`${where}: expected ${expected}, got ${show(got)}`);
}

function field(entry: object, key: string): unknown {
  return (entry as Record<string, unknown>)[key];
}

function time(entry: object, key: string, where: string): number {
  const value = field(entry, key);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(`${where}.${key}`, 'a time in ms ≥ 0', value);
  return value;
}

function points(value: unknown, plannedRounds: number, where: string): PastRoundPoint[] {
  if (!Array.isArray(value)) fail(where, 'a list of rounds', value);
  if (value.length > plannedRounds) fail(where, `at most the run's ${plannedRounds} rounds`, `${value.length} rounds`);
  let previous = 0;
  return value.map((point: unknown, i): PastRoundPoint => {
    const at = `${where}[${i}]`;
    if (typeof point !== 'object' || point === null) fail(at, '{round, accuracy, loss}', point);
    const round = field(point, 'round');
    const accuracy = field(point, 'accuracy');
    const loss = field(point, 'loss');
    if (!Number.isInteger(round) || (round as number) <= previous || (round as number) > plannedRounds) {
      fail(`${at}.round`, `a round after ${previous}, at most ${plannedRounds}`, round);
    }
    if (typeof accuracy !== 'number' || !(accuracy >= 0 && accuracy <= 1)) fail(`${at}.accuracy`, 'a number from 0 to 1', accuracy);
    if (loss !== null && (typeof loss !== 'number' || !Number.isFinite(loss))) fail(`${at}.loss`, 'a finite number or null', loss);
    previous = round as number;
    return { round: previous, accuracy, loss };
  });
}

/**
 * The past runs of a checkpoint, checked field by field and copied into fresh objects (nothing
 * else they carry comes along). Throws PastRunsError naming the first bad field. A longer list
 * than PAST_RUNS_KEPT keeps its newest, as appending would have.
 */
export function parsePastRuns(value: unknown): PastRun[] {
  if (!Array.isArray(value)) fail('pastRuns', 'a list', value);
  let previousRun = 0;
  const runs = value.map((entry: unknown, i): PastRun => {
    const where = `pastRuns[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail(where, 'a past run {run, settings, ended, …}', entry);
    const run = field(entry, 'run');
    if (!Number.isSafeInteger(run) || (run as number) <= previousRun) fail(`${where}.run`, `a run number after ${previousRun}`, run);
    previousRun = run as number;
    let settings;
    try {
      settings = resolveSettings(field(entry, 'settings'));
    } catch (error) {
      if (!(error instanceof SettingsError)) throw error;
      throw new PastRunsError(`${where}.settings: ${error.message}`);
    }
    const ended = field(entry, 'ended');
    if (ended !== 'done' && ended !== 'stopped') fail(`${where}.ended`, '"done" or "stopped"', ended);
    const message = field(entry, 'message');
    if (typeof message !== 'string') fail(`${where}.message`, 'a string', message);
    return {
      run: previousRun,
      settings,
      ended,
      message,
      startedAt: time(entry, 'startedAt', where),
      endedAt: time(entry, 'endedAt', where),
      rounds: points(field(entry, 'rounds'), settings.rounds, `${where}.rounds`),
    };
  });
  return runs.slice(-PAST_RUNS_KEPT);
}

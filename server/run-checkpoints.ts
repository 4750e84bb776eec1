// What a checkpoint of the run holds, and turning it back into typed values: the round state
// machine's snapshot, the room's tabs (token hashes, never tokens), the global model and the
// server optimizer's state (m, v), the last two as binary arrays "global", "serverOptimizer.m" ….
// The file format and its atomic writes are checkpoint-store.ts's business.
import { PHASES, type RoundMetrics } from '../shared/protocol/records.ts';
import { resolveSettings } from '../shared/settings.ts';
import { CheckpointStore } from './checkpoint-store.ts';
import { parsePastRuns, PastRunsError } from './past-runs.ts';
import type { SavedRoom } from './room.ts';
import type { RunSnapshot } from './round.ts';

/** Bumped when the meta's shape changes; an older checkpoint is then refused with a clear message. */
const RUN_CHECKPOINT_VERSION = 2; // 2: the privacy ledger and clip norm, and the per-round privacy records
// Not bumped for the server optimizer: its state travels as extra arrays and the meta is unchanged. A
// version-2 file without them has no serverOptimizer setting either, so it resumes with 'none', which keeps no state.
// Nor for the past runs and the run's start time: a file without them resumes with none and the time of the resume.
/** Binary arrays of the server optimizer's state are named this + the buffer's name. */
const OPTIMIZER_ARRAY_PREFIX = 'serverOptimizer.';

export interface RunCheckpoint {
  run: RunSnapshot;
  room: SavedRoom;
  global: Float32Array;
}

interface RunMeta {
  version: number;
  run: Omit<RunSnapshot, 'serverOptimizer' | 'pastRuns' | 'runStartedAt'> & Partial<Pick<RunSnapshot, 'pastRuns' | 'runStartedAt'>>;
  room: RunCheckpoint['room'];
}

export class RunCheckpoints {
  private readonly store: CheckpointStore;

  constructor(dir: string, log: (level: 'info' | 'warn', message: string) => void) {
    const advice =
      'Restore a checkpoint from a backup to go on with this run, or start with --fresh for a new one: it removes every ' +
      `checkpoint-*.flock file in ${dir} (these too) and starts again from round 0; the tabs join as new tabs, and the room ` +
      'code and admin token are made anew unless given.';
    this.store = new CheckpointStore({ dir, keep: 3, log, advice });
  }

  /** Copies the model and the optimizer's state at once: the run may move on before the write is done. */
  save(checkpoint: RunCheckpoint): Promise<unknown> {
    const { serverOptimizer, ...run } = checkpoint.run;
    const arrays: Record<string, Float32Array> = { global: checkpoint.global.slice() };
    for (const [name, values] of Object.entries(serverOptimizer)) arrays[OPTIMIZER_ARRAY_PREFIX + name] = values.slice();
    const meta: RunMeta = { version: RUN_CHECKPOINT_VERSION, run, room: checkpoint.room };
    return this.store.save({ meta: JSON.parse(JSON.stringify(meta)), arrays });
  }

  async load(): Promise<(RunCheckpoint & { path: string }) | null> {
    const latest = await this.store.loadLatest();
    if (!latest) return null;
    const meta = latest.checkpoint.meta as Partial<RunMeta>;
    const global = latest.checkpoint.arrays.global;
    if (meta?.version !== RUN_CHECKPOINT_VERSION || !global) {
      throw new Error(`${latest.path} is a checkpoint of another Flock version (${String(meta?.version)}); start with --fresh`);
    }
    const { run, room } = meta as RunMeta;
    // Whether they are the ones the run's optimizer keeps is checked when the run resumes (round.ts).
    const serverOptimizer = Object.fromEntries(
      Object.entries(latest.checkpoint.arrays)
        .filter(([name]) => name.startsWith(OPTIMIZER_ARRAY_PREFIX))
        .map(([name, values]) => [name.slice(OPTIMIZER_ARRAY_PREFIX.length), values]),
    );
    if (!PHASES.includes(run.phase) || !Number.isInteger(run.completedRounds) || !Array.isArray(run.history) || !Array.isArray(room?.clients)) {
      throw new Error(`${latest.path} has an unexpected run state; start with --fresh`);
    }
    const { pastRuns = [], runStartedAt = null } = run;
    if (runStartedAt !== null && !(typeof runStartedAt === 'number' && Number.isFinite(runStartedAt))) {
      throw new Error(`${latest.path} has an unexpected run start time (${JSON.stringify(runStartedAt)}); start with --fresh`);
    }
    let checkedPastRuns;
    try {
      checkedPastRuns = parsePastRuns(pastRuns);
    } catch (error) {
      if (!(error instanceof PastRunsError)) throw error;
      throw new Error(`${latest.path} has a malformed list of past runs (${error.message}); start with --fresh`);
    }
    return {
      path: latest.path,
      global,
      room,
      run: {
        ...run,
        settings: resolveSettings(run.settings),
        history: run.history as RoundMetrics[],
        serverOptimizer,
        pastRuns: checkedPastRuns,
        runStartedAt,
      },
    };
  }

  clear(): Promise<void> {
    return this.store.clear();
  }
}

// A coordinator for state-machine tests: the real Coordinator and Run with a clock the test moves
// (ManualTimers), an evaluator whose answers the test chooses, readable tab ids ("a", "b"), and
// every event it emits recorded, so a test drives it the way the transport does and reads back
// what went out. Tab `x` is on connection "conn-x".
import type { EvaluationRequest, RoundStart, UpdateMessage } from '../shared/protocol/messages.ts';
import type { LabelledImages } from '../shared/dataset-format.ts';
import type { Phase, RoundMetrics } from '../shared/protocol/records.ts';
import { resolveSettings, type Settings } from '../shared/settings.ts';
import { Coordinator } from '../server/coordinator.ts';
import { LedgerFile } from '../server/ledger-file.ts';
import { RunCheckpoints } from '../server/run-checkpoints.ts';
import { Room } from '../server/room.ts';
import { flushAsync, ManualTimers } from './manual-timers.ts';
import type { Rng } from '../shared/fl/rng.ts';
import { ScriptedEvaluator } from './scripted-evaluator.ts';

const NO_IMAGES: LabelledImages = { count: 0, pixelsPerExample: 784, pixels: new Uint8Array(0), labels: new Uint8Array(0) };
const tabOf = (connectionId: string) => connectionId.replace(/^conn-/, '');

export interface FixtureOptions {
  checkpoints?: RunCheckpoints;
  ledger?: LedgerFile;
  timers?: ManualTimers;
  /** DP's randomness, seeded so a test knows who is sampled; default: the OS's, as in production. */
  secureRng?: () => Rng;
}

export function coordinatorFixture<E extends ScriptedEvaluator = ScriptedEvaluator>(overrides: Partial<Settings> = {}, evaluator: E = new ScriptedEvaluator() as E, options: FixtureOptions = {}) {
  const settings = resolveSettings(overrides);
  const nextIds: string[] = [];
  const room = new Room(() => nextIds.shift()!);
  const timers = options.timers ?? new ManualTimers();
  const bugs: unknown[] = [];
  const logs: string[] = [];
  const coordinator = new Coordinator({
    settings,
    mnist: { train: NO_IMAGES, test: NO_IMAGES },
    evaluator,
    access: { adminToken: 'admin-token', roomCode: null },
    baseUrls: [],
    log: (level, message, error) => {
      logs.push(message);
      if (level === 'error') bugs.push(error ?? new Error(message));
    },
    checkpoints: options.checkpoints ?? null,
    ledger: options.ledger,
    room,
    timers,
    secureRng: options.secureRng,
  });
  const phases: Phase[] = [];
  const starts: { ids: string[]; start: RoundStart }[] = [];
  const requests: { ids: string[]; request: EvaluationRequest }[] = [];
  const done: RoundMetrics[] = [];
  /** round:start and round:done in the order they went out. */
  const events: string[] = [];
  coordinator.on('roundStart', (connections, start) => {
    starts.push({ ids: connections.map(tabOf), start });
    events.push(`start ${start.round}`);
  });
  coordinator.on('evaluationRequest', (connections, request) => requests.push({ ids: connections.map(tabOf), request }));
  coordinator.on('roundDone', (metrics) => {
    done.push(metrics);
    events.push(`done ${metrics.round}`);
  });
  coordinator.on('stateChanged', () => {
    if (phases.at(-1) !== coordinator.phase) phases.push(coordinator.phase);
  });

  /** A tab joins and reports ready; returns its secret resume token. */
  const addTab = (id: string, numExamples = 100, heldOutExamples = 0) => {
    nextIds.push(id);
    const { resumeToken } = coordinator.join(`conn-${id}`, {});
    coordinator.ready(`conn-${id}`, { backend: 'wasm', backendReason: 'test', numExamples, heldOutExamples });
    return resumeToken;
  };
  /** A tab comes back (after a restart, say) with the token it was given, and reports ready. */
  const rejoin = (id: string, resumeToken: string, numExamples = 100) => {
    const reply = coordinator.join(`conn-${id}`, { resumeToken });
    coordinator.ready(`conn-${id}`, { backend: 'wasm', backendReason: 'test', numExamples });
    return reply;
  };
  /** A tab's update, as the transport hands it over (server/plugins/socket.ts). */
  const send = (id: string, update: Pick<UpdateMessage, 'round' | 'numExamples' | 'loss'>, delta: Float32Array) => {
    const { clientId, attempt } = coordinator.attemptFor(`conn-${id}`, `update for round ${update.round} rejected`, true);
    attempt.accept(clientId, update, delta);
  };
  const report = (id: string, round: number, accuracy: number, count: number) =>
    coordinator.submitEvaluation(`conn-${id}`, { round, accuracy, loss: 1 - accuracy, count });
  const leave = (id: string) => coordinator.disconnect(`conn-${id}`);
  /** A tab's status as the run derives it (for a tab that left too). */
  const status = (id: string) => (coordinator.running ? coordinator.run!.statusOf(id) : coordinator.runState().clients.find((c) => c.clientId === id)?.status);
  /** Lets the coordinator finish what the last message set off: a round closing, a ledger written to disk. */
  const settle = async () => {
    await flushAsync();
    for (let waited = 0; coordinator.phase === 'aggregating' && waited < 5_000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
  };
  return { settings, room, timers, phases, starts, requests, done, events, coordinator, evaluator, addTab, rejoin, send, report, leave, status, settle, bugs, logs };
}

export type CoordinatorFixture = ReturnType<typeof coordinatorFixture>;

/** The same, with its checkpoints and privacy ledger in `dir`: a second fixture on the same dir is the coordinator after a restart. */
export async function coordinatorOnDisk<E extends ScriptedEvaluator = ScriptedEvaluator>(
  dir: string,
  overrides: Partial<Settings> = {},
  evaluator: E = new ScriptedEvaluator() as E,
  options: Omit<FixtureOptions, 'checkpoints' | 'ledger'> = {},
) {
  return coordinatorFixture(overrides, evaluator, { ...options, checkpoints: new RunCheckpoints(dir, () => {}), ledger: await LedgerFile.open(dir) });
}

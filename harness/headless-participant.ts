// A participant in Node that trains nothing: the participant loop every tab runs
// (shared/participant/), over socket.io-client's websocket transport, with a stand-in trainer that
// answers every round with a synthetic delta of the model's size (clipped and noised as the round
// asks, so it takes part in secure aggregation and local DP too). 100+ of them load one real
// coordinator without browsers.
//
//   npx tsx harness/headless-participant.ts --url http://127.0.0.1:8080 --count 100 [--room CODE]
//       [--training-ms 1000] [--examples 1000] [--json]
//
// --training-ms: simulated local training time per round (default 0: answer at once).
// --json: one JSON line per event on stdout (what bench/coordinator.bench.ts reads).
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { privatizeLocally } from '../shared/fl/local-dp.ts';
import { createSecureRng } from '../shared/fl/secure-random.ts';
import { modelSpec, type ModelName } from '../shared/model-spec.ts';
import { Participant } from '../shared/participant/participant.ts';
import type { LocalProgress, Trainer, TrainerReadiness, TrainingJob, TrainingRun, TrainedUpdate } from '../shared/participant/trainer.ts';
import type { JoinReply, UpdateAck } from '../shared/protocol/messages.ts';
import { memoryTokens, SocketTransport, systemClock } from '../web/participant/runtime-io.ts';

const BACKEND_REASON = 'headless Node participant (synthetic deltas)';
/** Largest synthetic delta value: small, like a real update, so the global model stays sane. */
const DELTA_SCALE = 1e-3;

/** Wall-clock time in ms with sub-ms resolution, comparable across processes on one machine. */
export const epochMs = () => performance.timeOrigin + performance.now();

export interface HeadlessParticipantOptions {
  url: string;
  roomCode?: string;
  /** Examples this participant claims (its FedAvg weight). Default 1000. */
  numExamples?: number;
  /** Simulated local training time per round. Default 0. */
  trainingMs?: number;
  /** Seeds the synthetic delta; give each participant its own. Default 1. */
  seed?: number;
  /** The delta to send for a model, instead of small random values (tests pick exact ones). */
  deltaFor?: (model: ModelName) => Float32Array;
  /** Called once per round this participant answered (or failed to). */
  onRound?: (report: RoundReport) => void;
  /** Called when the connection drops (not on close()); `reason` is Socket.IO's ("ping timeout", "transport close"…). */
  onDisconnect?: (reason: string) => void;
}

/** A round:start as it arrived, answered or not. */
export interface RoundStartSeen {
  round: number;
  attempt: number;
  /** Epoch ms (see epochMs). */
  receivedAt: number;
}

export interface RoundReport {
  round: number;
  attempt: number;
  /** Epoch ms (see epochMs) when round:start arrived, the update was sent (NaN: never), the answer came. */
  receivedAt: number;
  sentAt: number;
  ackedAt: number;
  ack: UpdateAck;
}

export class HeadlessParticipant {
  clientId: string | null = null;
  model: ModelName | null = null;
  readonly rounds: RoundReport[] = [];
  /** Every round:start received, in order: resent ones and those ignored while asleep included. */
  readonly roundStarts: RoundStartSeen[] = [];
  /** While true, round:start arrives (and is recorded) but is never answered, the connection staying open: a stalled tab. */
  asleep = false;
  /** Every problem the loop saw: flock:error messages, refused or unanswered updates, undecodable weights. */
  readonly errors: string[] = [];
  /** Why the connection dropped, if it did (close() is not a drop). */
  disconnectReason: string | null = null;
  /** The secret the coordinator gave at the first join: join() sends it again to come back as the same tab. */
  private readonly tokens = memoryTokens();
  private loop: Participant | null = null;
  /** Made once per model: every round sends the same values, so rounds cost little CPU here. */
  private readonly deltas = new Map<ModelName, Float32Array>();

  constructor(private readonly options: HeadlessParticipantOptions) {}

  get resumeToken(): string | null {
    return this.tokens.token;
  }

  /** Connects, joins (with the room code if any) and reports ready. Rejects when the coordinator refuses. */
  join(): Promise<JoinReply> {
    this.loop?.close(); // one connection at a time: an old round's update is never sent on the new one
    const { url, roomCode } = this.options;
    const receivedAt = new Map<string, number>();
    const sentAt = new Map<string, number>();
    const key = (r: { round: number; attempt: number }) => `${r.round}/${r.attempt}`;
    return new Promise((resolve, reject) => {
      let joined = false;
      const refuse = (error: Error) => {
        if (joined) return;
        joined = true;
        loop.close();
        reject(error);
      };
      const loop = new Participant({
        transport: new SocketTransport(url, { reconnect: false }), // a drop is a drop: benches count them
        tokens: this.tokens,
        clock: systemClock,
        secureRng: createSecureRng,
        roomCode,
        host: { startTrainer: async ({ model }) => new SyntheticTrainer(this.numExamples, () => this.deltaOf(model), this.options.trainingMs ?? 0, () => this.asleep) },
        events: {
          joined: (reply) => {
            this.clientId = reply.clientId;
            this.model = reply.model;
            if (!joined) {
              joined = true;
              resolve(reply);
            }
          },
          joinFailed: (message) => refuse(new Error(`join refused: ${message}`)),
          connectFailed: (message) => refuse(new Error(`cannot connect to ${url}: ${message}`)),
          disconnected: (reason) => {
            if (reason === 'io client disconnect') return; // we left (close(), or a refused join)
            this.disconnectReason = reason;
            this.options.onDisconnect?.(reason);
          },
          roundStart: (start) => {
            const at = epochMs();
            this.roundStarts.push({ round: start.round, attempt: start.attempt, receivedAt: at });
            if (!receivedAt.has(key(start))) receivedAt.set(key(start), at);
          },
          uploading: (start) => sentAt.set(key(start), epochMs()),
          answered: ({ round, attempt, ack }) => {
            const report: RoundReport = { round, attempt, receivedAt: receivedAt.get(key({ round, attempt })) ?? NaN, sentAt: sentAt.get(key({ round, attempt })) ?? NaN, ackedAt: epochMs(), ack };
            this.rounds.push(report);
            this.options.onRound?.(report);
          },
          problem: (message) => this.errors.push(message),
        },
      });
      this.loop = loop;
      loop.start();
    });
  }

  close(): void {
    this.loop?.close();
    this.loop = null;
  }

  private get numExamples(): number {
    return this.options.numExamples ?? 1000;
  }

  private deltaOf(model: ModelName): Float32Array {
    let delta = this.deltas.get(model);
    if (!delta) {
      delta = this.options.deltaFor?.(model) ?? syntheticDelta(modelSpec(model).paramCount, this.options.seed ?? 1);
      this.deltas.set(model, delta);
    }
    return delta;
  }
}

/** Trains nothing: after `trainingMs` it returns its delta, clipped and noised as the round asks. */
class SyntheticTrainer implements Trainer {
  constructor(
    private readonly numExamples: number,
    private readonly delta: () => Float32Array,
    private readonly trainingMs: number,
    private readonly asleep: () => boolean,
  ) {}

  readiness(): TrainerReadiness {
    return { backend: 'cpu', backendReason: BACKEND_REASON, numExamples: this.numExamples, heldOutExamples: 0, labelCounts: null, numTensors: null };
  }

  train(job: TrainingJob, onProgress: (progress: LocalProgress) => void): TrainingRun {
    let settle!: (outcome: TrainedUpdate | 'cancelled') => void;
    const result = new Promise<TrainedUpdate | 'cancelled'>((resolve) => (settle = resolve));
    // Asleep: the round is never answered (until a newer one cancels it).
    const timer = this.asleep()
      ? null
      : setTimeout(() => {
          onProgress({ round: job.round, epoch: job.epochs, epochs: job.epochs, step: 1, stepsPerEpoch: 1, loss: 0.5 });
          const delta = this.delta().slice();
          const privatized = job.clipNorm > 0 ? privatizeLocally(delta, job.clipNorm, job.localNoiseMultiplier, createSecureRng()) : null;
          settle({ delta, numExamples: this.numExamples, loss: 0.5, examplesPerSec: 0, privatized, numTensors: null });
        }, this.trainingMs);
    return {
      result,
      cancel: () => {
        if (timer) clearTimeout(timer);
        settle('cancelled');
      },
    };
  }

  evaluate(): Promise<never> {
    return Promise.reject(new Error('a headless participant holds out no examples'));
  }

  dispose(): void {}
}

/** Uniform values in ±DELTA_SCALE from a tiny LCG: cheap, reproducible, different per seed. */
function syntheticDelta(length: number, seed: number): Float32Array {
  const values = new Float32Array(length);
  let state = (seed * 2654435761) >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[i] = (state / 2147483648 - 1) * DELTA_SCALE;
  }
  return values;
}

/** Starts `count` participants (seeds 1…count, joined a few at a time) and resolves once all are ready. */
export async function joinParticipants(count: number, options: Omit<HeadlessParticipantOptions, 'seed'>): Promise<HeadlessParticipant[]> {
  const participants = Array.from({ length: count }, (_, i) => new HeadlessParticipant({ ...options, seed: i + 1 }));
  const JOINS_IN_FLIGHT = 20; // 100 simultaneous handshakes is fine too, but there is no need to spike
  for (let i = 0; i < count; i += JOINS_IN_FLIGHT) {
    await Promise.all(participants.slice(i, i + JOINS_IN_FLIGHT).map((p) => p.join()));
  }
  return participants;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8080' },
      count: { type: 'string', default: '10' },
      room: { type: 'string' },
      'training-ms': { type: 'string', default: '0' },
      examples: { type: 'string', default: '1000' },
      json: { type: 'boolean', default: false },
    },
  });
  const count = Number(values.count);
  const trainingMs = Number(values['training-ms']);
  const numExamples = Number(values.examples);
  if (!Number.isInteger(count) || count < 1) throw new Error(`--count must be a positive integer, got ${values.count}`);
  if (!Number.isFinite(trainingMs) || trainingMs < 0) throw new Error(`--training-ms must be ≥ 0, got ${values['training-ms']}`);
  if (!Number.isInteger(numExamples) || numExamples < 1) throw new Error(`--examples must be a positive integer, got ${values.examples}`);

  const json = values.json;
  const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);
  let closing = false;
  let connected = count;
  const roundsSeen = new Map<number, { accepted: number; refused: number }>();

  const participants = await joinParticipants(count, {
    url: values.url,
    roomCode: values.room,
    trainingMs,
    numExamples,
    onRound(report) {
      const tally = roundsSeen.get(report.round) ?? { accepted: 0, refused: 0 };
      roundsSeen.set(report.round, tally);
      if (report.ack.accepted) tally.accepted++;
      else tally.refused++;
      if (json) emit({ event: 'round', ...report });
      else if (!report.ack.accepted) console.log(`round ${report.round}: update refused: ${report.ack.error}`);
      else if (tally.accepted === connected) console.log(`round ${report.round}: all ${connected} updates accepted`);
    },
    onDisconnect(reason) {
      if (closing) return;
      connected--;
      if (json) emit({ event: 'disconnect', reason, at: epochMs() });
      else console.log(`a participant lost its connection: ${reason} (${connected} still connected)`);
      if (connected === 0) finish('every participant lost its connection');
    },
  });
  const model = participants[0].model!;
  if (json) emit({ event: 'ready', count, model, at: epochMs() });
  else console.log(`${count} headless participants joined ${values.url} and are ready (model ${model}, ${modelSpec(model).paramCount.toLocaleString('en-US')} parameters); Ctrl-C to leave`);

  function finish(why: string): void {
    closing = true;
    for (const p of participants) p.close();
    const rounds = [...roundsSeen.entries()].map(([r, t]) => `round ${r}: ${t.accepted} accepted${t.refused ? `, ${t.refused} refused` : ''}`);
    if (json) emit({ event: 'exit', why });
    else console.log(`${why}; ${rounds.length ? rounds.join('; ') : 'no rounds'}`);
    process.exit(0);
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => finish(`${signal}: leaving`));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(`headless-participant: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}

// A participant in Node: speaks the real protocol over socket.io-client (websocket
// transport) but trains nothing. It answers every round:start with a synthetic delta of
// the model's size, so 100+ of them can load one real coordinator without browsers.
//
//   npx tsx harness/headless-participant.ts --url http://127.0.0.1:8080 --count 100 [--room CODE]
//       [--training-ms 1000] [--examples 1000] [--json]
//
// --training-ms: simulated local training time per round (default 0: answer at once).
// --json: one JSON line per event on stdout (what bench/coordinator.bench.ts reads).
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { io as connect, type Socket } from 'socket.io-client';
import { modelSpec, type ModelName } from '../shared/model-spec.ts';
import type { ClientToServerEvents, JoinReply, RoundStart, ServerToClientEvents, UpdateAck } from '../shared/protocol/messages.ts';
import { decodeWeights, encodeWeights } from '../shared/wire.ts';

type ParticipantSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const BACKEND_REASON = 'headless Node participant (synthetic deltas)';
/** Largest synthetic delta value: small, like a real update, so the global model stays sane. */
const DELTA_SCALE = 1e-3;
const ACK_TIMEOUT_MS = 120_000;

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
  /** Epoch ms (see epochMs) when round:start arrived, the update was sent, the ack came back. */
  receivedAt: number;
  sentAt: number;
  ackedAt: number;
  ack: UpdateAck;
}

export class HeadlessParticipant {
  clientId: string | null = null;
  /** The secret the coordinator gave at the first join: join() sends it again to come back as the same tab. */
  resumeToken: string | null = null;
  model: ModelName | null = null;
  readonly rounds: RoundReport[] = [];
  /** Every round:start received, in order: resent ones and those ignored while asleep included. */
  readonly roundStarts: RoundStartSeen[] = [];
  /** While true, round:start arrives (and is recorded) but is never answered, the connection staying open: a stalled tab. */
  asleep = false;
  /** flock:error messages, refused or unanswered updates, undecodable weights. */
  readonly errors: string[] = [];
  /** Why the connection dropped, if it did (close() is not a drop). */
  disconnectReason: string | null = null;
  private socket: ParticipantSocket | null = null;
  /** Encoded once per model: every round sends the same bytes, so rounds cost no CPU here. */
  private readonly encodedDeltas = new Map<ModelName, ArrayBuffer>();
  private readonly numExamples: number;

  constructor(private readonly options: HeadlessParticipantOptions) {
    this.numExamples = options.numExamples ?? 1000;
  }

  /** Connects, joins (with the room code if any) and reports ready. Rejects when the coordinator refuses. */
  async join(): Promise<JoinReply> {
    const socket: ParticipantSocket = connect(this.options.url, {
      transports: ['websocket'],
      forceNew: true, // one connection per participant, not one multiplexed for all
      reconnection: false, // a drop is a drop: benches count them
    });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', (error) => reject(new Error(`cannot connect to ${this.options.url}: ${error.message}`)));
    });
    socket.on('disconnect', (reason) => {
      if (reason === 'io client disconnect') return; // we left (close(), or a refused join)
      this.disconnectReason = reason;
      this.options.onDisconnect?.(reason);
    });
    socket.on('flock:error', (message) => this.errors.push(message));
    // The coordinator resends a round owed to a tab that came back (at its join and at its ready):
    // like a browser tab, answer each round attempt once per connection.
    const started = new Set<string>();
    socket.on('round:start', (start) => {
      this.roundStarts.push({ round: start.round, attempt: start.attempt, receivedAt: epochMs() });
      const key = `${start.round}/${start.attempt}`;
      if (this.asleep || started.has(key)) return;
      started.add(key);
      void this.answer(start, socket);
    });

    const request = { ...(this.options.roomCode ? { roomCode: this.options.roomCode } : {}), ...(this.resumeToken ? { resumeToken: this.resumeToken } : {}) };
    const reply = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck('participant:join', request);
    if ('error' in reply) {
      socket.disconnect();
      throw new Error(`join refused: ${reply.error}`);
    }
    this.clientId = reply.clientId;
    this.resumeToken = reply.resumeToken;
    this.model = reply.model;
    this.encodedDelta(reply.model);
    socket.emit('participant:ready', { backend: 'cpu', backendReason: BACKEND_REASON, numExamples: this.numExamples });
    return reply;
  }

  close(): void {
    this.socket?.disconnect();
  }

  /** Answers on the connection the round came on: after close() and join(), an old round's update is not sent on the new one. */
  private async answer(start: RoundStart, socket: ParticipantSocket): Promise<void> {
    const receivedAt = epochMs();
    const report = (sentAt: number, ack: UpdateAck) => {
      const done: RoundReport = { round: start.round, attempt: start.attempt, receivedAt, sentAt, ackedAt: epochMs(), ack };
      if (!ack.accepted) this.errors.push(`round ${start.round}: ${ack.error}`);
      this.rounds.push(done);
      this.options.onRound?.(done);
    };
    const fail = (error: string) => report(NaN, { accepted: false, error });
    try {
      decodeWeights(modelSpec(start.model), start.weights); // what a tab would load: validates the header, size and values
    } catch (error) {
      return fail(`global weights did not decode: ${(error as Error).message}`);
    }
    if (this.options.trainingMs) await new Promise((resolve) => setTimeout(resolve, this.options.trainingMs));
    if (!socket.connected) return fail('disconnected before sending the update');
    const sentAt = epochMs();
    let ack: UpdateAck;
    try {
      ack = await socket
        .timeout(ACK_TIMEOUT_MS)
        .emitWithAck('participant:update', { round: start.round, numExamples: this.numExamples, loss: 0.5, delta: this.encodedDelta(start.model) });
    } catch (error) {
      return fail(`no acknowledgement for the update: ${(error as Error).message}`);
    }
    report(sentAt, ack);
  }

  private encodedDelta(model: ModelName): ArrayBuffer {
    let encoded = this.encodedDeltas.get(model);
    if (!encoded) {
      const spec = modelSpec(model);
      encoded = encodeWeights(spec, this.options.deltaFor?.(model) ?? syntheticDelta(spec.paramCount, this.options.seed ?? 1));
      this.encodedDeltas.set(model, encoded);
    }
    return encoded;
  }
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

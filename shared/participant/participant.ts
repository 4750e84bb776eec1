// The participant protocol loop, one for every kind of participant: the page (hosted in its
// training worker, web/trainer.worker.ts), the headless participant and the experiment's simulated
// clients (harness/). Pure: its I/O comes in through the transport, the clock and the host.
//
//   connect ─→ participant:join (resume token, room code) ─→ load the shard, start the trainer
//           ─→ participant:ready ─→ round:start … (round-runner.ts) ─→ participant:update or secagg:*
//
// Everything the coordinator sends is checked against the protocol table before it is acted on.
// Where the join reply (and each round's config) says shareStatistics is false, no statistics of
// the tab's data leave it: no label counts, no losses, no evaluation reports.
import type { Rng } from '../fl/rng.ts';
import type { ModelName } from '../model-spec.ts';
import { MESSAGES, type JoinReply, type OutboundName, type Payload, type ReadyReport, type UpdateAck } from '../protocol/messages.ts';
import { parseOutbound, ProtocolError } from '../protocol/parse.ts';
import type { AttackMode, RoundMetrics } from '../protocol/records.ts';
import { CoordinatorConnection, type ResumeTokenStore } from './connection.ts';
import { RoundRunner } from './round-runner.ts';
import { shardExamples } from './shard-examples.ts';
import { initialParticipantState, type ParticipantState } from './state.ts';
import type { LocalProgress, Trainer, TrainerSetup } from './trainer.ts';
import type { Clock, ParticipantTransport } from './transport.ts';

/** What differs between hosts: how the shard is fetched, what trains, how a person is asked. */
export interface ParticipantHost {
  /** The bytes of the shard at `url` (as the join reply names it, relative to the coordinator). Absent: the host loads no data. */
  fetchShard?(url: string): Promise<Uint8Array>;
  /** A trainer for the model, its backend picked. The loop disposes it when the model or split changes. */
  startTrainer(setup: TrainerSetup): Promise<Trainer>;
  /** The room wants a code: resolves with what the person typed. Absent: a refused join is final. */
  askForRoomCode?(message: string): Promise<string>;
}

/** The coordinator's answer to one upload, or why there is none. */
export interface UploadOutcome {
  round: number;
  attempt: number;
  ack: UpdateAck;
  trained: { loss: number; examplesPerSec: number; trainingMs: number };
}

/** What a host may listen to besides the state; every one is optional. */
export interface ParticipantEvents {
  /** The state changed. */
  changed?(state: Readonly<ParticipantState>): void;
  /** Joined and reported ready (after every join). */
  joined?(reply: JoinReply): void;
  joinFailed?(message: string): void;
  connectFailed?(message: string): void;
  /** The connection dropped; Socket.IO's reason ('io client disconnect' is close()). */
  disconnected?(reason: string): void;
  /** Every round:start that passed the protocol check, resent ones included. */
  roundStart?(start: { round: number; attempt: number }): void;
  /** Local training's loss read-backs (the page's loss chart). */
  progress?(progress: LocalProgress): void;
  /** The update as this tab computed it, before any masking: to read, not to keep (copy it). */
  trained?(round: number, delta: Float32Array): void;
  /** The update is about to go out. */
  uploading?(start: { round: number; attempt: number }): void;
  answered?(outcome: UploadOutcome): void;
  /** Every problem that lastError shows, flock:error included. */
  problem?(message: string): void;
  roundDone?(metrics: RoundMetrics): void;
}

export interface ParticipantOptions {
  transport: ParticipantTransport;
  host: ParticipantHost;
  tokens: ResumeTokenStore;
  clock: Clock;
  /** The secure random source (shared/fl/secure-random.ts createSecureRng in every host). */
  secureRng(): Rng;
  roomCode?: string;
  attack?: AttackMode;
  events?: ParticipantEvents;
}

/** The trainer set up for one model and shard; replaced when the coordinator asks for others. */
interface Session {
  model: ModelName;
  shardIndex: number;
  /** The split the shard came from: a round of another split makes this tab join again and reload. */
  dataVersion: string;
  ready: Promise<Trainer>;
  trainer: Trainer | null;
}

export class Participant {
  readonly state: ParticipantState;
  private readonly connection: CoordinatorConnection;
  private readonly rounds: RoundRunner;
  private readonly events: ParticipantEvents;
  private session: Session | null = null;
  private closed = false;

  constructor(private readonly options: ParticipantOptions) {
    this.state = initialParticipantState(options.attack);
    this.events = options.events ?? {};
    const events = this.events;
    this.connection = new CoordinatorConnection(
      options.transport,
      options.tokens,
      options.clock,
      {
        connectionChanged: (connection) => {
          this.state.connection = connection;
          if (connection === 'connected' && this.state.status === 'starting') this.state.status = 'joining';
          this.changed();
        },
        joined: (reply) => this.prepare(reply),
        joinFailed: (message) => {
          this.state.lastError = message;
          this.state.status = 'error';
          events.problem?.(message);
          events.joinFailed?.(message);
          this.changed();
        },
        connectFailed: (message) => events.connectFailed?.(message),
        disconnected: (reason) => events.disconnected?.(reason),
        askForRoomCode: options.host.askForRoomCode?.bind(options.host),
        message: (name, payload) => this.receive(name, payload),
      },
      options.roomCode,
    );
    this.rounds = new RoundRunner({
      state: this.state,
      changed: () => this.changed(),
      connection: this.connection,
      session: () => {
        const s = this.session;
        return s?.trainer ? { model: s.model, dataVersion: s.dataVersion, trainer: s.trainer } : null;
      },
      events,
      clock: options.clock,
      secureRng: options.secureRng,
    });
  }

  /** Connects and joins; then takes part until close(). */
  start(): void {
    this.connection.open();
  }

  close(): void {
    this.closed = true;
    this.rounds.cancel();
    this.connection.close();
    this.session?.trainer?.dispose();
    this.session = null;
  }

  /** Resolves once joined and ready (again, after a reconnect). */
  whenJoined(): Promise<void> {
    return this.connection.whenJoined();
  }

  /** The trainer's examples changed (digits drawn on the page): the coordinator weighs updates by their count. */
  reportReady(): void {
    const trainer = this.session?.trainer;
    if (!trainer) return; // the ready report after the join will say it
    this.sendReady(trainer);
    this.changed();
  }

  private changed(): void {
    this.events.changed?.(this.state);
  }

  /** Loads the shard and starts a trainer for the model, unless this tab already has (or is getting) them, then reports ready. */
  private async prepare(reply: JoinReply): Promise<void> {
    const { state } = this;
    state.clientId = reply.clientId;
    state.shareStatistics = reply.shareStatistics;
    const same = (s: Session) => s.model === reply.model && s.shardIndex === reply.shard.index && s.dataVersion === reply.shard.dataVersion;
    if (!this.session || !same(this.session)) {
      this.rounds.cancel();
      this.session?.trainer?.dispose();
      const next: Session = { model: reply.model, shardIndex: reply.shard.index, dataVersion: reply.shard.dataVersion, ready: this.startTrainer(reply), trainer: null };
      this.session = next;
      next.ready.then(
        (trainer) => {
          if (this.session === next) next.trainer = trainer;
          else trainer.dispose(); // replaced (or closed) while it was getting ready
        },
        () => {
          if (this.session === next) this.session = null; // reported as the join's failure; the next join tries again
        },
      );
    }
    const trainer = await this.session.ready;
    if (this.closed) return;
    this.sendReady(trainer);
    if (state.status === 'error') state.lastError = null; // joined again after a failure: the old error is over
    if (state.status !== 'training' && state.status !== 'uploading') state.status = 'waiting for a round';
    this.changed();
    this.events.joined?.(reply);
  }

  private async startTrainer(reply: JoinReply): Promise<Trainer> {
    const { state, options } = this;
    Object.assign(state, { model: reply.model, shardIndex: reply.shard.index, shardCount: reply.shard.count, status: 'loading data', backend: null, backendReason: '' });
    state.heldOutEvaluation = null;
    this.changed();
    const examples = options.host.fetchShard ? shardExamples(await options.host.fetchShard(reply.shard.url), reply.model, reply.shard) : null;
    state.status = 'choosing backend';
    this.changed();
    return options.host.startTrainer({ model: reply.model, shard: reply.shard, examples });
  }

  /** What the coordinator knows of this tab: sent after each join, and again when the example count changes. */
  private sendReady(trainer: Trainer): void {
    const { state } = this;
    const readiness = trainer.readiness();
    Object.assign(state, readiness);
    const report: ReadyReport = {
      backend: readiness.backend,
      backendReason: readiness.backendReason,
      numExamples: readiness.numExamples,
      heldOutExamples: readiness.heldOutExamples,
      attack: state.attack,
    };
    // Label counts describe the tab's data: not under local DP or secure aggregation.
    if (state.shareStatistics && readiness.labelCounts) report.labelCounts = readiness.labelCounts;
    this.connection.transport.send('participant:ready', report);
  }

  private receive(name: string, raw: unknown): void {
    if (this.closed || name === 'state') return; // 'state' is the dashboard's
    if (!isParticipantBound(name)) return this.showError(`the coordinator sent an unknown message "${name.slice(0, 40)}": is this tab older than the coordinator? Reload it`);
    const payload = this.parse(name, raw);
    if (payload === null) return;
    switch (name) {
      case 'round:start': {
        const start = payload as Payload<'round:start'>;
        this.events.roundStart?.(start);
        void this.rounds.run(start);
        return;
      }
      case 'round:evaluate':
        return this.rounds.evaluateFinal(payload as Payload<'round:evaluate'>, this.state.shareStatistics);
      case 'round:done': {
        const metrics = payload as Payload<'round:done'>;
        this.state.lastAccuracy = metrics.accuracy;
        this.events.roundDone?.(metrics);
        return this.changed();
      }
      case 'participant:attack':
        this.state.attack = payload as Payload<'participant:attack'>;
        return this.changed();
      case 'flock:error':
        return this.showError(payload as Payload<'flock:error'>);
      case 'secagg:roster':
        return this.rounds.onRoster(payload as Payload<'secagg:roster'>);
      case 'secagg:forward':
        return this.rounds.onForward(payload as Payload<'secagg:forward'>);
      case 'secagg:unmask':
        return this.rounds.onUnmask(payload as Payload<'secagg:unmask'>);
    }
  }

  /** The payload, checked against its row of the protocol table; null (and the problem shown) when it does not fit. */
  private parse<K extends ParticipantBound>(name: K, raw: unknown): Payload<K> | null {
    try {
      return parseOutbound(name, raw);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.showError(`ignored a ${MESSAGES[name].what} from the coordinator that does not fit the protocol (${error.message}): is this tab older than the coordinator? Reload it`);
      return null;
    }
  }

  private showError(message: string): void {
    this.state.lastError = message;
    this.events.problem?.(message);
    this.changed();
  }
}

/** What the coordinator sends to tabs: every outbound row of the protocol table but the dashboard's 'state'. */
type ParticipantBound = Exclude<OutboundName, 'state'>;

const PARTICIPANT_BOUND: ReadonlySet<string> = new Set(
  (Object.keys(MESSAGES) as (keyof typeof MESSAGES)[]).filter((name) => MESSAGES[name].direction === 'out' && name !== 'state'),
);

function isParticipantBound(name: string): name is ParticipantBound {
  return PARTICIPANT_BOUND.has(name);
}

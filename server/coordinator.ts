// The coordinator's domain API: what a tab, the dashboard or an admin can do to a room,
// as intention-revealing methods, and a typed event emitter for what the transport must
// send. It composes the room (who is here), the round state machine (the run) and the
// shards; transports only decode, call these methods and forward the events.
import { EventEmitter } from 'node:events';
import { modelSpec } from '../shared/model-spec.ts';
import type { AttackMode, ClientView, RoundMetrics, RunState } from '../shared/protocol/records.ts';
import type { EvaluationReport, EvaluationRequest, JoinReply, JoinRequest, ReadyReport, RoundStart, TrainingProgress, UpdateMessage } from '../shared/protocol/messages.ts';
import { resolveSettings, tabsShareStatistics, type Settings } from '../shared/settings.ts';
import type { AdvertWire, ForwardWire, MaskedInputWire, RevealWire, RosterWire, SharesWire, UnmaskWire } from '../shared/protocol/messages.ts';
import type { Mnist } from './dataset.ts';
import { ShardStore } from './dataset.ts';
import { Room, type Split } from './room.ts';
import { RoundController, type Evaluator } from './round.ts';
import { realTimers, type Timers } from './timers.ts';
import { requireRoomCode, type Access } from './access.ts';
import { ClientFaultError } from './client-fault.ts';
import type { RunCheckpoints } from './run-checkpoints.ts';

/** What the transport must carry out. Connection ids are the transport's own handles. */
export interface CoordinatorEvents {
  roundStart: [connectionIds: string[], start: RoundStart];
  roundDone: [metrics: RoundMetrics];
  /** Federated evaluation of the run's final model. */
  evaluationRequest: [connectionIds: string[], request: EvaluationRequest];
  attackChanged: [connectionId: string, mode: AttackMode];
  /** A tab came back on a new connection while its old one lingered: close the old one. */
  connectionReplaced: [connectionId: string];
  stateChanged: [];
  /** Secure aggregation: the roster to every tab in it, each tab's forwarded shares, the unmask request to the survivors. */
  secureRoster: [connectionIds: string[], roster: RosterWire];
  secureForward: [connectionId: string, forward: ForwardWire];
  secureUnmask: [connectionIds: string[], request: UnmaskWire];
}

export class UnknownClientError extends ClientFaultError {
  override name = 'UnknownClientError';
}

export class ReadyReportError extends ClientFaultError {
  override name = 'ReadyReportError';
}

export interface CoordinatorOptions {
  settings: Settings;
  mnist: Mnist;
  evaluator: Evaluator;
  access: Access;
  /** Where participants can reach this coordinator, e.g. http://192.168.1.20:8080/ (LAN first). */
  baseUrls: string[];
  log: (level: 'info' | 'warn' | 'error', message: string, error?: unknown) => void;
  /** Where the run is checkpointed after every round; null: nothing is kept. */
  checkpoints?: RunCheckpoints | null;
  timers?: Timers;
}

export class Coordinator extends EventEmitter<CoordinatorEvents> {
  readonly room = new Room();
  readonly rounds: RoundController;
  private readonly shards: ShardStore;
  readonly access: Access;
  private readonly baseUrls: string[];
  private readonly log: CoordinatorOptions['log'];
  private readonly checkpoints: RunCheckpoints | null;

  constructor(options: CoordinatorOptions) {
    super();
    this.access = options.access;
    this.baseUrls = options.baseUrls;
    this.log = options.log;
    this.checkpoints = options.checkpoints ?? null;
    this.shards = new ShardStore(options.mnist.train);
    this.rounds = new RoundController(
      options.settings,
      this.room,
      options.evaluator,
      {
        sendRoundStart: (ids, start) => this.emit('roundStart', this.connectionsOf(ids), start),
        sendEvaluationRequest: (ids, request) => this.emit('evaluationRequest', this.connectionsOf(ids), request),
        secure: {
          sendRoster: (ids, roster) => this.emit('secureRoster', this.connectionsOf(ids), roster),
          sendForward: (id, forward) => this.connectionsOf([id]).forEach((c) => this.emit('secureForward', c, forward)),
          sendUnmask: (ids, request) => this.emit('secureUnmask', this.connectionsOf(ids), request),
        },
        publishRoundDone: (metrics) => this.emit('roundDone', metrics),
        roundCompleted: () => this.checkpoint(),
        stateChanged: () => this.emit('stateChanged'),
        log: (message) => this.log('info', message),
        bug: (error) => this.log('error', 'bug in the coordinator', error),
      },
      options.timers ?? realTimers,
    );
  }

  get settings(): Settings {
    return this.rounds.settings;
  }

  /** Continues from the last good checkpoint, if there is one; says what it did. */
  async resume(): Promise<string> {
    const saved = await this.checkpoints?.load();
    if (!saved) return 'no checkpoint: starting a new run';
    this.room.restore(saved.room);
    this.rounds.resume(saved.run, saved.global);
    return `resumed from ${saved.path}: ${saved.run.completedRounds} rounds done, phase ${this.rounds.phase}`;
  }

  // ── a tab ──────────────────────────────────────────────────────────────────

  join(connectionId: string, request: JoinRequest): JoinReply {
    requireRoomCode(this.access, request.roomCode);
    const settings = this.settings;
    const { client, resumeToken, replacedConnection, leftClient } = this.room.join(connectionId, request.resumeToken, settings);
    const split = this.room.split(settings);
    if (replacedConnection) this.emit('connectionReplaced', replacedConnection);
    if (leftClient) this.log('info', `tab ${leftClient} left (its connection joined again as another tab)`);
    this.log('info', `tab ${client.clientId} joined (shard ${client.shard})`);
    this.rounds.clientsChanged(); // an owed round is resent at its ready report, which follows every join
    return {
      clientId: client.clientId,
      resumeToken,
      shard: { index: client.shard, count: split.partition.shards, url: `/api/shards/${client.shard}`, dataVersion: split.version, evalFraction: settings.evalFraction },
      model: settings.model,
      shareStatistics: tabsShareStatistics(settings),
    };
  }

  ready(connectionId: string, report: ReadyReport): void {
    const client = this.tabOn(connectionId);
    const counted = report.labelCounts?.reduce((a, b) => a + b, 0);
    if (counted !== undefined && counted !== report.numExamples) {
      throw new ReadyReportError(`ready report refused: its label counts add up to ${counted}, not its ${report.numExamples} examples`);
    }
    this.room.markReady(client.clientId, report);
    const heldOut = report.heldOutExamples ? ` (+${report.heldOutExamples} held out)` : '';
    this.log('info', `tab ${client.clientId} ready: ${report.backend}, ${report.numExamples} examples${heldOut}${client.attack !== 'none' ? `, attacker (${client.attack})` : ''}`);
    this.rounds.clientsChanged();
    this.resendRoundIfOwed(client.clientId);
  }

  reportProgress(connectionId: string, progress: TrainingProgress): void {
    const client = this.tabOn(connectionId);
    client.lastLoss = progress.loss ?? null;
    if (progress.uploading) this.rounds.markUploading(client.clientId, progress.round);
    this.emit('stateChanged');
  }

  /** Federated evaluation: a tab's figures on the last global model it was sent. */
  submitEvaluation(connectionId: string, report: EvaluationReport): void {
    this.rounds.acceptEvaluation(this.tabOn(connectionId).clientId, report);
  }

  submitUpdate(connectionId: string, update: Pick<UpdateMessage, 'round' | 'numExamples' | 'loss'>, delta: Float32Array): void {
    this.rounds.acceptUpdate(this.tabOn(connectionId).clientId, update, delta);
  }

  // Secure aggregation's steps (server/secure-round.ts): keys, shares, the masked update, the reveal.
  advertiseKeys(connectionId: string, wire: AdvertWire): void {
    this.rounds.acceptKeys(this.tabOn(connectionId).clientId, wire);
  }

  submitShares(connectionId: string, wire: SharesWire): void {
    this.rounds.acceptShares(this.tabOn(connectionId).clientId, wire);
  }

  submitMaskedUpdate(connectionId: string, wire: MaskedInputWire): void {
    this.rounds.acceptMaskedUpdate(this.tabOn(connectionId).clientId, wire);
  }

  submitReveal(connectionId: string, wire: RevealWire): void {
    this.rounds.acceptReveal(this.tabOn(connectionId).clientId, wire);
  }

  disconnect(connectionId: string): void {
    const client = this.room.disconnect(connectionId);
    if (!client) return;
    this.log('info', `tab ${client.clientId} left`);
    this.rounds.clientsChanged();
  }

  /** Bytes on the wire to/from one connection: counted for its tab and for the current round. */
  recordTraffic(connectionId: string, bytesSent: number, bytesReceived: number): void {
    const client = this.room.onConnection(connectionId);
    if (!client) return; // a stranger's bytes are not the round's traffic
    this.room.recordTraffic(client.clientId, bytesSent, bytesReceived);
    this.rounds.recordTraffic(bytesSent, bytesReceived);
  }

  // ── an admin ───────────────────────────────────────────────────────────────

  start(): void {
    this.rounds.start();
  }

  stop(): void {
    this.rounds.stop();
    this.checkpoint();
  }

  /**
   * Back to idle, and the checkpoints are gone: the next start is a fresh run. The past runs stay in
   * memory and are in the next checkpoint (a round or a stop); a restart before that starts without them.
   */
  async reset(): Promise<void> {
    this.rounds.reset();
    await this.checkpoints?.clear();
  }

  changeSettings(partial: unknown): Settings {
    const settings = resolveSettings(partial, this.settings);
    this.rounds.updateSettings(settings);
    return settings;
  }

  /** Switches a tab into (or out of) a simulated attacker, from its next round. */
  setAttack(clientId: string, mode: AttackMode): void {
    const client = this.room.get(clientId);
    if (!client?.connectionId) throw new UnknownClientError(`no connected tab ${clientId}`);
    client.attack = mode;
    this.log('info', `tab ${clientId}: attack ${mode}`);
    this.emit('attackChanged', client.connectionId, mode);
    this.emit('stateChanged');
  }

  // ── anyone ─────────────────────────────────────────────────────────────────

  /** The split the tabs hold now (with settings.shards 0, one shard per tab, dealt at the run's first round). */
  split(): Split {
    return this.room.split(this.settings);
  }

  /** One shard of that split, encoded (shared/dataset-format.ts); null when there is no such shard. */
  shardData(index: number): Uint8Array | null {
    const { partition } = this.split();
    return index < partition.shards ? this.shards.shard(partition, index) : null;
  }

  runState(): RunState {
    const spec = modelSpec(this.settings.model);
    const query = this.access.roomCode ? `?room=${this.access.roomCode}` : '';
    return {
      ...this.rounds.state(),
      clients: this.clientViews(),
      modelTitle: spec.title,
      paramCount: spec.paramCount,
      joinUrls: this.baseUrls.map((url) => `${url}${query}`),
      roomCode: this.access.roomCode,
    };
  }

  private clientViews(): ClientView[] {
    return this.room.connectedClients().map((c) => ({
      clientId: c.clientId,
      shard: c.shard,
      backend: c.backend,
      backendReason: c.backendReason,
      numExamples: c.numExamples,
      status: this.rounds.statusOf(c.clientId),
      lastLoss: c.lastLoss,
      connected: true,
      lastUpdateAt: c.lastUpdateAt,
      bytesSent: c.bytesSent,
      bytesReceived: c.bytesReceived,
      attack: c.attack,
      labelCounts: c.labelCounts,
      heldOutExamples: c.heldOutExamples,
    }));
  }

  private tabOn(connectionId: string) {
    const client = this.room.onConnection(connectionId);
    if (!client) throw new UnknownClientError('unknown client: send participant:join first');
    return client;
  }

  private resendRoundIfOwed(clientId: string): void {
    const start = this.rounds.roundOwedTo(clientId);
    if (start) this.emit('roundStart', this.connectionsOf([clientId]), start);
  }

  private connectionsOf(clientIds: string[]): string[] {
    return clientIds.map((id) => this.room.get(id)?.connectionId).filter((c): c is string => typeof c === 'string');
  }

  private checkpoint(): void {
    this.checkpoints?.save({ run: this.rounds.snapshot(), room: this.room.save(), global: this.rounds.global }).catch((error: unknown) =>
      this.log('error', 'checkpoint failed', error),
    );
  }
}

// The coordinator's domain API: what a tab, the dashboard or an admin can do to a room, as
// intention-revealing methods, and a typed event emitter for what the transport must send. It
// holds what outlives a run (the room, the population's privacy ledger, the session's past runs,
// the settings of the next run) and the run itself (run.ts), made by start or resume and replaced
// by the next start or a reset. Transports only decode, call these methods and forward the events.
import { EventEmitter } from 'node:events';
import { modelSpec } from '../shared/model-spec.ts';
import type { EvaluationReport, EvaluationRequest, ForwardWire, JoinReply, JoinRequest, ReadyReport, RosterWire, RoundStart, TrainingProgress, UnmaskWire } from '../shared/protocol/messages.ts';
import type { AttackMode, ClientView, PastRun, Phase, RoundMetrics, RunState } from '../shared/protocol/records.ts';
import { resolveSettings, tabsShareStatistics, type Settings } from '../shared/settings.ts';
import { createSecureRng } from '../shared/fl/secure-random.ts';
import type { Rng } from '../shared/fl/rng.ts';
import { dpWarning } from '../shared/fl/dp-utility.ts';
import { nextRunNumber } from '../shared/run-label.ts';
import type { Timers } from '../shared/timers.ts';
import type { Mnist } from './dataset.ts';
import { ShardStore } from './dataset.ts';
import { Room, type Split } from './room.ts';
import { Run, type RunDeps } from './run.ts';
import { UpdateRejectedError, type Attempt } from './attempt.ts';
import type { Evaluator } from './evaluator.ts';
import { realTimers } from './timers.ts';
import { requireRoomCode, type Access } from './access.ts';
import { ClientFaultError } from './client-fault.ts';
import type { RunCheckpoints } from './run-checkpoints.ts';
import { LedgerFile } from './ledger-file.ts';
import { roundPoints, withPastRun } from './past-runs.ts';

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

/** A run-control request in the wrong phase (start while running, stop while idle): the caller's mistake. */
export class RunStateError extends ClientFaultError {
  override name = 'RunStateError';
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
  /** The population's privacy ledger (server/ledger-file.ts); default: one in memory. */
  ledger?: LedgerFile;
  /** The room (tests give one with readable ids); default: a new one. */
  room?: Room;
  /** Where DP's sampling and noise come from: the operating system's CSPRNG; seeded only in tests. */
  secureRng?: () => Rng;
  timers?: Timers;
}

export class Coordinator extends EventEmitter<CoordinatorEvents> {
  readonly room: Room;
  readonly access: Access;
  /** The settings the next run starts with (the current run keeps its own: run.settings). */
  settings: Settings;
  /** The run in progress, or the last one (ended); null before the first and after a reset. */
  run: Run | null = null;
  /** Runs of this session that have ended, oldest first; kept across start and reset. */
  pastRuns: PastRun[] = [];
  private readonly shards: ShardStore;
  private readonly evaluator: Evaluator;
  private readonly baseUrls: string[];
  private readonly log: CoordinatorOptions['log'];
  private readonly checkpoints: RunCheckpoints | null;
  readonly ledger: LedgerFile;
  private readonly timers: Timers;
  private readonly secureRng: () => Rng;

  constructor(options: CoordinatorOptions) {
    super();
    this.room = options.room ?? new Room();
    this.settings = options.settings;
    this.access = options.access;
    this.baseUrls = options.baseUrls;
    this.log = options.log;
    this.checkpoints = options.checkpoints ?? null;
    this.evaluator = options.evaluator;
    this.shards = new ShardStore(options.mnist.train);
    this.timers = options.timers ?? realTimers;
    this.ledger = options.ledger ?? LedgerFile.inMemory();
    this.secureRng = options.secureRng ?? createSecureRng;
  }

  get phase(): Phase {
    return this.run?.phaseName ?? 'idle';
  }

  /** Whether a run is in progress (not idle, not ended). */
  get running(): boolean {
    return this.run !== null && !this.run.ended;
  }

  /** The settings of what is shown (the history, the global model): the run's; without one, the next run's. */
  get shownSettings(): Settings {
    return this.run?.settings ?? this.settings;
  }

  /** The global model (of shownSettings.model): the run's, or the initial weights the next run starts from. */
  get global(): Float32Array {
    return this.run?.global ?? this.evaluator.initialWeights(this.settings.model, this.settings.seed);
  }

  /** The rounds of the run in progress or the last one. */
  get history(): RoundMetrics[] {
    return this.run?.history ?? [];
  }

  /** Continues from the last good checkpoint, if there is one; says what it did. */
  async resume(): Promise<string> {
    const saved = await this.checkpoints?.load();
    if (!saved) return 'no checkpoint: starting a new run';
    this.room.restore(saved.room);
    this.pastRuns = saved.pastRuns;
    this.settings = saved.settings;
    if (saved.run) {
      this.run = Run.resume(this.runDeps(saved.run.settings), saved.run, saved.global);
      this.run.begin();
    }
    return `resumed from ${saved.path}: ${saved.run?.completedRounds ?? 0} rounds done, phase ${this.phase}`;
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
    this.clientsChanged(); // an owed round is resent at its ready report, which follows every join
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
    // Under local DP and secure aggregation the coordinator keeps no statistics of a tab's data.
    this.room.markReady(client.clientId, tabsShareStatistics(this.settings) ? report : { ...report, labelCounts: undefined });
    const heldOut = report.heldOutExamples ? ` (+${report.heldOutExamples} held out)` : '';
    this.log('info', `tab ${client.clientId} ready: ${report.backend}, ${report.numExamples} examples${heldOut}${client.attack !== 'none' ? `, attacker (${client.attack})` : ''}`);
    // A round this tab was selected for before it left is sent again; one that this report opens goes out by itself.
    const owed = this.running ? this.run!.roundOwedTo(client.clientId) : null;
    this.clientsChanged();
    if (owed) this.emit('roundStart', this.connectionsOf([client.clientId]), owed);
  }

  reportProgress(connectionId: string, progress: TrainingProgress): void {
    const client = this.tabOn(connectionId);
    if (progress.loss !== undefined && tabsShareStatistics(this.settings)) client.lastLoss = progress.loss;
    if (progress.uploading) this.run?.markUploading(client.clientId, progress.round);
    this.emit('stateChanged');
  }

  /** Federated evaluation: a tab's figures on the last global model it was sent. */
  submitEvaluation(connectionId: string, report: EvaluationReport): void {
    this.tabInRun(connectionId, 'evaluation refused', (run, clientId) => run.acceptEvaluation(clientId, report));
    this.emit('stateChanged');
  }

  /**
   * The open attempt a tab's update or secure-aggregation step goes to (attempt.ts takes it from
   * there), with the tab's id. A stranger, or a message no round collects, is refused. `upload`: it
   * carries an update, which local DP charges even when it is then refused.
   */
  attemptFor(connectionId: string, refused: string, upload = false): { clientId: string; attempt: Attempt } {
    const { clientId } = this.tabOn(connectionId);
    if (!this.run) throw new UpdateRejectedError(`${refused}: no round is collecting updates (phase: idle)`);
    const attempt = this.run.attemptFor(clientId, refused, upload);
    this.emit('stateChanged'); // the dashboard's push is throttled: it reads the state once the step is taken
    return { clientId, attempt };
  }

  disconnect(connectionId: string): void {
    const client = this.room.disconnect(connectionId);
    if (!client) return;
    this.log('info', `tab ${client.clientId} left`);
    this.clientsChanged();
  }

  /** Bytes on the wire to/from one connection: counted for its tab and for the current round. */
  recordTraffic(connectionId: string, bytesSent: number, bytesReceived: number): void {
    const client = this.room.onConnection(connectionId);
    if (!client) return; // a stranger's bytes are not the round's traffic
    this.room.recordTraffic(client.clientId, bytesSent, bytesReceived);
    this.run?.recordTraffic(bytesSent, bytesReceived);
  }

  // ── an admin ───────────────────────────────────────────────────────────────

  start(): void {
    if (this.running) throw new RunStateError(`a run is already in progress (phase: ${this.run!.phaseName}); stop it first`);
    const deps = this.runDeps(this.settings);
    const refusal = Run.preview(deps).refusal;
    if (refusal) throw new RunStateError(`cannot start: ${refusal.replace('another round', 'the first round')}; raise targetEpsilon or the noise, or reset the privacy ledger (an explicit admin action)`);
    this.run = Run.start(deps);
    this.run.begin();
  }

  stop(): void {
    if (!this.running) throw new RunStateError(`nothing to stop (phase: ${this.phase})`);
    this.run!.stop();
  }

  /**
   * Back to idle, and the checkpoints are gone: the next start is a fresh run. The past runs stay in
   * memory and are in the next checkpoint (a round or a stop); a restart before that starts without them.
   * The privacy ledger stays: forgetting it is its own action (resetLedger).
   */
  reset(): Promise<void> {
    if (this.running) throw new RunStateError('stop the run before resetting it');
    this.run = null;
    this.emit('stateChanged');
    return this.checkpoints?.clear() ?? Promise.resolve();
  }

  /**
   * Forgets the privacy the population has spent: an explicit admin action, logged, that keeps a
   * record of itself in the ledger. What the dashboard shows as ε from then on leaves out what was spent before.
   */
  async resetLedger(): Promise<void> {
    if (this.running) throw new RunStateError('stop the run before resetting the privacy ledger');
    const s = this.settings;
    const before = this.ledger.ledger.epsilon(s.dpDelta).epsilon;
    const forgotten = this.ledger.ledger.reset(this.timers.now());
    await this.ledger.persist();
    this.log(
      'warn',
      `privacy ledger reset by the admin: forgot ${forgotten.rounds} central rounds (ε ${before.toFixed(3)} at δ ${s.dpDelta}) and ${forgotten.uploads} noised updates; ` +
        'the ε shown from now on does not count what the tabs that took part before have spent',
    );
    this.emit('stateChanged');
  }

  /** New settings apply from the next run. */
  changeSettings(partial: unknown): Settings {
    if (this.running) throw new RunStateError('settings can only change between runs: stop the run first');
    this.settings = resolveSettings(partial, this.settings);
    if (!tabsShareStatistics(this.settings)) {
      // Stop showing what tabs reported before the change; they send no more.
      for (const client of this.room.connectedClients()) {
        client.labelCounts = null;
        client.lastLoss = null;
      }
    }
    this.emit('stateChanged');
    return this.settings;
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

  /** Everything the coordinator knows: the admin's view (server/release-view.ts makes the public one). */
  runState(): RunState {
    const s = this.settings;
    const spec = modelSpec(s.model);
    const run = this.run;
    const query = this.access.roomCode ? `?room=${this.access.roomCode}` : '';
    const inFlight = run?.inFlight() ?? { selected: [], answered: [], deadlineAt: null };
    const worst = this.ledger.ledger.worstTab(s.dpDelta);
    return {
      phase: run?.phaseName ?? 'idle',
      round: run?.position.round ?? 0,
      attempt: run?.position.attempt ?? 0,
      ...inFlight,
      selectedCount: inFlight.selected.length,
      answeredCount: inFlight.answered.length,
      participationHidden: false,
      message: run?.message ?? 'Press start to begin training',
      settings: s,
      modelTitle: spec.title,
      paramCount: spec.paramCount,
      clients: this.clientViews(),
      history: this.history,
      pastRuns: this.pastRuns,
      privacyBudget: this.running ? run!.budget() : Run.preview(this.runDeps(s)).budget,
      privacyLedger: { worstTab: worst ? { uploads: worst.uploads, epsilon: worst.epsilon } : null, resets: [...this.ledger.ledger.resets] },
      privacyWarning: this.running
        ? null
        : dpWarning({ ...s, populationSize: s.population > 0 ? s.population : this.room.members().length, paramCount: spec.paramCount }),
      serverNow: this.timers.now(),
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
      status: this.run && !this.run.ended ? this.run.statusOf(c.clientId) : c.backend ? 'idle' : 'joining',
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

  private runDeps(settings: Settings): RunDeps {
    return {
      settings,
      room: this.room,
      evaluator: this.evaluator,
      ledger: this.ledger,
      timers: this.timers,
      secureRng: this.secureRng,
      transport: {
        roundStart: (ids, start) => this.emit('roundStart', this.connectionsOf(ids), start),
        evaluationRequest: (ids, request) => this.emit('evaluationRequest', this.connectionsOf(ids), request),
        secure: {
          roster: (ids, roster) => this.emit('secureRoster', this.connectionsOf(ids), roster),
          forward: (id, forward) => this.connectionsOf([id]).forEach((c) => this.emit('secureForward', c, forward)),
          unmask: (ids, request) => this.emit('secureUnmask', this.connectionsOf(ids), request),
        },
        roundDone: (metrics) => this.emit('roundDone', metrics),
        roundCompleted: () => this.checkpoint(),
        ended: (run) => this.runEnded(run),
        stateChanged: () => this.emit('stateChanged'),
        log: (message) => this.log('info', message),
        bug: (error) => this.log('error', 'bug in the coordinator', error),
      },
    };
  }

  /** The run that ended joins the past runs (before the state change, so the state shows it), and is checkpointed. */
  private runEnded(run: Run): void {
    this.pastRuns = withPastRun(this.pastRuns, {
      run: nextRunNumber(this.pastRuns),
      settings: run.settings,
      ended: run.phaseName === 'done' ? 'done' : 'stopped',
      message: run.message,
      startedAt: run.startedAt,
      endedAt: this.timers.now(),
      rounds: roundPoints(run.history),
    });
    this.checkpoint();
  }

  private clientsChanged(): void {
    if (this.running) this.run!.clientsChanged();
    this.emit('stateChanged');
  }

  /**
   * The run a tab's message goes to: the one in progress or the last one (an ended run refuses updates
   * itself, and still takes late evaluation reports). A stranger is refused first.
   */
  private tabInRun(connectionId: string, refused: string, act: (run: Run, clientId: string) => void): void {
    const { clientId } = this.tabOn(connectionId);
    if (!this.run) throw new UpdateRejectedError(`${refused}: no round is collecting updates (phase: idle)`);
    act(this.run, clientId);
  }

  private tabOn(connectionId: string) {
    const client = this.room.onConnection(connectionId);
    if (!client) throw new UnknownClientError('unknown client: send participant:join first');
    return client;
  }

  private connectionsOf(clientIds: string[]): string[] {
    return clientIds.map((id) => this.room.get(id)?.connectionId).filter((c): c is string => typeof c === 'string');
  }

  /** Writes a checkpoint of everything a restart needs; resolves once it is on disk (none without a data directory). */
  saveCheckpoint(): Promise<unknown> {
    return this.checkpoints?.save({ run: this.run?.snapshot() ?? null, settings: this.settings, pastRuns: this.pastRuns, room: this.room.save(), global: this.global }) ?? Promise.resolve();
  }

  private checkpoint(): void {
    this.saveCheckpoint().catch((error: unknown) => this.log('error', 'checkpoint failed', error));
  }
}

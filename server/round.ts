// The round state machine; the one place run state lives.
//
//   idle ─start→ waiting ─enough tabs→ selecting → training ─all answered / deadline→ aggregating
//        → waiting (next round) …  last round: aggregating → evaluating → done
//                                               (stop: any running phase → stopped)
//   training ─too few answers by the deadline→ waiting (the same round, next attempt)
//
// The round in flight is one value (OpenRound), made in openRound() and dropped in dropOpenRound();
// a tab's status is derived from it and from the last closed round, never stored beside it.
// How updates combine is the strategy's business (shared/fl/strategy.ts).
//
// Evaluation is off the critical path: as soon as round r is aggregated, round r+1 starts on the
// new global model while round r is evaluated in the background (the `evaluation` field); round
// r's round:done follows when the evaluation ends. Rounds are still decided in order: round r+1 is
// not aggregated before round r's evaluation is in, and when that evaluation reaches the target
// accuracy the run ends at round r (round r+1, already handed out, is abandoned and the global
// model stays round r's).
//
// Federated evaluation (evaluation-reports.ts) rides along: the tabs that get round r+1's start
// first evaluate the model in it (round r's) on their held-out examples and report; the final
// model goes out in round:evaluate. The reports fill in round r's federatedEvaluation as they
// come. With centralEvaluation off they are round r's evaluation: it is in once they are (or at
// their deadline), and the target check uses them.
import type { ModelName } from '../shared/model-spec.ts';
import { modelSpec } from '../shared/model-spec.ts';
import type { ClientStatus, PastRun, Phase, RoundMetrics, RunState } from '../shared/protocol/records.ts';
import type { EvaluationReport, EvaluationRequest, RoundStart, UpdateMessage } from '../shared/protocol/messages.ts';
import { tabsShareStatistics, type Settings } from '../shared/settings.ts';
import { encodeWeights } from '../shared/wire.ts';
import { clientWeight } from '../shared/fl/fedavg.ts';
import { l2Norm } from '../shared/fl/clip.ts';
import { dpClientWeight } from '../shared/fl/dp-fedavg.ts';
import { createSecureRng } from '../shared/fl/secure-random.ts';
import { AggregationError, type AggregationStrategy } from '../shared/fl/strategy.ts';
import { createAggregationStrategy } from '../shared/fl/strategies.ts';
import { PrivateAggregation } from '../shared/fl/private-aggregation.ts';
import { createServerOptimizer, type ServerOptimizer, type ServerOptimizerState } from '../shared/fl/server-optimizer.ts';
import { nextRunNumber } from '../shared/run-label.ts';
import { ClientFaultError } from './client-fault.ts';
import type { ClientRecord, Room } from './room.ts';
import { realTimers, type Timers } from './timers.ts';
import { RunPrivacy, type Population, type RoundPlan, type RunPrivacyState } from './run-privacy.ts';
import { SecureRound, type SecureRoundHooks, type SecureSum } from './secure-round.ts';
import { EvaluationReports } from './evaluation-reports.ts';
import { roundPoints, withPastRun } from './past-runs.ts';
import type { AdvertWire, MaskedInputWire, RevealWire, SharesWire } from '../shared/protocol/messages.ts';

const TRANSITIONS: Record<Phase, readonly Phase[]> = {
  idle: ['waiting'],
  waiting: ['training', 'done', 'stopped'],
  // → done from waiting, training, aggregating: the previous round's evaluation reached the target.
  training: ['aggregating', 'waiting', 'done', 'stopped'],
  aggregating: ['waiting', 'evaluating', 'done', 'stopped'],
  evaluating: ['done', 'stopped'],
  done: ['waiting'],
  stopped: ['waiting'],
};

export const RUNNING_PHASES: readonly Phase[] = ['waiting', 'training', 'aggregating', 'evaluating'];

export class UpdateRejectedError extends ClientFaultError {
  override name = 'UpdateRejectedError';
}

export class RunStateError extends ClientFaultError {
  override name = 'RunStateError';
}

export interface Evaluator {
  initialWeights(model: ModelName, seed: number): Float32Array;
  evaluate(model: ModelName, weights: Float32Array): Promise<{ accuracy: number; loss: number }>;
}

/** What the state machine tells the coordinator. */
export interface RoundHooks {
  sendRoundStart(clientIds: string[], start: RoundStart): void;
  /** The run's final model, for the tabs' federated evaluation (optional: state-machine tests without tabs leave it out). */
  sendEvaluationRequest?(clientIds: string[], request: EvaluationRequest): void;
  /** Secure aggregation's messages to tabs (secure-round.ts). */
  secure: Pick<SecureRoundHooks, 'sendRoster' | 'sendForward' | 'sendUnmask'>;
  publishRoundDone(metrics: RoundMetrics): void;
  /** A round's result is final (its history entry is in): the moment to checkpoint. */
  roundCompleted(): void;
  stateChanged(): void;
  log(message: string): void;
  /** Something that should not happen did: our bug, not a tab's fault. */
  bug(error: unknown): void;
}

interface Answer {
  weight: number;
  loss: number | null;
}

/** The round in flight: everything that lives and dies with one attempt of one round. */
interface OpenRound {
  readonly round: number;
  readonly attempt: number;
  readonly selected: readonly string[];
  readonly answers: Map<string, Answer>;
  /** Tabs that said they finished training and are sending their update. */
  readonly uploading: Set<string>;
  readonly start: RoundStart;
  readonly startedAt: number;
  readonly deadlineAt: number;
  readonly deadlineTimer: unknown;
  /** Central DP: this round's noise and fixed denominator, and the population they were sized for. */
  readonly plan: RoundPlan | undefined;
  readonly population: Population;
  /** Secure aggregation's steps for this attempt; null when off. */
  readonly secure: SecureRound | null;
  /** The survivors' unmasked sum, once secure aggregation has it. */
  secureSum: SecureSum | null;
  bytesSent: number;
  bytesReceived: number;
}

type AggregatedRound = Omit<RoundMetrics, 'accuracy' | 'loss' | 'accuracySource' | 'federatedEvaluation'>;

/** A round aggregated and being evaluated in the background; the next aggregation waits for it. */
interface PendingEvaluation {
  readonly metrics: AggregatedRound;
  readonly done: Promise<void>;
}

/** What a checkpoint keeps of the run (the global model travels beside it as binary). */
export interface RunSnapshot {
  /** The server optimizer's m and v: binary, the live buffers (run-checkpoints.ts copies and stores them beside the model). */
  serverOptimizer: ServerOptimizerState;
  phase: Phase;
  /** Rounds completed: the run resumes at completedRounds + 1. */
  completedRounds: number;
  message: string;
  settings: Settings;
  history: RoundMetrics[];
  /** The privacy budget spent and the clip norm reached. */
  privacy: RunPrivacyState;
  /** The session's finished runs (past-runs.ts), so a restart keeps the comparison. */
  pastRuns: PastRun[];
  /** Server clock (ms) when this run started; null in a checkpoint from before it was kept. */
  runStartedAt: number | null;
}

export class RoundController {
  phase: Phase = 'idle';
  round = 0;
  attempt = 0;
  message = 'Press start to begin training';
  history: RoundMetrics[] = [];
  /** Runs of this session that have ended, oldest first; kept across start and reset. */
  pastRuns: PastRun[] = [];
  global: Float32Array;
  private open: OpenRound | null = null;
  private evaluation: PendingEvaluation | null = null;
  /** The tabs' reports on this run's global models; a new run starts a new one. */
  private evaluations: EvaluationReports;
  private strategy: AggregationStrategy;
  private aggregate: Float32Array;
  /** Turns the aggregate into the global model's step; its m and v are run state, checkpointed with the rest. */
  private serverOptimizer: ServerOptimizer;
  /** ε spent and the moving clip norm: run state, checkpointed with the rest. */
  private privacy: RunPrivacy;
  /** Bumped by start/stop so that async work of an abandoned run is dropped. */
  private runId = 0;
  private runStartedAt = 0;

  constructor(
    public settings: Settings,
    private readonly room: Room,
    private readonly evaluator: Evaluator,
    private readonly hooks: RoundHooks,
    private readonly timers: Timers = realTimers,
  ) {
    this.global = evaluator.initialWeights(settings.model, settings.seed);
    this.strategy = buildStrategy(settings, this.global.length);
    this.aggregate = new Float32Array(this.global.length);
    this.serverOptimizer = createServerOptimizer(settings, this.global.length);
    this.privacy = new RunPrivacy(settings, null);
    this.evaluations = this.newEvaluationReports();
  }

  get running(): boolean {
    return RUNNING_PHASES.includes(this.phase);
  }

  start(): void {
    if (this.running) throw new RunStateError(`a run is already in progress (phase: ${this.phase}); stop it first`);
    const privacy = new RunPrivacy(this.settings, null);
    const unaffordable = privacy.budgetExhausted();
    if (unaffordable) throw new RunStateError(`cannot start: ${unaffordable.replace('another round', 'the first round')}; raise targetEpsilon or the noise`);
    this.privacy = privacy;
    this.runId++;
    this.evaluation = null;
    this.global = this.evaluator.initialWeights(this.settings.model, this.settings.seed);
    this.serverOptimizer.reset();
    this.history = [];
    this.evaluations.dispose();
    this.evaluations = this.newEvaluationReports();
    this.runStartedAt = this.timers.now();
    this.round = 1;
    this.attempt = 1;
    const optimizer = this.settings.serverOptimizer === 'none' ? '' : `, server optimizer ${this.serverOptimizer.title}`;
    this.hooks.log(`run started: ${this.settings.rounds} rounds of ${this.settings.model}, ${this.strategy.title}${optimizer}`);
    this.moveTo('waiting');
    this.openRoundIfReady();
  }

  stop(): void {
    if (!this.running) throw new RunStateError(`nothing to stop (phase: ${this.phase})`);
    this.runId++;
    this.evaluation = null;
    this.dropOpenRound();
    this.evaluations.dispose(); // no deadline outlives the run; late reports still fill in its history
    this.message = `stopped in round ${this.round}`;
    this.recordPastRun('stopped');
    this.moveTo('stopped');
  }

  /** Back to idle with fresh initial weights and no history; the past runs stay. */
  reset(): void {
    if (this.running) throw new RunStateError('stop the run before resetting it');
    this.runId++;
    this.global = this.evaluator.initialWeights(this.settings.model, this.settings.seed);
    this.serverOptimizer.reset();
    this.history = [];
    this.privacy = new RunPrivacy(this.settings, null);
    this.round = 0;
    this.attempt = 0;
    this.message = 'Press start to begin training';
    this.phase = 'idle';
    this.hooks.stateChanged();
  }

  /** Continues a checkpointed run: the round that was in flight is redone from the checkpointed model. */
  resume(snapshot: RunSnapshot, global: Float32Array): void {
    if (this.phase !== 'idle') throw new RunStateError(`can only resume into an idle coordinator (phase: ${this.phase})`);
    this.updateSettings(snapshot.settings);
    if (global.length !== this.global.length) {
      throw new RunStateError(`checkpoint has ${global.length} parameters, ${snapshot.settings.model} has ${this.global.length}`);
    }
    try {
      this.serverOptimizer.restore(snapshot.serverOptimizer);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      throw new RunStateError(`checkpoint does not fit: ${error.message}`);
    }
    this.global = global;
    this.history = snapshot.history;
    this.pastRuns = snapshot.pastRuns;
    this.runStartedAt = snapshot.runStartedAt ?? this.timers.now();
    this.privacy = new RunPrivacy(snapshot.settings, snapshot.privacy);
    this.runId++;
    if (RUNNING_PHASES.includes(snapshot.phase)) {
      this.round = snapshot.completedRounds + 1;
      this.attempt = 1;
      this.hooks.log(`resumed after a restart: ${snapshot.completedRounds} rounds done, round ${this.round} is redone`);
      this.moveTo('waiting');
      this.openRoundIfReady();
    } else {
      this.round = snapshot.completedRounds;
      this.message = snapshot.message;
      this.phase = snapshot.phase;
      this.hooks.stateChanged();
    }
  }

  snapshot(): RunSnapshot {
    const completedRounds = this.history.at(-1)?.round ?? 0;
    return {
      phase: this.phase,
      completedRounds,
      message: this.message,
      settings: this.settings,
      history: this.history,
      privacy: this.privacy.state(),
      serverOptimizer: this.serverOptimizer.state(),
      pastRuns: this.pastRuns,
      runStartedAt: this.runStartedAt,
    };
  }

  /** Counts bytes on the wire towards the current round. */
  recordTraffic(bytesSent: number, bytesReceived: number): void {
    if (!this.open) return;
    this.open.bytesSent += bytesSent;
    this.open.bytesReceived += bytesReceived;
  }

  /** New settings apply from the next run. */
  updateSettings(settings: Settings): void {
    if (this.running) throw new RunStateError('settings can only change between runs: stop the run first');
    this.settings = settings;
    this.global = this.evaluator.initialWeights(settings.model, settings.seed);
    this.strategy = buildStrategy(settings, this.global.length);
    this.aggregate = new Float32Array(this.global.length);
    this.serverOptimizer = createServerOptimizer(settings, this.global.length);
    this.privacy = new RunPrivacy(settings, null);
    this.hooks.stateChanged();
  }

  /** The coordinator calls this after any join, ready report or disconnect. */
  clientsChanged(): void {
    this.evaluations.clientsChanged();
    if (this.phase === 'waiting') this.openRoundIfReady();
    else if (this.phase === 'training' && this.open?.secure) this.open.secure.tabsChanged();
    else if (this.phase === 'training' && this.awaiting().length === 0) this.closeInBackground('every selected tab answered or left');
    this.hooks.stateChanged();
  }

  /** The round start a tab that (re)joined mid-round is owed, if it was selected and has not answered. */
  roundOwedTo(clientId: string): RoundStart | null {
    const open = this.open;
    if (this.phase !== 'training' || !open) return null;
    return open.selected.includes(clientId) && !open.answers.has(clientId) ? open.start : null;
  }

  /**
   * Takes a tab's federated evaluation of the last model it was sent. Throws
   * EvaluationRejectedError, changing nothing, when the report does not belong here.
   */
  acceptEvaluation(clientId: string, report: EvaluationReport): void {
    const federated = this.evaluations.accept(clientId, report);
    for (let i = this.history.length - 1; i >= 0; i--) {
      if (this.history[i].round === report.round) {
        this.history[i].federatedEvaluation = federated;
        // Once every report on that model is in, keep it: a restart would not get them again.
        if (this.evaluations.isIn(report.round)) this.hooks.roundCompleted();
        break;
      }
    }
    this.hooks.stateChanged();
  }

  /** A selected tab finished training and is sending its update. */
  markUploading(clientId: string, round: number): void {
    if (this.open?.round === round && this.open.selected.includes(clientId)) this.open.uploading.add(clientId);
  }

  /**
   * Takes one tab's validated delta. Throws UpdateRejectedError, leaving the global model
   * untouched, when the update doesn't belong here. Cheap checks come first.
   */
  acceptUpdate(clientId: string, update: Pick<UpdateMessage, 'round' | 'numExamples' | 'loss'>, delta: Float32Array): void {
    const open = this.open;
    if (this.phase !== 'training' || !open) {
      throw new UpdateRejectedError(`update for round ${update.round} rejected: no round is collecting updates (phase: ${this.phase})`);
    }
    if (open.secure) throw new UpdateRejectedError('update rejected: this run uses secure aggregation, send a masked update (secagg:*)');
    if (update.round !== open.round) {
      throw new UpdateRejectedError(`update for round ${update.round} rejected: round ${open.round} is open (late update?)`);
    }
    if (!open.selected.includes(clientId)) {
      const earlier = open.attempt > 1 ? ` attempt ${open.attempt} (an update for an earlier attempt of this round?)` : '';
      throw new UpdateRejectedError(`update rejected: this tab was not selected for round ${open.round}${earlier}`);
    }
    if (open.answers.has(clientId)) {
      throw new UpdateRejectedError(`update rejected: this tab already sent its update for round ${open.round}`);
    }
    const client = this.room.get(clientId);
    if (!client || update.numExamples > client.numExamples) {
      throw new UpdateRejectedError(
        `update rejected: claims ${update.numExamples} examples, the tab reported ${client?.numExamples ?? 0} when it joined`,
      );
    }
    if (delta.length !== this.global.length) {
      throw new UpdateRejectedError(`update rejected: ${this.global.length} values expected, got ${delta.length}`);
    }
    // Finite is not enough: values near 1e38 times a large weight overflow the float32 sum. With
    // ‖Δ‖ ≤ maxUpdateNorm and a weight ≤ MAX_EXAMPLES_PER_TAB no sum of tabs comes near float32's max.
    const norm = l2Norm(delta);
    if (!(norm <= this.settings.maxUpdateNorm)) {
      throw new UpdateRejectedError(
        `update rejected: its L2 norm ${norm.toPrecision(3)} is over the limit ${this.settings.maxUpdateNorm} (maxUpdateNorm; diverged training?)`,
      );
    }
    const weight = this.weightOf(update.numExamples);
    this.strategy.add({ clientId, delta, weight });
    open.answers.set(clientId, { weight, loss: update.loss ?? null });
    client.lastLoss = update.loss ?? null;
    client.lastUpdateAt = this.timers.now();
    if (this.awaiting().length === 0) this.closeInBackground('every selected tab answered');
    this.hooks.stateChanged();
  }

  // Secure aggregation's steps: each goes to the attempt's SecureRound, which refuses what is out of step.
  acceptKeys(clientId: string, wire: AdvertWire): void {
    this.secureRound(clientId).advertise(clientId, wire);
    this.hooks.stateChanged();
  }

  acceptShares(clientId: string, wire: SharesWire): void {
    this.secureRound(clientId).submitShares(clientId, wire);
    this.hooks.stateChanged();
  }

  acceptMaskedUpdate(clientId: string, wire: MaskedInputWire): void {
    const secure = this.secureRound(clientId);
    const client = this.room.get(clientId);
    secure.submitMaskedInput(clientId, wire);
    this.open!.answers.set(clientId, { weight: secure.weightSentTo(clientId), loss: wire.loss ?? null });
    if (client) {
      client.lastLoss = wire.loss ?? null;
      client.lastUpdateAt = this.timers.now();
    }
    this.hooks.stateChanged();
  }

  acceptReveal(clientId: string, wire: RevealWire): void {
    this.secureRound(clientId).submitReveal(clientId, wire);
    this.hooks.stateChanged();
  }

  private secureRound(clientId: string): SecureRound {
    const secure = this.open?.secure;
    if (this.phase !== 'training' || !secure) {
      throw new UpdateRejectedError(`secure aggregation message refused: no secure round is open (phase: ${this.phase})`);
    }
    if (!this.open!.selected.includes(clientId)) throw new UpdateRejectedError(`refused: this tab was not selected for round ${this.round}`);
    return secure;
  }

  /** A tab's status, derived from the round in flight and the last closed round. */
  statusOf(clientId: string): ClientStatus {
    const client = this.room.get(clientId);
    if (!client?.backend) return 'joining';
    const open = this.open;
    if (open?.selected.includes(clientId)) {
      if (open.answers.has(clientId)) return 'submitted';
      if (!client.connectionId) return 'dropped';
      return open.uploading.has(clientId) ? 'uploading' : 'training';
    }
    const last = this.evaluation?.metrics ?? this.history.at(-1);
    if (last?.late.includes(clientId)) return 'late';
    if (last?.dropped.includes(clientId)) return 'dropped';
    return 'idle';
  }

  state(): Omit<RunState, 'clients' | 'modelTitle' | 'paramCount' | 'joinUrls' | 'roomCode'> {
    return {
      phase: this.phase,
      round: this.round,
      attempt: this.attempt,
      selected: [...(this.open?.selected ?? [])],
      answered: [...(this.open?.answers.keys() ?? [])],
      deadlineAt: this.open?.deadlineAt ?? null,
      message: this.message,
      settings: this.settings,
      history: this.history,
      pastRuns: this.pastRuns,
      privacyBudget: this.privacy.budget(),
      serverNow: this.timers.now(),
    };
  }

  /** FedAvg weight; under central DP at most 1 per tab, so one tab moves the sum by at most C (dp-fedavg.ts). */
  private weightOf(numExamples: number): number {
    const cap = this.settings.clientWeightCap;
    return this.privacy.centralNoise ? dpClientWeight(numExamples, cap) : clientWeight(numExamples, cap);
  }

  /** The tabs a DP guarantee speaks of: settings.population of them, or every tab that joined. */
  private population(): Population {
    const members = this.room.members();
    const weights = members.map((c) => this.weightOf(c.numExamples));
    const joinedWeight = weights.reduce((a, b) => a + b, 0);
    const size = this.settings.population > 0 ? this.settings.population : members.length;
    const meanWeight = members.length > 0 ? joinedWeight / members.length : 1;
    return { size, totalWeight: this.settings.population > 0 ? size * meanWeight : joinedWeight };
  }

  /** Poisson sampling with central DP (what the accountant assumes), else the seeded fraction. */
  private selectClients(ready: number): ClientRecord[] {
    const s = this.settings;
    if (this.privacy.centralNoise) return this.room.poissonSample(s.samplingRate, createSecureRng());
    const count = Math.min(ready, s.maxClientsPerRound, Math.max(s.minClientsPerRound, Math.ceil(s.fractionClients * ready)));
    return this.room.sample(count, (s.seed + this.round * 7919 + this.attempt * 104729) >>> 0);
  }

  private awaiting(): string[] {
    const open = this.open;
    return open ? open.selected.filter((id) => !open.answers.has(id) && this.room.isConnected(id)) : [];
  }

  private moveTo(next: Phase): void {
    if (!TRANSITIONS[this.phase].includes(next)) {
      throw new RunStateError(`illegal transition ${this.phase} → ${next}`);
    }
    this.phase = next;
    this.hooks.stateChanged();
  }

  private neededToOpen(): number {
    const s = this.settings;
    return this.round === 1 && this.attempt === 1 ? Math.max(s.minClientsToStart, s.minClientsPerRound) : s.minClientsPerRound;
  }

  private openRoundIfReady(): void {
    const s = this.settings;
    const ready = this.room.readyClients().length;
    const needed = this.neededToOpen();
    if (ready < needed) {
      this.message = `round ${this.round}: waiting for ${needed - ready} more ready tab${needed - ready === 1 ? '' : 's'} (${ready}/${needed})`;
      this.hooks.stateChanged();
      return;
    }
    // An auto split (shards 0) follows the tabs of the run: one shard each, dealt as the run's first
    // round opens. The round start names the new split, and tabs holding another fetch theirs first.
    if (s.shards === 0 && this.round === 1 && this.attempt === 1) this.room.dealShards();
    const selected = this.selectClients(ready).map((c) => c.clientId);
    const population = this.population();
    const plan = this.privacy.plan(population);
    // Distributed noise: the tabs add it before masking, so the coordinator adds none of its own.
    const strategyPlan = plan && s.distributedNoise ? { ...plan, noiseStdOnSum: 0 } : plan;
    this.strategy.begin({ round: this.round, seed: s.seed, clipNorm: this.privacy.clipNorm, privacy: strategyPlan });
    const runId = this.runId;
    const startedAt = this.timers.now();
    this.open = {
      round: this.round,
      attempt: this.attempt,
      selected,
      answers: new Map(),
      uploading: new Set(),
      start: {
        round: this.round,
        attempt: this.attempt,
        model: s.model,
        dataVersion: this.room.split(s).version,
        weights: encodeWeights(modelSpec(s.model), this.global),
        config: {
          localEpochs: s.localEpochs,
          batchSize: s.batchSize,
          learningRate: s.learningRate,
          proximalMu: s.proximalMu,
          deadlineMs: s.roundDeadlineMs,
          clipNorm: s.localNoiseMultiplier > 0 || s.secureAggregation ? this.privacy.clipNorm : 0,
          localNoiseMultiplier: s.localNoiseMultiplier,
          secureAggregation: s.secureAggregation,
          shareStatistics: tabsShareStatistics(s),
        },
      },
      plan,
      population,
      startedAt,
      deadlineAt: startedAt + s.roundDeadlineMs,
      deadlineTimer: this.timers.setTimeout(() => {
        if (runId !== this.runId || this.phase !== 'training') return;
        if (this.open?.secure) this.open.secure.closeInputs();
        else this.closeInBackground('deadline passed');
      }, s.roundDeadlineMs),
      secure: s.secureAggregation ? this.openSecureRound(selected, plan, runId) : null,
      secureSum: null,
      bytesSent: 0,
      bytesReceived: 0,
    };
    this.message = `round ${this.round}: ${selected.length} of ${ready} tabs training`;
    this.moveTo('training');
    // The weights in the start are round r − 1's model: the tabs evaluate it before they train.
    if (this.round > 1) this.evaluations.sent(this.round - 1, selected);
    this.hooks.sendRoundStart(selected, this.open.start);
    // Poisson sampling may pick no one: the round still releases (noise only) and is charged.
    if (selected.length === 0) this.closeInBackground('no tab was sampled');
  }

  private openSecureRound(selected: readonly string[], plan: RoundPlan | undefined, runId: number): SecureRound {
    const s = this.settings;
    const round = this.round;
    const attempt = this.attempt;
    const stillOpen = () => runId === this.runId && this.open?.round === round && this.open.attempt === attempt;
    return new SecureRound(
      {
        round,
        attempt,
        selected,
        paramCount: this.global.length,
        thresholdFraction: s.secAggThreshold,
        stepMs: s.secAggStepMs,
        clipNorm: this.privacy.clipNorm,
        noiseStdOnSum: plan && s.distributedNoise ? plan.noiseStdOnSum : 0,
        weightOf: (clientId, roster) => this.secureWeightOf(clientId, roster),
        isConnected: (clientId) => this.room.isConnected(clientId),
      },
      {
        ...this.hooks.secure,
        unmasked: (sum) => {
          if (!stillOpen()) return;
          this.open!.secureSum = sum;
          this.closeInBackground(`secure aggregation unmasked the sum of ${sum.survivors.length} updates`);
        },
        failed: (reason) => {
          if (stillOpen()) this.retryRound(`secure aggregation failed: ${reason}`);
        },
        log: this.hooks.log,
        bug: this.hooks.bug,
      },
      this.timers,
    );
  }

  /** A tab's weight w ≤ 1 in a secure round: the DP weight, or its FedAvg weight relative to the roster's largest. */
  private secureWeightOf(clientId: string, roster: readonly string[]): number {
    const examples = (id: string) => this.room.get(id)?.numExamples ?? 0;
    if (this.privacy.centralNoise) return this.weightOf(examples(clientId));
    const largest = Math.max(...roster.map((id) => this.weightOf(examples(id))));
    return largest > 0 ? this.weightOf(examples(clientId)) / largest : 0;
  }

  private dropOpenRound(): void {
    if (this.open) {
      this.timers.clearTimeout(this.open.deadlineTimer);
      this.open.secure?.dispose();
    }
    this.open = null;
  }

  /** closeRound awaits the previous evaluation; a failure there is ours, reported as a bug. */
  private closeInBackground(reason: string): void {
    this.closeRound(reason).catch((error: unknown) => this.failRun(error));
  }

  private async closeRound(reason: string): Promise<void> {
    const open = this.open;
    if (this.phase !== 'training' || !open) return;
    this.timers.clearTimeout(open.deadlineTimer);
    const s = this.settings;
    const answered = open.answers.size;
    const late = this.awaiting();
    const dropped = open.selected.filter((id) => !open.answers.has(id) && !this.room.isConnected(id));
    // With DP every round releases whatever came in: retrying until enough tabs answer would make
    // the release depend on who answered, which the accountant does not cover.
    if (answered < s.minClientsPerRound && !this.privacy.centralNoise) {
      this.retryRound(`${reason} with ${answered}/${open.selected.length} updates (need ${s.minClientsPerRound})`);
      return;
    }
    this.moveTo('aggregating');
    const runId = this.runId;
    if (this.evaluation) {
      // The previous round's accuracy decides whether this round counts (target reached: the run ends there).
      await this.evaluation.done;
      if (runId !== this.runId || !this.running) return; // stopped, or ended by that evaluation
    }
    if (open.secure) {
      const sum = open.secureSum;
      if (!sum) throw new Error(`round ${open.round}: closing a secure round before its sum was unmasked`);
      if (!(this.strategy instanceof PrivateAggregation)) throw new Error('secure aggregation needs the clipping wrapper (clipNorm > 0)');
      this.strategy.addSum(sum.weightedSum, sum.totalWeight, sum.survivors.length, sum.unclipped);
    }
    let outcome;
    try {
      outcome = this.strategy.finish(this.aggregate);
    } catch (error) {
      if (!(error instanceof AggregationError)) throw error;
      this.retryRound(`${this.strategy.title} could not aggregate: ${error.message}`);
      return;
    }
    // The server optimizer acts on whatever the strategy released (robust rule, clipping, noise,
    // secure sum): with DP that is post-processing of the noised aggregate, so ε is unchanged.
    // 'none' hands back the aggregate itself, so the model moves by exactly it, as in plain FedAvg.
    const step = this.serverOptimizer.proposeStep(this.aggregate);
    // Updates are bounded one by one (acceptUpdate); this is the last line before the model changes.
    if (!sumIsFinite(this.global, step)) {
      this.retryRound('the new global model would not be finite; it and the server optimizer are unchanged');
      return;
    }
    for (let i = 0; i < this.global.length; i++) this.global[i] += step[i];
    this.serverOptimizer.commitStep();

    const answerWeights = [...open.answers.values()].map((a) => a.weight);
    const { privacy, clipNorm, unclippedFraction } = this.privacy.roundDone({
      plan: open.plan,
      population: open.population,
      unclipped: outcome.unclipped ?? 0,
      answered,
      rng: createSecureRng(),
    });
    const localPrivacy = this.privacy.localRecord(answerWeights, this.history.length + 1);
    const secureRecord = open.secure?.record() ?? null;
    // Distributed noise: each of the masked inputs carried std σ/√t, so the sum has σ·√(masked/t).
    const distributedStd =
      secureRecord?.distributedNoise && open.plan
        ? (open.plan.noiseStdOnSum * Math.sqrt(secureRecord.masked / secureRecord.threshold)) / open.plan.expectedWeight
        : 0;
    const noiseStd = Math.hypot(outcome.noiseStd ?? 0, distributedStd, localPrivacy?.noiseStdOnMean ?? 0);
    const aggregated: AggregatedRound = {
      round: open.round,
      attempt: open.attempt,
      participants: answered,
      selected: open.selected.length,
      totalWeight: outcome.totalWeight,
      noiseStd,
      clipNorm,
      unclippedFraction,
      privacy,
      localPrivacy,
      secureAggregation: secureRecord,
      durationMs: this.timers.now() - open.startedAt,
      answered: [...open.answers.keys()],
      late,
      dropped,
      aggregation: this.strategy.title,
      discarded: outcome.discarded,
      downweighted: outcome.downweighted,
      bytesSent: open.bytesSent,
      bytesReceived: open.bytesReceived,
    };
    this.dropOpenRound();
    if (this.round >= s.rounds || this.privacy.budgetExhausted()) {
      this.moveTo('evaluating'); // the last round (of the plan, or the budget allows): its evaluation ends the run
      this.requestFinalEvaluation(open.round, open.start.dataVersion);
    } else {
      this.round++;
      this.attempt = 1;
      this.moveTo('waiting');
      this.openRoundIfReady(); // the new global model goes out before it is evaluated
    }
    // Evaluates this.global as it is now: it cannot change before the evaluation ends (see above).
    const evaluation: PendingEvaluation = {
      metrics: aggregated,
      done: this.evaluateRound(aggregated, reason, runId).then(() => {
        if (this.evaluation === evaluation) this.evaluation = null;
      }),
    };
    this.evaluation = evaluation;
    evaluation.done.catch((error: unknown) => this.failRun(error));
  }

  /** The final model gets a federated figure too: it goes to every ready tab holding out examples. */
  private requestFinalEvaluation(round: number, dataVersion: string): void {
    const s = this.settings;
    const ids = this.room.readyClients().filter((c) => c.heldOutExamples > 0).map((c) => c.clientId);
    this.evaluations.sent(round, ids);
    if (ids.length > 0) this.hooks.sendEvaluationRequest?.(ids, { round, model: s.model, dataVersion, weights: encodeWeights(modelSpec(s.model), this.global) });
    if (!s.centralEvaluation) this.message = `round ${round}: the final model is out to ${ids.length} tab${ids.length === 1 ? '' : 's'} for evaluation`;
  }

  private newEvaluationReports(): EvaluationReports {
    return new EvaluationReports({
      heldOutOf: (id) => this.room.get(id)?.heldOutExamples ?? 0,
      isConnected: (id) => this.room.isConnected(id),
      timers: this.timers,
      deadlineMs: () => this.settings.roundDeadlineMs,
    });
  }

  private retryRound(why: string): void {
    this.hooks.log(`round ${this.round} attempt ${this.attempt}: ${why}; retrying`);
    this.dropOpenRound();
    this.attempt++;
    this.moveTo('waiting');
    this.openRoundIfReady();
  }

  /** Evaluates the global model of the round just aggregated, publishes its metrics, and ends the run if it should. */
  private async evaluateRound(aggregated: AggregatedRound, reason: string, runId: number): Promise<void> {
    const s = this.settings;
    let result: { accuracy: number; loss: number };
    if (s.centralEvaluation) {
      try {
        result = await this.evaluator.evaluate(s.model, this.global);
      } catch (error) {
        if (runId !== this.runId) return;
        this.hooks.bug(error);
        this.endRun('stopped', `evaluation failed: ${(error as Error).message}`);
        return;
      }
    } else {
      const federated = await this.evaluations.whenIn(aggregated.round);
      if (runId !== this.runId) return;
      if (!federated) {
        this.endRun(
          'stopped',
          `stopped: no tab evaluated round ${aggregated.round}'s model within ${s.roundDeadlineMs / 1000} s; with centralEvaluation off the tabs' held-out examples are the only measure (do the tabs hold enough examples for evalFraction ${s.evalFraction}?)`,
        );
        return;
      }
      result = federated;
    }
    if (runId !== this.runId) return; // stopped (or restarted) while evaluating
    const metrics: RoundMetrics = {
      ...aggregated,
      accuracy: result.accuracy,
      loss: result.loss,
      accuracySource: s.centralEvaluation ? 'test-set' : 'federated',
      federatedEvaluation: this.evaluations.result(aggregated.round),
    };
    this.history.push(metrics);
    this.hooks.log(
      `round ${metrics.round}: accuracy ${metrics.accuracy.toFixed(4)}, loss ${metrics.loss.toFixed(4)}, ${metrics.participants} updates (${reason})`,
    );
    this.hooks.publishRoundDone(metrics);
    const reachedTarget = result.accuracy >= s.targetAccuracy;
    const overBudget = this.privacy.budgetExhausted();
    if (metrics.round < s.rounds && !reachedTarget && !overBudget) {
      this.hooks.roundCompleted();
      return;
    }
    this.round = metrics.round;
    this.attempt = metrics.attempt;
    this.endRun(
      'done',
      reachedTarget
        ? `done: reached target accuracy ${s.targetAccuracy} in round ${metrics.round}`
        : overBudget && metrics.round < s.rounds
          ? `done: ${overBudget}; accuracy ${result.accuracy.toFixed(4)}`
          : `done: ${metrics.round} rounds, accuracy ${result.accuracy.toFixed(4)}`,
    );
    this.hooks.roundCompleted();
  }

  /** Ends the run; the round opened after the one just evaluated, if any, does not count. */
  private endRun(phase: 'done' | 'stopped', message: string): void {
    this.dropOpenRound();
    this.message = message;
    this.recordPastRun(phase);
    this.moveTo(phase);
  }

  /** The run that is ending joins the past runs (before the state change, so the state shows it). */
  private recordPastRun(ended: PastRun['ended']): void {
    this.pastRuns = withPastRun(this.pastRuns, {
      run: nextRunNumber(this.pastRuns),
      settings: this.settings,
      ended,
      message: this.message,
      startedAt: this.runStartedAt,
      endedAt: this.timers.now(),
      rounds: roundPoints(this.history),
    });
  }

  /** A bug in our own code broke the run: say so, stop cleanly, keep the process alive. */
  private failRun(error: unknown): void {
    this.hooks.bug(error);
    if (!this.running) return;
    this.runId++;
    this.evaluation = null;
    this.dropOpenRound();
    this.message = `stopped by an internal error: ${(error as Error)?.message ?? String(error)}`;
    this.recordPastRun('stopped');
    this.phase = 'stopped';
    this.hooks.stateChanged();
  }
}

function buildStrategy(s: Settings, paramCount: number): AggregationStrategy {
  const rule = createAggregationStrategy(s, paramCount);
  if (!(s.clipNorm > 0)) return rule;
  // Tabs that noise (local DP) or mask (secure aggregation) their updates clip them themselves.
  const clipHere = !(s.localNoiseMultiplier > 0) && !s.secureAggregation;
  return new PrivateAggregation(rule, { clipNorm: s.clipNorm, noise: s.noiseMultiplier > 0, clipHere }, paramCount, createSecureRng);
}

/** True when every global[i] + step[i] is finite in float32 (v − v is NaN exactly for NaN and ±Inf). */
function sumIsFinite(global: Float32Array, step: Float32Array): boolean {
  const next = new Float32Array(1);
  for (let i = 0; i < global.length; i++) {
    next[0] = global[i] + step[i];
    if (next[0] - next[0] !== 0) return false;
  }
  return true;
}

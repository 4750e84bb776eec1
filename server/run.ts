// One run: made by start or resume, ended by the last round, the budget, a stop or a bug. The one
// place run state lives; the coordinator's RunState is derived from it. A continuation that
// outlives its run (an evaluation, an unmask, a ledger write) finds its own run ended and stops.
//
//   waiting ─enough ready tabs→ training ─all answered / deadline / sum unmasked→ aggregating
//     → waiting (next round) …   last round, or the budget: aggregating → evaluating → done
//   training → waiting (the same round, next attempt): too few answers, without DP only
//   any of them → stopped (stop, or a bug)
//
// A round: the strategy plans it (who, with what clip norm and noise share); an Attempt (attempt.ts)
// takes its updates and closes into the strategy's aggregate; the server optimizer turns that into
// a step, which must keep the model finite; the strategy records what the round released (the
// ledger charge, written to disk before the model goes out); the new global model goes out in the
// next round's start while this one is evaluated in the background, the evaluation lane. Rounds are
// still decided in order: round r + 1 is not aggregated before round r's evaluation is in, and when
// that evaluation reaches the target accuracy the run ends at round r (round r + 1, already handed
// out, is abandoned and the global model stays round r's).
//
// Federated evaluation (evaluation-reports.ts) rides along: the tabs that get round r + 1's start
// first evaluate the model in it (round r's) on their held-out examples and report; the final model
// goes out in round:evaluate. With centralEvaluation off those reports are the round's accuracy.
import { modelSpec, type ModelSpec } from '../shared/model-spec.ts';
import type { EvaluationReport, EvaluationRequest, RoundStart } from '../shared/protocol/messages.ts';
import type { ClientStatus, Phase, PrivacyBudget, RoundMetrics } from '../shared/protocol/records.ts';
import { tabsShareStatistics, type Settings } from '../shared/settings.ts';
import { encodeWeights } from '../shared/wire.ts';
import { createServerOptimizer, type ServerOptimizer, type ServerOptimizerState } from '../shared/fl/server-optimizer.ts';
import { createStrategy } from '../shared/fl/strategies.ts';
import type { Rng } from '../shared/fl/rng.ts';
import type { Strategy, StrategyState } from '../shared/fl/strategy.ts';
import type { SecureRoundTransport } from '../shared/secagg/coordinator-round.ts';
import type { Timers } from '../shared/timers.ts';
import { Attempt, UpdateRejectedError } from './attempt.ts';
import { EvaluationRejectedError, EvaluationReports } from './evaluation-reports.ts';
import type { Evaluator } from './evaluator.ts';
import type { LedgerFile } from './ledger-file.ts';
import type { Room } from './room.ts';

/** What the run asks of the world around it (the coordinator carries it out). */
export interface RunTransport {
  roundStart(clientIds: string[], start: RoundStart): void;
  evaluationRequest(clientIds: string[], request: EvaluationRequest): void;
  secure: Omit<SecureRoundTransport, 'log'>;
  roundDone(metrics: RoundMetrics): void;
  /** A round's result is final (its history entry is in, or all its reports): the moment to checkpoint. */
  roundCompleted(): void;
  /** The run has ended (done or stopped). */
  ended(run: Run): void;
  stateChanged(): void;
  log(message: string): void;
  /** Something that should not happen did: our bug, not a tab's fault. */
  bug(error: unknown): void;
}

export interface RunDeps {
  settings: Settings;
  room: Room;
  evaluator: Evaluator;
  /** The population's privacy ledger, kept across runs. */
  ledger: LedgerFile;
  transport: RunTransport;
  timers: Timers;
  /** Unpredictable randomness for DP (shared/fl/secure-random.ts). */
  secureRng: () => Rng;
}

/** What a checkpoint keeps of a run (the global model and the optimizer's m, v travel beside it as binary). */
export interface RunSnapshot {
  serverOptimizer: ServerOptimizerState;
  phase: Phase;
  /** Rounds completed: the run resumes at completedRounds + 1. */
  completedRounds: number;
  message: string;
  settings: Settings;
  history: RoundMetrics[];
  /** The clip norm adaptive clipping reached. */
  strategy: StrategyState;
  /** Server clock (ms) when this run started. */
  runStartedAt: number;
}

/** Our own bug: the run tried a step its state machine does not have. Logged with its stack, never blamed on a tab. */
export class RunTransitionError extends Error {
  override name = 'RunTransitionError';
}

type RoundMetricsBeforeEvaluation = Omit<RoundMetrics, 'accuracy' | 'loss' | 'accuracySource' | 'federatedEvaluation'>;

/** Round r being evaluated while r + 1 trains; the next aggregation waits for it. */
interface EvaluationLane {
  readonly metrics: RoundMetricsBeforeEvaluation;
  readonly done: Promise<void>;
}

type RunPhase =
  | { name: 'waiting'; round: number; attempt: number }
  | { name: 'training'; attempt: Attempt }
  | { name: 'aggregating'; attempt: Attempt }
  | { name: 'evaluating'; round: number; attempt: number }
  | { name: 'done' | 'stopped'; round: number; attempt: number };

const NEXT: Record<RunPhase['name'], readonly RunPhase['name'][]> = {
  waiting: ['training', 'done', 'stopped'],
  // → done from training and aggregating: the previous round's evaluation reached the target.
  training: ['aggregating', 'waiting', 'done', 'stopped'],
  aggregating: ['waiting', 'evaluating', 'done', 'stopped'],
  evaluating: ['done', 'stopped'],
  done: [],
  stopped: [],
};

export class Run {
  readonly settings: Settings;
  readonly startedAt: number;
  global: Float32Array;
  readonly history: RoundMetrics[];
  message: string;
  private phase: RunPhase;
  private lane: EvaluationLane | null = null;
  private readonly spec: ModelSpec;
  private readonly strategy: Strategy;
  /** Turns the aggregate into the global model's step; its m and v are run state, checkpointed with the rest. */
  private readonly serverOptimizer: ServerOptimizer;
  private readonly aggregate: Float32Array;
  /** The tabs' reports on this run's global models. */
  private readonly evaluations: EvaluationReports;

  private constructor(
    private readonly deps: RunDeps,
    from: { global: Float32Array; history: RoundMetrics[]; strategy: StrategyState | null; serverOptimizer: ServerOptimizerState | null; startedAt: number; phase: RunPhase; message: string },
  ) {
    const s = deps.settings;
    this.settings = s;
    this.spec = modelSpec(s.model);
    this.global = from.global;
    this.history = from.history;
    this.startedAt = from.startedAt;
    this.phase = from.phase;
    this.message = from.message;
    this.strategy = createStrategy(s, { paramCount: this.spec.paramCount, ledger: deps.ledger.ledger, secureRng: deps.secureRng, state: from.strategy });
    this.serverOptimizer = createServerOptimizer(s, this.spec.paramCount);
    if (from.serverOptimizer) this.serverOptimizer.restore(from.serverOptimizer);
    this.aggregate = new Float32Array(this.spec.paramCount);
    this.evaluations = new EvaluationReports({
      heldOutOf: (id) => deps.room.get(id)?.heldOutExamples ?? 0,
      isConnected: (id) => deps.room.isConnected(id),
      timers: deps.timers,
      deadlineMs: () => s.roundDeadlineMs,
    });
  }

  /** Before a run on these settings starts: why it could not (the privacy budget; null when it can), and the budget it would start from. */
  static preview(deps: RunDeps): { refusal: string | null; budget: PrivacyBudget | null } {
    const strategy = createStrategy(deps.settings, { paramCount: modelSpec(deps.settings.model).paramCount, ledger: deps.ledger.ledger, secureRng: deps.secureRng, state: null });
    return { refusal: strategy.blocked(), budget: strategy.budget() };
  }

  static start(deps: RunDeps): Run {
    const s = deps.settings;
    const run = new Run(deps, {
      global: deps.evaluator.initialWeights(s.model, s.seed),
      history: [],
      strategy: null,
      serverOptimizer: null,
      startedAt: deps.timers.now(),
      phase: { name: 'waiting', round: 1, attempt: 1 },
      message: 'starting',
    });
    const optimizer = s.serverOptimizer === 'none' ? '' : `, server optimizer ${run.serverOptimizer.title}`;
    deps.transport.log(`run started: ${s.rounds} rounds of ${s.model}, ${run.strategy.title}${optimizer}`);
    return run;
  }

  /** Continues a checkpointed run: the round that was in flight is redone from the checkpointed model. An ended run comes back ended. */
  static resume(deps: RunDeps, snapshot: RunSnapshot, global: Float32Array): Run {
    const running = snapshot.phase !== 'done' && snapshot.phase !== 'stopped' && snapshot.phase !== 'idle';
    const round = snapshot.completedRounds + (running ? 1 : 0);
    const run = new Run(deps, {
      global,
      history: snapshot.history,
      strategy: snapshot.strategy,
      serverOptimizer: snapshot.serverOptimizer,
      startedAt: snapshot.runStartedAt,
      phase: running ? { name: 'waiting', round, attempt: 1 } : { name: snapshot.phase === 'done' ? 'done' : 'stopped', round, attempt: snapshot.history.at(-1)?.attempt ?? 0 },
      message: snapshot.message,
    });
    if (running) deps.transport.log(`resumed after a restart: ${snapshot.completedRounds} rounds done, round ${round} is redone`);
    return run;
  }

  /** Opens the first round once enough tabs are ready: called by whoever holds the run, once it holds it. */
  begin(): void {
    this.deps.transport.stateChanged(); // the run is waiting: say so before its first round opens
    this.openIfReady();
  }

  get phaseName(): Phase {
    return this.phase.name;
  }

  get ended(): boolean {
    return this.phase.name === 'done' || this.phase.name === 'stopped';
  }

  /** The round the run is at, and its attempt. */
  get position(): { round: number; attempt: number } {
    const p = this.phase;
    return p.name === 'training' || p.name === 'aggregating' ? { round: p.attempt.round, attempt: p.attempt.attempt } : { round: p.round, attempt: p.attempt };
  }

  private get current(): Attempt | null {
    return this.phase.name === 'training' || this.phase.name === 'aggregating' ? this.phase.attempt : null;
  }

  stop(): void {
    this.end('stopped', `stopped in round ${this.position.round}`);
  }

  snapshot(): RunSnapshot {
    return {
      phase: this.phase.name,
      completedRounds: this.history.at(-1)?.round ?? 0,
      message: this.message,
      settings: this.settings,
      history: this.history,
      strategy: this.strategy.state(),
      serverOptimizer: this.serverOptimizer.state(),
      runStartedAt: this.startedAt,
    };
  }

  /** The privacy budget as it stands; null without central DP. */
  budget(): PrivacyBudget | null {
    return this.strategy.budget();
  }

  // ── tabs ───────────────────────────────────────────────────────────────────

  /** The coordinator calls this after any join, ready report or disconnect. */
  clientsChanged(): void {
    if (this.ended) return;
    this.evaluations.clientsChanged();
    const attempt = this.phase.name === 'training' ? this.phase.attempt : null;
    if (this.phase.name === 'waiting') this.openIfReady();
    else if (attempt?.secure) attempt.secure.tabsChanged();
    else if (attempt && attempt.awaiting().length === 0) this.closeInBackground(attempt, 'every selected tab answered or left');
  }

  /** The round start a tab that (re)joined mid-round is owed, if it was selected and has not answered. */
  roundOwedTo(clientId: string): RoundStart | null {
    const attempt = this.phase.name === 'training' ? this.phase.attempt : null;
    return attempt?.isSelected(clientId) && !attempt.answers.has(clientId) ? attempt.start : null;
  }

  /** A selected tab finished training and is sending its update. */
  markUploading(clientId: string, round: number): void {
    const attempt = this.current;
    if (attempt?.round === round && attempt.isSelected(clientId)) attempt.uploading.add(clientId);
  }

  /** Counts bytes on the wire towards the round in flight. */
  recordTraffic(bytesSent: number, bytesReceived: number): void {
    const attempt = this.current;
    if (!attempt) return;
    attempt.bytesSent += bytesSent;
    attempt.bytesReceived += bytesReceived;
  }

  /**
   * The attempt a tab's update or secure step goes to; throws UpdateRejectedError, saying what was
   * refused and why, when no round collects. `upload`: the message carries an update, which local DP
   * charges whether or not it is then accepted.
   */
  attemptFor(clientId: string, refused: string, upload: boolean): Attempt {
    if (upload) this.uploaded(clientId);
    if (this.phase.name !== 'training') throw new UpdateRejectedError(`${refused}: no round is collecting updates (phase: ${this.phase.name})`);
    return this.phase.attempt;
  }

  /** A tab's federated evaluation of the last model it was sent; throws EvaluationRejectedError, changing nothing, when it does not belong. */
  acceptEvaluation(clientId: string, report: EvaluationReport): void {
    if (!tabsShareStatistics(this.settings)) {
      throw new EvaluationRejectedError('evaluation refused: under local DP and secure aggregation tabs send no statistics of their data');
    }
    const federated = this.evaluations.accept(clientId, report);
    const entry = this.history.find((m) => m.round === report.round);
    if (!entry) return;
    entry.federatedEvaluation = federated;
    // Once every report on that model is in, keep it: a restart would not get them again.
    if (this.evaluations.isIn(report.round)) this.deps.transport.roundCompleted();
  }

  /** A tab's status, derived from the round in flight and the last closed round. */
  statusOf(clientId: string): ClientStatus {
    const client = this.deps.room.get(clientId);
    if (!client?.backend) return 'joining';
    const attempt = this.current;
    if (attempt?.isSelected(clientId)) {
      if (attempt.answers.has(clientId)) return 'submitted';
      if (!client.connectionId) return 'dropped';
      return attempt.uploading.has(clientId) ? 'uploading' : 'training';
    }
    const last = this.lane?.metrics ?? this.history.at(-1);
    if (last?.late.includes(clientId)) return 'late';
    if (last?.dropped.includes(clientId)) return 'dropped';
    return 'idle';
  }

  /** Who was selected and who answered in the round in flight, and its deadline. */
  inFlight(): { selected: string[]; answered: string[]; deadlineAt: number | null } {
    const attempt = this.phase.name === 'training' || this.phase.name === 'aggregating' ? this.phase.attempt : null;
    return {
      selected: [...(attempt?.plan.selected ?? [])],
      answered: [...(attempt?.answers.keys() ?? [])],
      deadlineAt: attempt?.deadlineAt ?? null,
    };
  }

  /** Local DP charges every noised update that reaches the coordinator, before anything can refuse it. */
  private uploaded(clientId: string): void {
    this.strategy.uploaded(clientId);
    if (this.settings.localNoiseMultiplier > 0) this.deps.ledger.persistSoon(this.deps.transport.bug);
  }

  /** An attempt took a tab's update: the tab's figures, and the close once nobody is left to wait for. */
  private answered(attempt: Attempt, clientId: string, loss: number | null): void {
    const client = this.deps.room.get(clientId);
    if (client) {
      client.lastLoss = loss;
      client.lastUpdateAt = this.deps.timers.now();
    }
    this.deps.transport.stateChanged();
    // A secure attempt closes when its sum is unmasked (the masked steps move on by themselves).
    if (!attempt.secure && attempt.awaiting().length === 0) this.closeInBackground(attempt, 'every selected tab answered');
  }

  // ── rounds ─────────────────────────────────────────────────────────────────

  /** Whether the run is still at this step of this attempt (a continuation checks before it acts). */
  private isAt(name: 'training' | 'aggregating', attempt: Attempt): boolean {
    const p = this.phase;
    return p.name === name && p.attempt === attempt;
  }

  private moveTo(next: RunPhase): void {
    if (!NEXT[this.phase.name].includes(next.name)) throw new RunTransitionError(`illegal transition ${this.phase.name} → ${next.name}`);
    this.phase = next;
    this.deps.transport.stateChanged();
  }

  private neededToOpen(round: number, attempt: number): number {
    const s = this.settings;
    return round === 1 && attempt === 1 ? Math.max(s.minClientsToStart, s.minClientsPerRound) : s.minClientsPerRound;
  }

  private openIfReady(): void {
    if (this.phase.name !== 'waiting') return;
    const { round, attempt } = this.phase;
    const { room, transport, timers } = this.deps;
    const s = this.settings;
    const blocked = this.strategy.blocked();
    if (blocked) return this.end('done', `done: ${blocked}`);
    const ready = room.readyClients();
    const needed = this.neededToOpen(round, attempt);
    if (ready.length < needed) {
      this.message = `round ${round}: waiting for ${needed - ready.length} more ready tab${needed - ready.length === 1 ? '' : 's'} (${ready.length}/${needed})`;
      transport.stateChanged();
      return;
    }
    // An auto split (shards 0) follows the tabs of the run: one shard each, dealt as the run's first
    // round opens. The round start names the new split, and tabs holding another fetch theirs first.
    if (s.shards === 0 && round === 1 && attempt === 1) room.dealShards();
    const tabs = (list: ReturnType<Room['readyClients']>) => list.map((c) => ({ clientId: c.clientId, numExamples: c.numExamples }));
    const plan = this.strategy.configure({ round, attempt, ready: tabs(room.readyClients()), members: tabs(room.members()) });
    const start: RoundStart = {
      round,
      attempt,
      model: s.model,
      dataVersion: room.split(s).version,
      weights: encodeWeights(this.spec, this.global),
      config: {
        localEpochs: s.localEpochs,
        batchSize: s.batchSize,
        learningRate: s.learningRate,
        proximalMu: s.proximalMu,
        deadlineMs: s.roundDeadlineMs,
        clipNorm: plan.tell.clipNorm,
        localNoiseMultiplier: plan.tell.localNoiseMultiplier,
        secureAggregation: plan.secure !== null,
        shareStatistics: tabsShareStatistics(s),
      },
    };
    const next = new Attempt({
      round,
      attempt,
      plan,
      start,
      strategy: this.strategy,
      maxUpdateNorm: s.maxUpdateNorm,
      paramCount: this.spec.paramCount,
      examplesOf: (id) => room.get(id)?.numExamples ?? 0,
      isConnected: (id) => room.isConnected(id),
      answered: (id, loss) => this.answered(next, id, loss),
      global: this.global,
      serverOptimizer: this.serverOptimizer,
      timers,
      deadlineMs: s.roundDeadlineMs,
      onDeadline: () => {
        if (!this.isAt('training', next)) return;
        if (next.secure) next.secure.closeInputs(); // the masked steps end in the sum, which closes the attempt
        else this.closeInBackground(next, 'deadline passed');
      },
      secure: { thresholdFraction: s.secAggThreshold, stepMs: s.secAggStepMs, transport: { ...transport.secure, log: transport.log } },
    });
    this.message = `round ${round}: ${plan.selected.length} of ${ready.length} tabs training`;
    this.moveTo({ name: 'training', attempt: next });
    next.secure?.sum.then(
      (sum) => this.closeInBackground(next, `secure aggregation unmasked the sum of ${sum.contributors} updates`),
      () => this.closeInBackground(next, 'secure aggregation ended without a sum'),
    );
    // The weights in the start are round r − 1's model: the tabs evaluate it before they train.
    if (round > 1) this.evaluations.sent(round - 1, plan.selected);
    transport.roundStart([...plan.selected], start);
    // Poisson sampling may pick no one: the round still releases (noise only) and is charged.
    if (plan.selected.length === 0) this.closeInBackground(next, 'no tab was sampled');
  }

  /** close() awaits the previous evaluation and the secure sum; a failure there is ours, reported as a bug. */
  private closeInBackground(attempt: Attempt, reason: string): void {
    this.close(attempt, reason).catch((error: unknown) => this.fail(error));
  }

  private async close(attempt: Attempt, reason: string): Promise<void> {
    if (!this.isAt('training', attempt)) return;
    attempt.stopDeadline();
    const { room, transport } = this.deps;
    const late = attempt.awaiting();
    const dropped = attempt.plan.selected.filter((id) => !attempt.answers.has(id) && !room.isConnected(id));
    this.moveTo({ name: 'aggregating', attempt });
    // The previous round's accuracy decides whether this round counts (target reached: the run ends there).
    if (this.lane) await this.lane.done;
    if (!this.isAt('aggregating', attempt)) return; // ended meanwhile
    const result = await attempt.close(this.aggregate);
    if (!this.isAt('aggregating', attempt)) return;
    if (result.kind === 'retry') return this.retry(attempt, `${reason} with ${result.why}`);
    const release = this.strategy.record(result.outcome);
    if (release.privacy || release.localPrivacy) {
      await this.deps.ledger.persist(); // the charge is on disk before anything of the round goes out
      if (!this.isAt('aggregating', attempt)) return;
    }
    for (let i = 0; i < this.global.length; i++) this.global[i] += result.step[i];
    this.serverOptimizer.commitStep();
    if (result.note) transport.log(`round ${attempt.round}: ${result.note}`);
    const metrics: RoundMetricsBeforeEvaluation = {
      round: attempt.round,
      attempt: attempt.attempt,
      participants: attempt.answers.size,
      selected: attempt.plan.selected.length,
      totalWeight: result.outcome.totalWeight,
      ...release,
      secureAggregation: attempt.secure?.record() ?? null,
      durationMs: this.deps.timers.now() - attempt.startedAt,
      answered: [...attempt.answers.keys()],
      late,
      dropped,
      aggregation: this.strategy.title,
      discarded: result.outcome.discarded,
      downweighted: result.outcome.downweighted,
      bytesSent: attempt.bytesSent,
      bytesReceived: attempt.bytesReceived,
    };
    attempt.dispose();
    const last = attempt.round >= this.settings.rounds || this.strategy.blocked() !== null;
    if (last) {
      this.moveTo({ name: 'evaluating', round: attempt.round, attempt: attempt.attempt });
      this.requestFinalEvaluation(attempt.round, attempt.start.dataVersion);
    } else {
      this.moveTo({ name: 'waiting', round: attempt.round + 1, attempt: 1 });
      this.openIfReady(); // the new global model goes out before it is evaluated
    }
    // Evaluates this.global as it is now: it cannot change before the evaluation ends (see above).
    const lane: EvaluationLane = {
      metrics,
      done: this.evaluate(metrics, reason).then(() => {
        if (this.lane === lane) this.lane = null;
      }),
    };
    this.lane = lane;
    lane.done.catch((error: unknown) => this.fail(error));
  }

  private retry(attempt: Attempt, why: string): void {
    this.deps.transport.log(`round ${attempt.round} attempt ${attempt.attempt}: ${why}; retrying`);
    attempt.dispose();
    this.moveTo({ name: 'waiting', round: attempt.round, attempt: attempt.attempt + 1 });
    this.openIfReady();
  }

  /** The final model gets a federated figure too: it goes to every ready tab holding out examples. */
  private requestFinalEvaluation(round: number, dataVersion: string): void {
    const s = this.settings;
    if (!tabsShareStatistics(s)) return;
    const ids = this.deps.room.readyClients().filter((c) => c.heldOutExamples > 0).map((c) => c.clientId);
    this.evaluations.sent(round, ids);
    if (ids.length > 0) this.deps.transport.evaluationRequest(ids, { round, model: s.model, dataVersion, weights: encodeWeights(this.spec, this.global) });
    if (!s.centralEvaluation) this.message = `round ${round}: the final model is out to ${ids.length} tab${ids.length === 1 ? '' : 's'} for evaluation`;
  }

  /** Evaluates the global model of the round just aggregated, publishes its metrics, and ends the run if it should. */
  private async evaluate(aggregated: RoundMetricsBeforeEvaluation, reason: string): Promise<void> {
    const s = this.settings;
    const { transport } = this.deps;
    let result: { accuracy: number; loss: number };
    if (s.centralEvaluation) {
      try {
        result = await this.deps.evaluator.evaluate(s.model, this.global);
      } catch (error) {
        if (this.ended) return;
        transport.bug(error);
        return this.end('stopped', `evaluation failed: ${(error as Error).message}`);
      }
    } else {
      const federated = await this.evaluations.whenIn(aggregated.round);
      if (this.ended) return;
      if (!federated) {
        return this.end(
          'stopped',
          `stopped: no tab evaluated round ${aggregated.round}'s model within ${s.roundDeadlineMs / 1000} s; with centralEvaluation off the tabs' held-out examples are the only measure (do the tabs hold enough examples for evalFraction ${s.evalFraction}?)`,
        );
      }
      result = federated;
    }
    if (this.ended) return; // stopped while evaluating
    const metrics: RoundMetrics = {
      ...aggregated,
      accuracy: result.accuracy,
      loss: result.loss,
      accuracySource: s.centralEvaluation ? 'test-set' : 'federated',
      federatedEvaluation: this.evaluations.result(aggregated.round),
    };
    this.history.push(metrics);
    transport.log(`round ${metrics.round}: accuracy ${metrics.accuracy.toFixed(4)}, loss ${metrics.loss.toFixed(4)}, ${metrics.participants} updates (${reason})`);
    transport.roundDone(metrics);
    const reachedTarget = result.accuracy >= s.targetAccuracy;
    const blocked = this.strategy.blocked();
    if (metrics.round < s.rounds && !reachedTarget && !blocked) return transport.roundCompleted();
    this.end(
      'done',
      reachedTarget
        ? `done: reached target accuracy ${s.targetAccuracy} in round ${metrics.round}`
        : blocked && metrics.round < s.rounds
          ? `done: ${blocked}; accuracy ${result.accuracy.toFixed(4)}`
          : `done: ${metrics.round} rounds, accuracy ${result.accuracy.toFixed(4)}`,
      metrics,
    );
  }

  /** Ends the run; the round opened after the one just evaluated, if any, does not count. */
  private end(name: 'done' | 'stopped', message: string, last: RoundMetrics | null = null): void {
    if (this.ended) return;
    this.current?.dispose();
    this.evaluations.dispose(); // no deadline outlives the run; late reports still fill in its history
    this.message = message;
    const position = last ? { round: last.round, attempt: last.attempt } : this.position;
    this.moveTo({ name, ...position });
    this.deps.transport.ended(this);
  }

  /** A bug in our own code broke the run: say so, stop cleanly, keep the process alive. */
  private fail(error: unknown): void {
    this.deps.transport.bug(error);
    this.end('stopped', `stopped by an internal error: ${(error as Error)?.message ?? String(error)}`);
  }
}

// The round state machine; the one place run state lives.
//
//   idle ─start→ waiting ─enough tabs→ selecting → training ─all answered / deadline→ aggregating
//        → waiting (next round) …  last round: aggregating → evaluating → done
//                                               (stop: any running phase → stopped)
//   training ─too few answers by the deadline→ waiting (the same round, next attempt)
//
// Evaluation is off the critical path: as soon as round r is aggregated, round r+1 starts on the
// new global model while round r is evaluated in the background; round r's round:done follows when
// the evaluation ends. Rounds are still decided in order: round r+1 is not aggregated before round
// r's evaluation is in, and when that evaluation reaches the target accuracy the run ends at round r
// (round r+1, already handed out, is abandoned and the global model stays round r's).
import type { ModelName } from '../shared/model-spec.ts';
import { modelSpec } from '../shared/model-spec.ts';
import type { Phase, RoundMetrics, RoundStart, RunState, UpdateMessage } from '../shared/protocol.ts';
import type { Settings } from '../shared/settings.ts';
import { encodeWeights } from '../shared/wire.ts';
import { clientWeight, FedAvgAccumulator } from '../shared/fl/fedavg.ts';
import { clipToNorm } from '../shared/fl/clip.ts';
import { addGaussianNoise, dpNoiseStd } from '../shared/fl/noise.ts';
import { DEFAULT_DP_DELTA, gaussianEpsilon } from '../shared/fl/accountant.ts';
import { createRng } from '../shared/fl/rng.ts';
import type { Room } from './room.ts';

const TRANSITIONS: Record<Phase, readonly Phase[]> = {
  idle: ['waiting'],
  waiting: ['selecting', 'done', 'stopped'],
  selecting: ['training', 'stopped'],
  // → done from waiting, training, aggregating: the previous round's evaluation reached the target.
  training: ['aggregating', 'waiting', 'done', 'stopped'],
  aggregating: ['waiting', 'evaluating', 'done', 'stopped'],
  evaluating: ['done', 'stopped'],
  done: ['waiting'],
  stopped: ['waiting'],
};

export const RUNNING_PHASES: readonly Phase[] = ['waiting', 'selecting', 'training', 'aggregating', 'evaluating'];

export class UpdateRejectedError extends Error {
  override name = 'UpdateRejectedError';
}

export class RunStateError extends Error {
  override name = 'RunStateError';
}

export interface Evaluator {
  initialWeights(model: ModelName, seed: number): Float32Array;
  evaluate(model: ModelName, weights: Float32Array): Promise<{ accuracy: number; loss: number }>;
}

/** What the state machine asks the transport to do. */
export interface RoundHooks {
  sendRoundStart(clientIds: string[], start: RoundStart): void;
  publishRoundDone(metrics: RoundMetrics): void;
  stateChanged(): void;
  log(message: string): void;
}

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface Answer {
  weight: number;
  loss: number;
}

export class RoundController {
  phase: Phase = 'idle';
  round = 0;
  attempt = 0;
  message = 'Press start to begin training';
  history: RoundMetrics[] = [];
  global: Float32Array;
  private selected: string[] = [];
  private readonly answers = new Map<string, Answer>();
  /** Σ weight·delta of this round's accepted updates (and Σ weight); reset when a round opens. */
  private accumulator: FedAvgAccumulator;
  private mean: Float32Array;
  private roundStartedAt = 0;
  private deadlineAt: number | null = null;
  private deadlineTimer: unknown = null;
  private currentStart: RoundStart | null = null;
  /** This round's traffic, all tabs. */
  private bytesSent = 0;
  private bytesReceived = 0;
  /** Bumped by start/stop so that async work of an abandoned run is dropped. */
  private runId = 0;
  /** The last aggregated round's evaluation while it runs; the next aggregation waits for it. */
  private pendingEvaluation: Promise<void> | null = null;

  constructor(
    public settings: Settings,
    private readonly room: Room,
    private readonly evaluator: Evaluator,
    private readonly hooks: RoundHooks,
    private readonly timers: Timers = realTimers,
  ) {
    this.global = evaluator.initialWeights(settings.model, settings.seed);
    this.accumulator = new FedAvgAccumulator(this.global.length);
    this.mean = new Float32Array(this.global.length);
  }

  get running(): boolean {
    return RUNNING_PHASES.includes(this.phase);
  }

  start(): void {
    if (this.running) throw new RunStateError(`a run is already in progress (phase: ${this.phase}); stop it first`);
    this.runId++;
    this.pendingEvaluation = null;
    this.global = this.evaluator.initialWeights(this.settings.model, this.settings.seed);
    if (this.accumulator.paramCount !== this.global.length) {
      this.accumulator = new FedAvgAccumulator(this.global.length);
      this.mean = new Float32Array(this.global.length);
    }
    this.history = [];
    this.round = 1;
    this.attempt = 1;
    this.hooks.log(`run started: ${this.settings.rounds} rounds of ${this.settings.model}`);
    this.moveTo('waiting');
    this.openRoundIfReady();
  }

  stop(): void {
    if (!this.running) throw new RunStateError(`nothing to stop (phase: ${this.phase})`);
    this.runId++;
    this.clearDeadline();
    this.room.setStatus(this.awaiting(), 'idle');
    this.selected = [];
    this.currentStart = null;
    this.message = `stopped in round ${this.round}`;
    this.moveTo('stopped');
  }

  /** Back to idle with fresh initial weights and no history. */
  reset(): void {
    if (this.running) throw new RunStateError('stop the run before resetting it');
    this.runId++;
    this.global = this.evaluator.initialWeights(this.settings.model, this.settings.seed);
    this.history = [];
    this.round = 0;
    this.attempt = 0;
    this.message = 'Press start to begin training';
    this.phase = 'idle';
    this.hooks.stateChanged();
  }

  /** Counts bytes on the wire towards the current round. */
  recordTraffic(bytesSent: number, bytesReceived: number): void {
    this.bytesSent += bytesSent;
    this.bytesReceived += bytesReceived;
  }

  /** New settings apply from the next run. */
  updateSettings(settings: Settings): void {
    if (this.running) throw new RunStateError('settings can only change between runs: stop the run first');
    this.settings = settings;
    this.global = this.evaluator.initialWeights(settings.model, settings.seed);
    this.accumulator = new FedAvgAccumulator(this.global.length);
    this.mean = new Float32Array(this.global.length);
    this.hooks.stateChanged();
  }

  /** The transport calls this after any join, ready report or disconnect. */
  clientsChanged(): void {
    if (this.phase === 'waiting') this.openRoundIfReady();
    else if (this.phase === 'training' && this.awaiting().length === 0) void this.closeRound('every selected tab answered or left');
    this.hooks.stateChanged();
  }

  /** A selected tab that reconnects mid-round gets the round again (it may have reloaded). */
  resendRoundIfOwed(clientId: string): void {
    if (this.phase !== 'training' || !this.currentStart) return;
    if (this.selected.includes(clientId) && !this.answers.has(clientId)) {
      this.room.setStatus([clientId], 'training');
      this.hooks.sendRoundStart([clientId], this.currentStart);
    }
  }

  /**
   * Takes one tab's validated delta (a private copy: it is clipped in place).
   * Throws UpdateRejectedError, leaving the global model untouched, when the update doesn't belong here.
   */
  acceptUpdate(clientId: string, update: Pick<UpdateMessage, 'round' | 'numExamples' | 'loss'>, delta: Float32Array): void {
    if (this.phase !== 'training') {
      throw new UpdateRejectedError(`update for round ${update.round} rejected: no round is collecting updates (phase: ${this.phase})`);
    }
    if (update.round !== this.round) {
      throw new UpdateRejectedError(`update for round ${update.round} rejected: round ${this.round} is open (late update?)`);
    }
    if (!this.selected.includes(clientId)) {
      throw new UpdateRejectedError(`update rejected: this tab was not selected for round ${this.round}`);
    }
    if (this.answers.has(clientId)) {
      throw new UpdateRejectedError(`update rejected: this tab already sent its update for round ${this.round}`);
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
    if (this.settings.clipNorm > 0) clipToNorm(delta, this.settings.clipNorm); // 0: no clipping, so no norm to compute
    const weight = clientWeight(update.numExamples, this.settings.clientWeightCap);
    this.accumulator.add(delta, weight);
    this.answers.set(clientId, { weight, loss: update.loss });
    client.lastLoss = update.loss;
    client.lastUpdateAt = this.timers.now();
    this.room.setStatus([clientId], 'submitted');
    if (this.awaiting().length === 0) void this.closeRound('every selected tab answered');
    this.hooks.stateChanged();
  }

  state(): Omit<RunState, 'clients' | 'modelTitle' | 'paramCount' | 'joinUrls' | 'roomCode'> {
    return {
      phase: this.phase,
      round: this.round,
      attempt: this.attempt,
      selected: [...this.selected],
      answered: [...this.answers.keys()],
      deadlineAt: this.deadlineAt,
      message: this.message,
      settings: this.settings,
      history: this.history,
      serverNow: this.timers.now(),
    };
  }

  private awaiting(): string[] {
    return this.selected.filter((id) => !this.answers.has(id) && this.room.get(id)?.connected);
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
    this.moveTo('selecting');
    const count = Math.min(ready, s.maxClientsPerRound, Math.max(s.minClientsPerRound, Math.ceil(s.fractionClients * ready)));
    this.selected = this.room.sample(count, (s.seed + this.round * 7919 + this.attempt * 104729) >>> 0).map((c) => c.clientId);
    this.answers.clear();
    this.accumulator.reset();
    this.bytesSent = 0;
    this.bytesReceived = 0;
    this.roundStartedAt = this.timers.now();
    this.deadlineAt = this.roundStartedAt + s.roundDeadlineMs;
    const runId = this.runId;
    this.deadlineTimer = this.timers.setTimeout(() => {
      if (runId === this.runId && this.phase === 'training') void this.closeRound('deadline passed');
    }, s.roundDeadlineMs);
    this.currentStart = {
      round: this.round,
      attempt: this.attempt,
      model: s.model,
      weights: encodeWeights(modelSpec(s.model), this.global),
      config: { localEpochs: s.localEpochs, batchSize: s.batchSize, learningRate: s.learningRate, deadlineMs: s.roundDeadlineMs },
    };
    this.message = `round ${this.round}: ${this.selected.length} of ${ready} tabs training`;
    this.room.setStatus(this.selected, 'training');
    this.moveTo('training');
    this.hooks.sendRoundStart(this.selected, this.currentStart);
  }

  private async closeRound(reason: string): Promise<void> {
    if (this.phase !== 'training') return;
    this.clearDeadline();
    const s = this.settings;
    const answered = this.answers.size;
    const late = this.awaiting();
    const dropped = this.selected.filter((id) => !this.answers.has(id) && !this.room.get(id)?.connected);
    this.room.setStatus(late, 'late');
    this.room.setStatus(this.answers.keys(), 'idle');
    if (answered < s.minClientsPerRound) {
      this.hooks.log(`round ${this.round} attempt ${this.attempt}: ${reason} with ${answered}/${this.selected.length} updates (need ${s.minClientsPerRound}); retrying`);
      this.attempt++;
      this.selected = [];
      this.currentStart = null;
      this.moveTo('waiting');
      this.openRoundIfReady();
      return;
    }
    this.moveTo('aggregating');
    const runId = this.runId;
    if (this.pendingEvaluation) {
      // The previous round's accuracy decides whether this round counts (target reached: the run ends there).
      await this.pendingEvaluation;
      if (runId !== this.runId || !this.running) return; // stopped, or ended by that evaluation
    }
    this.accumulator.meanInto(this.mean); // folds the last (< 4) staged deltas too
    const weights = [...this.answers.values()].map((a) => a.weight);
    const noiseStd = s.noiseMultiplier > 0 ? dpNoiseStd({ clipNorm: s.clipNorm, noiseMultiplier: s.noiseMultiplier, weights }) : 0;
    if (noiseStd > 0) addGaussianNoise(this.mean, noiseStd, createRng((s.seed ^ (this.round * 0x9e3779b1)) >>> 0));
    for (let i = 0; i < this.global.length; i++) this.global[i] += this.mean[i];

    const noisyRounds = this.history.filter((m) => m.noiseStd > 0).length + (noiseStd > 0 ? 1 : 0);
    const aggregated: Omit<RoundMetrics, 'accuracy' | 'loss'> = {
      round: this.round,
      attempt: this.attempt,
      participants: answered,
      selected: this.selected.length,
      totalWeight: this.accumulator.totalWeight,
      noiseStd,
      epsilon: noiseStd > 0 ? gaussianEpsilon({ noiseMultiplier: s.noiseMultiplier, rounds: noisyRounds, delta: DEFAULT_DP_DELTA }) : null,
      delta: noiseStd > 0 ? DEFAULT_DP_DELTA : null,
      durationMs: this.timers.now() - this.roundStartedAt,
      answered: [...this.answers.keys()],
      late,
      dropped,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
    };
    this.selected = [];
    this.answers.clear();
    this.currentStart = null;
    if (this.round >= s.rounds) {
      this.moveTo('evaluating'); // the last round: its evaluation ends the run
    } else {
      this.round++;
      this.attempt = 1;
      this.moveTo('waiting');
      this.openRoundIfReady(); // the new global model goes out before it is evaluated
    }
    // Evaluates this.global as it is now: it cannot change before the evaluation ends (see above).
    const evaluation = this.evaluateRound(aggregated, reason, runId);
    this.pendingEvaluation = evaluation;
    void evaluation.then(() => {
      if (this.pendingEvaluation === evaluation) this.pendingEvaluation = null;
    });
  }

  /** Evaluates the global model of the round just aggregated, publishes its metrics, and ends the run if it should. */
  private async evaluateRound(aggregated: Omit<RoundMetrics, 'accuracy' | 'loss'>, reason: string, runId: number): Promise<void> {
    const s = this.settings;
    let result: { accuracy: number; loss: number };
    try {
      result = await this.evaluator.evaluate(s.model, this.global);
    } catch (error) {
      if (runId !== this.runId) return;
      this.hooks.log(`evaluation failed: ${(error as Error).message}`);
      this.abandonOpenRound();
      this.message = `evaluation failed: ${(error as Error).message}`;
      this.moveTo('stopped');
      return;
    }
    if (runId !== this.runId) return; // stopped (or restarted) while evaluating
    const metrics: RoundMetrics = { ...aggregated, accuracy: result.accuracy, loss: result.loss };
    this.history.push(metrics);
    this.hooks.log(
      `round ${metrics.round}: accuracy ${metrics.accuracy.toFixed(4)}, loss ${metrics.loss.toFixed(4)}, ${metrics.participants} updates (${reason})`,
    );
    this.hooks.publishRoundDone(metrics);
    const reachedTarget = result.accuracy >= s.targetAccuracy;
    if (metrics.round < s.rounds && !reachedTarget) return;
    this.abandonOpenRound();
    this.round = metrics.round;
    this.attempt = metrics.attempt;
    this.message = reachedTarget
      ? `done: reached target accuracy ${s.targetAccuracy} in round ${metrics.round}`
      : `done: ${metrics.round} rounds, accuracy ${result.accuracy.toFixed(4)}`;
    this.moveTo('done');
  }

  /** Drops the round opened after the one being evaluated, if any: the run ends before it counts. */
  private abandonOpenRound(): void {
    this.clearDeadline();
    this.room.setStatus(this.awaiting(), 'idle');
    this.room.setStatus(this.answers.keys(), 'idle');
    this.selected = [];
    this.answers.clear();
    this.currentStart = null;
  }

  private clearDeadline(): void {
    if (this.deadlineTimer !== null) this.timers.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    this.deadlineAt = null;
  }
}

// One attempt of one round: the strategy's plan carried out. It takes the selected tabs' updates
// (accept → strategy.add, after the checks that cost nothing), or with secure aggregation it runs
// the masked steps (shared/secagg/coordinator-round.ts) and hands the unmasked sum over; at the
// close it asks the strategy for the aggregate (close → strategy.finish), the server optimizer for
// its step, and checks that the new global model stays finite. Everything that lives and dies with
// one attempt is here; the run (run.ts) decides what happens around it, and commits the step.
import type { MaskedInputWire, RoundStart, UpdateMessage } from '../shared/protocol/messages.ts';
import type { ServerOptimizer } from '../shared/fl/server-optimizer.ts';
import type { AggregateOutcome } from '../shared/fl/aggregation-rule.ts';
import { AggregationError } from '../shared/fl/aggregation-rule.ts';
import { l2Norm } from '../shared/fl/clip.ts';
import type { RoundPlan, Strategy } from '../shared/fl/strategy.ts';
import { SecureRound, type SecureRoundTransport } from '../shared/secagg/coordinator-round.ts';
import { SecAggError } from '../shared/secagg/secagg-error.ts';
import type { Timers } from '../shared/timers.ts';
import { ClientFaultError } from './client-fault.ts';

export class UpdateRejectedError extends ClientFaultError {
  override name = 'UpdateRejectedError';
}

interface Answer {
  weight: number;
  loss: number | null;
}

/** How an attempt ended: with the step to the new global model, or too little to release (a retry follows). */
export type AttemptResult =
  | { kind: 'aggregated'; outcome: AggregateOutcome; step: Float32Array; note: string | null }
  | { kind: 'retry'; why: string };

export interface AttemptOptions {
  round: number;
  attempt: number;
  plan: RoundPlan;
  start: RoundStart;
  strategy: Strategy;
  /** The largest L2 norm an update may have (settings.maxUpdateNorm). */
  maxUpdateNorm: number;
  paramCount: number;
  /** A tab's examples as its ready report said: the most an update may claim. */
  examplesOf(clientId: string): number;
  isConnected(clientId: string): boolean;
  /** A tab's update (plain or masked) was accepted: the run's bookkeeping, and its cue to close. */
  answered(clientId: string, loss: number | null): void;
  /** The global model the round started from, and what turns the aggregate into its step. */
  global: Float32Array;
  serverOptimizer: ServerOptimizer;
  timers: Timers;
  /** The round's deadline, and what happens then (the run closes the attempt, or the masked inputs step). */
  deadlineMs: number;
  onDeadline(): void;
  /** Secure aggregation's threshold t/n, step deadline and messages, used when the plan masks the updates. */
  secure: { thresholdFraction: number; stepMs: number; transport: SecureRoundTransport };
}

export class Attempt {
  readonly round: number;
  readonly attempt: number;
  readonly plan: RoundPlan;
  readonly start: RoundStart;
  readonly startedAt: number;
  readonly deadlineAt: number;
  readonly answers = new Map<string, Answer>();
  /** Tabs that said they finished training and are sending their update. */
  readonly uploading = new Set<string>();
  /** Secure aggregation's steps for this attempt; null for plain updates. */
  readonly secure: SecureRound | null;
  bytesSent = 0;
  bytesReceived = 0;
  private deadlineTimer: unknown;

  constructor(private readonly options: AttemptOptions) {
    const { plan, timers } = options;
    this.round = options.round;
    this.attempt = options.attempt;
    this.plan = plan;
    this.start = options.start;
    this.startedAt = timers.now();
    this.deadlineAt = this.startedAt + options.deadlineMs;
    options.strategy.begin(plan);
    this.secure = plan.secure
      ? new SecureRound(
          {
            thresholdFraction: options.secure.thresholdFraction,
            stepMs: options.secure.stepMs,
            clipNorm: plan.tell.clipNorm,
            round: this.round,
            attempt: this.attempt,
            selected: plan.selected,
            paramCount: options.paramCount,
            weights: plan.weights,
            noiseStdOnSum: plan.secure.noiseStdOnSum,
            bitNoiseStdOnSum: plan.secure.bitNoiseStdOnSum,
            isConnected: options.isConnected,
          },
          options.secure.transport,
          timers,
        )
      : null;
    this.deadlineTimer = timers.setTimeout(options.onDeadline, options.deadlineMs);
  }

  /** Selected tabs still to answer (connected ones): secure aggregation's current step, or the plain update. */
  awaiting(): string[] {
    if (this.secure) return this.secure.awaiting();
    return this.plan.selected.filter((id) => !this.answers.has(id) && this.options.isConnected(id));
  }

  isSelected(clientId: string): boolean {
    return this.plan.selected.includes(clientId);
  }

  /**
   * Takes one tab's decoded delta. Throws UpdateRejectedError, leaving the strategy untouched, when
   * the update does not belong here. Cheap checks come first.
   */
  accept(clientId: string, update: Pick<UpdateMessage, 'round' | 'numExamples' | 'loss'>, delta: Float32Array): void {
    if (this.secure) throw new UpdateRejectedError('update rejected: this run uses secure aggregation, send a masked update (secagg:*)');
    if (update.round !== this.round) throw new UpdateRejectedError(`update for round ${update.round} rejected: round ${this.round} is open (late update?)`);
    if (!this.isSelected(clientId)) {
      const earlier = this.attempt > 1 ? ` attempt ${this.attempt} (an update for an earlier attempt of this round?)` : '';
      throw new UpdateRejectedError(`update rejected: this tab was not selected for round ${this.round}${earlier}`);
    }
    if (this.answers.has(clientId)) throw new UpdateRejectedError(`update rejected: this tab already sent its update for round ${this.round}`);
    const examples = this.options.examplesOf(clientId);
    if (update.numExamples > examples) {
      throw new UpdateRejectedError(`update rejected: claims ${update.numExamples} examples, the tab reported ${examples} when it joined`);
    }
    if (delta.length !== this.options.paramCount) throw new UpdateRejectedError(`update rejected: ${this.options.paramCount} values expected, got ${delta.length}`);
    // Finite is not enough: values near 1e38 times a large weight overflow the float32 sum. With
    // ‖Δ‖ ≤ maxUpdateNorm and a weight ≤ MAX_EXAMPLES_PER_TAB no sum of tabs comes near float32's max.
    const norm = l2Norm(delta);
    if (!(norm <= this.options.maxUpdateNorm)) {
      throw new UpdateRejectedError(`update rejected: its L2 norm ${norm.toPrecision(3)} is over the limit ${this.options.maxUpdateNorm} (maxUpdateNorm; diverged training?)`);
    }
    const weight = this.plan.weights.get(clientId)!;
    this.options.strategy.add({ clientId, delta, weight });
    this.answers.set(clientId, { weight, loss: update.loss ?? null });
    this.options.answered(clientId, update.loss ?? null);
  }

  /** Secure aggregation's steps: each goes to the attempt's SecureRound, which refuses what is out of step. */
  secureRound(clientId: string): SecureRound {
    if (!this.secure) throw new UpdateRejectedError(`secure aggregation message refused: round ${this.round} takes plain updates`);
    if (!this.isSelected(clientId)) throw new UpdateRejectedError(`refused: this tab was not selected for round ${this.round}`);
    return this.secure;
  }

  /** A tab's masked update: the secure steps take it; the tab has answered (its weight is the one it was told). */
  acceptMasked(clientId: string, wire: MaskedInputWire): void {
    const secure = this.secureRound(clientId);
    secure.submitMaskedInput(clientId, wire);
    this.answers.set(clientId, { weight: secure.weightSentTo(clientId), loss: wire.loss ?? null });
    this.options.answered(clientId, wire.loss ?? null);
  }

  /** The attempt's updates (or its secure sum) into the strategy's aggregate (written to `out`), and the global model's step. */
  async close(out: Float32Array): Promise<AttemptResult> {
    const { strategy, plan, serverOptimizer, global } = this.options;
    let note: string | null = null;
    if (this.secure) {
      try {
        strategy.addSum(await this.secure.sum);
      } catch (error) {
        if (!(error instanceof SecAggError)) throw error;
        if (plan.quorum > 0) return { kind: 'retry', why: `secure aggregation failed: ${error.message}` };
        note = `secure aggregation failed (${error.message}): the round releases noise only`;
      }
    }
    if (this.answers.size < plan.quorum) return { kind: 'retry', why: `${this.answers.size}/${plan.selected.length} updates (need ${plan.quorum})` };
    let outcome: AggregateOutcome;
    try {
      outcome = strategy.finish(out);
    } catch (error) {
      if (!(error instanceof AggregationError)) throw error;
      return { kind: 'retry', why: `${strategy.title} could not aggregate: ${error.message}` };
    }
    // The server optimizer acts on whatever the strategy released: with DP that is post-processing.
    const step = serverOptimizer.proposeStep(out);
    // Updates are bounded one by one (accept); this is the last line before the model changes.
    if (!sumIsFinite(global, step)) {
      const why = 'the new global model would not be finite; it and the server optimizer are unchanged';
      // Under DP no attempt may be redrawn for free; bounded updates and finite noise cannot get here.
      if (plan.quorum === 0) throw new Error(`round ${this.round}: ${why}`);
      return { kind: 'retry', why };
    }
    return { kind: 'aggregated', outcome, step, note };
  }

  stopDeadline(): void {
    this.options.timers.clearTimeout(this.deadlineTimer);
  }

  dispose(): void {
    this.stopDeadline();
    this.secure?.dispose();
  }
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

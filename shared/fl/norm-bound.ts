// Norm bounding (Sun et al. 2019, "Can You Really Backdoor Federated Learning?"): an update whose
// L2 norm exceeds a bound is either dropped or rescaled onto the bound, and the rest is plain
// weighted FedAvg (fedavg.ts). It decides per update, so unlike median and Krum it streams: the
// round holds one running sum, whatever the number of tabs.
//
// It bounds how far one tab can push the model (by bound · weight / Σ weights), not where it
// pushes; an attacker within the bound still counts. The norms are clip.ts's (summed in double).
import { clipToNorm, l2Norm } from './clip.ts';
import { FedAvgAccumulator, weightedMean } from './fedavg.ts';
import { AggregationError, type AggregateOutcome, type AggregationStrategy, type ClientUpdate } from './strategy.ts';

export type NormBoundAction = 'drop' | 'rescale';

export interface NormBoundOptions {
  /** L2 bound on each update (> 0). */
  bound: number;
  /** What happens to an update over the bound. */
  action: NormBoundAction;
}

function checkOptions({ bound, action }: NormBoundOptions): void {
  if (!(bound > 0) || !Number.isFinite(bound)) throw new RangeError(`norm bound must be a finite number > 0, got ${bound}`);
  if (action !== 'drop' && action !== 'rescale') throw new RangeError(`norm bound action must be 'drop' or 'rescale', got ${String(action)}`);
}

/**
 * Weighted mean of `deltas` after norm bounding, in a fresh array; `dropped` and `rescaled` are
 * indices into `deltas`. Throws RangeError when nothing is left to average.
 */
export function normBoundedMean(
  deltas: readonly Float32Array[],
  weights: readonly number[],
  options: NormBoundOptions,
): { mean: Float32Array; dropped: number[]; rescaled: number[] } {
  checkOptions(options);
  if (weights.length !== deltas.length) throw new RangeError(`${deltas.length} deltas but ${weights.length} weights`);
  const kept: Float32Array[] = [];
  const keptWeights: number[] = [];
  const dropped: number[] = [];
  const rescaled: number[] = [];
  deltas.forEach((delta, k) => {
    if (l2Norm(delta) <= options.bound) {
      kept.push(delta);
    } else if (options.action === 'drop') {
      dropped.push(k);
      return;
    } else {
      const copy = delta.slice();
      clipToNorm(copy, options.bound);
      kept.push(copy);
      rescaled.push(k);
    }
    keptWeights.push(weights[k]);
  });
  if (kept.length === 0) throw new RangeError(`all ${deltas.length} deltas are over the norm bound ${options.bound}: nothing to average`);
  return { mean: weightedMean(kept, keptWeights), dropped, rescaled };
}

/**
 * The round's norm-bounded FedAvg. Streams (holdsAllUpdates false): each update is measured as it
 * arrives and folded into a FedAvgAccumulator, rescaled copies through one buffer owned and reused.
 *
 * Outcome: with 'drop', `discarded` lists the tabs over the bound; with 'rescale', `downweighted`
 * does (their update counted as if it were bound/‖Δ‖ as large). `totalWeight` is the Σ weight of
 * the updates averaged (dropped ones excluded).
 */
export class NormBoundStrategy implements AggregationStrategy {
  readonly title: string;
  readonly holdsAllUpdates = false;
  private readonly accumulator: FedAvgAccumulator;
  private readonly rescaledCopy: Float32Array;
  private readonly overTheBound: string[] = [];
  private taken = 0;

  constructor(
    readonly paramCount: number,
    private readonly options: NormBoundOptions,
  ) {
    checkOptions(options);
    this.title = `norm bound ${options.bound} (${options.action})`;
    this.accumulator = new FedAvgAccumulator(paramCount);
    this.rescaledCopy = new Float32Array(paramCount);
  }

  get count(): number {
    return this.taken;
  }

  begin(): void {
    this.accumulator.reset();
    this.overTheBound.length = 0;
    this.taken = 0;
  }

  add(update: ClientUpdate): void {
    const { delta, weight } = update;
    if (delta.length !== this.paramCount) throw new RangeError(`delta has ${delta.length} values, the model has ${this.paramCount}`);
    if (l2Norm(delta) <= this.options.bound) {
      this.accumulator.add(delta, weight);
    } else if (this.options.action === 'drop') {
      if (!(weight >= 0) || !Number.isFinite(weight)) throw new RangeError(`weight must be a finite number >= 0, got ${weight}`);
      this.overTheBound.push(update.clientId);
    } else {
      this.rescaledCopy.set(delta); // the caller's array stays as it sent it
      clipToNorm(this.rescaledCopy, this.options.bound);
      this.accumulator.add(this.rescaledCopy, weight); // copies it into a staging slot: the buffer is free again
      this.overTheBound.push(update.clientId);
    }
    this.taken++;
  }

  finish(out: Float32Array): AggregateOutcome {
    if (this.taken === 0) throw new AggregationError('the norm bound needs at least one update');
    if (this.accumulator.count === 0) {
      throw new AggregationError(
        `all ${this.taken} updates were over the norm bound ${this.options.bound} and dropped (raise normBound, or rescale instead of drop)`,
      );
    }
    if (!(this.accumulator.totalWeight > 0)) throw new AggregationError('the updates within the norm bound carry no weight (0 examples)');
    this.accumulator.meanInto(out);
    const drop = this.options.action === 'drop';
    return {
      accepted: this.accumulator.count,
      totalWeight: this.accumulator.totalWeight,
      discarded: drop ? [...this.overTheBound] : [],
      downweighted: drop ? [] : [...this.overTheBound],
    };
  }
}

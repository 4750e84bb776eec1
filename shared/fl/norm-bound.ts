// Norm bounding (Sun et al. 2019, "Can You Really Backdoor Federated Learning?"): an update whose
// L2 norm exceeds a bound is dropped, and the rest is plain weighted FedAvg (fedavg.ts). (Scaling an
// update onto the bound instead is clipping, which every strategy does with clipNorm: one rule for
// one idea.) It decides per update, so unlike median and Krum it streams: the round holds one
// running sum, whatever the number of tabs.
//
// It bounds how far one tab can push the model, not where it pushes; an attacker within the bound
// still counts. The norms are clip.ts's (summed in double).
import { l2Norm } from './clip.ts';
import { FedAvgAccumulator, weightedMean } from './fedavg.ts';
import { AggregationError, type AggregateOutcome, type AggregationRule, type ClientUpdate } from './aggregation-rule.ts';

function checkBound(bound: number): void {
  if (!(bound > 0) || !Number.isFinite(bound)) throw new RangeError(`norm bound must be a finite number > 0, got ${bound}`);
}

/**
 * Weighted mean of the `deltas` within `bound`, in a fresh array; `dropped` are indices into
 * `deltas`. Throws RangeError when nothing is left to average.
 */
export function normBoundedMean(deltas: readonly Float32Array[], weights: readonly number[], bound: number): { mean: Float32Array; dropped: number[] } {
  checkBound(bound);
  if (weights.length !== deltas.length) throw new RangeError(`${deltas.length} deltas but ${weights.length} weights`);
  const kept = deltas.map((delta, k) => ({ delta, weight: weights[k], k })).filter(({ delta }) => l2Norm(delta) <= bound);
  if (kept.length === 0) throw new RangeError(`all ${deltas.length} deltas are over the norm bound ${bound}: nothing to average`);
  const keptIndices = new Set(kept.map(({ k }) => k));
  return {
    mean: weightedMean(
      kept.map(({ delta }) => delta),
      kept.map(({ weight }) => weight),
    ),
    dropped: deltas.map((_, k) => k).filter((k) => !keptIndices.has(k)),
  };
}

/**
 * The round's norm-bounded FedAvg. Streams (holdsAllUpdates false): each update is measured as it
 * arrives and folded into a FedAvgAccumulator or left out. Outcome: `discarded` lists the tabs over
 * the bound; `totalWeight` is the Σ weight of the updates averaged.
 */
export class NormBoundRule implements AggregationRule {
  readonly title: string;
  readonly holdsAllUpdates = false;
  private readonly accumulator: FedAvgAccumulator;
  private readonly overTheBound: string[] = [];
  private taken = 0;

  constructor(
    readonly paramCount: number,
    private readonly bound: number,
  ) {
    checkBound(bound);
    this.title = `norm bound ${bound}`;
    this.accumulator = new FedAvgAccumulator(paramCount);
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
    if (l2Norm(delta) <= this.bound) {
      this.accumulator.add(delta, weight);
    } else {
      if (!(weight >= 0) || !Number.isFinite(weight)) throw new RangeError(`weight must be a finite number >= 0, got ${weight}`);
      this.overTheBound.push(update.clientId);
    }
    this.taken++;
  }

  finish(out: Float32Array): AggregateOutcome {
    if (this.taken === 0) throw new AggregationError('the norm bound needs at least one update');
    if (this.accumulator.count === 0) {
      throw new AggregationError(`all ${this.taken} updates were over the norm bound ${this.bound} and dropped (raise normBound, or bound updates by clipping them: clipNorm)`);
    }
    if (!(this.accumulator.totalWeight > 0)) throw new AggregationError('the updates within the norm bound carry no weight (0 examples)');
    this.accumulator.meanInto(out);
    return { accepted: this.accumulator.count, totalWeight: this.accumulator.totalWeight, discarded: [...this.overTheBound], downweighted: [] };
  }
}

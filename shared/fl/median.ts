// Coordinate-wise median (Yin et al. 2018): every parameter moves by the middle one of the n
// clients' values, or the mean of the two middle ones when n is even. Up to ⌈n/2⌉ − 1 attackers
// cannot move a coordinate outside the range of the honest values.
//
// Unweighted on purpose: the example count a tab reports is attacker-controlled, so a weighted
// median would let one tab claiming a million examples decide every coordinate alone.
//
// The median is the trimmed mean cut as far as it goes, k = ⌊(n − 1)/2⌋ values at each end
// (1 value kept for odd n, 2 for even n), so it runs on the trimmed mean's kernels (trimmed-mean.ts).
import { AggregationError, type AggregateOutcome } from './aggregation-rule.ts';
import { HoldingRule } from './holding-rule.ts';
import { HeldUpdates } from './held-updates.ts';
import { trimmedMeanOfHeld } from './trimmed-mean.ts';

/** Values cut at each end to leave the median: 2 of 5, 2 of 6 (the mean of the 3rd and 4th is kept). */
export const medianTrimCount = (n: number): number => Math.floor((n - 1) / 2);

/** Coordinate-wise median of `deltas`, in a fresh array. */
export function coordinateMedian(deltas: readonly Float32Array[]): Float32Array {
  if (deltas.length === 0) throw new RangeError('cannot take the median of zero deltas');
  return trimmedMeanOfHeld(HeldUpdates.holding(deltas), medianTrimCount(deltas.length), { countCut: false }).mean.slice();
}

/**
 * The round's coordinate-wise median. Holds every update (copied into buffers it owns and reuses).
 *
 * Outcome: `downweighted` stays empty. The median keeps one or two values per coordinate, so every
 * tab's value is "cut" in nearly every coordinate and listing them would say nothing; the trimmed
 * mean reports who sits in the tails. `totalWeight` is the Σ of every update's weight, since each
 * one was ranked (the median itself is unweighted).
 */
export class MedianRule extends HoldingRule {
  readonly title = 'coordinate-wise median';

  constructor(paramCount: number, options: { simd?: boolean } = {}) {
    super(paramCount, options.simd);
  }

  finish(out: Float32Array): AggregateOutcome {
    this.checkOutput(out);
    const n = this.held.count;
    if (n === 0) throw new AggregationError('the median needs at least one update');
    out.set(trimmedMeanOfHeld(this.held, medianTrimCount(n), { countCut: false }).mean);
    return { accepted: n, totalWeight: this.held.weights.reduce((a, b) => a + b, 0), discarded: [], downweighted: [] };
  }
}

// The aggregation seam, in the spirit of Flower's Strategy: the round state machine feeds a
// strategy one validated update at a time and asks it for the round's aggregate at the close.
// FedAvg streams (O(parameters) memory); rules that need every update (median, Krum) hold them
// and say so. Clipping and noise wrap any strategy (private-aggregation.ts).

export interface ClientUpdate {
  /** Public id of the tab (what the dashboard shows); never its secret resume token. */
  clientId: string;
  /** local − global. The strategy copies what it keeps: the caller may reuse the array at once. */
  delta: Float32Array;
  /** FedAvg weight (examples, after the cap). Robust rules that ignore weights say so. */
  weight: number;
}

/** What a strategy did with the round's updates, for the round's record and the dashboard. */
export interface AggregateOutcome {
  /** Updates counted. */
  accepted: number;
  /** Σ weight of the updates that went into the aggregate. */
  totalWeight: number;
  /** Tabs whose update the rule left out entirely (Krum, norm bound with drop). */
  discarded: string[];
  /** Tabs whose update counted for less than its weight (norm bound with rescale; trimmed in most coordinates). */
  downweighted: string[];
  /** Std of the Gaussian noise added to the aggregate (private-aggregation.ts); absent without noise. */
  noiseStd?: number;
  /** Updates whose norm was ≤ the clip norm before clipping (adaptive clipping's count); absent without clipping. */
  unclipped?: number;
}

/** What a round tells its strategy when it opens: wrappers that draw noise seed it from this. */
export interface RoundContext {
  round: number;
  seed: number;
  /** This round's clip norm C, when it differs from the configured one (adaptive clipping). */
  clipNorm?: number;
  /** Central DP rounds: the noise std on the sum and the fixed denominator W (dp-fedavg.ts). */
  privacy?: { noiseStdOnSum: number; expectedWeight: number };
}

export interface AggregationStrategy {
  /** Human-readable rule, e.g. "trimmed mean (β = 0.1)". */
  readonly title: string;
  /** True when the rule keeps every update of the round in memory (median, Krum); FedAvg does not. */
  readonly holdsAllUpdates: boolean;
  /** Updates taken since the last begin(). */
  readonly count: number;
  /** Forgets the previous round's updates; buffers are kept for reuse. */
  begin(context?: RoundContext): void;
  /** Takes one validated update. Throws RangeError for a delta of the wrong length. */
  add(update: ClientUpdate): void;
  /**
   * Writes the round's aggregated delta into `out` (length = parameters) and says what it did.
   * Throws AggregationError when the updates it holds cannot make an aggregate (e.g. Krum with too few).
   */
  finish(out: Float32Array): AggregateOutcome;
}

/** The updates cannot be combined by this rule (not a bug: too few, or all discarded). */
export class AggregationError extends Error {
  override name = 'AggregationError';
}

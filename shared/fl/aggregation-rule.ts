// An aggregation rule: the math of a round's aggregate, and nothing else. The strategy
// (strategy.ts) feeds it one validated, clipped update at a time and asks it for the aggregate at
// the close. FedAvg streams (O(parameters) memory); rules that need every update (median, Krum)
// hold them and say so. Who takes part, clipping and noise are the strategy's business.

export interface ClientUpdate {
  /** Public id of the tab (what the dashboard shows); never its secret resume token. */
  clientId: string;
  /** local − global. The rule copies what it keeps: the caller may reuse the array at once. */
  delta: Float32Array;
  /** FedAvg weight (examples, after the cap). Robust rules that ignore weights say so. */
  weight: number;
}

/** What a rule did with the round's updates, for the round's record and the dashboard. */
export interface AggregateOutcome {
  /** Updates counted. */
  accepted: number;
  /** Σ weight of the updates that went into the aggregate. */
  totalWeight: number;
  /** Tabs whose update the rule left out entirely (Krum, norm bound). */
  discarded: string[];
  /** Tabs whose update counted for less than its weight (trimmed in most coordinates). */
  downweighted: string[];
}

export interface AggregationRule {
  /** Human-readable rule, e.g. "trimmed mean (β = 0.1)". */
  readonly title: string;
  /** True when the rule keeps every update of the round in memory (median, Krum); FedAvg does not. */
  readonly holdsAllUpdates: boolean;
  /** Updates taken since the last begin(). */
  readonly count: number;
  /** Forgets the previous round's updates; buffers are kept for reuse. */
  begin(): void;
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

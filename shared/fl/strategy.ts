// The strategy seam, two-sided as in Flower's Strategy (configure_fit, then aggregate_fit):
//   configure(context) → the round's plan: who takes part, each tab's weight, what every tab is
//                        told (clip norm, local noise), whether the updates are masked and with
//                        what share of noise, and whether a round may be released below quorum;
//   begin(plan) · add(update) or addSum(secure sum) · finish(out) → the aggregate;
//   record(outcome) → what the round released (C, noise, privacy), where a privacy wrapper
//                        charges its ledger: called once per released round, before the release.
// The run (server/run.ts) only carries the plan out; every privacy decision is the strategy's.
// Strategies: federated-strategy.ts (selection, weights, clipping, any aggregation rule), and the
// wrappers dp-fedavg.ts (central DP) and local-dp.ts (local DP) around it.
import type { PrivacyBudget, RoundLocalPrivacy, RoundPrivacy } from '../protocol/records.ts';
import type { AggregateOutcome, ClientUpdate } from './aggregation-rule.ts';

export type { AggregateOutcome, ClientUpdate } from './aggregation-rule.ts';

/** A tab as configure sees it. */
export interface TabInfo {
  clientId: string;
  numExamples: number;
}

export interface RoundContext {
  round: number;
  attempt: number;
  /** Ready tabs, in the order they joined. */
  ready: readonly TabInfo[];
  /** Every tab that joined with data, away ones too: the population a DP guarantee speaks of by default. */
  members: readonly TabInfo[];
}

export interface SecurePlan {
  /** Std of the noise the tabs' shares add up to on Σ w·Δ and on the sum of centred clip bits (distributed DP); 0: none. */
  noiseStdOnSum: number;
  bitNoiseStdOnSum: number;
}

export interface RoundPlan {
  /** Who takes part. */
  readonly selected: readonly string[];
  /** Each selected tab's weight: examples after the cap, at most 1 under DP (the weight rule). */
  readonly weights: ReadonlyMap<string, number>;
  /** What every selected tab is told: the L2 norm it clips its own delta to (0: it doesn't), and its local noise multiplier. */
  readonly tell: { readonly clipNorm: number; readonly localNoiseMultiplier: number };
  /** Masked updates this round (secure aggregation), or null for plain ones. */
  readonly secure: SecurePlan | null;
  /** Fewest updates the round releases; fewer and the attempt is retried. 0: every attempt is released (DP: a retry would depend on who answered). */
  readonly quorum: number;
}

/** What secure aggregation unmasked: the survivors' Σ w·Δ, Σ w, and Σ of their centred clip bits (noised under distributed DP). */
export interface SecureSum {
  weightedSum: Float32Array;
  totalWeight: number;
  clipBitSum: number;
  contributors: number;
  /** Std per value of the noise the contributors added to the sum (distributed DP: σ/√t each); 0 without. */
  noiseStd: number;
}

/** What a round released, for its record and the dashboard. */
export interface RoundRelease {
  /** C the updates were clipped to; null without clipping. */
  clipNorm: number | null;
  /** Adaptive clipping: the fraction of updates within C (noised under DP); null when C is fixed. */
  unclippedFraction: number | null;
  /** Std per value of all the Gaussian noise on the mean delta: central, distributed and local. */
  noiseStd: number;
  privacy: RoundPrivacy | null;
  localPrivacy: RoundLocalPrivacy | null;
}

/** What a checkpoint keeps of a strategy: the clip norm adaptive clipping has reached. */
export interface StrategyState {
  clipNorm: number;
}

export interface Strategy {
  /** Human-readable, e.g. "FedAvg + clipping + DP noise". */
  readonly title: string;
  /** Why no further round may run (the privacy budget); null when one may. */
  blocked(): string | null;
  configure(context: RoundContext): RoundPlan;
  /** Starts an attempt on its plan; forgets the last one's updates. */
  begin(plan: RoundPlan): void;
  /** A tab's update reached the coordinator, whether or not it is then accepted: local DP charges it. */
  uploaded(clientId: string): void;
  /** One validated update of a selected tab, as it sent it (clipping is the strategy's). */
  add(update: ClientUpdate): void;
  /** The sum secure aggregation unmasked. */
  addSum(sum: SecureSum): void;
  /**
   * Writes the aggregate delta into `out`. Throws AggregationError when the updates cannot make one
   * and the plan allows a retry; a privacy wrapper never throws it (the round releases noise only).
   */
  finish(out: Float32Array): AggregateOutcome;
  /** What the released round cost and showed; charges the ledger. Once per released round, before the release. */
  record(outcome: AggregateOutcome): RoundRelease;
  /** The privacy budget as it stands; null without central DP. */
  budget(): PrivacyBudget | null;
  state(): StrategyState;
}

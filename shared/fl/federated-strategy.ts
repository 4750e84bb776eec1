// The base strategy: federated averaging's two sides around any aggregation rule.
//   configure: a seeded sample of the ready tabs (fractionClients, at least minClientsPerRound, at
//              most maxClientsPerRound), weights by examples (capped), and the clip norm the tabs
//              are told when they clip themselves (local DP, secure aggregation);
//   aggregate: each update clipped to C here when the tabs do not clip (clipNorm > 0), then the rule;
//              a secure sum enters the rule as its mean, with its total weight;
//   record:    with adaptive clipping, C follows the fraction of updates within it (un-noised: the
//              privacy wrappers noise that count themselves).
// The privacy wrappers (dp-fedavg.ts, local-dp.ts) build on this one.
import { clipToNorm } from './clip.ts';
import { clientWeight } from './fedavg.ts';
import { nextClipNorm, unclippedFractionOf } from './adaptive-clipping.ts';
import { createRng, shuffleInPlace } from './rng.ts';
import type { AggregateOutcome, AggregationRule, ClientUpdate } from './aggregation-rule.ts';
import type { RoundContext, RoundPlan, RoundRelease, SecureSum, Strategy, StrategyState } from './strategy.ts';

export interface FederatedOptions {
  seed: number;
  fractionClients: number;
  minClientsPerRound: number;
  maxClientsPerRound: number;
  /** Cap on one tab's weight in examples (0: none). */
  clientWeightCap: number;
  /** Initial L2 clip norm C; 0: no clipping. */
  clipNorm: number;
  /** The tabs clip to C themselves (local DP, secure aggregation): clipping here again would cut their noise. */
  tabsClip: boolean;
  secureAggregation: boolean;
  adaptiveClipping: boolean;
  clipQuantile: number;
  clipLearningRate: number;
}

export class FederatedStrategy implements Strategy {
  readonly title: string;
  /** C the next round clips to; it moves with adaptive clipping. */
  private clipNorm: number;
  private readonly clipped: Float32Array;
  private readonly meanOfSum: Float32Array;
  /** Updates within C this attempt (a secure sum's from its centred bits), and updates counted. */
  private unclipped = 0;
  private counted = 0;

  constructor(
    readonly rule: AggregationRule,
    private readonly options: FederatedOptions,
    paramCount: number,
    state: StrategyState | null = null,
  ) {
    this.clipNorm = state?.clipNorm ?? options.clipNorm;
    this.clipped = new Float32Array(paramCount);
    this.meanOfSum = new Float32Array(paramCount);
    this.title = options.clipNorm > 0 && !options.tabsClip ? `${rule.title} + clipping` : rule.title;
  }

  blocked(): string | null {
    return null;
  }

  configure(context: RoundContext): RoundPlan {
    const o = this.options;
    const ready = context.ready.map((t) => t).sort((a, b) => (a.clientId < b.clientId ? -1 : 1));
    const count = Math.min(ready.length, o.maxClientsPerRound, Math.max(o.minClientsPerRound, Math.ceil(o.fractionClients * ready.length)));
    shuffleInPlace(ready, createRng((o.seed + context.round * 7919 + context.attempt * 104729) >>> 0));
    const selected = ready.slice(0, count);
    return {
      selected: selected.map((t) => t.clientId),
      weights: new Map(selected.map((t) => [t.clientId, clientWeight(t.numExamples, o.clientWeightCap)])),
      tell: { clipNorm: o.tabsClip ? this.clipNorm : 0, localNoiseMultiplier: 0 },
      secure: o.secureAggregation ? { noiseStdOnSum: 0, bitNoiseStdOnSum: 0 } : null,
      quorum: o.minClientsPerRound,
    };
  }

  begin(_plan: RoundPlan): void {
    this.unclipped = 0;
    this.counted = 0;
    this.rule.begin();
  }

  uploaded(_clientId: string): void {}

  add(update: ClientUpdate): void {
    this.counted++;
    if (this.options.tabsClip || !(this.clipNorm > 0)) {
      this.rule.add(update);
      return;
    }
    if (update.delta.length !== this.clipped.length) throw new RangeError(`delta has ${update.delta.length} values, the model has ${this.clipped.length}`);
    this.clipped.set(update.delta); // clip a copy: the caller's array stays as it sent it
    if (clipToNorm(this.clipped, this.clipNorm).scale === 1) this.unclipped++;
    this.rule.add({ ...update, delta: this.clipped });
  }

  addSum(sum: SecureSum): void {
    if (!(sum.totalWeight > 0)) return; // nothing arrived: the rule has nothing, and says so at finish
    for (let i = 0; i < this.meanOfSum.length; i++) this.meanOfSum[i] = sum.weightedSum[i] / sum.totalWeight;
    this.rule.add({ clientId: `secure sum of ${sum.contributors}`, delta: this.meanOfSum, weight: sum.totalWeight });
    this.unclipped += sum.clipBitSum + sum.contributors / 2; // centred bits, un-noised without DP: the exact count
    this.counted += sum.contributors;
  }

  finish(out: Float32Array): AggregateOutcome {
    return this.rule.finish(out);
  }

  record(_outcome: AggregateOutcome): RoundRelease {
    const clipNorm = this.clipNorm > 0 ? this.clipNorm : null;
    let unclippedFraction: number | null = null;
    if (this.options.adaptiveClipping && this.counted > 0) {
      // Centred as the privacy wrappers count them, so one formula serves both: (count − n/2)/n + ½.
      unclippedFraction = unclippedFractionOf(this.unclipped - this.counted / 2, this.counted);
      this.clipNorm = nextClipNorm({ clipNorm: this.clipNorm, unclippedFraction, quantile: this.options.clipQuantile, learningRate: this.options.clipLearningRate });
    }
    return { clipNorm, unclippedFraction, noiseStd: 0, privacy: null, localPrivacy: null };
  }

  budget(): null {
    return null;
  }

  state(): StrategyState {
    return { clipNorm: this.clipNorm };
  }
}

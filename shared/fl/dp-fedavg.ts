// Central DP as a wrapper around the base strategy, owning both sides: the DP-FedAvg estimator of
// McMahan, Ramage, Talwar, Zhang 2018 ("Learning Differentially Private Recurrent Language
// Models", the fixed-denominator estimator f̃_f):
//
//     Δ̄ = ( Σ_{i ∈ sample} w_i · clip(Δ_i, C)  +  N(0, (z·C)² I) ) / W,    W = q · Σ_{k ∈ population} w_k
//
// configure: Poisson sampling (every ready tab independently with probability q, from the OS's
//            CSPRNG), DP weights w_i ≤ 1, and W fixed before the round from the population.
// aggregate: each update clipped to C here (under secure aggregation the tabs clip and mask it),
//            summed by the inner rule (FedAvg or the norm bound), scaled to the fixed denominator W,
//            plus N(0, (z_Δ·C)²)/W, unless the tabs added that noise themselves (distributed DP).
//            A round that cannot aggregate (nobody sampled, nobody answered, every update over the
//            norm bound, a secure attempt that failed) releases the noise alone: every attempt is
//            a release, charged, and none is ever redrawn for free.
// record:    the round is charged to the population's ledger (privacy-ledger.ts); with adaptive
//            clipping the sum of centred clip bits is noised with σ_b (unless the tabs did) and
//            moves C (adaptive-clipping.ts); z_Δ and σ_b compose to exactly z, what is charged.
//
// Adjacency is add/remove-one: two runs differ by one tab's whole participation. Each w_i ≤ 1 and
// ‖clip(Δ_i, C)‖ ≤ C, so adding or removing one tab moves the sum by at most C in L2 and the
// centred bit sum by at most ½. W depends on the population, not on who was sampled or answered,
// so dividing by it is post-processing. (Replace-one adjacency would double the sensitivity to 2C.)
import { clipToNorm } from './clip.ts';
import { addGaussianNoise } from './noise.ts';
import { standardNormal } from './ziggurat.ts';
import { centredClipBit, deltaNoiseMultiplier, nextClipNorm, unclippedFractionOf } from './adaptive-clipping.ts';
import { AggregationError, type AggregateOutcome, type ClientUpdate } from './aggregation-rule.ts';
import type { PrivacyLedger } from './privacy-ledger.ts';
import type { Rng } from './rng.ts';
import type { PrivacyBudget, RoundPrivacy } from '../protocol/records.ts';
import type { RoundContext, RoundPlan, RoundRelease, SecureSum, Strategy, StrategyState, TabInfo } from './strategy.ts';

/** A tab's weight under DP: its examples over the cap, at most 1; uniform (1) without a cap. */
export function dpClientWeight(numExamples: number, weightCap: number): number {
  if (!(numExamples >= 0)) throw new RangeError(`examples must be >= 0, got ${numExamples}`);
  return weightCap > 0 ? Math.min(numExamples, weightCap) / weightCap : 1;
}

/** W = q · (the population's total weight): what the sum is divided by, whoever turns up. */
export function expectedTotalWeight(samplingRate: number, populationWeight: number): number {
  if (!(samplingRate > 0 && samplingRate <= 1)) throw new RangeError(`sampling rate must be in (0, 1], got ${samplingRate}`);
  if (!(populationWeight > 0)) throw new RangeError(`the population's total weight must be > 0, got ${populationWeight}`);
  return samplingRate * populationWeight;
}

export interface DpOptions {
  noiseMultiplier: number;
  samplingRate: number;
  /** Tabs the guarantee is about (0: every tab that joined). */
  population: number;
  delta: number;
  /** The budget (0: none). */
  targetEpsilon: number;
  clientWeightCap: number;
  clipNorm: number;
  adaptiveClipping: boolean;
  clipQuantile: number;
  clipLearningRate: number;
  /** σ_b on the sum of centred clip bits. */
  clipCountNoise: number;
  secureAggregation: boolean;
  /** With secure aggregation: the tabs add the noise before masking, so the coordinator never sees a noise-free sum. */
  distributedNoise: boolean;
}

/** The part of the base strategy the wrapper uses: its aggregation of clipped updates and sums. */
export interface InnerAggregate {
  readonly title: string;
  begin(plan: RoundPlan): void;
  add(update: ClientUpdate): void;
  addSum(sum: SecureSum): void;
  finish(out: Float32Array): AggregateOutcome;
}

/** What one attempt was planned with: W, the expected sample size, and who adds the noise. */
interface Attempt {
  expectedWeight: number;
  /** q × the population's size: what the clip bits are counted over. */
  expectedCount: number;
  /** The tabs add the noise before masking (distributed DP); the coordinator adds it otherwise. */
  distributed: boolean;
  /** Sum of the centred clip bits so far (with the tabs' noise, under distributed DP). */
  clipBitSum: number;
  /** The unmasked sum, with the std of the noise the tabs added to it; null before one arrives. */
  sumNoiseStd: number | null;
}

export class DpFedAvg implements Strategy {
  readonly title: string;
  private clipNorm: number;
  private readonly clipped: Float32Array;
  private attempt: Attempt = { expectedWeight: 1, expectedCount: 1, distributed: false, clipBitSum: 0, sumNoiseStd: null };

  constructor(
    private readonly inner: InnerAggregate,
    private readonly options: DpOptions,
    private readonly ledger: PrivacyLedger,
    paramCount: number,
    /** Unpredictable randomness (secure-random.ts) for the sampling and the noise; seeded only in tests. */
    private readonly rng: () => Rng,
    state: StrategyState | null = null,
  ) {
    if (!(options.clipNorm > 0)) throw new RangeError('DP needs a clip norm > 0');
    this.clipNorm = state?.clipNorm ?? options.clipNorm;
    this.clipped = new Float32Array(paramCount);
    this.title = `${inner.title} + clipping + DP noise`;
  }

  /** The multiplier on the deltas: z itself, or with adaptive clipping its share z_Δ. */
  private get deltaMultiplier(): number {
    const o = this.options;
    return o.adaptiveClipping ? deltaNoiseMultiplier(o.noiseMultiplier, o.clipCountNoise) : o.noiseMultiplier;
  }

  blocked(): string | null {
    const o = this.options;
    if (!(o.targetEpsilon > 0)) return null;
    const next = this.ledger.epsilonAfterNext(o.samplingRate, o.noiseMultiplier, o.delta).epsilon;
    if (next <= o.targetEpsilon) return null;
    return (
      `privacy budget reached: another round would take the population's ε from ${this.ledger.epsilon(o.delta).epsilon.toFixed(3)} to ` +
      `${next.toFixed(3)}, over the target ${o.targetEpsilon} (δ = ${o.delta}), after ${this.ledger.rounds} rounds over all runs`
    );
  }

  configure(context: RoundContext): RoundPlan {
    const o = this.options;
    const rng = this.rng();
    const selected = context.ready.filter(() => rng.next() < o.samplingRate);
    const secure = o.secureAggregation && selected.length >= 2;
    const noiseStdOnSum = this.deltaMultiplier * this.clipNorm;
    const distributed = secure && o.distributedNoise;
    const population = this.population(context.members);
    this.attempt = {
      expectedWeight: expectedTotalWeight(o.samplingRate, population.totalWeight),
      expectedCount: o.samplingRate * population.size,
      distributed,
      clipBitSum: 0,
      sumNoiseStd: null,
    };
    return {
      selected: selected.map((t) => t.clientId),
      weights: new Map(selected.map((t) => [t.clientId, dpClientWeight(t.numExamples, o.clientWeightCap)])),
      // A lone sampled tab cannot be hidden by masks (secure aggregation needs two): its clipped
      // update comes in plain and is noised here, exactly as DP-FedAvg without masks.
      tell: { clipNorm: secure ? this.clipNorm : 0, localNoiseMultiplier: 0 },
      secure: secure ? { noiseStdOnSum: distributed ? noiseStdOnSum : 0, bitNoiseStdOnSum: distributed && o.adaptiveClipping ? o.clipCountNoise : 0 } : null,
      quorum: 0,
    };
  }

  /** The tabs the guarantee speaks of: settings.population of them (of the members' mean weight), or every member. */
  private population(members: readonly TabInfo[]): { size: number; totalWeight: number } {
    const o = this.options;
    const joined = members.reduce((total, t) => total + dpClientWeight(t.numExamples, o.clientWeightCap), 0);
    if (!(o.population > 0)) return { size: members.length, totalWeight: joined };
    return { size: o.population, totalWeight: o.population * (members.length > 0 ? joined / members.length : 1) };
  }

  begin(plan: RoundPlan): void {
    this.inner.begin(plan);
  }

  uploaded(_clientId: string): void {}

  add(update: ClientUpdate): void {
    if (update.delta.length !== this.clipped.length) throw new RangeError(`delta has ${update.delta.length} values, the model has ${this.clipped.length}`);
    this.clipped.set(update.delta); // clip a copy: the caller's array stays as it sent it
    this.attempt.clipBitSum += centredClipBit(clipToNorm(this.clipped, this.clipNorm).scale === 1);
    this.inner.add({ ...update, delta: this.clipped });
  }

  addSum(sum: SecureSum): void {
    this.inner.addSum(sum);
    this.attempt.clipBitSum += sum.clipBitSum;
    this.attempt.sumNoiseStd = sum.noiseStd;
  }

  finish(out: Float32Array): AggregateOutcome {
    let outcome: AggregateOutcome;
    try {
      outcome = this.inner.finish(out);
    } catch (error) {
      if (!(error instanceof AggregationError)) throw error;
      outcome = { accepted: 0, totalWeight: 0, discarded: [], downweighted: [] };
      out.fill(0); // nothing to aggregate: the round releases the noise alone, and is charged
    }
    const { expectedWeight } = this.attempt;
    const toFixedDenominator = outcome.totalWeight / expectedWeight; // the rule's mean × Σw / W = Σ w·Δ / W
    for (let i = 0; i < out.length; i++) out[i] *= toFixedDenominator;
    addGaussianNoise(out, this.noiseHere() / expectedWeight, this.rng());
    return outcome;
  }

  /** Whether the noise of this attempt came in with the tabs' sum: otherwise (no DP by the tabs, or no sum) it is added here. */
  private get tabsNoised(): boolean {
    return this.attempt.distributed && this.attempt.sumNoiseStd !== null;
  }

  /** σ the coordinator adds to the sum itself. */
  private noiseHere(): number {
    return this.tabsNoised ? 0 : this.deltaMultiplier * this.clipNorm;
  }

  record(_outcome: AggregateOutcome): RoundRelease {
    const o = this.options;
    const { expectedWeight } = this.attempt;
    const clipNorm = this.clipNorm;
    let unclippedFraction: number | null = null;
    if (o.adaptiveClipping) {
      // The count and its denominator are both data-independent: noised centred bits over the expected sample size.
      const bitNoiseHere = this.tabsNoised ? 0 : o.clipCountNoise;
      const noisedBits = this.attempt.clipBitSum + bitNoiseHere * standardNormal(this.rng());
      unclippedFraction = unclippedFractionOf(noisedBits, this.attempt.expectedCount);
      this.clipNorm = nextClipNorm({ clipNorm, unclippedFraction, quantile: o.clipQuantile, learningRate: o.clipLearningRate });
    }
    this.ledger.spend(o.samplingRate, o.noiseMultiplier);
    const spent = this.ledger.epsilon(o.delta);
    const noiseStdOnSum = this.deltaMultiplier * clipNorm;
    const privacy: RoundPrivacy = {
      noiseMultiplier: o.noiseMultiplier,
      samplingRate: o.samplingRate,
      expectedWeight,
      noiseStdOnSum,
      epsilon: spent.epsilon,
      delta: o.delta,
      order: spent.order,
      roundsSpent: this.ledger.rounds,
      targetEpsilon: o.targetEpsilon > 0 ? o.targetEpsilon : null,
    };
    // What is on the mean: the coordinator's noise, or the tabs' (σ/√t from each survivor: at least σ).
    const noiseStd = (this.tabsNoised ? this.attempt.sumNoiseStd! : noiseStdOnSum) / expectedWeight;
    return { clipNorm, unclippedFraction, noiseStd, privacy, localPrivacy: null };
  }

  budget(): PrivacyBudget {
    const o = this.options;
    return {
      epsilon: this.ledger.epsilon(o.delta).epsilon,
      delta: o.delta,
      roundsSpent: this.ledger.rounds,
      targetEpsilon: o.targetEpsilon > 0 ? o.targetEpsilon : null,
      noiseMultiplier: o.noiseMultiplier,
      clipNorm: this.clipNorm,
      samplingRate: o.samplingRate,
    };
  }

  state(): StrategyState {
    return { clipNorm: this.clipNorm };
  }
}

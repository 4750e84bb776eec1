// Local differential privacy: the tab privatizes its own delta before it leaves the page, so the
// coordinator never sees a clean update. Clip to C, then add N(0, (z·C)²) to every value.
//
// The guarantee is per tab and needs no trust in the coordinator. Its neighbouring relation is
// "any other local dataset" (replace-one), under which two clipped deltas differ by at most 2C:
// the sensitivity is 2C, so noise z·C is the Gaussian mechanism with multiplier z / 2
// (localPrivacyMultiplier). The price: the noise does not average away as fast as central noise,
// the mean of n tabs keeps std z·C·√(Σw²)/Σw per value.
import { clipToNorm } from './clip.ts';
import { addGaussianNoise } from './noise.ts';
import type { Rng } from './rng.ts';
import type { AggregateOutcome, ClientUpdate, RoundContext, RoundPlan, RoundRelease, SecureSum, Strategy, StrategyState } from './strategy.ts';
import type { PrivacyLedger } from './privacy-ledger.ts';
import type { PrivacyBudget, RoundLocalPrivacy } from '../protocol/records.ts';

export interface LocalPrivatization {
  /** ‖Δ‖ as trained, and the norm it was clipped to (min(‖Δ‖, C)). */
  normBefore: number;
  clippedTo: number;
  /** Std per value of the noise added. */
  noiseStd: number;
}

/** Clips `delta` to `clipNorm` and adds N(0, (noiseMultiplier · clipNorm)²) per value, in place. */
export function privatizeLocally(delta: Float32Array, clipNorm: number, noiseMultiplier: number, rng: Rng): LocalPrivatization {
  if (!(clipNorm > 0)) throw new RangeError(`local DP needs a clip norm > 0, got ${clipNorm}`);
  if (!(noiseMultiplier >= 0) || !Number.isFinite(noiseMultiplier)) throw new RangeError(`noise multiplier must be >= 0, got ${noiseMultiplier}`);
  const { norm } = clipToNorm(delta, clipNorm);
  const noiseStd = noiseMultiplier * clipNorm;
  addGaussianNoise(delta, noiseStd, rng);
  return { normBefore: norm, clippedTo: Math.min(norm, clipNorm), noiseStd };
}

/** The Gaussian-mechanism multiplier of local noise z·C under replace-one adjacency (sensitivity 2C). */
export const localPrivacyMultiplier = (noiseMultiplier: number) => noiseMultiplier / 2;

/** Std per value of the tabs' local noise once in the weighted mean: σ·√(Σw²)/Σw. */
export function localNoiseStdOnMean(noiseStdPerTab: number, weights: readonly number[]): number {
  let total = 0;
  let squares = 0;
  for (const w of weights) {
    total += w;
    squares += w * w;
  }
  return total > 0 ? (noiseStdPerTab * Math.sqrt(squares)) / total : 0;
}

export interface LocalDpOptions {
  noiseMultiplier: number;
  clipNorm: number;
  delta: number;
}

/**
 * The coordinator's side of local DP, as a wrapper around the base strategy: it tells every tab
 * to clip to C and add N(0, (z·C)²) itself, charges each tab for every noised update that reaches
 * the coordinator (accepted, late or refused alike: a retried round's second update is a second
 * release), and records the worst tab's ε. The base strategy must not clip again (tabsClip).
 */
export class LocalDp implements Strategy {
  readonly title: string;
  private weights: number[] = [];

  constructor(
    private readonly inner: Strategy,
    private readonly options: LocalDpOptions,
    private readonly ledger: PrivacyLedger,
  ) {
    if (!(options.clipNorm > 0)) throw new RangeError('local DP needs a clip norm > 0');
    this.title = `${inner.title} + local DP`;
  }

  blocked(): string | null {
    return this.inner.blocked();
  }

  configure(context: RoundContext): RoundPlan {
    const plan = this.inner.configure(context);
    return { ...plan, tell: { clipNorm: this.options.clipNorm, localNoiseMultiplier: this.options.noiseMultiplier } };
  }

  begin(plan: RoundPlan): void {
    this.weights = [];
    this.inner.begin(plan);
  }

  uploaded(clientId: string): void {
    this.ledger.chargeUpload(clientId, localPrivacyMultiplier(this.options.noiseMultiplier));
  }

  add(update: ClientUpdate): void {
    this.weights.push(update.weight);
    this.inner.add(update);
  }

  addSum(sum: SecureSum): void {
    // Masked: who sent what weight is hidden; count each survivor at the mean weight.
    for (let k = 0; k < sum.contributors; k++) this.weights.push(sum.totalWeight / sum.contributors);
    this.inner.addSum(sum);
  }

  finish(out: Float32Array): AggregateOutcome {
    return this.inner.finish(out);
  }

  record(outcome: AggregateOutcome): RoundRelease {
    const { noiseMultiplier, clipNorm, delta } = this.options;
    const released = this.inner.record(outcome);
    const noiseStdPerTab = noiseMultiplier * clipNorm;
    const localPrivacy: RoundLocalPrivacy = {
      noiseMultiplier,
      clipNorm,
      noiseStdPerTab,
      noiseStdOnMean: localNoiseStdOnMean(noiseStdPerTab, this.weights),
      epsilonPerTab: this.ledger.worstTab(delta)?.epsilon ?? 0,
      delta,
    };
    return { ...released, noiseStd: Math.hypot(released.noiseStd, localPrivacy.noiseStdOnMean), localPrivacy };
  }

  budget(): PrivacyBudget | null {
    return this.inner.budget();
  }

  state(): StrategyState {
    return this.inner.state();
  }
}

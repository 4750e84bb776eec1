// Clipping and Gaussian noise as a wrapper around a strategy.
//
// Clipping alone wraps any rule: each update is clipped to C before the rule sees it.
// With noise it is the DP-FedAvg estimator (dp-fedavg.ts has the derivation): the inner rule
// (FedAvg or norm-bound) gives Σ w_i Δ_i / Σ w_i; this rescales it to Σ w_i Δ_i / W with the
// round's fixed denominator W and adds N(0, σ_sum²) / W, σ_sum = z·C. Each round's C, σ_sum and W
// come in the RoundContext (C moves with adaptive clipping, W with the population).
import { clipToNorm } from './clip.ts';
import { addGaussianNoise } from './noise.ts';
import type { Rng } from './rng.ts';
import type { AggregateOutcome, AggregationStrategy, ClientUpdate, RoundContext } from './strategy.ts';

export interface PrivacyOptions {
  /** Initial L2 clip norm C (0 = no clipping); a round's context may set another. */
  clipNorm: number;
  /** True when central noise is added (needs clipNorm > 0). */
  noise: boolean;
  /** False when the tabs clipped already (local DP, secure aggregation): clipping again here would cut their noise. */
  clipHere: boolean;
}

export class PrivateAggregation implements AggregationStrategy {
  readonly title: string;
  private readonly clipped: Float32Array;
  private clipNorm: number;
  private context: RoundContext = { round: 0, seed: 0 };
  private unclipped = 0;

  constructor(
    private readonly inner: AggregationStrategy,
    private readonly options: PrivacyOptions,
    paramCount: number,
    /** Where the noise comes from: secure-random.ts in the coordinator; a seeded Rng in tests. */
    private readonly noiseRng: () => Rng,
  ) {
    if (options.noise && !(options.clipNorm > 0)) throw new RangeError('noise needs a clip norm > 0');
    this.clipNorm = options.clipNorm;
    this.title = [inner.title, options.clipNorm > 0 ? 'clipping' : '', options.noise ? 'DP noise' : ''].filter(Boolean).join(' + ');
    this.clipped = new Float32Array(paramCount);
  }

  get holdsAllUpdates(): boolean {
    return this.inner.holdsAllUpdates;
  }

  get count(): number {
    return this.inner.count;
  }

  begin(context?: RoundContext): void {
    if (context) this.context = context;
    this.clipNorm = context?.clipNorm ?? this.options.clipNorm;
    if (this.options.noise && !context?.privacy) throw new RangeError('a noised round needs its privacy plan (noise std, W) in the round context');
    this.unclipped = 0;
    this.inner.begin(context);
  }

  add(update: ClientUpdate): void {
    if (update.delta.length !== this.clipped.length) {
      throw new RangeError(`delta has ${update.delta.length} values, the model has ${this.clipped.length}`);
    }
    if (!this.options.clipHere || !(this.clipNorm > 0)) {
      this.inner.add(update);
      return;
    }
    // Clip a copy: the caller's array stays as it sent it.
    this.clipped.set(update.delta);
    if (clipToNorm(this.clipped, this.clipNorm).scale === 1) this.unclipped++;
    this.inner.add({ ...update, delta: this.clipped });
  }

  /**
   * Takes a sum that secure aggregation unmasked: Σ w_i Δ_i of `contributors` tabs that clipped
   * themselves, their Σ w_i, and how many of them were under C (from the masked bits).
   */
  addSum(sum: Float32Array, totalWeight: number, contributors: number, unclipped: number): void {
    if (!(totalWeight > 0)) return; // nothing arrived: the round is noise only (or fails without DP)
    const mean = this.clipped;
    for (let i = 0; i < mean.length; i++) mean[i] = sum[i] / totalWeight;
    this.inner.add({ clientId: `secure sum of ${contributors}`, delta: mean, weight: totalWeight });
    this.unclipped += unclipped;
  }

  finish(out: Float32Array): AggregateOutcome {
    const plan = this.context.privacy;
    if (!this.options.noise || !plan) return { ...this.inner.finish(out), unclipped: this.unclipped };
    // DP: a round where no sampled tab answered still releases noise, and is charged like any other.
    const outcome: AggregateOutcome =
      this.inner.count > 0 ? this.inner.finish(out) : (out.fill(0), { accepted: 0, totalWeight: 0, discarded: [], downweighted: [] });
    const toFixedDenominator = outcome.totalWeight / plan.expectedWeight;
    for (let i = 0; i < out.length; i++) out[i] *= toFixedDenominator;
    const noiseStd = plan.noiseStdOnSum / plan.expectedWeight;
    addGaussianNoise(out, noiseStd, this.noiseRng());
    return { ...outcome, noiseStd, unclipped: this.unclipped };
  }
}

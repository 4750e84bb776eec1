// Clipping and Gaussian noise as a wrapper around any strategy: each update is clipped to
// clipNorm before the inner rule sees it, and noise calibrated to that bound is added to the
// rule's aggregate (noise.ts has the derivation of σ).
import { clipToNorm } from './clip.ts';
import { addGaussianNoise, dpNoiseStd } from './noise.ts';
import { createRng } from './rng.ts';
import type { AggregateOutcome, AggregationStrategy, ClientUpdate, RoundContext } from './strategy.ts';

export interface PrivacyOptions {
  /** L2 clip norm C (0 = no clipping). */
  clipNorm: number;
  /** Noise std as a multiple of the sensitivity (0 = no noise; needs clipNorm > 0). */
  noiseMultiplier: number;
}

export class PrivateAggregation implements AggregationStrategy {
  readonly title: string;
  private readonly clipped: Float32Array;
  private readonly weights: number[] = [];
  private context: RoundContext = { round: 0, seed: 0 };

  constructor(
    private readonly inner: AggregationStrategy,
    private readonly options: PrivacyOptions,
    paramCount: number,
  ) {
    const { clipNorm, noiseMultiplier } = options;
    if (noiseMultiplier > 0 && !(clipNorm > 0)) throw new RangeError(`noise multiplier ${noiseMultiplier} needs a clip norm > 0`);
    this.title = [inner.title, clipNorm > 0 ? `clip ${clipNorm}` : '', noiseMultiplier > 0 ? `noise z = ${noiseMultiplier}` : '']
      .filter(Boolean)
      .join(' + ');
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
    this.weights.length = 0;
    this.inner.begin(context);
  }

  add(update: ClientUpdate): void {
    if (update.delta.length !== this.clipped.length) {
      throw new RangeError(`delta has ${update.delta.length} values, the model has ${this.clipped.length}`);
    }
    // Clip a copy: the caller's array stays as it sent it.
    this.clipped.set(update.delta);
    if (this.options.clipNorm > 0) clipToNorm(this.clipped, this.options.clipNorm);
    this.inner.add({ ...update, delta: this.clipped });
    this.weights.push(update.weight);
  }

  finish(out: Float32Array): AggregateOutcome {
    const outcome = this.inner.finish(out);
    const { clipNorm, noiseMultiplier } = this.options;
    if (noiseMultiplier === 0) return outcome;
    const noiseStd = dpNoiseStd({ clipNorm, noiseMultiplier, weights: this.weights });
    addGaussianNoise(out, noiseStd, createRng((this.context.seed ^ Math.imul(this.context.round, 0x9e3779b1)) >>> 0));
    return { ...outcome, noiseStd };
  }
}

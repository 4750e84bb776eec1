// Gaussian noise for differentially private aggregation (the Gaussian mechanism).
import type { Rng } from './rng.ts';
import { fillStandardNormal } from './ziggurat.ts';

/** Values drawn per fillStandardNormal call: 32 KB of doubles, small enough to stay in L1/L2. */
const NOISE_CHUNK = 4096;

/**
 * Standard deviation of the Gaussian noise to add to the weighted MEAN of clipped deltas:
 *
 *     σ = z · C · max_i(w_i) / Σ_i w_i
 *
 * Why: every delta Δ_i is clipped to ‖Δ_i‖ ≤ C (clip.ts), so adding or removing one
 * client changes the weighted sum S = Σ_i w_i Δ_i by w_i Δ_i, at most w_max · C in L2.
 * That is the sensitivity of the sum. The Gaussian mechanism with noise multiplier z
 * adds N(0, (z · w_max · C)²) to each coordinate of the sum; the coordinator then divides
 * by W = Σ_i w_i, which divides the noise std by W too. Adding the noise to the mean
 * with std σ above is the same thing, done after the division.
 *
 * Caveat, honestly: W is itself data-dependent (it changes when a client is added or
 * removed), so dividing by it is not covered by the argument above. DP-FedAvg
 * (McMahan et al. 2018, "Learning Differentially Private Recurrent Language Models")
 * divides by a fixed expected total weight instead. With uniform weights (or every
 * client at the weight cap, clientWeightCap) w_max / W = 1/n and this is the standard
 * user-level bound z·C/n; with very uneven weights treat the reported ε as indicative.
 */
export function dpNoiseStd(args: { clipNorm: number; noiseMultiplier: number; weights: readonly number[] }): number {
  const { clipNorm, noiseMultiplier, weights } = args;
  if (!(noiseMultiplier >= 0)) throw new RangeError(`noise multiplier must be >= 0, got ${noiseMultiplier}`);
  if (noiseMultiplier === 0) return 0;
  if (!(clipNorm > 0)) {
    // Without clipping one client's influence is unbounded: no finite noise gives privacy.
    throw new RangeError(`noise multiplier ${noiseMultiplier} needs a clip norm > 0, got ${clipNorm}`);
  }
  let maxWeight = 0;
  let totalWeight = 0;
  for (let i = 0; i < weights.length; i++) {
    if (!(weights[i] >= 0)) throw new RangeError(`client weight ${i} must be >= 0, got ${weights[i]}`);
    if (weights[i] > maxWeight) maxWeight = weights[i];
    totalWeight += weights[i];
  }
  if (!(totalWeight > 0)) throw new RangeError('cannot calibrate noise: total client weight is 0');
  return (noiseMultiplier * clipNorm * maxWeight) / totalWeight;
}

/**
 * v += N(0, std²) per value, in place. `std` is a standard deviation, not a variance.
 * std 0 leaves v unchanged and draws nothing from `rng`.
 */
export function addGaussianNoise(v: Float32Array, std: number, rng: Rng): void {
  if (!(std >= 0) || !Number.isFinite(std)) throw new RangeError(`noise std must be a finite number >= 0, got ${std}`);
  if (std === 0) return;
  // N(0, 1) comes in chunks from the Ziggurat sampler (~4× faster than rng.gaussian() per value).
  const standardNormal = new Float64Array(Math.min(NOISE_CHUNK, v.length));
  for (let start = 0; start < v.length; start += NOISE_CHUNK) {
    const count = Math.min(NOISE_CHUNK, v.length - start);
    const draws = count === standardNormal.length ? standardNormal : standardNormal.subarray(0, count);
    fillStandardNormal(draws, rng);
    for (let i = 0; i < count; i++) v[start + i] += std * draws[i];
  }
}

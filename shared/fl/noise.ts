// Gaussian noise for differentially private aggregation (the Gaussian mechanism).
import type { Rng } from './rng.ts';
import { fillStandardNormal } from './ziggurat.ts';

/** Values drawn per fillStandardNormal call: 32 KB of doubles, small enough to stay in L1/L2. */
const NOISE_CHUNK = 4096;

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

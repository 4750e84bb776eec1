// Gamma(shape, 1) draws from a seeded Rng: the Dirichlet split needs them
// (normalised Gamma(α) draws are a Dirichlet(α, …, α) vector).
import type { Rng } from '../fl/rng.ts';

/**
 * One draw of Gamma(shape, scale 1): mean `shape`, variance `shape`.
 * Marsaglia & Tsang (2000) for shape ≥ 1: a squeezed cubic transform of a normal, accepted
 * about 96% of the time or better. For shape < 1 their boost: Gamma(shape + 1) · U^(1/shape).
 * At very small shapes U^(1/shape) underflows to 0 now and then; callers must allow a 0.
 */
export function sampleGamma(shape: number, rng: Rng): number {
  if (!(shape > 0) || !Number.isFinite(shape)) throw new RangeError(`gamma shape must be a positive finite number, got ${shape}`);
  if (shape < 1) {
    const u = 1 - rng.next(); // (0, 1]
    return sampleGamma(shape + 1, rng) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = rng.gaussian();
    const t = 1 + c * x;
    if (t <= 0) continue;
    const v = t * t * t;
    const u = rng.next();
    // The cheap squeeze first; the exact log test only for the few draws it cannot settle.
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

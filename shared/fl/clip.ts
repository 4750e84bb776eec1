// L2 clipping of a client delta. With DP it is what bounds one client's influence
// (the sensitivity the noise is calibrated to); without DP it still stops one
// diverged tab from wrecking the global model.

/**
 * Euclidean norm. Squares are summed in a JS number (double): in float32 they would
 * lose digits over hundreds of thousands of parameters, and overflow above ~1.8e19.
 */
export function l2Norm(v: Float32Array): number {
  let sumOfSquares = 0;
  for (let i = 0; i < v.length; i++) sumOfSquares += v[i] * v[i];
  return Math.sqrt(sumOfSquares);
}

// Scaling by exactly C/‖v‖ and rounding each value to float32 can land a hair above C
// (relative error up to 2⁻²⁴ per value). Shrinking the factor by 2⁻²² keeps the clipped
// norm at or below C, which the DP sensitivity bound relies on, at a cost of 2.4e-7 relative.
const SAFETY = 1 - 2 ** -22;

/**
 * Scales `v` in place so that ‖v‖ ≤ maxNorm. maxNorm 0 means "no clipping".
 * A vector already within the bound is left bit-for-bit unchanged (scale 1).
 * Returns the norm before clipping and the factor applied.
 */
export function clipToNorm(v: Float32Array, maxNorm: number): { norm: number; scale: number } {
  if (!(maxNorm >= 0)) throw new RangeError(`clip norm must be >= 0 (0 = no clipping), got ${maxNorm}`);
  const norm = l2Norm(v);
  if (maxNorm === 0 || norm <= maxNorm) return { norm, scale: 1 };
  const scale = (maxNorm / norm) * SAFETY;
  for (let i = 0; i < v.length; i++) v[i] *= scale;
  return { norm, scale };
}

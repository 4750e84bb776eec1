// Quantile-based adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy 2021, "Differentially
// Private Learning with Adaptive Clipping"). Instead of guessing C, the coordinator moves it each
// round towards the target quantile γ of the update norms: every tab contributes one bit
// b_i = [‖Δ_i‖ ≤ C], the noised fraction b̄ of ones is compared with γ, and C follows geometrically.

/**
 * C_{t+1} = C_t · exp(−η · (b̄ − γ)). Too many updates under C (b̄ > γ) shrink it; too few grow it.
 * The geometric step makes the move proportional to C, so it finds norms of any scale in
 * O(log) rounds (the paper's Algorithm 1, "geometric update").
 */
export function nextClipNorm(args: { clipNorm: number; unclippedFraction: number; quantile: number; learningRate: number }): number {
  const { clipNorm, unclippedFraction, quantile, learningRate } = args;
  if (!(clipNorm > 0)) throw new RangeError(`clip norm must be > 0, got ${clipNorm}`);
  if (!Number.isFinite(unclippedFraction)) throw new RangeError(`unclipped fraction must be finite, got ${unclippedFraction}`);
  return clipNorm * Math.exp(-learningRate * (unclippedFraction - quantile));
}

/**
 * A tab's clip bit, centred: +½ when its update was within C, −½ when it was clipped. Adding or
 * removing one tab moves the sum of centred bits by ½, not 1: the sensitivity the combined
 * multiplier below assumes (Andrew et al. 2021, §3; TensorFlow Privacy's quantile query does the
 * same). The fraction comes back as (Σ centred bits + noise) / (expected count) + ½.
 */
export const centredClipBit = (withinClipNorm: boolean): number => (withinClipNorm ? 0.5 : -0.5);

/** The unclipped fraction from the (noised) sum of centred bits, over `expectedCount` tabs (> 0). */
export function unclippedFractionOf(centredBitSum: number, expectedCount: number): number {
  if (!(expectedCount > 0)) throw new RangeError(`expected count must be > 0, got ${expectedCount}`);
  return centredBitSum / expectedCount + 0.5;
}

/**
 * With DP the bits are private too: N(0, σ_b²) is added to the sum of centred bits, and the
 * paper's Thm 1 splits one noise multiplier z between the two releases. The deltas get
 *     z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2)
 * so that (deltas with z_Δ, sensitivity C) and (centred bits with σ_b, sensitivity ½, multiplier
 * 2σ_b) compose to exactly the Gaussian mechanism with multiplier z: the accountant charges z.
 * Needs 2σ_b > z.
 */
export function deltaNoiseMultiplier(noiseMultiplier: number, countNoise: number): number {
  if (!(noiseMultiplier > 0)) return 0;
  const rest = noiseMultiplier ** -2 - (2 * countNoise) ** -2;
  if (!(rest > 0)) {
    throw new RangeError(`count noise σ_b = ${countNoise} is too small for noise multiplier ${noiseMultiplier}: it needs σ_b > z / 2`);
  }
  return rest ** -0.5;
}

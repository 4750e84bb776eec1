// Privacy accounting: how much ε the run has spent after T rounds of the Gaussian
// mechanism, via Rényi DP (Mironov 2017, "Rényi Differential Privacy").
//
// Conservative on purpose: every round is counted as if it saw every client. There is
// no subsampling amplification (fractionClients < 1 would give a smaller ε), because
// which tabs are online and selected is not uniform random sampling we can vouch for.

/** δ used when none is given: well below 1/(number of clients) for any realistic room. */
export const DEFAULT_DP_DELTA = 1e-5;

// Rényi orders α to try, spaced geometrically in α − 1 from 0.01 to 1e5 (40 per decade).
// With the optimum α* between two grid points, the grid ε exceeds the continuous minimum
// by at most ((ln 10^(1/80))² / 2) ≈ 0.04% of its α-dependent part (see the test).
const ORDERS: readonly number[] = Array.from({ length: 281 }, (_, k) => 1 + 10 ** ((k - 80) / 40));

/**
 * ε(δ) after `rounds` rounds of the Gaussian mechanism with noise multiplier z
 * (noise std = z × sensitivity):
 *   - one round is (α, α/(2z²))-RDP for every α > 1;
 *   - RDP composes additively: T rounds are (α, T·α/(2z²))-RDP;
 *   - (α, ρ)-RDP implies (ρ + ln(1/δ)/(α − 1), δ)-DP (Mironov 2017, Prop. 3);
 * and ε is the best of those over the order grid. In closed form the minimum over all
 * α > 1 is T/(2z²) + √(2·T·ln(1/δ))/z at α* = 1 + z·√(2·ln(1/δ)/T); the grid keeps
 * this file ready for mechanisms without a closed form.
 * z = 0 (no noise) gives Infinity; 0 rounds give 0.
 */
export function gaussianEpsilon(args: { noiseMultiplier: number; rounds: number; delta: number }): number {
  const { noiseMultiplier: z, rounds, delta } = args;
  if (!(z >= 0)) throw new RangeError(`noise multiplier must be >= 0, got ${z}`);
  if (!Number.isInteger(rounds) || rounds < 0) throw new RangeError(`rounds must be an integer >= 0, got ${rounds}`);
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  if (rounds === 0) return 0;
  if (z === 0) return Infinity;
  const rdpPerUnitOrder = rounds / (2 * z * z);
  const logInvDelta = Math.log(1 / delta);
  let best = Infinity;
  for (let k = 0; k < ORDERS.length; k++) {
    const alpha = ORDERS[k];
    const epsilon = rdpPerUnitOrder * alpha + logInvDelta / (alpha - 1);
    if (epsilon < best) best = epsilon;
  }
  return best;
}

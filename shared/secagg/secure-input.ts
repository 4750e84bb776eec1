// What a tab masks, and what the coordinator reads out of the unmasked sum.
//
// The tab's vector is its clipped delta times its FedAvg weight w ≤ 1, then two extra values:
// w itself, and 1 if its delta was within the clip norm (adaptive clipping's bit). All of it in
// fixed point at one scale, so the sum holds Σ w·Δ, Σ w and the count of unclipped tabs, and the
// weighted mean Σ w·Δ / Σ w is exact FedAvg of whoever survived; the weight travels masked too.
//
// The scale comes from a bound on any coordinate of the sum: ‖w·Δ‖ ≤ C puts every coordinate of
// one tab within ±C, w and the bit within [0, 1], so n tabs stay within n · max(C, 1), plus ten
// standard deviations of the noise the tabs add (distributed DP), beyond which a value is
// vanishingly unlikely (P(|N(0,1)| > 10) ≈ 1.5e-23 per value).
import type { Rng } from '../fl/rng.ts';
import { decodeFixedPoint, encodeFixedPoint, fixedPointScale } from './fixed-point.ts';
import type { InputEncoding } from '../protocol/messages.ts';
import { SECURE_INPUT_EXTRA_VALUES } from './messages.ts';


const NOISE_MARGIN_STDS = 10;

/** The scale for n tabs clipped to C, each adding noise of std noiseStdPerTab (0: none). */
export function secureInputScale(args: { tabs: number; clipNorm: number; noiseStdPerTab: number }): number {
  const { tabs, clipNorm, noiseStdPerTab } = args;
  return fixedPointScale({ maxAbsSum: tabs * Math.max(clipNorm, 1) + NOISE_MARGIN_STDS * noiseStdPerTab * Math.sqrt(tabs) });
}

/**
 * The tab's vector of paramCount + SECURE_INPUT_EXTRA_VALUES fixed-point values. `delta` must already be
 * clipped (so that the coordinator's bound holds); `rng` draws the noise and the stochastic
 * rounding and must be unpredictable when noiseStd > 0 (secure-random.ts).
 */
export function encodeSecureInput(delta: Float32Array, encoding: InputEncoding, withinClipNorm: boolean, rng: Rng): Uint32Array {
  const { weight, noiseStd, scale } = encoding;
  if (!(weight >= 0 && weight <= 1)) throw new RangeError(`weight must be in [0, 1], got ${weight}`);
  if (!(noiseStd >= 0) || !Number.isFinite(noiseStd)) throw new RangeError(`noise std must be >= 0, got ${noiseStd}`);
  const values = new Float32Array(delta.length + SECURE_INPUT_EXTRA_VALUES);
  for (let i = 0; i < delta.length; i++) values[i] = weight * delta[i] + (noiseStd > 0 ? noiseStd * rng.gaussian() : 0);
  values[delta.length] = weight;
  values[delta.length + 1] = withinClipNorm ? 1 : 0;
  return encodeFixedPoint(values, scale, () => rng.next());
}

/** Σ w·Δ (paramCount values), Σ w and the number of tabs within C, from the unmasked sum. */
export function decodeSecureSum(sum: Uint32Array, scale: number): { weightedSum: Float32Array; totalWeight: number; unclipped: number } {
  const values = decodeFixedPoint(sum, scale);
  const paramCount = values.length - SECURE_INPUT_EXTRA_VALUES;
  return {
    weightedSum: values.subarray(0, paramCount),
    totalWeight: values[paramCount],
    unclipped: Math.round(values[paramCount + 1]),
  };
}

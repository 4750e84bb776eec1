// What a tab masks, and what the coordinator reads out of the unmasked sum.
//
// The tab's vector is its clipped delta times its FedAvg weight w ≤ 1, then two extra values:
// w itself, and its clip bit centred, +½ if its delta was within the clip norm and −½ if not
// (adaptive clipping's count, with sensitivity ½: shared/fl/adaptive-clipping.ts). All of it in
// fixed point at one scale, so the sum holds Σ w·Δ, Σ w and the centred count, and the weighted
// mean Σ w·Δ / Σ w is exact FedAvg of whoever survived; the weight travels masked too. With
// distributed DP the tab adds its share of the noise to the delta and to the bit before masking.
//
// The scale comes from a bound on any coordinate of the sum: ‖w·Δ‖ ≤ C puts every coordinate of
// one tab within ±C, w within [0, 1] and the bit within ±½, so n tabs stay within n · max(C, 1), plus
// ten standard deviations of the noise the tabs add (distributed DP), beyond which a value is
// vanishingly unlikely (P(|N(0,1)| > 10) ≈ 1.5e-23 per value).
import type { Rng } from '../fl/rng.ts';
import { addGaussianNoise } from '../fl/noise.ts';
import { standardNormal } from '../fl/ziggurat.ts';
import { centredClipBit } from '../fl/adaptive-clipping.ts';
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
 * The tab's vector of paramCount + SECURE_INPUT_EXTRA_VALUES fixed-point values. `delta` must
 * already be clipped (so that the coordinator's bound holds); `rng` draws the noise and the
 * stochastic rounding and must be unpredictable when noise is asked for (secure-random.ts).
 */
export function encodeSecureInput(delta: Float32Array, encoding: InputEncoding, withinClipNorm: boolean, rng: Rng): Uint32Array {
  const { weight, noiseStd, bitNoiseStd, scale } = encoding;
  if (!(weight >= 0 && weight <= 1)) throw new RangeError(`weight must be in [0, 1], got ${weight}`);
  const values = new Float32Array(delta.length + SECURE_INPUT_EXTRA_VALUES);
  for (let i = 0; i < delta.length; i++) values[i] = weight * delta[i];
  addGaussianNoise(values.subarray(0, delta.length), noiseStd, rng);
  values[delta.length] = weight;
  values[delta.length + 1] = centredClipBit(withinClipNorm) + (bitNoiseStd > 0 ? bitNoiseStd * standardNormal(rng) : 0);
  return encodeFixedPoint(values, scale, () => rng.next());
}

/** Σ w·Δ (paramCount values), Σ w and the sum of the centred clip bits (with their noise), from the unmasked sum. */
export function decodeSecureSum(sum: Uint32Array, scale: number): { weightedSum: Float32Array; totalWeight: number; clipBitSum: number } {
  const values = decodeFixedPoint(sum, scale);
  const paramCount = values.length - SECURE_INPUT_EXTRA_VALUES;
  return { weightedSum: values.subarray(0, paramCount), totalWeight: values[paramCount], clipBitSum: values[paramCount + 1] };
}

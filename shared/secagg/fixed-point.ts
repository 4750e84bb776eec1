// Masks are added mod 2³², so what a tab masks is an integer vector: its float32 update times a
// scale s, rounded. The coordinator's unmasked sum Σ q_i is then read back as a signed 32-bit
// integer and divided by s. That is right only while the true Σ q_i stays inside [−2³¹, 2³¹ − 1];
// outside it wraps silently into a wrong sum, which is why the scale comes from a bound on the sum.
import { MAX_SECAGG_CLIENTS } from './messages.ts';

/**
 * q = floor(v · scale + u), u uniform in [0, 1): E[q] = v · scale exactly (stochastic rounding), so
 * the rounding errors of many tabs average out instead of all leaning one way as round-to-nearest's
 * can on values near a grid point. Stored as two's complement mod 2³². `random` gives [0, 1);
 * it needs no secrecy, since the coordinator only sees the sum. Throws RangeError on a value that is
 * not finite or does not fit 32 signed bits at this scale (clip first, or lower the scale).
 */
export function encodeFixedPoint(values: Float32Array, scale: number, random: () => number): Uint32Array {
  checkScale(scale);
  const out = new Uint32Array(values.length);
  const signed = new Int32Array(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const q = Math.floor(values[i] * scale + random());
    if (!(q >= -0x80000000 && q <= 0x7fffffff)) {
      throw new RangeError(`value ${values[i]} at index ${i} times scale ${scale} does not fit 32 signed bits: clip the update first, or use fixedPointScale`);
    }
    signed[i] = q;
  }
  return out;
}

/** A (summed) fixed-point vector back to float32: each word read as signed, divided by scale. */
export function decodeFixedPoint(sum: Uint32Array, scale: number): Float32Array {
  checkScale(scale);
  const signed = new Int32Array(sum.buffer, sum.byteOffset, sum.length);
  const out = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++) out[i] = signed[i] / scale;
  return out;
}

/**
 * The largest power of two s such that a sum whose true value is within ±maxAbsSum, of up to
 * MAX_SECAGG_CLIENTS stochastically rounded terms, cannot wrap.
 *
 * Each term q_i = floor(v_i · s + u_i) lies strictly within 1 of v_i · s, so
 * |Σ q_i| < s · |Σ v_i| + n ≤ s · maxAbsSum + n. With s · maxAbsSum ≤ 2³¹ − MAX_SECAGG_CLIENTS the
 * integer Σ q_i is in (−2³¹, 2³¹): it reads back exactly. A power of two because multiplying and
 * dividing by one is exact in floating point, so encoding adds no error beyond the rounding.
 * The decoded sum is then within n / s of the true sum (one grid step per term, mean 0).
 *
 * maxAbsSum bounds one coordinate of the sum: for n tabs whose updates are clipped to L2 norm C
 * (so every coordinate is within ±C), n · C, plus a margin for any noise the tabs add.
 */
export function fixedPointScale({ maxAbsSum }: { maxAbsSum: number }): number {
  if (!(maxAbsSum > 0 && Number.isFinite(maxAbsSum))) throw new RangeError(`maxAbsSum must be a positive finite number, got ${maxAbsSum}`);
  const limit = 2 ** 31 - MAX_SECAGG_CLIENTS;
  let exponent = Math.floor(Math.log2(limit / maxAbsSum));
  // log2 of a ratio can be off by one at the edges: settle the exponent exactly.
  while (2 ** exponent * maxAbsSum > limit) exponent--;
  while (2 ** (exponent + 1) * maxAbsSum <= limit) exponent++;
  return 2 ** exponent;
}

function checkScale(scale: number): void {
  if (!(scale > 0 && Number.isFinite(scale))) throw new RangeError(`fixed-point scale must be a positive finite number, got ${scale}`);
}

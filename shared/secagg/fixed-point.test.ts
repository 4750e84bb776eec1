import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../fl/rng.ts';
import { decodeFixedPoint, encodeFixedPoint, fixedPointScale } from './fixed-point.ts';
import { MAX_SECAGG_CLIENTS } from './messages.ts';

test('two\'s complement: −1 at scale 1 is 0xffffffff, −0.5 at scale 2 too, and both read back', () => {
  assert.deepEqual(encodeFixedPoint(Float32Array.of(-1, 0, 1), 1, () => 0), Uint32Array.of(0xffffffff, 0, 1));
  assert.deepEqual(encodeFixedPoint(Float32Array.of(-0.5), 2, () => 0), Uint32Array.of(0xffffffff));
  assert.deepEqual(decodeFixedPoint(Uint32Array.of(0xffffffff, 0x80000000, 0x7fffffff), 1), Float32Array.of(-1, -(2 ** 31), 2 ** 31 - 1));
  assert.deepEqual(decodeFixedPoint(Uint32Array.of(0xffffffff), 2), Float32Array.of(-0.5));
});

test('round trip within one grid step 1/scale, negative values included', () => {
  const rng = createRng(1);
  const scale = 2 ** 20;
  const values = Float32Array.from({ length: 10_000 }, () => (rng.next() * 2 - 1) * 3);
  const decoded = decodeFixedPoint(encodeFixedPoint(values, scale, rng.next), scale);
  for (let i = 0; i < values.length; i++) assert.ok(Math.abs(decoded[i] - values[i]) < 1 / scale, `${values[i]} → ${decoded[i]}`);
  assert.ok(values.some((v) => v < 0));
});

test('stochastic rounding is unbiased: 0.3 and −2.7 at scale 1 average to 0.3 and −2.7 over 100,000 draws', () => {
  const rng = createRng(42);
  for (const v of [0.3, -2.7]) {
    const draws = 100_000;
    const encoded = encodeFixedPoint(new Float32Array(draws).fill(v), 1, rng.next);
    const decoded = decodeFixedPoint(encoded, 1);
    // only the two neighbours occur: 0 or 1 for 0.3, −3 or −2 for −2.7
    assert.deepEqual([...new Set(decoded)].sort((a, b) => a - b), v > 0 ? [0, 1] : [-3, -2]);
    const mean = decoded.reduce((s, x) => s + x, 0) / draws;
    // sd of the mean: sqrt(0.3 · 0.7 / 100,000) = 0.00145; allow 4 sd. Round-to-nearest would give 0 and −3.
    assert.ok(Math.abs(mean - Math.fround(v)) < 0.006, `mean ${mean} for ${v}`);
  }
});

test('fixedPointScale: 2^30 for maxAbsSum 1, 2^25 for 50 (2^31 − 1000 over 50 is 42.9 million, 2^26 is 67 million)', () => {
  assert.equal(fixedPointScale({ maxAbsSum: 1 }), 2 ** 30);
  assert.equal(fixedPointScale({ maxAbsSum: 50 }), 2 ** 25);
  assert.equal(fixedPointScale({ maxAbsSum: 2 ** 40 }), 2 ** -10);
  for (const maxAbsSum of [0.001, 0.37, 1, 3, 50, 1234.5, 1e6]) {
    const scale = fixedPointScale({ maxAbsSum });
    assert.ok(scale * maxAbsSum <= 2 ** 31 - MAX_SECAGG_CLIENTS && 2 * scale * maxAbsSum > 2 ** 31 - MAX_SECAGG_CLIENTS, `${maxAbsSum}: ${scale}`);
  }
  assert.throws(() => fixedPointScale({ maxAbsSum: 0 }), RangeError);
});

test('sums of n values at ±maxAbsSum/n do not wrap, even with every rounding pushed up or down, for n = 5 and n = 1000', () => {
  for (const n of [5, MAX_SECAGG_CLIENTS]) {
    const maxAbsSum = 2.5;
    const scale = fixedPointScale({ maxAbsSum });
    for (const sign of [1, -1]) {
      const sum = new Uint32Array(1);
      const u = sign > 0 ? 1 - 2 ** -53 : 0; // every term rounded up when summing up, down when down
      for (let k = 0; k < n; k++) sum[0] += encodeFixedPoint(Float32Array.of((sign * maxAbsSum) / n), scale, () => u)[0];
      const decoded = decodeFixedPoint(sum, scale)[0];
      assert.ok(Math.sign(decoded) === sign && Math.abs(decoded - sign * maxAbsSum) <= (n + 1) / scale + maxAbsSum * 2 ** -23, `n ${n}: ${decoded}`);
    }
  }
});

test('a value that cannot fit 32 signed bits at its scale, or is not finite, is refused', () => {
  assert.throws(() => encodeFixedPoint(Float32Array.of(3), 2 ** 30, () => 0), /value 3 at index 0 times scale 1073741824 does not fit 32 signed bits/);
  assert.throws(() => encodeFixedPoint(Float32Array.of(0, NaN), 1, () => 0), /value NaN at index 1/);
  assert.throws(() => encodeFixedPoint(Float32Array.of(Infinity), 1, () => 0), RangeError);
});

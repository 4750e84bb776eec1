import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clipToNorm, l2Norm } from './clip.ts';
import { createRng } from './rng.ts';

test('l2Norm of (3, 4) is 5, of (1, 2, 2) is 3, of nothing is 0', () => {
  assert.equal(l2Norm(Float32Array.of(3, 4)), 5);
  assert.equal(l2Norm(Float32Array.of(1, 2, 2)), 3);
  assert.equal(l2Norm(new Float32Array(0)), 0);
});

test('l2Norm accumulates in double: no float32 overflow or drift', () => {
  // (3e20)² overflows float32 but not a double; 3e20 and 4e20 are float32-rounded, hence the tolerance
  assert.ok(Math.abs(l2Norm(Float32Array.of(3e20, 4e20)) / 5e20 - 1) < 1e-7);
  // a million 1e-3 values: norm is exactly sqrt(1e6 · 1e-6) = 1 up to float32 rounding of 1e-3
  const small = new Float32Array(1_000_000).fill(1e-3);
  assert.ok(Math.abs(l2Norm(small) - 1) < 1e-7);
});

test('a vector of norm 5 clipped to 2 has norm 2 and the same direction', () => {
  const v = Float32Array.of(3, 0, -4);
  const { norm, scale } = clipToNorm(v, 2);
  assert.equal(norm, 5);
  assert.ok(Math.abs(scale - 0.4) < 1e-6);
  assert.ok(Math.abs(l2Norm(v) - 2) < 1e-6);
  assert.ok(l2Norm(v) <= 2);
  // (3, 0, -4) · 2/5 = (1.2, 0, -1.6)
  assert.ok(Math.abs(v[0] - 1.2) < 1e-6 && v[1] === 0 && Math.abs(v[2] + 1.6) < 1e-6);
});

test('clipped vectors never end above the bound, even after float32 rounding', () => {
  const rng = createRng(3);
  for (let trial = 0; trial < 200; trial++) {
    const v = new Float32Array(1 + rng.int(5000));
    for (let i = 0; i < v.length; i++) v[i] = rng.gaussian() * 10;
    const bound = 0.1 + rng.next() * 5;
    clipToNorm(v, bound);
    assert.ok(l2Norm(v) <= bound, `trial ${trial}: ${l2Norm(v)} > ${bound}`);
    assert.ok(l2Norm(v) > bound * (1 - 1e-6));
  }
});

test('a vector within the bound is left bit-for-bit unchanged', () => {
  const values = [0.1, -0.2, 1e-30, -0, 0.3];
  const v = Float32Array.from(values);
  const before = new Uint8Array(v.slice().buffer);
  assert.deepEqual(clipToNorm(v, 1), { norm: l2Norm(v), scale: 1 });
  assert.deepEqual(new Uint8Array(v.buffer), before);
  // exactly on the bound counts as within it
  const onBound = Float32Array.of(3, 4);
  assert.equal(clipToNorm(onBound, 5).scale, 1);
  assert.deepEqual(onBound, Float32Array.of(3, 4));
});

test('clip norm 0 means no clipping', () => {
  const v = Float32Array.of(300, -400);
  assert.deepEqual(clipToNorm(v, 0), { norm: 500, scale: 1 });
  assert.deepEqual(v, Float32Array.of(300, -400));
});

test('a negative clip norm is refused', () => {
  assert.throws(() => clipToNorm(Float32Array.of(1), -1), /clip norm must be >= 0 \(0 = no clipping\), got -1/);
});

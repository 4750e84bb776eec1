import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addGaussianNoise } from './noise.ts';
import { createRng } from './rng.ts';
import { fillStandardNormal } from './ziggurat.ts';

const N = 1_000_000;

function measure(noise: Float32Array, base: Float32Array): { mean: number; std: number } {
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < noise.length; i++) {
    const e = noise[i] - base[i];
    sum += e;
    sumSq += e * e;
  }
  const mean = sum / noise.length;
  return { mean, std: Math.sqrt(sumSq / noise.length - mean * mean) };
}

function noisy(base: Float32Array, std: number, seed: number): Float32Array {
  const v = base.slice();
  addGaussianNoise(v, std, createRng(seed));
  return v;
}

const base = new Float32Array(N);
for (let i = 0; i < N; i++) base[i] = (i % 7) * 0.125 - 0.375; // not all zeros: noise must be added, not assigned

for (const [label, std] of [
  ['std 0.546 (z = 1.3, C = 0.7 on the sum, W = 1.667)', (1.3 * 0.7) / (5 / 3)],
  ['std 0.37', 0.37],
  ['std 2.5', 2.5],
] as const) {
  test(`addGaussianNoise with ${label}: measured std within 1%, mean ≈ 0 over 1e6 values`, () => {
    const { mean, std: measured } = measure(noisy(base, std, 99), base);
    // sampling error of the std is std/sqrt(2N) ≈ 0.07%, so 1% only fails on a real mistake:
    // passing σ² (0.37² = 0.137) or √σ (√0.37 = 0.608) where σ belongs would be off by 60% or more
    assert.ok(Math.abs(measured / std - 1) < 0.01, `measured std ${measured}, expected ${std}`);
    assert.ok(Math.abs(measured - std * std) > 0.05 && Math.abs(measured - Math.sqrt(std)) > 0.05);
    // std of the mean is std/1000: allow 5 of those
    assert.ok(Math.abs(mean) < (5 * std) / Math.sqrt(N), `mean ${mean}`);
  });
}

test('the same seed gives the same noise, another seed other noise', () => {
  const small = base.subarray(0, 1000);
  assert.deepEqual(noisy(small, 0.37, 5), noisy(small, 0.37, 5));
  assert.notDeepEqual(noisy(small, 0.37, 5), noisy(small, 0.37, 6));
});

test('the noise is std × the Ziggurat draws of the same seed, across chunk boundaries', () => {
  // 10,000 values span the 4096-value chunks addGaussianNoise draws in: 4096 + 4096 + 1808
  const length = 10_000;
  const standardNormal = new Float64Array(length);
  fillStandardNormal(standardNormal, createRng(12));
  const expected = base.slice(0, length);
  for (let i = 0; i < length; i++) expected[i] += 0.37 * standardNormal[i];
  assert.deepEqual(noisy(base.subarray(0, length), 0.37, 12), expected);
});

test('std 0 leaves the vector unchanged and draws nothing', () => {
  const v = Float32Array.of(1, -2, 3);
  const rng = createRng(1);
  addGaussianNoise(v, 0, rng);
  assert.deepEqual(v, Float32Array.of(1, -2, 3));
  assert.equal(rng.next(), createRng(1).next());
});

test('a negative or non-finite std is refused', () => {
  assert.throws(() => addGaussianNoise(new Float32Array(1), -0.1, createRng(1)), /noise std must be a finite number >= 0, got -0.1/);
  assert.throws(() => addGaussianNoise(new Float32Array(1), Infinity, createRng(1)), /got Infinity/);
});

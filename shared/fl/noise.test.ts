import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addGaussianNoise } from './noise.ts';
import { createRng } from './rng.ts';
import { fillStandardNormal } from './ziggurat.ts';

const N = 1_000_000;

interface NoiseMoments {
  mean: number;
  std: number;
  /** E[(e − mean)⁴] / std⁴: 3 for a Gaussian, 1.8 for a uniform, 6 for a Laplace. */
  kurtosis: number;
  /** Fraction of the noise within ±1 `expectedStd` of 0 (Gaussian: 0.6827). */
  withinOneStd: number;
  /** Fraction beyond ±3 `expectedStd` (Gaussian: 0.0027). */
  beyondThreeStd: number;
}

/** The noise added to `base`, measured in one pass. */
function measure(noise: Float32Array, base: Float32Array, expectedStd: number): NoiseMoments {
  let sum = 0;
  let within = 0;
  let beyond = 0;
  for (let i = 0; i < noise.length; i++) {
    const e = noise[i] - base[i];
    sum += e;
    const size = Math.abs(e);
    if (size <= expectedStd) within++;
    else if (size > 3 * expectedStd) beyond++;
  }
  const mean = sum / noise.length;
  let m2 = 0;
  let m4 = 0;
  for (let i = 0; i < noise.length; i++) {
    const d = noise[i] - base[i] - mean;
    const d2 = d * d;
    m2 += d2;
    m4 += d2 * d2;
  }
  m2 /= noise.length;
  m4 /= noise.length;
  return { mean, std: Math.sqrt(m2), kurtosis: m4 / (m2 * m2), withinOneStd: within / noise.length, beyondThreeStd: beyond / noise.length };
}

function noisy(base: Float32Array, std: number, seed: number): Float32Array {
  const v = base.slice();
  addGaussianNoise(v, std, createRng(seed));
  return v;
}

const base = new Float32Array(N);
for (let i = 0; i < N; i++) base[i] = (i % 7) * 0.125 - 0.375; // not all zeros: noise must be added, not assigned

// Standard normal: P(|Z| <= 1) and P(|Z| > 3).
const WITHIN_ONE = 0.682689492;
const BEYOND_THREE = 0.002699796;

for (const [label, std] of [
  ['std 0.546 (z = 1.3, C = 0.7 on the sum, W = 1.667)', (1.3 * 0.7) / (5 / 3)],
  ['std 0.37', 0.37],
  ['std 2.5', 2.5],
] as const) {
  test(`addGaussianNoise with ${label}: std within 1%, mean ≈ 0, Gaussian shape (kurtosis, ±1σ and 3σ fractions) over 1e6 values`, () => {
    // Each std is chosen so that σ² and √σ are each at least 25% away from σ: scaling the draws by
    // the variance or by √σ where σ belongs lands outside the 1% band below.
    assert.ok(Math.abs(std * std - std) > 0.25 * std && Math.abs(Math.sqrt(std) - std) > 0.25 * std, `std ${std} cannot tell σ from σ² or √σ`);
    const measured = measure(noisy(base, std, 99), base, std);
    // sampling error of the std is std/sqrt(2N) ≈ 0.07%: 1% only fails on a real mistake
    assert.ok(Math.abs(measured.std / std - 1) < 0.01, `measured std ${measured.std}, expected ${std}`);
    // std of the mean is std/1000: allow 5 of those
    assert.ok(Math.abs(measured.mean) < (5 * std) / Math.sqrt(N), `mean ${measured.mean}`);
    // The shape, independent of the scale: noise of the right std but the wrong distribution fails here.
    // Sample kurtosis has std √(24/N) ≈ 0.005 (allow 0.03; uniform gives 1.8, Laplace 6); the
    // fractions have binomial std √(p(1 − p)/N): 0.00047 and 0.000052 (allow 5 of each; uniform
    // noise of this std puts 0.577 within ±1σ and nothing beyond 3σ).
    assert.ok(Math.abs(measured.kurtosis - 3) < 0.03, `kurtosis ${measured.kurtosis}, a Gaussian has 3`);
    const withinTolerance = 5 * Math.sqrt((WITHIN_ONE * (1 - WITHIN_ONE)) / N);
    assert.ok(Math.abs(measured.withinOneStd - WITHIN_ONE) < withinTolerance, `${measured.withinOneStd} within ±1σ, a Gaussian has ${WITHIN_ONE}`);
    const beyondTolerance = 5 * Math.sqrt((BEYOND_THREE * (1 - BEYOND_THREE)) / N);
    assert.ok(Math.abs(measured.beyondThreeStd - BEYOND_THREE) < beyondTolerance, `${measured.beyondThreeStd} beyond ±3σ, a Gaussian has ${BEYOND_THREE}`);
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

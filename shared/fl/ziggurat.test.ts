import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fillStandardNormal } from './ziggurat.ts';
import { createRng } from './rng.ts';

const N = 1_000_000;
const draws = new Float64Array(N);
fillStandardNormal(draws, createRng(2024));

test('mean 0 and standard deviation 1 over 1e6 draws', () => {
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < N; i++) {
    sum += draws[i];
    sumSq += draws[i] * draws[i];
  }
  const mean = sum / N;
  const std = Math.sqrt(sumSq / N - mean * mean);
  // std of the mean is 1/1000, of the sample std 1/sqrt(2N) ≈ 0.07%: allow 5 of each
  assert.ok(Math.abs(mean) < 5e-3, `mean ${mean}`);
  assert.ok(Math.abs(std - 1) < 3.5e-3, `std ${std}`);
});

test('P(|x| > t) matches the normal table from the centre to the tail', () => {
  // 2·(1 − Φ(t)), e.g. 0.3173 beyond 1σ and 0.0027 beyond 3σ; t = 3.5 and 4 lie beyond the base
  // strip's R = 3.44, so they test the tail sampler, and 0.5…2.5 the strips and their wedges.
  const table: [number, number][] = [
    [0.5, 0.617075], [1, 0.317311], [1.5, 0.133614], [2, 0.0455003],
    [2.5, 0.0124193], [3, 0.0026998], [3.5, 4.65258e-4], [4, 6.33425e-5],
  ];
  for (const [t, expected] of table) {
    let beyond = 0;
    for (let i = 0; i < N; i++) if (Math.abs(draws[i]) > t) beyond++;
    const tolerance = 5 * Math.sqrt((expected * (1 - expected)) / N); // 5 binomial standard errors
    assert.ok(Math.abs(beyond / N - expected) < tolerance, `P(|x| > ${t}) = ${beyond / N}, table ${expected} ± ${tolerance}`);
  }
});

test('symmetric: half the draws are positive, in the tail too', () => {
  let positive = 0;
  let tail = 0;
  let positiveTail = 0;
  for (let i = 0; i < N; i++) {
    if (draws[i] > 0) positive++;
    if (Math.abs(draws[i]) > 3.5) {
      tail++;
      if (draws[i] > 0) positiveTail++;
    }
  }
  assert.ok(Math.abs(positive / N - 0.5) < 2.5e-3, `${positive} positive`); // 5 × 0.5/1000
  assert.ok(Math.abs(positiveTail / tail - 0.5) < 5 * (0.5 / Math.sqrt(tail)), `${positiveTail} of ${tail} tail draws positive`);
});

test('the same seed gives the same draws, in one call or in pieces; another seed other draws', () => {
  const whole = new Float64Array(10_000);
  fillStandardNormal(whole, createRng(5));
  const pieces = new Float64Array(10_000);
  const rng = createRng(5);
  fillStandardNormal(pieces.subarray(0, 4096), rng);
  fillStandardNormal(pieces.subarray(4096, 4097), rng);
  fillStandardNormal(pieces.subarray(4097), rng);
  assert.deepEqual(pieces, whole);
  const other = new Float64Array(10_000);
  fillStandardNormal(other, createRng(6));
  assert.notDeepEqual(other, whole);
});

test('seed 1 still gives the draws it always gave (noise is reproducible across versions)', () => {
  const first = new Float64Array(6);
  fillStandardNormal(first, createRng(1));
  assert.deepEqual(Array.from(first), [
    0.2905647576294435, -0.44564439852726584, -2.2026021181481323, 1.1888149709082592, -0.5702844526637929, -2.476735733824008,
  ]);
});

test('fills a Float32Array too, with the same draws rounded to float32', () => {
  const single = new Float32Array(1000);
  const double = new Float64Array(1000);
  fillStandardNormal(single, createRng(8));
  fillStandardNormal(double, createRng(8));
  assert.deepEqual(single, Float32Array.from(double));
});

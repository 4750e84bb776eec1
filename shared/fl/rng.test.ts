import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng, shuffleInPlace } from './rng.ts';

const N = 1_000_000;

function draws(seed: number, count: number): number[] {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => rng.next());
}

test('the same seed gives the same sequence', () => {
  assert.deepEqual(draws(42, 1000), draws(42, 1000));
  const a = createRng(7);
  const b = createRng(7);
  for (let i = 0; i < 1000; i++) assert.equal(a.gaussian(), b.gaussian());
});

test('seeds 42 and 0xdeadbeef give the sequences they always gave', () => {
  // Pinned before the state moved into an Int32Array: changing where it lives must not change it.
  const a = createRng(42);
  assert.deepEqual([a.uint32(), a.uint32(), a.uint32(), a.uint32()], [2852766471, 4136168353, 1126838629, 1262802217]);
  const b = createRng(0xdeadbeef);
  assert.deepEqual([b.next(), b.next(), b.next()].map((u) => u * 4294967296), [3402797521, 2313761543, 3187615289]);
});

test('uint32 gives whole numbers in [0, 2³²), and next() is uint32() / 2³² of the same draw', () => {
  const bits = createRng(77);
  const uniform = createRng(77);
  let high = 0;
  for (let i = 0; i < 10_000; i++) {
    const u = bits.uint32();
    assert.ok(Number.isInteger(u) && u >= 0 && u < 4294967296, `${u}`);
    assert.equal(uniform.next(), u / 4294967296);
    if (u >= 2147483648) high++;
  }
  assert.ok(high > 4750 && high < 5250, `${high} of 10,000 draws have the top bit set`); // 5 × 50
});

test('different seeds give different sequences', () => {
  const a = draws(1, 100);
  const b = draws(2, 100);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  assert.equal(same, 0);
});

test('uniform draws lie in [0, 1) with mean 1/2 and variance 1/12', () => {
  const rng = createRng(123);
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < N; i++) {
    const u = rng.next();
    assert.ok(u >= 0 && u < 1);
    sum += u;
    sumSq += u * u;
  }
  const mean = sum / N;
  // std of the mean is sqrt(1/12)/1000 ≈ 2.9e-4: allow about 5 of those
  assert.ok(Math.abs(mean - 0.5) < 1.5e-3, `mean ${mean}`);
  assert.ok(Math.abs(sumSq / N - mean * mean - 1 / 12) < 1e-3);
});

test('gaussian draws have mean 0 and variance 1', () => {
  const rng = createRng(2024);
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < N; i++) {
    const g = rng.gaussian();
    sum += g;
    sumSq += g * g;
  }
  const mean = sum / N;
  const variance = sumSq / N - mean * mean;
  // std of the mean is 1e-3, std of the sample variance is sqrt(2/N) ≈ 1.4e-3: allow ~5 of each
  assert.ok(Math.abs(mean) < 5e-3, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 7e-3, `variance ${variance}`);
});

test('int(n) stays in [0, n) and hits every value', () => {
  const rng = createRng(9);
  const counts = new Uint32Array(6);
  for (let i = 0; i < 6000; i++) counts[rng.int(6)]++;
  for (let k = 0; k < 6; k++) assert.ok(counts[k] > 850 && counts[k] < 1150, `count of ${k}: ${counts[k]}`);
});

test('shuffleInPlace permutes without losing or repeating items', () => {
  const items = Array.from({ length: 100 }, (_, i) => i);
  shuffleInPlace(items, createRng(5));
  assert.notDeepEqual(items, Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual([...items].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
});

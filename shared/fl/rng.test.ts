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

test('53-bit uniforms (the secure source) reach where 32-bit ones stop: the Gaussian tails of DP noise are not cut at 6.66σ', async () => {
  const { rngFromBits } = await import('./rng.ts');
  const { standardNormal } = await import('./ziggurat.ts');
  // The smallest uniforms each can give: 2⁻³² from one word, 2⁻⁵³ from two.
  const smallest32 = rngFromBits(() => 1);
  const smallest53 = rngFromBits(() => (calls++ % 2 === 0 ? 0 : 2048), 53);
  let calls = 0;
  assert.equal(smallest32.next(), 2 ** -32);
  assert.equal(smallest53.next(), 2 ** -53);
  // Box–Muller's radius √(−2 ln u) at the smallest u: 6.66 with 32 bits, 8.57 with 53.
  assert.ok(Math.abs(Math.sqrt(-2 * Math.log(2 ** -32)) - 6.66) < 0.01);
  assert.ok(Math.sqrt(-2 * Math.log(2 ** -53)) > 8.5);
  // The Ziggurat's tail (strip 0, beyond R = 3.44): x = R + t with t = −ln(1 − u₁)/R, kept when
  // 2·(−ln(1 − u₂)) ≥ t². 32-bit uniforms cap −ln(1 − u) at 22.2, so t ≤ 6.66 and x ≤ 10.1; with 53
  // bits (36.7) t reaches 8.57. Here 1 − u₁ = 2⁻⁴⁰ gives t = 8.05, which 1 − u₂ = 2⁻⁵³ accepts.
  let k = 0;
  const words = [0x7fffff80, 0xffffffff, 0xff000000, 0xffffffff, 0xfffff800]; // strip 0 at its widest j; u₁; u₂
  const far = standardNormal(rngFromBits(() => words[k++], 53));
  assert.ok(far > 11 && k === words.length, `tail draw ${far}, ${k} words`);
});

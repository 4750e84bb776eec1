import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelHistogram, partitionIndices, type PartitionSettings } from './partition.ts';
import { dirichletShards } from './partitions/dirichlet.ts';
import { sampleGamma } from './partitions/gamma.ts';
import { MIN_QUANTITY_SHARD_SIZE, powerLawSizes } from './partitions/quantity.ts';
import { createRng } from './fl/rng.ts';
import { DEFAULT_SETTINGS, PARTITIONS } from './settings.ts';

function randomLabels(count: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = rng.int(10);
  return labels;
}

/** 800 of each digit, interleaved: 0, 1, …, 9, 0, 1, … */
const balanced = Uint8Array.from({ length: 8000 }, (_, i) => i % 10);
const labels = randomLabels(8000, 1);

function split(partial: Partial<PartitionSettings>, on: Uint8Array = balanced): number[][] {
  return partitionIndices(on, { ...DEFAULT_SETTINGS, ...partial });
}

/** Every index 0..count-1 appears in exactly one shard, and no shard is empty. */
function assertDisjointCover(shards: number[][], count: number): void {
  const seen = new Uint8Array(count);
  for (const shard of shards) {
    assert.ok(shard.length > 0, 'a shard is empty');
    for (const i of shard) {
      assert.ok(Number.isInteger(i) && i >= 0 && i < count, `index ${i} out of range`);
      assert.equal(seen[i], 0, `index ${i} is in two shards`);
      seen[i] = 1;
    }
  }
  assert.equal(seen.reduce((a, b) => a + b, 0), count);
}

function distinctLabels(shard: number[], on: Uint8Array): number {
  return new Set(shard.map((i) => on[i])).size;
}

/** Mean over shards of the share of each shard's most common digit: 0.1 for a balanced iid split, 1 if each shard is one digit. */
function meanLargestLabelShare(shards: number[][], on: Uint8Array): number {
  return shards.reduce((sum, s) => sum + Math.max(...labelHistogram(on, s, 10)) / s.length, 0) / shards.length;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const variance = (xs: number[]) => {
  const m = mean(xs);
  return xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
};
const seeds = (count: number) => Array.from({ length: count }, (_, i) => i + 1);

// —— every partitioner ——

test('every partition: disjoint, covers every example, no shard empty, for 1 to 1,000 shards', () => {
  for (const partition of PARTITIONS) {
    for (const shards of [1, 3, 10, 20, 200, 1000]) {
      for (const on of [balanced, labels]) {
        const parts = split({ partition, shards, seed: 5, dirichletAlpha: 0.1, classesPerClient: 3, quantitySkew: 2 }, on);
        assert.equal(parts.length, shards, `${partition}, ${shards} shards`);
        assertDisjointCover(parts, 8000);
      }
    }
  }
});

test('every partition: the same seed gives the same shards, another seed other shards', () => {
  for (const partition of PARTITIONS) {
    assert.deepEqual(split({ partition, shards: 10, seed: 7 }), split({ partition, shards: 10, seed: 7 }));
    assert.notDeepEqual(split({ partition, shards: 10, seed: 7 }), split({ partition, shards: 10, seed: 8 }));
  }
});

test('fewer examples than shards is refused: a tab with no data cannot train', () => {
  assert.throws(() => split({ shards: 13 }, randomLabels(12, 1)), /cannot split 12 examples into 13 shards/);
  assertDisjointCover(split({ partition: 'dirichlet', shards: 12, dirichletAlpha: 0.05 }, randomLabels(12, 1)), 12);
});

test('labelHistogram counts each digit of the listed examples', () => {
  const some = Uint8Array.of(3, 3, 0, 9, 3, 1);
  assert.deepEqual(labelHistogram(some, [0, 1, 2, 4], 10), [1, 0, 0, 3, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(labelHistogram(some, [], 4), [0, 0, 0, 0]);
  assert.throws(() => labelHistogram(some, [3], 4), /example 3 has label 9, outside 0…3/);
});

// —— iid ——

test('iid: 8,000 examples in 3 shards, sizes 2666/2667/2667', () => {
  const shards = split({ partition: 'iid', shards: 3, seed: 42 }, labels);
  assertDisjointCover(shards, 8000);
  assert.deepEqual(shards.map((s) => s.length).sort(), [2666, 2667, 2667]);
});

test('iid: sizes differ by at most one for any shard count', () => {
  for (const count of [13, 100, 8000]) {
    for (const n of [1, 2, 3, 7, 10, 13]) {
      const shards = split({ partition: 'iid', shards: n, seed: 5 }, randomLabels(count, count));
      assertDisjointCover(shards, count);
      const sizes = shards.map((s) => s.length);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${count} in ${n}: sizes ${sizes}`);
    }
  }
});

test('iid: shuffled, so every shard sees all ten digits, about 10% each', () => {
  const shards = split({ partition: 'iid', shards: 10, seed: 42 });
  for (const shard of shards) assert.equal(distinctLabels(shard, balanced), 10);
  // 800 examples from 8,000 balanced: a digit's share has sd √(0.1·0.9/800 · 7200/7999) = 0.0100.
  for (const shard of shards) for (const c of labelHistogram(balanced, shard, 10)) assert.ok(Math.abs(c / 800 - 0.1) < 0.04, `count ${c} of 800`);
});

// —— dirichlet ——

test('gamma sampler: mean k and variance k for k = 0.3, 1, 5', () => {
  // Sample mean: sd √(k/N). Sample variance: sd √((μ₄ − k²)/N) with μ₄ = 3k² + 6k (excess kurtosis 6/k),
  // i.e. √((2k² + 6k)/N). Allow 4 sd. For k = 0.3 and N = 200,000: 0.0049 on the mean, 0.0126 on the variance.
  const N = 200_000;
  const rng = createRng(11);
  for (const k of [0.3, 1, 5]) {
    const draws = Array.from({ length: N }, () => sampleGamma(k, rng));
    assert.ok(draws.every((x) => x >= 0 && Number.isFinite(x)));
    const m = mean(draws);
    const v = variance(draws);
    assert.ok(Math.abs(m - k) < 4 * Math.sqrt(k / N), `k = ${k}: mean ${m}`);
    assert.ok(Math.abs(v - k) < 4 * Math.sqrt((2 * k * k + 6 * k) / N), `k = ${k}: variance ${v}`);
  }
  assert.throws(() => sampleGamma(0, rng), /gamma shape must be a positive finite number, got 0/);
});

test('dirichlet: each digit is spread over the shards as Dir(α) says (largest share of a digit)', () => {
  // What is drawn per digit is p ~ Dir(α, …, α) over the shards, and shard k gets n·p_k of its
  // 800 examples to within one, so the largest share of a digit on any one shard is E[max p] ± 1/800.
  // 2 shards: p₁ ~ Beta(α, α) and max = ½ + |p₁ − ½|, E|p₁ − ½| = 4^−α / (α·B(α, α)):
  //   α = 1: ½ + ¼ = 0.75;  α = 0.5: ½ + 1/π = 0.8183;  α = 0.1: B(0.1, 0.1) = Γ(0.1)²/Γ(0.2) = 19.715, so 0.9416.
  // 20 shards at α = 1: Dir(1, …, 1) is uniform on the simplex, E[max] = H₂₀ / 20 = 3.5977 / 20 = 0.1799.
  const cases = [
    { shards: 2, alpha: 1, expected: 0.75 },
    { shards: 2, alpha: 0.5, expected: 0.5 + 1 / Math.PI },
    { shards: 2, alpha: 0.1, expected: 0.5 + Math.pow(4, -0.1) / (0.1 * ((9.513507699 * 9.513507699) / 4.590843712)) },
    { shards: 20, alpha: 1, expected: 3.597739657 / 20 },
  ];
  for (const { shards, alpha, expected } of cases) {
    const largestShares: number[] = [];
    for (const seed of seeds(50)) {
      const parts = split({ partition: 'dirichlet', shards, dirichletAlpha: alpha, seed });
      const histograms = parts.map((s) => labelHistogram(balanced, s, 10));
      for (let digit = 0; digit < 10; digit++) largestShares.push(Math.max(...histograms.map((h) => h[digit])) / 800);
    }
    // Each digit of each seed is an independent draw: 500 of them, allow 4 standard errors plus the rounding.
    const tolerance = 4 * Math.sqrt(variance(largestShares) / largestShares.length) + 1 / 800;
    const measured = mean(largestShares);
    assert.ok(Math.abs(measured - expected) < tolerance, `${shards} shards, α = ${alpha}: ${measured.toFixed(4)}, expected ${expected.toFixed(4)} ± ${tolerance.toFixed(4)}`);
  }
});

test('dirichlet: a shard\'s most common digit grows from ≈ 10% at α = 100 to ≥ 60% at α = 0.1 (20 shards)', () => {
  const measured = [100, 1, 0.5, 0.1].map((alpha) => mean(seeds(20).map((seed) => meanLargestLabelShare(split({ partition: 'dirichlet', shards: 20, dirichletAlpha: alpha, seed }), balanced))));
  // Measured: 0.116, 0.281, 0.373, 0.636 (α = 100 is not exactly 0.1: Dir(100) proportions still vary by ~10%).
  const [a100, a1, a05, a01] = measured;
  assert.ok(a100 > 0.1 && a100 < 0.15, `α = 100: ${a100}`);
  assert.ok(a100 < a1 && a1 < a05 && a05 < a01, `not increasing as α falls: ${measured}`);
  assert.ok(a01 >= 0.6, `α = 0.1: ${a01}`);
});

test('dirichlet: with many shards a shard\'s digit mix tends to Dir(α) over the 10 digits, E[max] = H₁₀/10 = 0.2929 at α = 1', () => {
  // Shard k holds n·p_{y,k} of digit y, p_{y,k} ~ Beta(α, (S − 1)α) ≈ Gamma(α)/(Sα) for many shards S,
  // so its mix is ≈ 10 normalised Gamma(α) draws: Dir(α, …, α), uniform on the simplex at α = 1.
  const shares: number[] = [];
  for (const seed of seeds(20)) {
    for (const s of split({ partition: 'dirichlet', shards: 100, dirichletAlpha: 1, seed })) shares.push(Math.max(...labelHistogram(balanced, s, 10)) / s.length);
  }
  const tolerance = 4 * Math.sqrt(variance(shares) / shares.length);
  const expected = 2.928968254 / 10;
  assert.ok(Math.abs(mean(shares) - expected) < tolerance, `${mean(shares)}, expected ${expected} ± ${tolerance}`);
});

test('dirichlet at α = 0.05, 20 shards: the draw leaves shards empty, each then takes one example from the largest', () => {
  const byClass = Array.from({ length: 10 }, (_, digit) => Array.from({ length: 800 }, (_, i) => 10 * i + digit));
  let emptyDraws = 0;
  for (const seed of seeds(20)) {
    // The same draws partitionIndices makes, minus its shuffle: empty shards do happen at this α.
    emptyDraws += dirichletShards(byClass, 20, 0.05, createRng(seed)).filter((s) => s.length === 0).length;
    const parts = split({ partition: 'dirichlet', shards: 20, dirichletAlpha: 0.05, seed });
    assertDisjointCover(parts, 8000);
  }
  // A shard gets none of a digit when its share p ~ Beta(0.05, 0.95) is under 1/800, which happens
  // about 70% of the time; none of all ten digits, a few percent: 8 of the 400 shards here.
  assert.ok(emptyDraws >= 5, `only ${emptyDraws} empty shards drawn in 20 seeds: the test does not exercise the refill`);
  // 1,000 shards at α = 0.05 leave 173 empty for this seed: all are refilled.
  assertDisjointCover(split({ partition: 'dirichlet', shards: 1000, dirichletAlpha: 0.05, seed: 3 }), 8000);
});

test('dirichlet: a tiny α still deals every example (every gamma draw underflowing to 0)', () => {
  const parts = split({ partition: 'dirichlet', shards: 5, dirichletAlpha: 1e-6, seed: 2 });
  assertDisjointCover(parts, 8000);
  // Each digit goes whole to one random shard; the shards no digit went to get one example each.
  assert.ok(meanLargestLabelShare(parts, balanced) > 0.5);
});

// —— shards (McMahan et al.'s pathological split) ——

test('shards: with 200 of each digit, slices align with digits, so a shard holds at most classesPerClient digits', () => {
  // 2,000 sorted examples, 10 shards: c = 2 gives 20 slices of 100, c = 5 gives 50 of 40; each slice is one digit.
  const blocks = Uint8Array.from({ length: 2000 }, (_, i) => i % 10);
  for (const classesPerClient of [1, 2, 5]) {
    const shards = split({ partition: 'shards', shards: 10, classesPerClient, seed: 3 }, blocks);
    assertDisjointCover(shards, 2000);
    assert.ok(shards.every((s) => s.length === 200));
    const counts = shards.map((s) => distinctLabels(s, blocks));
    assert.ok(counts.every((c) => c <= classesPerClient), `c = ${classesPerClient}: digits per shard ${counts}`);
    if (classesPerClient === 1) assert.deepEqual(counts, new Array(10).fill(1));
  }
});

test('shards: at most 9 digits beyond classesPerClient in the whole split, at most 2·classesPerClient in one shard', () => {
  // A slice is a run of the label-sorted order: it has 1 + (digit boundaries inside it) digits, and the
  // 10 digits have 9 boundaries, so Σ_shards max(0, digits − c) ≤ 9. Each slice (≤ 8000/(c·shards)
  // examples) is no longer than any digit (~800), so holds at most 2 digits: ≤ 2c per shard.
  for (const classesPerClient of [1, 2, 3, 5]) {
    for (const shards of [10, 50, 100]) {
      const parts = split({ partition: 'shards', shards, classesPerClient, seed: 42 }, labels);
      assertDisjointCover(parts, 8000);
      const counts = parts.map((s) => distinctLabels(s, labels));
      const extra = counts.reduce((sum, c) => sum + Math.max(0, c - classesPerClient), 0);
      assert.ok(extra <= 9, `c = ${classesPerClient}, ${shards} shards: ${extra} extra digits (${counts})`);
      assert.ok(counts.every((c) => c <= 2 * classesPerClient), `c = ${classesPerClient}, ${shards} shards: ${counts}`);
    }
  }
});

test('shards: within a digit the examples are shuffled, not taken lowest index first', () => {
  // One digit only, 1,000 examples, 5 shards: if the order within a digit were by index,
  // shard slices would be index ranges; shuffled, each shard spans nearly the whole range.
  for (const shard of split({ partition: 'shards', shards: 5, seed: 9 }, new Uint8Array(1000))) {
    assert.ok(Math.max(...shard) - Math.min(...shard) > 900, `shard spans ${Math.min(...shard)}..${Math.max(...shard)}`);
  }
});

test('shards: more slices than examples (30 digits, 10 per shard, 20 shards) leaves no shard empty', () => {
  const few = randomLabels(30, 4);
  const parts = split({ partition: 'shards', shards: 20, classesPerClient: 10, seed: 1 }, few);
  assertDisjointCover(parts, 30);
});

// —— quantity ——

test('quantity: sizes follow (k + 1)^−β: at β = 1, 10 shards, 8000/H₁₀ = 2731 down to 273', () => {
  const sizes = split({ partition: 'quantity', shards: 10, quantitySkew: 1, seed: 4 }).map((s) => s.length);
  assert.deepEqual(sizes, [2731, 1366, 911, 683, 546, 455, 390, 341, 304, 273]);
  assert.deepEqual(powerLawSizes(8000, 8, 0), new Array(8).fill(1000));
});

test('quantity: shards the law makes smaller than 32 are raised to 32, the others keep the exact law', () => {
  // β = 2, 20 shards: the law alone would give shard 19 a size of 8000/(1.596·400) ≈ 12.5.
  for (const [shards, skew] of [[20, 2], [50, 1], [20, 10], [100, 3]]) {
    const sizes = split({ partition: 'quantity', shards, quantitySkew: skew, seed: 4 }).map((s) => s.length);
    assert.equal(sizes.reduce((a, b) => a + b, 0), 8000);
    assert.ok(sizes.every((n, k) => n >= MIN_QUANTITY_SHARD_SIZE && (k === 0 || n <= sizes[k - 1])), `${shards}, β = ${skew}: ${sizes}`);
    // Ordering: size falls with k (Spearman ρ = −1 up to the ties at 32), and size_0 / size_k = (k + 1)^β to rounding.
    for (let k = 1; k < shards && sizes[k] > MIN_QUANTITY_SHARD_SIZE + 1; k++) {
      const ratio = sizes[0] / sizes[k];
      const law = Math.pow(k + 1, skew);
      assert.ok(Math.abs(ratio - law) <= law * (1 / sizes[k] + 1 / sizes[0]), `${shards}, β = ${skew}, shard ${k}: ratio ${ratio}, law ${law}`);
    }
  }
  assert.deepEqual(powerLawSizes(8000, 20, 10).slice(0, 3), [8000 - 19 * 32, 32, 32]);
  // Too little data for 32 each: the floor is an equal share, ⌊8000/1000⌋ = 8.
  assert.deepEqual(powerLawSizes(8000, 1000, 1), new Array(1000).fill(8));
});

test('quantity: digits stay balanced within the big shards', () => {
  // A shard of m from 8,000 balanced digits is a random sample: a digit's share has
  // sd √(0.1·0.9/m · (8000 − m)/7999); allow 4 sd. For shard 0 (m = 2731): 0.0047.
  const shards = split({ partition: 'quantity', shards: 10, quantitySkew: 1, seed: 6 });
  for (const shard of shards.filter((s) => s.length >= 500)) {
    const m = shard.length;
    const sd = Math.sqrt(((0.09 / m) * (8000 - m)) / 7999);
    for (const count of labelHistogram(balanced, shard, 10)) assert.ok(Math.abs(count / m - 0.1) < 4 * sd, `${count} of ${m}`);
  }
});

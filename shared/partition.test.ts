import { test } from 'node:test';
import assert from 'node:assert/strict';
import { partitionIndices } from './partition.ts';
import { createRng } from './fl/rng.ts';

function randomLabels(count: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = rng.int(10);
  return labels;
}

/** Every index 0..count-1 appears in exactly one shard. */
function assertDisjointCover(shards: number[][], count: number): void {
  const seen = new Uint8Array(count);
  for (const shard of shards) {
    for (const i of shard) {
      assert.ok(Number.isInteger(i) && i >= 0 && i < count, `index ${i} out of range`);
      assert.equal(seen[i], 0, `index ${i} is in two shards`);
      seen[i] = 1;
    }
  }
  assert.equal(seen.reduce((a, b) => a + b, 0), count);
}

function distinctLabels(shard: number[], labels: Uint8Array): number {
  return new Set(shard.map((i) => labels[i])).size;
}

const labels = randomLabels(8000, 1);

test('iid: 8,000 examples in 3 shards are disjoint, cover everything, sizes 2666/2667', () => {
  const shards = partitionIndices(labels, 3, 'iid', 42);
  assertDisjointCover(shards, 8000);
  assert.deepEqual(shards.map((s) => s.length).sort(), [2666, 2667, 2667]);
});

test('iid: sizes differ by at most one for any shard count', () => {
  for (const count of [1, 7, 10, 8000]) {
    for (const n of [1, 2, 3, 7, 10, 13]) {
      const shards = partitionIndices(randomLabels(count, count), n, 'iid', 5);
      assertDisjointCover(shards, count);
      const sizes = shards.map((s) => s.length);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${count} in ${n}: sizes ${sizes}`);
    }
  }
});

test('iid: shuffled, so every shard sees all ten digits', () => {
  for (const shard of partitionIndices(labels, 10, 'iid', 42)) assert.equal(distinctLabels(shard, labels), 10);
});

test('the same seed gives the same shards, another seed other shards', () => {
  for (const kind of ['iid', 'by-label'] as const) {
    assert.deepEqual(partitionIndices(labels, 10, kind, 7), partitionIndices(labels, 10, kind, 7));
    assert.notDeepEqual(partitionIndices(labels, 10, kind, 7), partitionIndices(labels, 10, kind, 8));
  }
});

test('by-label: with 200 of each digit and 10 shards, every shard holds at most 2 digits', () => {
  // 2,000 examples sorted by label cut into 20 slices of 100: each slice is one digit,
  // and a shard is two slices, so 2 digits (1 if both slices are of the same digit).
  const blocks = Uint8Array.from({ length: 2000 }, (_, i) => i % 10); // interleaved, 200 of each digit
  const shards = partitionIndices(blocks, 10, 'by-label', 3);
  assertDisjointCover(shards, 2000);
  const counts = shards.map((s) => distinctLabels(s, blocks));
  assert.ok(counts.every((c) => c <= 2), `distinct digits per shard: ${counts}`);
  assert.ok(counts.filter((c) => c === 2).length >= 8, `distinct digits per shard: ${counts}`);
  assert.ok(shards.every((s) => s.length === 200));
});

test('by-label: 8,000 random digits in 50 shards give mostly 2 digits per shard, never more than 4', () => {
  // 100 slices of 80 examples; each digit has ~800, so a slice touches at most 2 digits
  // (only where it straddles a boundary) and a shard of two slices at most 4.
  const shards = partitionIndices(labels, 50, 'by-label', 42);
  assertDisjointCover(shards, 8000);
  const counts = shards.map((s) => distinctLabels(s, labels));
  assert.ok(counts.every((c) => c <= 4), `distinct digits per shard: ${counts}`);
  assert.ok(counts.filter((c) => c <= 2).length >= 35, `distinct digits per shard: ${counts}`);
  assert.ok(counts.filter((c) => c <= 3).length >= 45, `distinct digits per shard: ${counts}`);
});

test('by-label: within a digit the examples are shuffled, not taken lowest index first', () => {
  // One digit only, 1,000 examples, 5 shards: if the order within a digit were by index,
  // shard slices would be index ranges; shuffled, each shard spans nearly the whole range.
  const one = new Uint8Array(1000);
  for (const shard of partitionIndices(one, 5, 'by-label', 9)) {
    assert.ok(Math.max(...shard) - Math.min(...shard) > 900, `shard spans ${Math.min(...shard)}..${Math.max(...shard)}`);
  }
});

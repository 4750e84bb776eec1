// Splits a training set into shards: the data each tab holds.
import { createRng, shuffleInPlace } from './fl/rng.ts';
import type { Partition } from './settings.ts';

/**
 * Returns `shards` disjoint index lists covering all examples.
 * - iid: a seeded shuffle cut into equal parts.
 * - by-label: examples sorted by label, cut into 2×shards slices, two random
 *   slices per shard, so most tabs see about two digits (McMahan et al.'s pathological non-IID).
 */
export function partitionIndices(labels: Uint8Array, shards: number, kind: Partition, seed: number): number[][] {
  const rng = createRng(seed);
  const order = Array.from(labels, (_, i) => i);
  shuffleInPlace(order, rng);
  if (kind === 'iid') return cut(order, shards);
  // Array sort is stable: within a label the shuffled order survives, so which examples
  // of a digit land in which slice is random, not "lowest indices first".
  order.sort((x, y) => labels[x] - labels[y]);
  const slices = cut(order, 2 * shards);
  const slots = slices.map((_, i) => i);
  shuffleInPlace(slots, rng);
  return Array.from({ length: shards }, (_, s) => [...slices[slots[2 * s]], ...slices[slots[2 * s + 1]]]);
}

function cut(order: number[], parts: number): number[][] {
  return Array.from({ length: parts }, (_, p) =>
    order.slice(Math.floor((p * order.length) / parts), Math.floor(((p + 1) * order.length) / parts)),
  );
}

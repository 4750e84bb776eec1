// Splits a training set into shards: the data each tab holds. The partitioners are in
// partitions/, one per file; this file picks one and makes sure no shard is left empty.
import { createRng, shuffleInPlace, type Rng } from './fl/rng.ts';
import type { Settings } from './settings.ts';
import { dirichletShards } from './partitions/dirichlet.ts';
import { iidShards } from './partitions/iid.ts';
import { labelShards } from './partitions/label-shards.ts';
import { quantityShards } from './partitions/quantity.ts';

/** What a split depends on: the same values give the same shards (and, by evalFraction, the same held-out part of each). */
export type PartitionSettings = Pick<Settings, 'partition' | 'shards' | 'seed' | 'dirichletAlpha' | 'classesPerClient' | 'quantitySkew' | 'evalFraction'>;

/**
 * Returns `shards` disjoint, non-empty index lists covering all examples.
 * - iid: a seeded shuffle cut into equal parts.
 * - dirichlet: each digit spread over the shards in proportions drawn from Dir(dirichletAlpha).
 * - shards: sorted by label, cut into classesPerClient × shards slices, classesPerClient
 *   random slices per shard, so most tabs see classesPerClient digits.
 * - quantity: shard sizes ∝ (k + 1)^−quantitySkew, each an IID sample.
 */
export function partitionIndices(labels: Uint8Array, settings: PartitionSettings): number[][] {
  const { shards } = settings;
  if (labels.length < shards) {
    throw new RangeError(`cannot split ${labels.length} examples into ${shards} shards: every shard needs at least one (lower shards)`);
  }
  const rng = createRng(settings.seed);
  const order = Array.from(labels, (_, i) => i);
  shuffleInPlace(order, rng);
  let parts: number[][];
  switch (settings.partition) {
    case 'iid':
      parts = iidShards(order, shards);
      break;
    case 'quantity':
      parts = quantityShards(order, shards, settings.quantitySkew);
      break;
    case 'shards':
      // Array sort is stable: within a label the shuffled order survives.
      order.sort((x, y) => labels[x] - labels[y]);
      parts = labelShards(order, shards, settings.classesPerClient, rng);
      break;
    case 'dirichlet':
      parts = dirichletShards(groupByLabel(labels, order), shards, settings.dirichletAlpha, rng);
      break;
  }
  fillEmptyShards(parts, rng);
  return parts;
}

/** How many examples of each label 0 … numClasses − 1 the listed examples hold. */
export function labelHistogram(labels: Uint8Array, indices: readonly number[], numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const i of indices) {
    const label = labels[i];
    if (!(label < numClasses)) throw new RangeError(`example ${i} has label ${label}, outside 0…${numClasses - 1}`);
    counts[label]++;
  }
  return counts;
}

/** `order` split into one list per label (0 … largest label), keeping the order within each. */
function groupByLabel(labels: Uint8Array, order: readonly number[]): number[][] {
  const byClass: number[][] = [];
  for (const i of order) (byClass[labels[i]] ??= []).push(i);
  return Array.from(byClass, (examples) => examples ?? []);
}

/**
 * A tab with no data cannot train, so every empty shard takes one random example from the
 * shard that is largest at that moment. Only the Dirichlet split at small α (and `shards`
 * with more slices than examples) leaves shards empty; moving single examples from the
 * largest shard barely changes its label mix. Needs examples ≥ shards: then while a shard is
 * empty, the largest holds at least two.
 */
function fillEmptyShards(parts: number[][], rng: Rng): void {
  for (const empty of parts) {
    if (empty.length > 0) continue;
    let largest = parts[0];
    for (const part of parts) if (part.length > largest.length) largest = part;
    const pick = rng.int(largest.length);
    empty.push(largest[pick]);
    largest[pick] = largest[largest.length - 1];
    largest.pop();
  }
}

/**
 * Names one split: equal for equal partition settings, different (but for a 2⁻³² chance) otherwise.
 * Round starts carry it, so a tab that holds a shard of an older split knows to fetch its new one.
 */
export function dataVersion(settings: PartitionSettings): string {
  const { partition, shards, seed, dirichletAlpha, classesPerClient, quantitySkew, evalFraction } = settings;
  // Only what the split depends on, in a fixed order: other settings changing keeps the shards. A tab
  // holds out evalFraction of its shard (shared/held-out.ts), so a new fraction is a new split too.
  const key = JSON.stringify({ partition, shards, seed, dirichletAlpha, classesPerClient, quantitySkew, evalFraction });
  let hash = 0x811c9dc5; // FNV-1a, 32 bits
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, '0');
}

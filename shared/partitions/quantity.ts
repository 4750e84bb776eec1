// Quantity skew: shards of very different sizes, each an IID sample. Shard k's size
// follows a power law, size_k ∝ (k + 1)^−β, so shard 0 is the largest.

/**
 * The fewest examples a shard gets while the data allows (8,000 digits in up to 250 shards):
 * one batch at the default batchSize, so every tab takes at least one full SGD step.
 * A constant, not settings.batchSize, so that changing the batch size does not re-deal the data.
 */
export const MIN_QUANTITY_SHARD_SIZE = 32;

/**
 * Shard sizes max(floor, λ·(k + 1)^−β) with λ chosen so they add up to `total`
 * (water-filling: shards the power law would make smaller than the floor are raised to it,
 * the others keep the exact law), then rounded to integers by largest remainder.
 * floor = MIN_QUANTITY_SHARD_SIZE, or ⌊total / shards⌋ when there is too little data for it.
 */
export function powerLawSizes(total: number, shards: number, skew: number): number[] {
  const floor = Math.min(MIN_QUANTITY_SHARD_SIZE, Math.floor(total / shards));
  const weights = Array.from({ length: shards }, (_, k) => Math.pow(k + 1, -skew));
  const raised = new Array<boolean>(shards).fill(false);
  let scale = 0;
  // Raising a shard to the floor shrinks λ, which can push more shards under it: repeat until
  // none moves. Weights fall with k, so the raised shards are always a tail; at most `shards` passes.
  for (;;) {
    let free = total;
    let weight = 0;
    for (let k = 0; k < shards; k++) {
      if (raised[k]) free -= floor;
      else weight += weights[k];
    }
    scale = weight > 0 ? free / weight : 0;
    let moved = false;
    for (let k = 0; k < shards; k++) {
      if (!raised[k] && scale * weights[k] < floor) raised[k] = moved = true;
    }
    if (!moved) break;
  }
  const exact = weights.map((w, k) => (raised[k] ? floor : scale * w));
  const sizes = exact.map(Math.floor);
  let left = total - sizes.reduce((a, b) => a + b, 0);
  const byRemainder = sizes.map((_, k) => k).sort((a, b) => exact[b] - sizes[b] - (exact[a] - sizes[a]) || a - b);
  for (let i = 0; left > 0; i = (i + 1) % shards, left--) sizes[byRemainder[i]]++;
  return sizes;
}

/** `shuffled` is a random permutation of the example indices, so runs of it are IID samples. */
export function quantityShards(shuffled: readonly number[], shards: number, skew: number): number[][] {
  const parts: number[][] = [];
  let start = 0;
  for (const size of powerLawSizes(shuffled.length, shards, skew)) {
    parts.push(shuffled.slice(start, start + size));
    start += size;
  }
  return parts;
}

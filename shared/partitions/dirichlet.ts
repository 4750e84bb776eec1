// Dirichlet label skew (Hsu, Qi & Brown 2019): each digit is spread over the shards in
// proportions p ~ Dir(α, …, α). Small α puts most of a digit on a few shards, so each shard
// holds a few digits in uneven amounts; large α tends to equal proportions, i.e. IID.
import type { Rng } from '../fl/rng.ts';
import { sampleGamma } from './gamma.ts';

/**
 * `byClass[y]` lists the examples of label y in random order. Shard k gets the run of
 * class y between the cumulative proportions p₀ + … + p_{k−1} and p₀ + … + p_k (rounded
 * down), so every example is dealt once and shard k's count is n_y·p_k to within one.
 * Shards may come out empty at small α: the caller fills them (partition.ts).
 */
export function dirichletShards(byClass: readonly number[][], shards: number, alpha: number, rng: Rng): number[][] {
  const parts: number[][] = Array.from({ length: shards }, () => []);
  const weights = new Float64Array(shards);
  for (const examples of byClass) {
    if (examples.length === 0) continue;
    let total = 0;
    for (let k = 0; k < shards; k++) total += weights[k] = sampleGamma(alpha, rng);
    if (total === 0) {
      // Every draw underflowed (only at tiny α): Dir(α) tends to a uniformly chosen corner as α → 0.
      weights.fill(0);
      weights[rng.int(shards)] = total = 1;
    }
    let cumulative = 0;
    let start = 0;
    for (let k = 0; k < shards; k++) {
      cumulative += weights[k];
      // The last boundary is the end itself, so float rounding in the sum cannot drop an example.
      const end = k === shards - 1 ? examples.length : Math.min(examples.length, Math.floor((cumulative / total) * examples.length));
      for (let i = start; i < end; i++) parts[k].push(examples[i]);
      start = Math.max(start, end);
    }
  }
  return parts;
}

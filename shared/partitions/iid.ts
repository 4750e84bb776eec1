// The IID split: every shard a uniform random sample of the training set.

/** `order` cut into `parts` consecutive runs whose sizes differ by at most one. */
export function cutEvenly(order: readonly number[], parts: number): number[][] {
  return Array.from({ length: parts }, (_, p) =>
    order.slice(Math.floor((p * order.length) / parts), Math.floor(((p + 1) * order.length) / parts)),
  );
}

/** `shuffled` is a random permutation of the example indices, so equal cuts of it are IID shards. */
export function iidShards(shuffled: readonly number[], shards: number): number[][] {
  return cutEvenly(shuffled, shards);
}

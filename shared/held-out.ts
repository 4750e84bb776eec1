// Federated evaluation's split of one tab's shard: a seeded part held out, never trained on, to
// evaluate the global model with. The split depends only on the shard's index and the fraction,
// so it is the same every round and after every reload: a held-out example never reaches training.
import { selectExamples, type LabelledImages } from './dataset-format.ts';
import { createRng, shuffleInPlace } from './fl/rng.ts';

/** How many of `count` examples are held out: round(fraction · count), leaving at least one to train on. */
export function heldOutCount(count: number, fraction: number): number {
  return Math.max(0, Math.min(count - 1, Math.round(fraction * count)));
}

export interface HeldOutSplit {
  train: LabelledImages;
  heldOut: LabelledImages;
}

/** Splits shard `shardIndex` into what the tab trains on and what it evaluates on; both keep the shard's order. */
export function holdOut(shard: LabelledImages, fraction: number, shardIndex: number): HeldOutSplit {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`held-out fraction must be in [0, 1), got ${fraction}`);
  const order = Array.from({ length: shard.count }, (_, i) => i);
  shuffleInPlace(order, createRng((0x5eed_e7a1 ^ Math.imul(shardIndex + 1, 0x9e3779b1)) >>> 0));
  const k = heldOutCount(shard.count, fraction);
  const byPosition = (a: number, b: number) => a - b;
  return { train: selectExamples(shard, order.slice(k).sort(byPosition)), heldOut: selectExamples(shard, order.slice(0, k).sort(byPosition)) };
}

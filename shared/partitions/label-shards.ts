// McMahan et al. (2017)'s pathological non-IID split: sort by label, cut into
// classesPerClient × shards slices, hand each shard classesPerClient random slices.
import { shuffleInPlace, type Rng } from '../fl/rng.ts';
import { cutEvenly } from './iid.ts';

/**
 * Each slice is a run of the label-sorted order, so it holds one digit, or two where it
 * straddles the boundary between digits; a shard therefore holds at most classesPerClient
 * digits plus one for each straddling slice it got, and there are at most (digits − 1)
 * straddling slices in the whole split.
 * `byLabel` is the shuffled order stably sorted by label: within a digit the order is random,
 * so which examples of a digit land in which slice is random, not "lowest indices first".
 */
export function labelShards(byLabel: readonly number[], shards: number, classesPerClient: number, rng: Rng): number[][] {
  const slices = cutEvenly(byLabel, classesPerClient * shards);
  const slots = slices.map((_, i) => i);
  shuffleInPlace(slots, rng);
  return Array.from({ length: shards }, (_, s) =>
    slots.slice(classesPerClient * s, classesPerClient * (s + 1)).flatMap((slot) => slices[slot]),
  );
}

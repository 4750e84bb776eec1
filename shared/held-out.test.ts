import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LabelledImages } from './dataset-format.ts';
import { heldOutCount, holdOut } from './held-out.ts';

/** `count` one-pixel examples whose pixel is their position, so every example can be told apart. */
function shard(count: number): LabelledImages {
  const pixels = Uint8Array.from({ length: count }, (_, i) => i);
  return { count, pixelsPerExample: 1, pixels, labels: Uint8Array.from(pixels, (p) => p % 10) };
}

test('a tenth of 200 examples is held out: 20, disjoint from the 180 trained on, together all 200', () => {
  const { train, heldOut } = holdOut(shard(200), 0.1, 3);
  assert.equal(heldOut.count, 20);
  assert.equal(train.count, 180);
  const trained = new Set(train.pixels);
  assert.ok([...heldOut.pixels].every((p) => !trained.has(p)), 'no held-out example is trained on');
  assert.equal(new Set([...train.pixels, ...heldOut.pixels]).size, 200);
  assert.deepEqual([...heldOut.labels], [...heldOut.pixels].map((p) => p % 10), 'labels stay with their pixels');
});

test('the same shard gives the same split every time; another shard another one', () => {
  const first = holdOut(shard(200), 0.1, 3).heldOut.pixels;
  assert.deepEqual(holdOut(shard(200), 0.1, 3).heldOut.pixels, first);
  assert.notDeepEqual(holdOut(shard(200), 0.1, 4).heldOut.pixels, first);
});

test('tiny shards keep at least one example to train on; fraction 0 holds out nothing', () => {
  assert.equal(heldOutCount(1, 0.5), 0);
  assert.equal(heldOutCount(2, 0.9), 1); // round(1.8) = 2, but one must stay for training
  assert.equal(heldOutCount(4, 0.1), 0); // round(0.4)
  assert.equal(heldOutCount(5, 0.1), 1); // round(0.5)
  assert.equal(heldOutCount(1000, 0), 0);
  assert.equal(holdOut(shard(1), 0.3, 0).train.count, 1);
  assert.throws(() => holdOut(shard(10), 1, 0), /held-out fraction must be in \[0, 1\), got 1/);
});

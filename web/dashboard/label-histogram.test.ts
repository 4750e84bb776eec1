import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barHeights, describeCounts } from './label-histogram.ts';

test('bars are percent of the tallest label; a one-digit tab shows one full bar', () => {
  assert.deepEqual(barHeights([800, 400, 0, 200, 0, 0, 0, 0, 0, 100]), [100, 50, 0, 25, 0, 0, 0, 0, 0, 13]);
  assert.deepEqual(barHeights([0, 0, 0, 812, 0, 0, 0, 0, 0, 0]), [0, 0, 0, 100, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(barHeights([0, 0, 0]), [0, 0, 0], 'an empty tab has no bars, not NaN');
});

test('the tooltip names every digit with its count', () => {
  assert.equal(describeCounts([3, 0, 7]), '0: 3, 1: 0, 2: 7');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coordinateMedian, medianTrimCount, MedianRule } from './median.ts';
import { createRng } from './rng.ts';
import { AggregationError } from './aggregation-rule.ts';
import { c0, c1, c2, c3, five, outlier } from '../../harness/five-tabs.ts';


function run(strategy: MedianRule, deltas: Float32Array[], weights = deltas.map(() => 1)) {
  strategy.begin();
  deltas.forEach((delta, k) => strategy.add({ clientId: `tab-${k}`, delta, weight: weights[k] }));
  const out = new Float32Array(strategy.paramCount);
  return { out, outcome: strategy.finish(out) };
}

test('median of 5 clients × 3 values ignores the outlier, by hand', () => {
  // coordinate 0: -1, 0.5, [1], 2, 100    coordinate 1: -100, -2, [0], 1, 4    coordinate 2: -1, 0, [0.25], 0.5, 50
  assert.deepEqual(coordinateMedian(five), Float32Array.of(1, 0, 0.25));
  // the plain mean would be (102.5, -97, 49.75) / 5 = (20.5, -19.4, 9.95): the outlier alone decides it
});

test('median of an even count is the mean of the two middle values', () => {
  // coordinate 0: -1, [0.5, 1], 2 → 0.75    coordinate 1: -2, [0, 1], 4 → 0.5    coordinate 2: -1, [0, 0.25], 0.5 → 0.125
  assert.deepEqual(coordinateMedian([c0, c1, c2, c3]), Float32Array.of(0.75, 0.5, 0.125));
  // two clients: the mean of both
  assert.deepEqual(coordinateMedian([c0, c1]), Float32Array.of(1.5, -1, -0.25));
});

test('median of one client is that client', () => {
  assert.deepEqual(coordinateMedian([c2]), c2);
});

test('medianTrimCount cuts all but the middle one (odd) or two (even)', () => {
  assert.equal(medianTrimCount(1), 0);
  assert.equal(medianTrimCount(5), 2); // keeps the 3rd of 5
  assert.equal(medianTrimCount(6), 2); // keeps the 3rd and 4th of 6
  assert.equal(medianTrimCount(100), 49); // keeps the 50th and 51st
});

test('median agrees with sorting each coordinate, for random clients and sizes', () => {
  const rng = createRng(5);
  for (const n of [2, 3, 4, 9, 16, 33, 100]) {
    for (const params of [1, 63, 64, 130]) {
      const deltas = Array.from({ length: n }, () => Float32Array.from({ length: params }, () => rng.gaussian()));
      const median = coordinateMedian(deltas);
      for (let i = 0; i < params; i++) {
        const sorted = deltas.map((d) => d[i]).sort((a, b) => a - b);
        const expected = n % 2 === 1 ? sorted[(n - 1) / 2] : Math.fround((sorted[n / 2 - 1] + sorted[n / 2]) / 2);
        assert.equal(median[i], expected, `n = ${n}, ${params} values, coordinate ${i}`);
      }
    }
  }
});

test('MedianRule: the hand-computed median, every update counted, weights summed but not used', () => {
  const strategy = new MedianRule(3);
  assert.equal(strategy.holdsAllUpdates, true);
  assert.equal(strategy.title, 'coordinate-wise median');
  // the outlier claims a million examples: the median does not care
  const { out, outcome } = run(strategy, five, [10, 30, 60, 20, 1_000_000]);
  assert.deepEqual(out, Float32Array.of(1, 0, 0.25));
  assert.equal(strategy.count, 5);
  assert.deepEqual(outcome, { accepted: 5, totalWeight: 1_000_120, discarded: [], downweighted: [] });
});

test('MedianRule copies each delta: the caller may reuse its array at once', () => {
  const strategy = new MedianRule(3);
  const reused = Float32Array.of(1, 2, 3);
  strategy.add({ clientId: 'a', delta: reused, weight: 1 });
  reused.fill(-50);
  strategy.add({ clientId: 'b', delta: Float32Array.of(3, 2, 1), weight: 1 });
  const out = new Float32Array(3);
  strategy.finish(out);
  assert.deepEqual(out, Float32Array.of(2, 2, 2));
});

test('MedianRule buffers are reused across begin(): round 2 does not depend on round 1', () => {
  const rng = createRng(8);
  const randomRound = (n: number) => Array.from({ length: n }, () => Float32Array.from({ length: 200 }, () => rng.gaussian() * 10));
  const reused = new MedianRule(200);
  for (const n of [7, 3, 9, 1, 12]) {
    // 7 clients grow the rows from 4 to 8, 9 to 16; the rounds after reuse them, stale rows and all
    const deltas = randomRound(n);
    assert.deepEqual(run(reused, deltas).out, run(new MedianRule(200), deltas).out, `${n} clients`);
    assert.deepEqual(run(reused, deltas).out, coordinateMedian(deltas));
  }
});

test('MedianRule on WebAssembly SIMD and in plain JS gives the same bits', () => {
  const rng = createRng(9);
  for (const n of [1, 2, 5, 6, 31, 64]) {
    for (const params of [1, 65, 1000]) {
      const deltas = Array.from({ length: n }, () => Float32Array.from({ length: params }, () => rng.gaussian()));
      const simd = run(new MedianRule(params), deltas).out;
      const plain = run(new MedianRule(params, { simd: false }), deltas).out;
      assert.ok(Buffer.from(simd.buffer).equals(Buffer.from(plain.buffer)), `n = ${n}, ${params} values`);
    }
  }
});

test('MedianRule refuses an empty round and wrong sizes', () => {
  const strategy = new MedianRule(3);
  assert.throws(() => strategy.finish(new Float32Array(3)), (e: unknown) => e instanceof AggregationError && /the median needs at least one update/.test(e.message));
  assert.throws(() => strategy.add({ clientId: 'a', delta: new Float32Array(4), weight: 1 }), /delta has 4 values, the model has 3/);
  assert.throws(() => strategy.add({ clientId: 'a', delta: c0, weight: -1 }), /weight must be a finite number >= 0, got -1/);
  strategy.add({ clientId: 'a', delta: c0, weight: 1 });
  assert.throws(() => strategy.finish(new Float32Array(2)), /output has 2 values, the model has 3/);
  assert.throws(() => coordinateMedian([]), /cannot take the median of zero deltas/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { l2Norm } from './clip.ts';
import { normBoundedMean, NormBoundStrategy } from './norm-bound.ts';
import { AggregationError } from './strategy.ts';

// Norms 5, 1 and 10; weights 1, 1, 2. With a bound of 5 only the third is over (5 itself is within).
const d0 = Float32Array.of(3, 4);
const d1 = Float32Array.of(0, 1);
const d2 = Float32Array.of(6, 8);
const weights = [1, 1, 2];

function run(strategy: NormBoundStrategy, deltas: Float32Array[]) {
  strategy.begin();
  deltas.forEach((delta, k) => strategy.add({ clientId: `c${k}`, delta, weight: weights[k] }));
  const out = new Float32Array(strategy.paramCount);
  return { out, outcome: strategy.finish(out) };
}

test('drop: the update over the bound is left out, the rest is weighted FedAvg', () => {
  // (1·(3, 4) + 1·(0, 1)) / 2 = (1.5, 2.5)
  const { mean, dropped, rescaled } = normBoundedMean([d0, d1, d2], weights, { bound: 5, action: 'drop' });
  assert.deepEqual(mean, Float32Array.of(1.5, 2.5));
  assert.deepEqual(dropped, [2]);
  assert.deepEqual(rescaled, []);

  const strategy = new NormBoundStrategy(2, { bound: 5, action: 'drop' });
  assert.equal(strategy.title, 'norm bound 5 (drop)');
  assert.equal(strategy.holdsAllUpdates, false);
  const { out, outcome } = run(strategy, [d0, d1, d2]);
  assert.deepEqual(out, Float32Array.of(1.5, 2.5));
  assert.deepEqual(outcome, { accepted: 2, totalWeight: 2, discarded: ['c2'], downweighted: [] });
  assert.equal(strategy.count, 3);
});

test('rescale: the update over the bound counts at norm 5, as (3, 4)', () => {
  // (6, 8) · 5/10 = (3, 4); (1·(3, 4) + 1·(0, 1) + 2·(3, 4)) / 4 = (9, 13) / 4 = (2.25, 3.25)
  // (clipToNorm lands a hair under the bound, 2⁻²² relative: hence the tolerance)
  const near = (a: Float32Array, b: number[]) => b.forEach((x, i) => assert.ok(Math.abs(a[i] - x) < 1e-5, `${a[i]} vs ${x}`));
  const { mean, dropped, rescaled } = normBoundedMean([d0, d1, d2], weights, { bound: 5, action: 'rescale' });
  near(mean, [2.25, 3.25]);
  assert.deepEqual(dropped, []);
  assert.deepEqual(rescaled, [2]);

  const strategy = new NormBoundStrategy(2, { bound: 5, action: 'rescale' });
  const { out, outcome } = run(strategy, [d0, d1, d2]);
  near(out, [2.25, 3.25]);
  assert.deepEqual(outcome, { accepted: 3, totalWeight: 4, discarded: [], downweighted: ['c2'] });
  assert.deepEqual(d2, Float32Array.of(6, 8), "the caller's array is not rescaled");
});

test('a rescaled update ends at or under the bound', () => {
  const big = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 7);
  const strategy = new NormBoundStrategy(1000, { bound: 3, action: 'rescale' });
  strategy.add({ clientId: 'a', delta: big, weight: 1 });
  const out = new Float32Array(1000);
  strategy.finish(out);
  assert.ok(l2Norm(out) <= 3 && l2Norm(out) > 3 * (1 - 1e-6), `norm ${l2Norm(out)}`);
});

test('NormBoundStrategy starts every round afresh', () => {
  const strategy = new NormBoundStrategy(2, { bound: 5, action: 'drop' });
  run(strategy, [d0, d1, d2]);
  strategy.begin();
  strategy.add({ clientId: 'only', delta: Float32Array.of(-1, 2), weight: 3 });
  const out = new Float32Array(2);
  assert.deepEqual(strategy.finish(out), { accepted: 1, totalWeight: 3, discarded: [], downweighted: [] });
  assert.deepEqual(out, Float32Array.of(-1, 2));
});

test('NormBoundStrategy refuses bad options, empty rounds and rounds where everything was dropped', () => {
  assert.throws(() => new NormBoundStrategy(2, { bound: 0, action: 'drop' }), /norm bound must be a finite number > 0, got 0/);
  assert.throws(() => new NormBoundStrategy(2, { bound: 1, action: 'clip' as 'drop' }), /norm bound action must be 'drop' or 'rescale', got clip/);
  const strategy = new NormBoundStrategy(2, { bound: 1, action: 'drop' });
  assert.throws(() => strategy.finish(new Float32Array(2)), (e: unknown) => e instanceof AggregationError && /needs at least one update/.test(e.message));
  strategy.add({ clientId: 'a', delta: d0, weight: 1 });
  strategy.add({ clientId: 'b', delta: d2, weight: 1 });
  assert.throws(
    () => strategy.finish(new Float32Array(2)),
    (e: unknown) => e instanceof AggregationError && /all 2 updates were over the norm bound 1 and dropped \(raise normBound, or rescale/.test(e.message),
  );
  assert.throws(() => strategy.add({ clientId: 'c', delta: new Float32Array(3), weight: 1 }), /delta has 3 values, the model has 2/);
  assert.throws(() => strategy.add({ clientId: 'c', delta: d2, weight: Number.NaN }), /weight must be a finite number >= 0/);
  assert.throws(() => normBoundedMean([d2], [1], { bound: 1, action: 'drop' }), /all 1 deltas are over the norm bound 1/);
  assert.throws(() => normBoundedMean([d0], [1, 2], { bound: 1, action: 'drop' }), /1 deltas but 2 weights/);
});

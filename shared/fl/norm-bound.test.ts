import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normBoundedMean, NormBoundRule } from './norm-bound.ts';
import { AggregationError } from './aggregation-rule.ts';

// Norms 5, 1 and 10; weights 1, 1, 2. With a bound of 5 only the third is over (5 itself is within).
const d0 = Float32Array.of(3, 4);
const d1 = Float32Array.of(0, 1);
const d2 = Float32Array.of(6, 8);
const weights = [1, 1, 2];

function run(rule: NormBoundRule, deltas: Float32Array[]) {
  rule.begin();
  deltas.forEach((delta, k) => rule.add({ clientId: `c${k}`, delta, weight: weights[k] }));
  const out = new Float32Array(rule.paramCount);
  return { out, outcome: rule.finish(out) };
}

test('the update over the bound is left out, the rest is weighted FedAvg', () => {
  // (1·(3, 4) + 1·(0, 1)) / 2 = (1.5, 2.5)
  const { mean, dropped } = normBoundedMean([d0, d1, d2], weights, 5);
  assert.deepEqual(mean, Float32Array.of(1.5, 2.5));
  assert.deepEqual(dropped, [2]);

  const rule = new NormBoundRule(2, 5);
  assert.equal(rule.title, 'norm bound 5');
  assert.equal(rule.holdsAllUpdates, false);
  const { out, outcome } = run(rule, [d0, d1, d2]);
  assert.deepEqual(out, Float32Array.of(1.5, 2.5));
  assert.deepEqual(outcome, { accepted: 2, totalWeight: 2, discarded: ['c2'], downweighted: [] });
  assert.equal(rule.count, 3);
  assert.deepEqual(d2, Float32Array.of(6, 8), "the caller's array is untouched");
});

test('NormBoundRule starts every round afresh', () => {
  const rule = new NormBoundRule(2, 5);
  run(rule, [d0, d1, d2]);
  rule.begin();
  rule.add({ clientId: 'only', delta: Float32Array.of(-1, 2), weight: 3 });
  const out = new Float32Array(2);
  assert.deepEqual(rule.finish(out), { accepted: 1, totalWeight: 3, discarded: [], downweighted: [] });
  assert.deepEqual(out, Float32Array.of(-1, 2));
});

test('NormBoundRule refuses bad bounds, empty rounds and rounds where everything was dropped', () => {
  assert.throws(() => new NormBoundRule(2, 0), /norm bound must be a finite number > 0, got 0/);
  assert.throws(() => new NormBoundRule(2, Infinity), /norm bound must be a finite number > 0, got Infinity/);
  const rule = new NormBoundRule(2, 1);
  assert.throws(() => rule.finish(new Float32Array(2)), (e: unknown) => e instanceof AggregationError && /needs at least one update/.test(e.message));
  rule.add({ clientId: 'a', delta: d0, weight: 1 });
  rule.add({ clientId: 'b', delta: d2, weight: 1 });
  assert.throws(
    () => rule.finish(new Float32Array(2)),
    (e: unknown) => e instanceof AggregationError && /all 2 updates were over the norm bound 1 and dropped \(raise normBound, or bound updates by clipping them/.test(e.message),
  );
  assert.throws(() => rule.add({ clientId: 'c', delta: new Float32Array(3), weight: 1 }), /delta has 3 values, the model has 2/);
  assert.throws(() => rule.add({ clientId: 'c', delta: d2, weight: Number.NaN }), /weight must be a finite number >= 0/);
  assert.throws(() => normBoundedMean([d2], [1], 1), /all 1 deltas are over the norm bound 1/);
  assert.throws(() => normBoundedMean([d0], [1, 2], 1), /1 deltas but 2 weights/);
});

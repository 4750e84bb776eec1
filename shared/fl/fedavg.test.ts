import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accumulateWeighted, clientWeight, meanInto, weightedMean } from './fedavg.ts';
import { createRng } from './rng.ts';

// Three tabs holding 10, 30 and 60 examples.
const d1 = Float32Array.of(1, -2, 0.5);
const d2 = Float32Array.of(2, 0, -1);
const d3 = Float32Array.of(-1, 4, 0.25);

test('weighted mean of three clients, by hand', () => {
  // 10·(1, -2, 0.5) + 30·(2, 0, -1) + 60·(-1, 4, 0.25)
  //   = (10 + 60 - 60, -20 + 0 + 240, 5 - 30 + 15) = (10, 220, -10); divided by 100:
  assert.deepEqual(weightedMean([d1, d2, d3], [10, 30, 60]), Float32Array.of(0.1, 2.2, -0.1));
});

test('equal weights give the plain mean', () => {
  // ((1 + 2 - 1) / 3, (-2 + 0 + 4) / 3, (0.5 - 1 + 0.25) / 3)
  assert.deepEqual(weightedMean([d1, d2, d3], [5, 5, 5]), Float32Array.of(2 / 3, 2 / 3, -0.25 / 3));
});

test('clientWeight is the example count, capped when cap > 0', () => {
  assert.equal(clientWeight(60, 0), 60);
  assert.equal(clientWeight(60, 20), 20);
  assert.equal(clientWeight(10, 20), 10);
  assert.equal(clientWeight(0, 20), 0);
  assert.throws(() => clientWeight(-1, 0), /example count must be a finite number >= 0, got -1/);
  assert.throws(() => clientWeight(Number.NaN, 0), /got NaN/);
  assert.throws(() => clientWeight(5, -1), /weight cap must be >= 0/);
});

test('a cap of 20 reweights the three clients to 10, 20, 20', () => {
  const weights = [10, 30, 60].map((n) => clientWeight(n, 20));
  assert.deepEqual(weights, [10, 20, 20]);
  // 10·(1, -2, 0.5) + 20·(2, 0, -1) + 20·(-1, 4, 0.25)
  //   = (10 + 40 - 20, -20 + 0 + 80, 5 - 20 + 5) = (30, 60, -10); divided by 50:
  assert.deepEqual(weightedMean([d1, d2, d3], weights), Float32Array.of(0.6, 1.2, -0.2));
});

test('streaming accumulate + meanInto equals weightedMean and a double-precision reference', () => {
  const rng = createRng(11);
  const params = 1000;
  const counts = [17, 230, 64, 5, 999];
  const deltas = counts.map(() => {
    const d = new Float32Array(params);
    for (let i = 0; i < params; i++) d[i] = rng.gaussian() * 0.01;
    return d;
  });

  // As the coordinator does it: one running sum, updates arriving one at a time.
  const sum = new Float32Array(params);
  let total = 0;
  for (let k = 0; k < deltas.length; k++) {
    accumulateWeighted(sum, deltas[k], counts[k]);
    total += counts[k];
  }
  const streamed = meanInto(new Float32Array(params), sum, total);

  assert.deepEqual(streamed, weightedMean(deltas, counts));
  for (let i = 0; i < params; i++) {
    let reference = 0;
    for (let k = 0; k < deltas.length; k++) reference += counts[k] * deltas[k][i];
    reference /= total;
    assert.ok(Math.abs(streamed[i] - reference) < 1e-8, `parameter ${i}: ${streamed[i]} vs ${reference}`);
  }
});

test('meanInto may write over the running sum', () => {
  const sum = Float32Array.of(3, -6, 9);
  assert.equal(meanInto(sum, sum, 3), sum);
  assert.deepEqual(sum, Float32Array.of(1, -2, 3));
});

test('length mismatches and empty rounds throw', () => {
  assert.throws(() => accumulateWeighted(new Float32Array(3), new Float32Array(4), 1), /delta has 4 values, running sum has 3/);
  assert.throws(() => meanInto(new Float32Array(2), new Float32Array(3), 1), /output has 2 values, sum has 3/);
  assert.throws(() => meanInto(new Float32Array(3), new Float32Array(3), 0), /total weight must be > 0/);
  assert.throws(() => weightedMean([d1, new Float32Array(4)], [1, 1]), /delta has 4 values, running sum has 3/);
  assert.throws(() => weightedMean([d1, d2], [1]), /2 deltas but 1 weights/);
  assert.throws(() => weightedMean([], []), /cannot average zero deltas/);
});

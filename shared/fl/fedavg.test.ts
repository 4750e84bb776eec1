import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accumulateWeighted, accumulateWeightedBatch, clientWeight, FedAvgAccumulator, meanInto, weightedMean } from './fedavg.ts';
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

function randomDeltas(seed: number, count: number, params: number): { deltas: Float32Array[]; weights: number[] } {
  const rng = createRng(seed);
  const deltas = Array.from({ length: count }, () => {
    const d = new Float32Array(params);
    for (let i = 0; i < params; i++) d[i] = rng.gaussian() * 0.01;
    return d;
  });
  return { deltas, weights: deltas.map(() => 1 + rng.int(999)) };
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

test('accumulateWeightedBatch: the three clients in one pass give (10, 220, -10), mean (0.1, 2.2, -0.1)', () => {
  const sum = new Float32Array(3);
  accumulateWeightedBatch(sum, [d1, d2, d3], [10, 30, 60]);
  assert.deepEqual(sum, Float32Array.of(10, 220, -10));
  assert.deepEqual(meanInto(sum, sum, 100), Float32Array.of(0.1, 2.2, -0.1));
});

test('accumulateWeightedBatch of one delta is accumulateWeighted, bit for bit', () => {
  const { deltas, weights } = randomDeltas(21, 3, 1000);
  const one = new Float32Array(1000);
  const batch = new Float32Array(1000);
  for (let k = 0; k < 3; k++) {
    accumulateWeighted(one, deltas[k], weights[k]);
    accumulateWeightedBatch(batch, [deltas[k]], [weights[k]]);
  }
  assert.ok(sameBits(one, batch));
});

test('accumulateWeightedBatch of 9 deltas (passes of 4, 4, 1) tracks the double-precision sum more closely', () => {
  const params = 1000;
  const { deltas, weights } = randomDeltas(22, 9, params);
  const batched = new Float32Array(params);
  accumulateWeightedBatch(batched, deltas, weights);
  const oneByOne = new Float32Array(params);
  for (let k = 0; k < deltas.length; k++) accumulateWeighted(oneByOne, deltas[k], weights[k]);
  let batchedError = 0;
  let oneByOneError = 0;
  for (let i = 0; i < params; i++) {
    let exact = 0;
    for (let k = 0; k < deltas.length; k++) exact += weights[k] * deltas[k][i];
    // sums are ~±10: float32 spacing there is ~1e-6, so a few roundings stay well under 1e-5
    assert.ok(Math.abs(batched[i] - exact) < 1e-5, `parameter ${i}: ${batched[i]} vs ${exact}`);
    batchedError += Math.abs(batched[i] - exact);
    oneByOneError += Math.abs(oneByOne[i] - exact);
  }
  // 3 float32 roundings per value instead of 9
  assert.ok(batchedError < oneByOneError, `batched error ${batchedError}, one by one ${oneByOneError}`);
});

test('accumulateWeightedBatch refuses mismatched lengths', () => {
  assert.throws(() => accumulateWeightedBatch(new Float32Array(3), [d1, new Float32Array(4)], [1, 1]), /delta has 4 values, running sum has 3/);
  assert.throws(() => accumulateWeightedBatch(new Float32Array(3), [d1, d2], [1]), /2 deltas but 1 weights/);
});

test('FedAvgAccumulator: the three clients streamed in give the hand-computed mean (0.1, 2.2, -0.1)', () => {
  for (const deltasPerPass of [1, 2, 4]) {
    const accumulator = new FedAvgAccumulator(3, { deltasPerPass });
    accumulator.add(d1, 10);
    accumulator.add(d2, 30);
    accumulator.add(d3, 60);
    assert.equal(accumulator.totalWeight, 100);
    assert.equal(accumulator.count, 3);
    assert.deepEqual(accumulator.meanInto(new Float32Array(3)), Float32Array.of(0.1, 2.2, -0.1), `${deltasPerPass} per pass`);
  }
});

test('FedAvgAccumulator uses the WebAssembly SIMD kernel in Node, and it matches plain JS bit for bit', () => {
  assert.equal(new FedAvgAccumulator(8).simd, true);
  assert.equal(new FedAvgAccumulator(8, { simd: false }).simd, false);
  // 1, 5 and 1003 values are not multiples of the kernel's 4-value step: the padding must not leak in
  for (const params of [1, 5, 1003]) {
    const { deltas, weights } = randomDeltas(params, 11, params);
    const reference = new Float32Array(params);
    for (let first = 0; first < 11; first += 4) accumulateWeightedBatch(reference, deltas.slice(first, first + 4), weights.slice(first, first + 4));
    const referenceMean = meanInto(new Float32Array(params), reference, weights.reduce((a, b) => a + b, 0));
    for (const simd of [true, false]) {
      const accumulator = new FedAvgAccumulator(params, { deltasPerPass: 4, simd });
      for (let k = 0; k < 11; k++) accumulator.add(deltas[k], weights[k]);
      assert.ok(sameBits(accumulator.meanInto(new Float32Array(params)), referenceMean), `${params} values, simd ${simd}`);
    }
  }
});

test('FedAvgAccumulator with 1 delta per pass is accumulateWeighted + meanInto, bit for bit', () => {
  const { deltas, weights } = randomDeltas(23, 5, 1000);
  const sum = new Float32Array(1000);
  for (let k = 0; k < 5; k++) accumulateWeighted(sum, deltas[k], weights[k]);
  const expected = meanInto(new Float32Array(1000), sum, weights.reduce((a, b) => a + b, 0));
  const accumulator = new FedAvgAccumulator(1000, { deltasPerPass: 1 });
  for (let k = 0; k < 5; k++) accumulator.add(deltas[k], weights[k]);
  assert.ok(sameBits(accumulator.meanInto(new Float32Array(1000)), expected));
});

test('FedAvgAccumulator copies each delta, and reset() starts the next round from zero', () => {
  const accumulator = new FedAvgAccumulator(3, { deltasPerPass: 4 });
  const reused = Float32Array.of(1, 2, 3);
  accumulator.add(reused, 1); // staged, not yet folded in
  reused.fill(100); // the caller reuses its buffer: must not change the round
  accumulator.add(Float32Array.of(3, 2, 1), 1);
  assert.deepEqual(accumulator.meanInto(new Float32Array(3)), Float32Array.of(2, 2, 2));

  accumulator.add(Float32Array.of(50, 50, 50), 7); // staged when the round is abandoned
  accumulator.reset();
  assert.equal(accumulator.totalWeight, 0);
  assert.equal(accumulator.count, 0);
  accumulator.add(Float32Array.of(-1, 0, 1), 4);
  assert.deepEqual(accumulator.meanInto(new Float32Array(3)), Float32Array.of(-1, 0, 1));
});

test('FedAvgAccumulator refuses wrong sizes, bad weights and empty rounds', () => {
  const accumulator = new FedAvgAccumulator(3);
  assert.throws(() => accumulator.add(new Float32Array(4), 1), /delta has 4 values, running sum has 3/);
  assert.throws(() => accumulator.add(d1, -1), /weight must be a finite number >= 0, got -1/);
  assert.throws(() => accumulator.add(d1, Number.NaN), /got NaN/);
  assert.throws(() => accumulator.meanInto(new Float32Array(3)), /total weight must be > 0/);
  assert.throws(() => new FedAvgAccumulator(3, { deltasPerPass: 5 }), /deltas per pass must be 1 to 4, got 5/);
  assert.throws(() => new FedAvgAccumulator(0), /parameter count must be an integer >= 1, got 0/);
});

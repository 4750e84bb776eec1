import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HELD_COORDINATE_ALIGN, HeldUpdates } from './held-updates.ts';
import { createRng } from './rng.ts';
import { AggregationError } from './aggregation-rule.ts';
import { c0, c1, c2, c3, five } from '../../harness/five-tabs.ts';
import { trimCount, trimmedMean, trimmedMeanOfHeld, TrimmedMeanRule, trimNetwork } from './trimmed-mean.ts';
import { CHUNK_LENGTH, loadTrimKernels, SEGMENT_WIRES, segmentsOf } from './trimmed-mean-simd.ts';


function run(strategy: TrimmedMeanRule, deltas: Float32Array[]) {
  strategy.begin();
  deltas.forEach((delta, k) => strategy.add({ clientId: `c${k}`, delta, weight: 10 * (k + 1) }));
  const out = new Float32Array(strategy.paramCount);
  return { out, outcome: strategy.finish(out) };
}

const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

test('trimmed mean β = 0.2 of 5 cuts 1 value at each end, by hand', () => {
  // coordinate 0: -1 | 0.5, 1, 2 | 100 → 3.5 / 3    coordinate 1: -100 | -2, 0, 1 | 4 → -1 / 3    coordinate 2: -1 | 0, 0.25, 0.5 | 50 → 0.75 / 3
  assert.deepEqual(trimmedMean(five, 0.2), Float32Array.of(3.5 / 3, -1 / 3, 0.25));
});

test('trimmed mean β = 0 is the plain mean; β = 0.4 of 5 is the median', () => {
  // (102.5, -97, 49.75) / 5
  assert.deepEqual(trimmedMean(five, 0), Float32Array.of(20.5, -19.4, 9.95));
  // k = ⌊0.4 · 5⌋ = 2 at each end leaves the middle value: (1, 0, 0.25), as in median.test.ts
  assert.deepEqual(trimmedMean(five, 0.4), Float32Array.of(1, 0, 0.25));
  // β = 0.2 of 4 cuts ⌊0.8⌋ = 0; β = 0.25 of 4 cuts 1 and averages the middle two
  assert.deepEqual(trimmedMean([c0, c1, c2, c3], 0.2), Float32Array.of(2.5 / 4, 3 / 4, -0.25 / 4));
  assert.deepEqual(trimmedMean([c0, c1, c2, c3], 0.25), Float32Array.of(0.75, 0.5, 0.125));
});

test('trimCount is ⌊β·n⌋, robust to binary fractions', () => {
  assert.equal(trimCount(5, 0.2), 1);
  assert.equal(trimCount(100, 0.1), 10);
  assert.equal(trimCount(100, 0.29), 29); // 0.29 · 100 = 28.999999999999996 in double
  assert.equal(trimCount(9, 0.1), 0);
});

test('TrimmedMeanRule: the hand-computed mean; tabs cut in most coordinates are downweighted', () => {
  const strategy = new TrimmedMeanRule(3, { trimFraction: 0.2 });
  assert.equal(strategy.title, 'trimmed mean (β = 0.2)');
  assert.equal(strategy.holdsAllUpdates, true);
  const { out, outcome } = run(strategy, five);
  assert.deepEqual(out, Float32Array.of(3.5 / 3, -1 / 3, 0.25));
  // Cut (below the 2nd smallest or above the 2nd largest value) per coordinate:
  //   coordinate 0: c2 (-1), c4 (100)    coordinate 1: c4 (-100), c2 (4)    coordinate 2: c1 (-1), c4 (50)
  // c4 is cut in 3 of 3 coordinates, c2 in 2 of 3: more than half; c1 in 1 of 3 is not.
  assert.deepEqual(outcome.downweighted, ['c2', 'c4']);
  assert.deepEqual(outcome.discarded, []);
  assert.equal(outcome.accepted, 5);
  assert.equal(outcome.totalWeight, 10 + 20 + 30 + 40 + 50); // every update was ranked; the mean itself ignores weights
});

test('with nothing cut (β·n < 1) nobody is downweighted', () => {
  const { out, outcome } = run(new TrimmedMeanRule(3, { trimFraction: 0.1 }), five);
  assert.deepEqual(out, Float32Array.of(20.5, -19.4, 9.95));
  assert.deepEqual(outcome.downweighted, []);
});

test('the trimmed mean agrees with sorting each coordinate, for random clients and sizes', () => {
  const rng = createRng(12);
  for (const n of [1, 2, 3, 10, 17, 50, 100]) {
    for (const trimFraction of [0, 0.1, 0.25, 0.45]) {
      // multiples of 1/8 in [-16, 16]: every sum is exact in float64, so the order of summation cannot show
      const deltas = Array.from({ length: n }, () => Float32Array.from({ length: 70 }, () => (rng.int(257) - 128) / 8));
      const mean = trimmedMean(deltas, trimFraction);
      const k = trimCount(n, trimFraction);
      for (let i = 0; i < 70; i++) {
        const sorted = deltas.map((d) => d[i]).sort((a, b) => a - b);
        const middle = sorted.slice(k, n - k);
        assert.equal(mean[i], Math.fround(middle.reduce((a, b) => a + b, 0) / middle.length), `n = ${n}, β = ${trimFraction}, coordinate ${i}`);
      }
    }
  }
});

test('trimNetwork leaves the middle ranks in the middle wires and the bounds exact, for every n ≤ 40 and k', () => {
  const rng = createRng(13);
  for (let n = 1; n <= 40; n++) {
    for (let k = 0; 2 * k < n; k++) {
      const { comparators } = trimNetwork(n, k, true);
      for (let trial = 0; trial < 20; trial++) {
        const values = Array.from({ length: n }, () => rng.int(10)); // many ties
        const wires = values.slice();
        const compareExchange = (a: number, b: number) => {
          if (wires[b] < wires[a]) [wires[a], wires[b]] = [wires[b], wires[a]];
        };
        for (let c = 0; c < comparators.length; c += 2) compareExchange(comparators[c], comparators[c + 1]);
        const sorted = values.slice().sort((x, y) => x - y);
        const sum = (v: number[]) => v.slice(k, n - k).reduce((x, y) => x + y, 0);
        assert.equal(sum(wires), sum(sorted), `n = ${n}, k = ${k}: middle sum`);
        assert.equal(wires[k], sorted[k], `n = ${n}, k = ${k}: lower bound`);
        assert.equal(wires[n - 1 - k], sorted[n - 1 - k], `n = ${n}, k = ${k}: upper bound`);
      }
    }
  }
  // pruning pays: sorting 100 values takes 1,104 of Batcher's comparators, the median of 100 ~900
  assert.ok(trimNetwork(100, 49, false).comparators.length / 2 < 1000);
  assert.equal(trimNetwork(100, 49, false), trimNetwork(100, 49, false), 'cached');
});

test("the SIMD kernel's segments hold every comparator once, on at most SEGMENT_WIRES wires", () => {
  for (const [n, k, exact] of [[100, 49, false], [100, 10, true], [7, 1, true], [2, 0, false]] as const) {
    const network = trimNetwork(n, k, exact);
    const segments = segmentsOf(network, SEGMENT_WIRES);
    assert.ok(segments.every((s) => s.wires.length <= SEGMENT_WIRES && s.stored.length === s.wires.length));
    assert.equal(segments.reduce((sum, s) => sum + s.pairs.length, 0), network.comparators.length, `n = ${n}, k = ${k}`);
    // each wire meets its comparators in the network's order: compare the per-wire partner sequences
    const partners = (pairs: [number, number][]) => {
      const seen = Array.from({ length: n }, () => [] as number[]);
      for (const [a, b] of pairs) seen[a].push(b), seen[b].push(a);
      return seen;
    };
    const original: [number, number][] = [];
    for (let c = 0; c < network.comparators.length; c += 2) original.push([network.comparators[c], network.comparators[c + 1]]);
    const reordered = segments.flatMap((s) => Array.from({ length: s.pairs.length / 2 }, (_, c) => [s.wires[s.pairs[2 * c]], s.wires[s.pairs[2 * c + 1]]] as [number, number]));
    assert.deepEqual(partners(reordered), partners(original));
  }
  // ~10 comparators per segment for 100 wires: about one store per compare instead of two
  assert.ok(segmentsOf(trimNetwork(100, 49, false), SEGMENT_WIRES).length < 110);
});

test('the WebAssembly SIMD kernels give the same bits as the plain-JS reference', () => {
  assert.equal(HELD_COORDINATE_ALIGN % CHUNK_LENGTH, 0, 'held rows are padded to whole chunks');
  assert.ok(loadTrimKernels(new WebAssembly.Memory({ initial: 1 }), trimNetwork(5, 1, true)), 'Node has WebAssembly SIMD: the fast path must be taken');
  const rng = createRng(14);
  for (const n of [1, 2, 3, 7, 10, 33, 100]) {
    for (const params of [1, 63, 256, 257, 1000]) {
      const deltas = Array.from({ length: n }, () => Float32Array.from({ length: params }, () => rng.gaussian() * (rng.next() < 0.1 ? 1e3 : 1)));
      for (const trimFraction of [0.1, 0.3]) {
        const simd = run(new TrimmedMeanRule(params, { trimFraction }), deltas);
        const plain = run(new TrimmedMeanRule(params, { trimFraction, simd: false }), deltas);
        assert.ok(sameBits(simd.out, plain.out), `n = ${n}, ${params} values, β = ${trimFraction}`);
        assert.deepEqual(simd.outcome, plain.outcome);
      }
      // and the cut counts themselves, which only the outcome's summary shows above
      const counts = (wasm: boolean) => {
        const held = new HeldUpdates(params, { wasm });
        deltas.forEach((delta, k) => held.add({ clientId: String(k), delta, weight: 1 }));
        return trimmedMeanOfHeld(held, Math.floor(n / 4), { countCut: true }).coordinatesCut;
      };
      assert.deepEqual(counts(true), counts(false));
    }
  }
});

test('TrimmedMeanRule buffers are reused across begin(): round 2 does not depend on round 1', () => {
  const rng = createRng(15);
  const randomRound = (n: number) => Array.from({ length: n }, () => Float32Array.from({ length: 300 }, () => rng.gaussian()));
  const reused = new TrimmedMeanRule(300, { trimFraction: 0.2 });
  for (const n of [10, 3, 20, 5]) {
    const deltas = randomRound(n);
    const fresh = run(new TrimmedMeanRule(300, { trimFraction: 0.2 }), deltas);
    const again = run(reused, deltas);
    assert.ok(sameBits(again.out, fresh.out), `${n} clients`);
    assert.deepEqual(again.outcome, fresh.outcome);
  }
});

test('TrimmedMeanRule refuses bad β, an empty round and wrong sizes', () => {
  assert.throws(() => new TrimmedMeanRule(3, { trimFraction: 0.5 }), /trim fraction β must be in \[0, 0.5\), got 0.5/);
  assert.throws(() => new TrimmedMeanRule(3, { trimFraction: -0.1 }), /got -0.1/);
  assert.throws(() => trimmedMean(five, Number.NaN), /got NaN/);
  assert.throws(() => trimmedMean([], 0.1), /cannot take a trimmed mean of zero deltas/);
  const strategy = new TrimmedMeanRule(3, { trimFraction: 0.1 });
  assert.throws(() => strategy.finish(new Float32Array(3)), (e: unknown) => e instanceof AggregationError && /needs at least one update/.test(e.message));
  assert.throws(() => strategy.add({ clientId: 'a', delta: new Float32Array(2), weight: 1 }), /delta has 2 values, the model has 3/);
  // β just under 0.5 rounds up to half of 2: nothing would remain
  const greedy = new TrimmedMeanRule(3, { trimFraction: 0.4999999999 });
  greedy.add({ clientId: 'a', delta: c0, weight: 1 });
  greedy.add({ clientId: 'b', delta: c1, weight: 1 });
  assert.throws(() => greedy.finish(new Float32Array(3)), (e: unknown) => e instanceof AggregationError && /cuts 1 of 2 updates at each end: nothing remains/.test(e.message));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeldUpdates } from './held-updates.ts';
import { krum, krumSelection, KrumRule, multiKrum, multiKrumOfHeld } from './krum.ts';
import { loadKrumKernels } from './krum-simd.ts';
import { createRng } from './rng.ts';
import { AggregationError } from './aggregation-rule.ts';

// Four honest tabs close together and a sign-flip ×10 attacker (−10 × an honest (1, 2, −1)).
const h0 = Float32Array.of(1, 2, -1);
const h1 = Float32Array.of(1.2, 1.8, -0.8);
const h2 = Float32Array.of(0.8, 2.2, -1.2);
const h3 = Float32Array.of(1.1, 1.9, -1.1);
const attacker = Float32Array.of(-10, -20, 10);
const five = [h0, h1, h2, h3, attacker];
// Squared distances:
//   h0–h1 0.04·3 = 0.12   h0–h2 0.12   h0–h3 0.01·3 = 0.03   h1–h2 0.16·3 = 0.48
//   h1–h3 0.01 + 0.01 + 0.09 = 0.11   h2–h3 0.09 + 0.09 + 0.01 = 0.19
//   attacker–h0 11² + 22² + 11² = 726   –h1 11.2² + 21.8² + 10.8² = 717.32   –h2 734.92   –h3 726.03
// n = 5, f = 1: each score sums the n − f − 2 = 2 nearest:
//   h0 0.03 + 0.12 = 0.15   h1 0.11 + 0.12 = 0.23   h2 0.12 + 0.19 = 0.31   h3 0.03 + 0.11 = 0.14
//   attacker 717.32 + 726 = 1443.32
const SCORES = [0.15, 0.23, 0.31, 0.14, 1443.32];

function run(strategy: KrumRule, deltas: Float32Array[], weights = deltas.map((_, k) => 10 * (k + 1))) {
  strategy.begin();
  deltas.forEach((delta, k) => strategy.add({ clientId: `tab-${k}`, delta, weight: weights[k] }));
  const out = new Float32Array(strategy.paramCount);
  return { out, outcome: strategy.finish(out) };
}

const sameBits = (a: ArrayBufferView, b: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

test('Krum scores of 4 honest tabs and an attacker, n = 5, f = 1, by hand', () => {
  const { scores, selected } = krumSelection(five, 1, 1);
  // float32 inputs (1.2 is not exact): the scores match to ~1e-6
  SCORES.forEach((expected, k) => assert.ok(Math.abs(scores[k] - expected) < 1e-5 * Math.max(1, expected), `score ${k}: ${scores[k]} vs ${expected}`));
  assert.deepEqual(selected, [3]); // h3 has the lowest score, 0.14
});

test('Krum returns the lowest-scored update itself; Multi-Krum m = 3 averages h3, h0, h1', () => {
  assert.deepEqual(krum(five, 1), h3);
  assert.deepEqual(krumSelection(five, 1, 3).selected, [0, 1, 3]); // scores 0.15, 0.23, 0.14
  // ((1 + 1.2 + 1.1) / 3, (2 + 1.8 + 1.9) / 3, (-1 - 0.8 - 1.1) / 3) = (1.1, 1.9, -0.9667)
  const mean = multiKrum(five, 1, 3);
  const expected = [1.1, 1.9, -2.9 / 3];
  expected.forEach((x, i) => assert.ok(Math.abs(mean[i] - x) < 1e-6, `coordinate ${i}: ${mean[i]} vs ${x}`));
  // m = 0 means n − f = 4: every honest tab, the plain honest mean (1.025, 1.975, -1.025)
  assert.deepEqual(krumSelection(five, 1, 0).selected, [0, 1, 2, 3]);
  multiKrum(five, 1, 0).forEach((x, i) => assert.ok(Math.abs(x - [1.025, 1.975, -1.025][i]) < 1e-6));
});

test('KrumRule reports the tabs it left out and the weight it kept', () => {
  const krumRule = new KrumRule(3, { byzantineClients: 1 });
  assert.equal(krumRule.title, 'Krum (f = 1)');
  assert.equal(krumRule.holdsAllUpdates, true);
  const picked = run(krumRule, five);
  assert.deepEqual(picked.out, h3);
  assert.deepEqual(picked.outcome, { accepted: 1, totalWeight: 40, discarded: ['tab-0', 'tab-1', 'tab-2', 'tab-4'], downweighted: [] });

  const multi = new KrumRule(3, { byzantineClients: 1, keep: 0 });
  assert.equal(multi.title, 'Multi-Krum (f = 1, m = n − f)');
  // the attacker claims a million examples: the mean is unweighted, and it is discarded anyway
  const averaged = run(multi, five, [10, 20, 30, 40, 1_000_000]);
  assert.deepEqual(averaged.outcome, { accepted: 4, totalWeight: 100, discarded: ['tab-4'], downweighted: [] });
  averaged.out.forEach((x, i) => assert.ok(Math.abs(x - [1.025, 1.975, -1.025][i]) < 1e-6));
  assert.equal(new KrumRule(3, { byzantineClients: 2, keep: 5 }).title, 'Multi-Krum (f = 2, m = 5)');
});

test('Krum needs n ≥ 2f + 3 updates and says how many', () => {
  const strategy = new KrumRule(3, { byzantineClients: 1 });
  for (const delta of [h0, h1, h2, h3]) strategy.add({ clientId: 'x', delta, weight: 1 });
  assert.throws(
    () => strategy.finish(new Float32Array(3)),
    (e: unknown) =>
      e instanceof AggregationError &&
      e.message === '4 updates, but tolerating f = 1 attacker needs at least 2f + 3 = 5 (lower byzantineClients, or wait for more tabs)',
  );
  assert.throws(() => krum([], 0), /0 updates, but tolerating f = 0 attackers needs at least 2f \+ 3 = 3/);
  assert.throws(() => multiKrum(five, 1, 6), /Multi-Krum keeps m = 6 updates but the round has 5/);
  assert.throws(() => new KrumRule(3, { byzantineClients: -1 }), /Byzantine clients f must be an integer >= 0, got -1/);
  assert.throws(() => new KrumRule(3, { byzantineClients: 1.5 }), /got 1.5/);
  assert.throws(() => new KrumRule(3, { byzantineClients: 1, keep: -2 }), /Multi-Krum keep must be an integer >= 0/);
  assert.throws(() => strategy.add({ clientId: 'y', delta: new Float32Array(2), weight: 1 }), /delta has 2 values, the model has 3/);
});

test('Gram-matrix distances match the direct ‖a − b‖² in double, to ~1e-6', () => {
  const rng = createRng(21);
  const n = 12;
  const deltas = Array.from({ length: n }, (_, k) => Float32Array.from({ length: 5000 }, () => rng.gaussian() * 0.01 * (k === 0 ? 10 : 1)));
  const f = 2;
  const { scores } = krumSelection(deltas, f, 0);
  for (let i = 0; i < n; i++) {
    const distances: number[] = [];
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      let d = 0;
      for (let p = 0; p < 5000; p++) d += (deltas[i][p] - deltas[j][p]) ** 2;
      distances.push(d);
    }
    distances.sort((a, b) => a - b);
    const expected = distances.slice(0, n - f - 2).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(scores[i] / expected - 1) < 1e-6, `score ${i}: ${scores[i]} vs ${expected}`);
  }
});

test('the WebAssembly SIMD kernels give the same bits as the plain-JS reference', () => {
  assert.ok(loadKrumKernels(new WebAssembly.Memory({ initial: 1 }), 64 * 3), 'Node has WebAssembly SIMD: the fast path must be taken');
  const rng = createRng(22);
  for (const n of [3, 5, 6, 9, 14]) {
    // 1300 values: three 512-coordinate blocks, the last one partial
    for (const params of [1, 100, 1300]) {
      const deltas = Array.from({ length: n }, () => Float32Array.from({ length: params }, () => rng.gaussian()));
      const held = (wasm: boolean) => {
        const h = new HeldUpdates(params, { wasm });
        deltas.forEach((delta, k) => h.add({ clientId: String(k), delta, weight: 1 }));
        return h;
      };
      const f = Math.floor((n - 3) / 2);
      for (const keep of [1, 0]) {
        const simd = multiKrumOfHeld(held(true), f, keep);
        const plain = multiKrumOfHeld(held(false), f, keep);
        assert.ok(sameBits(simd.scores, plain.scores), `n = ${n}, ${params} values: scores`);
        assert.deepEqual(simd.selected, plain.selected);
        assert.ok(sameBits(simd.mean, plain.mean), `n = ${n}, ${params} values, keep ${keep}: mean`);
      }
    }
  }
});

test('KrumRule buffers are reused across begin(): round 2 does not depend on round 1', () => {
  const rng = createRng(23);
  const randomRound = (n: number) => Array.from({ length: n }, () => Float32Array.from({ length: 700 }, () => rng.gaussian()));
  const reused = new KrumRule(700, { byzantineClients: 1, keep: 0 });
  for (const n of [9, 5, 12, 6]) {
    const deltas = randomRound(n);
    const fresh = run(new KrumRule(700, { byzantineClients: 1, keep: 0 }), deltas);
    const again = run(reused, deltas);
    assert.ok(sameBits(again.out, fresh.out), `${n} clients`);
    assert.deepEqual(again.outcome, fresh.outcome);
  }
});

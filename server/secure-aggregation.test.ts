// The round state machine under secure aggregation, with the tabs' real protocol code
// (shared/secagg/upload-session.ts, WebCrypto in Node) and no network: the coordinator's result
// is the FedAvg of the survivors, dropouts are recovered, and too few tabs fail cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL_SPECS } from '../shared/model-spec.ts';
import type { RoundMetrics } from '../shared/protocol/records.ts';
import { resolveSettings, type Settings } from '../shared/settings.ts';
import { createRng } from '../shared/fl/rng.ts';
import { clipToNorm } from '../shared/fl/clip.ts';
import { coordinatorFixture } from '../harness/coordinator-fixture.ts';
import { secureTabs, until } from '../harness/secure-tabs.ts';

const P = MODEL_SPECS.mlp.paramCount;

function setup(overrides: Partial<Settings>, options: { silent?: string[] } = {}) {
  const t = coordinatorFixture({ rounds: 1, minClientsPerRound: 2, secureAggregation: true, clipNorm: 1, roundDeadlineMs: 60_000, secAggStepMs: 5_000, ...overrides });
  return { ...t, ...secureTabs(t, options), addTab: (id: string, numExamples: number) => t.addTab(id, numExamples) };
}

/** A distinct update per tab with norm 0.8 (inside C = 1, so clipping leaves it alone). */
function deltaOf(seed: number): Float32Array {
  const rng = createRng(seed);
  const delta = new Float32Array(P);
  for (let i = 0; i < P; i++) delta[i] = rng.gaussian();
  clipToNorm(delta, 0.8);
  return delta;
}

test('secure aggregation: one tab drops after the key exchange, the round unmasks the FedAvg of the other three', async () => {
  const t = setup({ minClientsToStart: 4, secAggThreshold: 0.6 });
  const examples: Record<string, number> = { a: 100, b: 200, c: 300, d: 400 };
  for (const [id, n] of Object.entries(examples)) t.addTab(id, n);
  t.coordinator.start();
  await until('every tab to have received its shares (step 2)', () => t.status('d') === 'training' && t.sessions.size === 4 && [...t.sessions.values()].every((s) => s.peers === 3));
  await until('the inputs step', () => t.step() === 'inputs');
  t.leave('d'); // after the key exchange, before its masked update: its pairwise masks stay in the others' inputs
  const deltas = { a: deltaOf(1), b: deltaOf(2), c: deltaOf(3) };
  for (const [id, delta] of Object.entries(deltas)) await t.sessions.get(id)!.submit(delta, true, 0.5, createRng(Number(id.charCodeAt(0))));
  await until('the round to be evaluated', () => t.evaluator.evaluated.length === 1);

  // Without DP the weights are relative to the roster's largest (d's 400 examples): 0.25, 0.5, 0.75.
  const weights = { a: 0.25, b: 0.5, c: 0.75 };
  const total = 1.5;
  const global = t.evaluator.evaluated[0];
  let worst = 0;
  for (let i = 0; i < P; i++) {
    const expected = (weights.a * deltas.a[i] + weights.b * deltas.b[i] + weights.c * deltas.c[i]) / total;
    worst = Math.max(worst, Math.abs(global[i] - expected));
  }
  // Fixed point at scale 2²⁸ for 4 tabs: each of 3 terms is within 2⁻²⁸, then ÷ Σw; float32 rounding on top
  assert.ok(worst < 1e-7, `worst error ${worst} against the FedAvg of a, b, c`);
  const record = t.done[0].secureAggregation!;
  assert.deepEqual(record, { threshold: 3, advertised: 4, shared: 4, masked: 3, revealed: 3, recovered: 1, distributedNoise: false });
  assert.equal(t.done[0].totalWeight.toFixed(6), '1.500000');
  assert.deepEqual(t.errors, []);
});

test('secure aggregation: below the threshold the attempt fails cleanly and the round is retried with fresh keys', async () => {
  const t = setup({ minClientsToStart: 3, secAggThreshold: 1 }); // t = n = 3: nobody may drop
  t.addTab('a', 100);
  t.addTab('b', 100);
  t.addTab('c', 100);
  t.coordinator.start();
  await until('the inputs step', () => t.step() === 'inputs');
  const before = t.coordinator.global.slice();
  t.leave('c');
  await t.sessions.get('a')!.submit(deltaOf(1), true, 0.5, createRng(1));
  await t.sessions.get('b')!.submit(deltaOf(2), true, 0.5, createRng(2));
  await until('the retry', () => t.starts.length === 2);
  assert.equal(t.starts[1].attempt, 2);
  assert.ok(t.logs.some((l) => /secure aggregation failed: round 1 attempt 1: only 2 of 3 needed tabs sent a masked input/.test(l)), t.logs.join('\n'));
  assert.deepEqual(t.coordinator.global, before, 'nothing was aggregated');
  assert.equal(t.evaluator.evaluated.length, 0);
  assert.deepEqual(t.errors, []);
});

test('secure aggregation: a tab that never sends keys is left out when the keys step\'s deadline passes', async () => {
  const t = setup({ minClientsToStart: 3, secAggThreshold: 0.5 }, { silent: ['c'] }); // c's tab is stalled
  t.addTab('a', 100);
  t.addTab('b', 100);
  t.addTab('c', 100);
  t.coordinator.start();
  await until('a and b to advertise', () => t.sessions.size === 3);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok([...t.sessions.values()].every((s) => s.peers === 0), 'no roster before the deadline');
  t.timers.advance(5_000);
  await until('a and b to get the roster of two', () => t.sessions.get('a')!.peers === 1 && t.sessions.get('b')!.peers === 1);
  await until('the inputs step', () => t.step() === 'inputs');
  await t.sessions.get('a')!.submit(deltaOf(1), true, 0.5, createRng(1));
  await t.sessions.get('b')!.submit(deltaOf(2), true, 0.5, createRng(2));
  await until('the round to be evaluated', () => t.evaluator.evaluated.length === 1);
  assert.equal(t.done[0].secureAggregation?.advertised, 2);
  assert.ok(t.logs.some((l) => /the keys step's deadline passed with 1 tabs still to answer/.test(l)));
});

test('secure aggregation: a plain update is refused, and the model stays as it was', async () => {
  const t = setup({ minClientsToStart: 2 });
  t.addTab('a', 100);
  t.addTab('b', 100);
  t.coordinator.start();
  const before = t.coordinator.global.slice();
  assert.throws(() => t.send('a', { round: 1, numExamples: 100, loss: 0.5 }, deltaOf(1)), /this run uses secure aggregation, send a masked update/);
  assert.deepEqual(t.coordinator.global, before);
});

/** Std of (global − expected) over all parameters, times W: the noise on the sum. */
function noiseOnSum(global: Float32Array, expected: (i: number) => number, expectedWeight: number): number {
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < P; i++) {
    const e = (global[i] - expected(i)) * expectedWeight;
    sum += e;
    sumSq += e * e;
  }
  return Math.sqrt(sumSq / P - (sum / P) ** 2);
}

async function noisedSecureRound(overrides: Partial<Settings>) {
  const t = setup({ minClientsToStart: 3, secAggThreshold: 0.6, ...overrides });
  for (const id of ['a', 'b', 'c']) t.addTab(id, 100);
  t.coordinator.start();
  await until('the inputs step', () => t.step() === 'inputs');
  const deltas = [deltaOf(1), deltaOf(2), deltaOf(3)];
  await Promise.all(['a', 'b', 'c'].map((id, k) => t.sessions.get(id)!.submit(deltas[k], true, 0.5, createRng(10 + k))));
  await until('the round to be evaluated', () => t.evaluator.evaluated.length === 1);
  // DP weights are uniform (no cap): W = q · 3 = 3, the mean of the clipped deltas plus noise / W
  return { t, global: t.evaluator.evaluated[0], expected: (i: number) => (deltas[0][i] + deltas[1][i] + deltas[2][i]) / 3 };
}

test('secure aggregation with central DP: the coordinator adds N(0, (z·C)²) to the unmasked sum', async () => {
  const z = 1.3;
  const C = 0.9; // deltas have norm 0.8: unclipped
  const { t, global, expected } = await noisedSecureRound({ noiseMultiplier: z, clipNorm: C });
  const measured = noiseOnSum(global, expected, 3);
  // ~200k values: sampling error of the std ≈ 0.16%; 2% tells z·C (1.17) from z²·C (1.52) or z·C² (1.05)
  assert.ok(Math.abs(measured / (z * C) - 1) < 0.02, `noise on the sum ${measured}, expected z·C = ${z * C}`);
  assert.equal(t.done[0].privacy?.noiseStdOnSum, z * C);
  assert.equal(t.done[0].secureAggregation?.distributedNoise, false);
});

test('secure aggregation with distributed DP: the tabs add the noise before masking, σ/√t each, so any t of them add at least z·C', async () => {
  const z = 1.3;
  const C = 0.9;
  const { t, global, expected } = await noisedSecureRound({ noiseMultiplier: z, clipNorm: C, distributedNoise: true });
  const measured = noiseOnSum(global, expected, 3);
  // t = 2 of the 3 tabs: each adds std z·C/√2, all three survive, so the sum has z·C·√(3/2)
  const predicted = z * C * Math.sqrt(3 / 2);
  assert.ok(Math.abs(measured / predicted - 1) < 0.02, `noise on the sum ${measured}, expected ${predicted}`);
  assert.equal(t.done[0].secureAggregation?.distributedNoise, true);
  assert.ok(Math.abs(t.done[0].noiseStd - predicted / 3) < 1e-12, `reported noise on the mean ${t.done[0].noiseStd}`);
});

test('secure aggregation: a tab that masks an unclipped update is caught in the sum; the round is retried and the model unchanged', async () => {
  const t = setup({ minClientsToStart: 3, secAggThreshold: 0.6 });
  for (const id of ['a', 'b', 'c']) t.addTab(id, 100);
  t.coordinator.start();
  await until('the inputs step', () => t.step() === 'inputs');
  const before = t.coordinator.global.slice();
  const huge = deltaOf(3).map((v) => v * 125); // norm 100, against C = 1: the page would have clipped it
  await t.sessions.get('a')!.submit(deltaOf(1), true, 0.5, createRng(1));
  await t.sessions.get('b')!.submit(deltaOf(2), true, 0.5, createRng(2));
  await t.sessions.get('c')!.submit(huge, true, 0.5, createRng(3));
  await until('the retry', () => t.starts.length === 2);
  assert.ok(t.logs.some((l) => /the unmasked sum is out of bounds \(‖Σ w·Δ‖ = 10\d, at most 3\.\d+ from 3 clipped updates\)/.test(l)), t.logs.join('\n'));
  assert.deepEqual(t.coordinator.global, before, 'the model is bit-identical');
  assert.equal(t.evaluator.evaluated.length, 0);
});

test('secure aggregation under DP: a sum out of bounds releases noise only, charged, and the round is never redrawn', async () => {
  const t = setup({ minClientsToStart: 3, secAggThreshold: 0.6, noiseMultiplier: 1.1, rounds: 1 });
  for (const id of ['a', 'b', 'c']) t.addTab(id, 100);
  t.coordinator.start();
  await until('the inputs step', () => t.step() === 'inputs');
  const huge = deltaOf(3).map((v) => v * 125); // norm 100 against C = 1
  await t.sessions.get('a')!.submit(deltaOf(1), true, 0.5, createRng(1));
  await t.sessions.get('b')!.submit(deltaOf(2), true, 0.5, createRng(2));
  await t.sessions.get('c')!.submit(huge, true, 0.5, createRng(3));
  await until('the round to be evaluated', () => t.evaluator.evaluated.length === 1);
  assert.equal(t.starts.length, 1, 'no second attempt: its sum would be a second, uncharged look at the same model');
  assert.ok(t.logs.some((l) => /unmasked sum is out of bounds .*: the round releases noise only/.test(l)), t.logs.join('\n'));
  assert.equal(t.done[0].privacy?.roundsSpent, 1, 'charged once');
  // Noise only: the model moved by N(0, (z·C)²)/W per value, not by anyone's update.
  const global = t.evaluator.evaluated[0];
  let squares = 0;
  for (const v of global) squares += v * v;
  assert.ok(Math.abs(Math.sqrt(squares / P) / (1.1 / 3) - 1) < 0.02);
});

test('distributed DP with adaptive clipping: each tab noises its clip bit too (σ_b/√t), so the coordinator never learns the exact count', async () => {
  const t = setup({ minClientsToStart: 3, secAggThreshold: 0.6, noiseMultiplier: 1.1, clipCountNoise: 1, adaptiveClipping: true, distributedNoise: true, rounds: 1 });
  const told: number[] = [];
  t.coordinator.on('secureForward', (_connection, wire) => told.push(wire.encoding.bitNoiseStd));
  for (const id of ['a', 'b', 'c']) t.addTab(id, 100);
  t.coordinator.start();
  await until('the inputs step', () => t.step() === 'inputs');
  await Promise.all(['a', 'b', 'c'].map((id, k) => t.sessions.get(id)!.submit(deltaOf(k + 1), true, 0.5, createRng(20 + k))));
  await until('the round to be evaluated', () => t.evaluator.evaluated.length === 1);
  assert.deepEqual(told, [1 / Math.SQRT2, 1 / Math.SQRT2, 1 / Math.SQRT2], 't = 2: each adds σ_b/√2, any two add σ_b');
  // Three tabs within C: a noise-free centred sum would be exactly 1.5, so the fraction exactly 1.5/3 + ½ = 1.
  const fraction = t.done[0].unclippedFraction!;
  assert.notEqual(fraction, 1, 'the count arrived noised');
  assert.ok(Math.abs(fraction - 1) < 10 / 3, `within ten σ_b of it: ${fraction}`);
});

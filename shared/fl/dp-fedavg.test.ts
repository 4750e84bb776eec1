import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSettings, type Settings } from '../settings.ts';
import { combinedMultiplier, independentEpsilon } from '../../harness/independent-accountant.ts';
import { PrivacyLedger } from './privacy-ledger.ts';
import { createRng, rngFromBits } from './rng.ts';
import { createStrategy } from './strategies.ts';
import type { Strategy, TabInfo } from './strategy.ts';

const P = 1000;
/** Every uniform is 0 and every Gaussian draw exactly 0 (the Ziggurat's first strip at j = 0): the noise-free value of each release. */
const noNoise = () => rngFromBits(() => 0);

function dp(overrides: Partial<Settings>, rng = noNoise) {
  const settings = resolveSettings({ clipNorm: 1, noiseMultiplier: 1.1, population: 10, ...overrides });
  const ledger = new PrivacyLedger();
  return { strategy: createStrategy(settings, { paramCount: P, ledger, secureRng: rng, state: null }), ledger, settings };
}

const tabs = (...ids: string[]): TabInfo[] => ids.map((clientId) => ({ clientId, numExamples: 100 }));
const of = (norm: number) => new Float32Array(P).fill(norm / Math.sqrt(P));

/** One round in which each tab sends an update of the given norm; returns what the round released. */
function round(strategy: Strategy, norms: Record<string, number>, round = 1) {
  const ids = Object.keys(norms);
  const plan = strategy.configure({ round, attempt: 1, ready: tabs(...ids), members: tabs(...ids) });
  strategy.begin(plan);
  for (const id of plan.selected) strategy.add({ clientId: id, delta: of(norms[id]), weight: plan.weights.get(id)! });
  const out = new Float32Array(P);
  const outcome = strategy.finish(out);
  return { plan, out, outcome, release: strategy.record(outcome) };
}

test('adaptive clipping under DP: one tab moves the released clip count by ½, so z_Δ and σ_b compose to the z that is charged', () => {
  // The same round with and without tab x (within C): the noise-free released count differs by
  // exactly what one tab contributes. Centred bits (±½) give ½; raw bits (0/1) would give 1, and
  // the (z_Δ, σ_b) split assumed below would then understate the loss.
  const settings = { adaptiveClipping: true, clipCountNoise: 1, samplingRate: 1 };
  const without = round(dp(settings).strategy, { a: 0.5, b: 3 });
  const withX = round(dp(settings).strategy, { a: 0.5, b: 3, x: 0.2 });
  const expectedCount = 1 * 10; // q × population
  const moved = (other: typeof without) => Math.abs(other.release.unclippedFraction! - without.release.unclippedFraction!) * expectedCount;
  const sensitivity = moved(withX);
  assert.ok(Math.abs(sensitivity - 0.5) < 1e-12, `one tab moved the count by ${sensitivity}`);
  const overTheBound = round(dp(settings).strategy, { a: 0.5, b: 3, y: 7 });
  assert.ok(Math.abs(moved(overTheBound) - 0.5) < 1e-12, 'a clipped tab too');

  // The two releases of a round, by what they are: the deltas (std noiseStdOnSum for sensitivity C) and the count (σ_b for ½).
  const privacy = withX.release.privacy!;
  const z = combinedMultiplier(privacy.noiseStdOnSum / 1, 1 / sensitivity);
  assert.ok(Math.abs(z / privacy.noiseMultiplier - 1) < 1e-12, `the mechanism's multiplier ${z}, charged ${privacy.noiseMultiplier}`);
  assert.equal(privacy.noiseMultiplier, 1.1);
});

test('adaptive clipping under DP, 50 rounds at q = 0.5: the ε charged is the independent accountant\'s for what was released', () => {
  const { strategy, ledger } = dp({ adaptiveClipping: true, clipCountNoise: 1, samplingRate: 0.5 }, () => createRng(7));
  let last;
  for (let r = 1; r <= 50; r++) last = round(strategy, { a: 0.4, b: 2, c: 0.9, d: 1.5 }, r).release;
  const privacy = last!.privacy!;
  // Independently: the multiplier from the noise the rounds carried (z_Δ on the sum, σ_b on a count of sensitivity ½).
  const z = combinedMultiplier(privacy.noiseStdOnSum / last!.clipNorm!, 1 / 0.5);
  const independent = independentEpsilon([{ samplingRate: 0.5, noiseMultiplier: z, rounds: 50 }], 1e-5);
  assert.equal(ledger.rounds, 50);
  assert.ok(Math.abs(privacy.epsilon / independent - 1) < 0.002, `charged ε ${privacy.epsilon}, independent ${independent}`);
  // What a raw count (sensitivity 1) would really have cost: the audit's "24.1 charged, about 40 actual".
  const raw = independentEpsilon([{ samplingRate: 0.5, noiseMultiplier: combinedMultiplier(privacy.noiseStdOnSum / last!.clipNorm!, 1), rounds: 50 }], 1e-5);
  assert.ok(raw > 1.5 * privacy.epsilon, `raw bits would cost ε ${raw}`);
});

test('a round with nothing to aggregate releases the noise alone and is charged: nobody sampled, every update over the norm bound', () => {
  const empty = dp({ samplingRate: 0.5 }, () => rngFromBits(() => 0xffffffff)); // every uniform ≈ 1: nobody is sampled
  const nobody = round(empty.strategy, { a: 1, b: 1 });
  assert.deepEqual(nobody.plan.selected, []);
  assert.equal(nobody.outcome.accepted, 0);
  assert.equal(empty.ledger.rounds, 1, 'charged like any other round');

  const bound = dp({ aggregation: 'norm-bound', normBound: 0.01 });
  const dropped = round(bound.strategy, { a: 1, b: 1 });
  assert.deepEqual(dropped.outcome.accepted, 0, 'both over the bound: the rule has nothing');
  assert.equal(bound.ledger.rounds, 1, 'released (noise only) and charged, never retried');
  assert.equal(dropped.plan.quorum, 0, 'a DP round is released whatever arrives');
});

test('secure aggregation under DP: a lone sampled tab goes plain and is noised here; two or more are masked, with the noise shares told', () => {
  const settings = { secureAggregation: true, distributedNoise: true, adaptiveClipping: true, clipCountNoise: 1 };
  const { strategy } = dp(settings);
  const lone = strategy.configure({ round: 1, attempt: 1, ready: tabs('a'), members: tabs('a', 'b', 'c') });
  assert.equal(lone.secure, null, 'secure aggregation cannot hide a tab that is alone');
  assert.equal(lone.tell.clipNorm, 0, 'the coordinator clips it, as without masks');
  const pair = strategy.configure({ round: 1, attempt: 1, ready: tabs('a', 'b'), members: tabs('a', 'b', 'c') });
  assert.ok(pair.secure && pair.secure.noiseStdOnSum > 0 && pair.secure.bitNoiseStdOnSum === 1, 'the tabs add the noise, on the sum and on the count');
  assert.equal(pair.tell.clipNorm, 1);
});

test('distributed DP whose secure sum never came: the coordinator adds the whole noise itself', () => {
  const { strategy, ledger } = dp({ secureAggregation: true, distributedNoise: true }, () => createRng(3));
  const plan = strategy.configure({ round: 1, attempt: 1, ready: tabs('a', 'b', 'c'), members: tabs('a', 'b', 'c') });
  assert.ok(plan.secure && plan.secure.noiseStdOnSum === 1.1);
  strategy.begin(plan); // the masked steps failed: no addSum
  const out = new Float32Array(P);
  const outcome = strategy.finish(out);
  const release = strategy.record(outcome);
  let squares = 0;
  for (const v of out) squares += v * v;
  const W = 10; // q 1 × population 10 of weight 1
  const expected = 1.1 / W;
  assert.ok(Math.abs(Math.sqrt(squares / P) / expected - 1) < 0.1, `noise std ${Math.sqrt(squares / P)}, expected ${expected}: never a noise-free release`);
  assert.equal(release.noiseStd, expected);
  assert.equal(ledger.rounds, 1);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGGREGATION_RULES, createAggregationRule, type AggregationOptions, type AggregationRuleName } from './rules.ts';

const DEFAULTS: Omit<AggregationOptions, 'aggregation'> = {
  trimFraction: 0.2,
  byzantineClients: 1,
  multiKrumKeep: 0,
  normBound: 10,
};
const build = (aggregation: AggregationRuleName, options: Partial<AggregationOptions> = {}) =>
  createAggregationRule({ ...DEFAULTS, ...options, aggregation }, 3);

test('every rule in AGGREGATION_RULES builds, and says whether it holds every update', () => {
  const built = AGGREGATION_RULES.map((rule) => {
    const strategy = build(rule);
    return [rule, strategy.title, strategy.holdsAllUpdates];
  });
  assert.deepEqual(built, [
    ['fedavg', 'FedAvg', false],
    ['median', 'coordinate-wise median', true],
    ['trimmed-mean', 'trimmed mean (β = 0.2)', true],
    ['krum', 'Krum (f = 1)', true],
    ['multi-krum', 'Multi-Krum (f = 1, m = n − f)', true],
    ['norm-bound', 'norm bound 10', false],
  ]);
});

test('the factory passes each rule its own options and refuses bad ones', () => {
  assert.equal(build('multi-krum', { multiKrumKeep: 3, byzantineClients: 2 }).title, 'Multi-Krum (f = 2, m = 3)');
  assert.equal(build('norm-bound', { normBound: 2.5 }).title, 'norm bound 2.5');
  assert.throws(() => build('trimmed-mean', { trimFraction: 0.5 }), /trim fraction β must be in \[0, 0.5\)/);
  assert.throws(() => build('krum', { byzantineClients: -1 }), /Byzantine clients f must be an integer >= 0/);
  assert.throws(() => build('norm-bound', { normBound: 0 }), /norm bound must be a finite number > 0/);
  // options a rule does not read are not its business
  assert.equal(build('median', { trimFraction: 0.9, normBound: -1 }).title, 'coordinate-wise median');
  assert.throws(() => build('bulyan' as AggregationRuleName), /unknown aggregation rule bulyan: use one of fedavg, median, trimmed-mean, krum, multi-krum, norm-bound/);
});

test('a sign-flip ×10 attacker among 4 honest tabs: FedAvg is dragged the wrong way, the robust rules barely move', () => {
  const honest = [Float32Array.of(1, 2, -1), Float32Array.of(1.2, 1.8, -0.8), Float32Array.of(0.8, 2.2, -1.2), Float32Array.of(1.1, 1.9, -1.1)];
  const attacker = Float32Array.of(-10, -20, 10); // −10 × an honest (1, 2, −1)
  // Honest mean: (4.1, 7.9, -4.1) / 4 = (1.025, 1.975, -1.025).
  const honestMean = [1.025, 1.975, -1.025];
  const aggregate = (rule: AggregationRuleName, options: Partial<AggregationOptions> = {}) => {
    const strategy = build(rule, options);
    strategy.begin();
    [...honest, attacker].forEach((delta, k) => strategy.add({ clientId: `tab-${k}`, delta, weight: 100 }));
    const out = new Float32Array(3);
    const outcome = strategy.finish(out);
    const error = Math.hypot(...honestMean.map((x, i) => out[i] - x));
    return { out: Array.from(out, (x) => Number(x.toFixed(4))), error, outcome };
  };

  // FedAvg: (4.1 - 10, 7.9 - 20, -4.1 + 10) / 5 = (-1.18, -2.42, 1.18): every coordinate flipped, 5.4 away
  const fedavg = aggregate('fedavg');
  assert.deepEqual(fedavg.out, [-1.18, -2.42, 1.18]);
  assert.ok(Math.abs(fedavg.error - 5.389) < 1e-3);

  // Median: -10 | 0.8, [1], 1.1, 1.2 · -20 | 1.8, [1.9], 2, 2.2 · -1.2, -1.1, [-1], -0.8 | 10 → (1, 1.9, -1), 0.08 away
  const median = aggregate('median');
  assert.deepEqual(median.out, [1, 1.9, -1]);
  assert.ok(median.error < 0.09);

  // Trimmed mean β = 0.2 (1 cut at each end): (0.8 + 1 + 1.1, 1.8 + 1.9 + 2, -1.1 - 1 - 0.8) / 3 = (0.9667, 1.9, -0.9667), 0.11 away
  const trimmed = aggregate('trimmed-mean');
  assert.deepEqual(trimmed.out, [0.9667, 1.9, -0.9667]);
  assert.ok(trimmed.error < 0.12);
  assert.ok(trimmed.outcome.downweighted.includes('tab-4'), 'the attacker was cut in every coordinate');

  // Krum (f = 1) keeps h3 = (1.1, 1.9, -1.1) (score 0.14, krum.test.ts), 0.13 away; Multi-Krum averages the 4 honest tabs: 0 away
  const krum = aggregate('krum');
  assert.deepEqual(krum.out, [1.1, 1.9, -1.1]);
  assert.ok(krum.error < 0.14);
  const multiKrum = aggregate('multi-krum');
  assert.deepEqual(multiKrum.out, [1.025, 1.975, -1.025]);
  assert.ok(multiKrum.error < 1e-6);
  assert.deepEqual(multiKrum.outcome.discarded, ['tab-4']);

  // Norm bound 3 (honest norms ≈ 2.45, the attacker's 24.5) drops the attacker: the honest mean.
  const dropped = aggregate('norm-bound', { normBound: 3 });
  assert.ok(dropped.error < 1e-6);
  assert.deepEqual(dropped.outcome.discarded, ['tab-4']);
});

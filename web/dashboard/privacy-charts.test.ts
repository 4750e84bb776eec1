import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RoundPrivacy } from '../../shared/protocol/records.ts';
import { DEFAULT_SETTINGS } from '../../shared/settings.ts';
import { privacyChartData } from './privacy-charts.ts';
import { roundMetrics } from '../../harness/round-metrics.ts';

const charged = (epsilon: number, roundsSpent: number, targetEpsilon: number | null): RoundPrivacy => ({
  noiseMultiplier: 1.1, samplingRate: 1, expectedWeight: 2, noiseStdOnSum: 1.65, epsilon, delta: 1e-5, order: 10, roundsSpent, targetEpsilon,
});

test('without DP or adaptive clipping both privacy charts stay hidden', () => {
  const data = privacyChartData(DEFAULT_SETTINGS, [roundMetrics(1)], null);
  assert.deepEqual(data, { epsilon: [], epsilonTarget: null, clip: [], epsilonShown: false, clipShown: false });
});

test('central DP: one ε point per round, the run\'s own ε, and its budget as the target line', () => {
  const settings = { ...DEFAULT_SETTINGS, clipNorm: 1.5, noiseMultiplier: 1.1, targetEpsilon: 4 };
  const history = [1.2, 1.9, 2.5].map((epsilon, i) => roundMetrics(i + 1, { clipNorm: 1.5, privacy: charged(epsilon, i + 1, 4) }));
  const budget = { epsilon: 2.5, delta: 1e-5, roundsSpent: 3, targetEpsilon: 4, noiseMultiplier: 1.1, clipNorm: 1.5, samplingRate: 1 };
  const data = privacyChartData(settings, history, budget);
  assert.deepEqual(data.epsilon, [{ x: 1, y: 1.2 }, { x: 2, y: 1.9 }, { x: 3, y: 2.5 }]);
  assert.equal(data.epsilonTarget, 4);
  assert.equal(data.epsilonShown, true);
  assert.equal(data.clipShown, false, 'C is fixed');
  // Before the first round: the card is up, with the budget the settings set and no points.
  assert.deepEqual(privacyChartData(settings, [], null), { epsilon: [], epsilonTarget: 4, clip: [], epsilonShown: true, clipShown: false });
});

test('adaptive clipping: the C each round clipped to', () => {
  const settings = { ...DEFAULT_SETTINGS, clipNorm: 1, adaptiveClipping: true };
  const history = [
    roundMetrics(1, { clipNorm: 1, unclippedFraction: 0.25 }),
    // 1 · exp(−0.2 · (0.25 − 0.5)) = 1.0513
    roundMetrics(2, { clipNorm: 1.0513, unclippedFraction: 0.5 }),
  ];
  const data = privacyChartData(settings, history, null);
  assert.deepEqual(data.clip, [{ x: 1, y: 1 }, { x: 2, y: 1.0513 }]);
  assert.equal(data.clipShown, true);
  assert.equal(data.epsilonShown, false);
  assert.equal(privacyChartData({ ...settings, adaptiveClipping: false }, history, null).clipShown, true, 'a run that adapted C keeps its chart');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PrivacyBudget, RoundLocalPrivacy, RoundPrivacy, RoundSecureAggregation } from '../../shared/protocol/records.ts';
import { DEFAULT_SETTINGS } from '../../shared/settings.ts';
import { describePrivacy, privacyMode, secureAggregationSummary } from './privacy-view.ts';
import { roundMetrics } from '../../harness/round-metrics.ts';

const valueOf = (rows: { label: string; value: string }[], label: string) => rows.find((r) => r.label === label)?.value;

// Central DP-FedAvg: 8 tabs of weight 1, q = 0.5, so W = 4; z = 0.8, C = 1.5: noise z·C = 1.2 on the sum, 0.3 on the mean.
const central = { ...DEFAULT_SETTINGS, clipNorm: 1.5, noiseMultiplier: 0.8, samplingRate: 0.5, targetEpsilon: 3 };
const charged = (epsilon: number, roundsSpent: number): RoundPrivacy => ({
  noiseMultiplier: 0.8, samplingRate: 0.5, expectedWeight: 4, noiseStdOnSum: 1.2,
  epsilon, delta: 1e-5, order: 12, roundsSpent, targetEpsilon: 3,
});
const centralHistory = [
  roundMetrics(1, { noiseStd: 0.3, clipNorm: 1.5, privacy: charged(1.1, 1) }),
  roundMetrics(2, { noiseStd: 0.3, clipNorm: 1.5, privacy: charged(1.673, 2) }),
];
const budget: PrivacyBudget = { epsilon: 1.673, delta: 1e-5, roundsSpent: 2, targetEpsilon: 3, noiseMultiplier: 0.8, clipNorm: 1.5, samplingRate: 0.5 };

test('no clipping, no noise: off, no ε rows, secure aggregation off', () => {
  const view = describePrivacy(DEFAULT_SETTINGS, [roundMetrics(1)], null);
  assert.equal(view.mode, 'off');
  assert.equal(valueOf(view.rows, 'clip norm C'), 'off');
  assert.equal(valueOf(view.rows, 'noise std (last round)'), '0');
  assert.equal(valueOf(view.rows, 'secure aggregation'), 'off');
  assert.equal(valueOf(view.rows, 'ε spent'), undefined);
});

test('clipping only: clip norm shown, no ε rows', () => {
  const view = describePrivacy({ ...DEFAULT_SETTINGS, clipNorm: 2 }, [], null);
  assert.equal(view.mode, 'clipping only');
  assert.equal(valueOf(view.rows, 'clip norm C'), '2');
  assert.equal(valueOf(view.rows, 'noise std (last round)'), '—');
});

test('central DP: the run\'s budget, ε spent of the target, δ, z, q and rounds spent', () => {
  const view = describePrivacy(central, centralHistory, budget);
  assert.equal(view.mode, 'central DP');
  assert.equal(valueOf(view.rows, 'noise multiplier z'), '0.8');
  assert.equal(valueOf(view.rows, 'noise std (last round)'), '0.3');
  assert.equal(valueOf(view.rows, 'ε spent'), '1.673 of 3');
  assert.equal(valueOf(view.rows, 'δ'), '1.00e-5');
  assert.equal(valueOf(view.rows, 'sampling rate q'), '0.5');
  assert.equal(valueOf(view.rows, 'rounds spent'), '2');
  assert.equal(valueOf(view.rows, 'clip norm C'), '1.5');
});

test('central DP before the coordinator reports a budget: the last round\'s account; before any round: dashes', () => {
  assert.equal(valueOf(describePrivacy(central, centralHistory, null).rows, 'ε spent'), '1.673 of 3');
  const fresh = describePrivacy(central, [], null).rows;
  assert.equal(valueOf(fresh, 'ε spent'), '— of 3', 'the target from the settings, nothing spent yet');
  assert.equal(valueOf(fresh, 'rounds spent'), '—');
  const noTarget = { ...budget, targetEpsilon: null };
  assert.equal(valueOf(describePrivacy({ ...central, targetEpsilon: 0 }, centralHistory, noTarget).rows, 'ε spent'), '1.673');
});

test('adaptive clipping: C as it stands now, from where it started, and the unclipped fraction against its target', () => {
  const settings = { ...central, clipNorm: 1, adaptiveClipping: true, clipQuantile: 0.5 };
  const history = [roundMetrics(1, { clipNorm: 1, unclippedFraction: 0.25, privacy: charged(0.9, 1) })];
  // The budget holds the C of the next round: 1 · exp(−0.2 · (0.25 − 0.5)) ≈ 1.051
  const view = describePrivacy(settings, history, { ...budget, clipNorm: 1.051 });
  assert.equal(valueOf(view.rows, 'clip norm C'), '1.051 (adaptive, from 1)');
  assert.equal(valueOf(view.rows, 'unclipped (last round)'), '25% (target 50%)');
  // Without central DP there is no budget: the last round's C
  const noDp = describePrivacy({ ...settings, noiseMultiplier: 0, targetEpsilon: 0 }, [roundMetrics(1, { clipNorm: 0.7, unclippedFraction: 0.75 })], null);
  assert.equal(noDp.mode, 'clipping only');
  assert.equal(valueOf(noDp.rows, 'clip norm C'), '0.7 (adaptive, from 1)');
});

test('local DP: per-tab noise, the noise left on the mean, ε per tab; no central rows', () => {
  // z = 0.8, C = 0.5: each tab adds std 0.4; two tabs of equal weight leave 0.4·√2/2 ≈ 0.2828 on the mean
  const local: RoundLocalPrivacy = { noiseMultiplier: 0.8, clipNorm: 0.5, noiseStdPerTab: 0.4, noiseStdOnMean: 0.4 / Math.SQRT2, epsilonPerTab: 5.127, delta: 1e-5 };
  const settings = { ...DEFAULT_SETTINGS, clipNorm: 0.5, localNoiseMultiplier: 0.8 };
  const view = describePrivacy(settings, [roundMetrics(1, { noiseStd: 0.4 / Math.SQRT2, clipNorm: 0.5, localPrivacy: local })], null);
  assert.equal(view.mode, 'local DP');
  assert.equal(valueOf(view.rows, 'noise multiplier z'), 'off');
  assert.equal(valueOf(view.rows, 'local noise z'), '0.8');
  assert.equal(valueOf(view.rows, 'noise std per tab'), '0.4');
  assert.equal(valueOf(view.rows, 'noise std on the mean'), '0.2828');
  assert.equal(valueOf(view.rows, 'noise std (last round)'), '0.2828');
  assert.equal(valueOf(view.rows, 'ε per tab'), '5.127 (δ 1.00e-5)');
  assert.equal(valueOf(view.rows, 'ε spent'), undefined);
});

test('the mode names central and local together, though the settings refuse that pair today', () => {
  assert.equal(privacyMode({ ...DEFAULT_SETTINGS, clipNorm: 1, noiseMultiplier: 1, localNoiseMultiplier: 1 }), 'central + local DP');
});

test('secure aggregation: the last round\'s masked, dropped and recovered tabs; before a round, what the settings say', () => {
  // 6 tabs sent keys and shares, 5 sent a masked update: 1 dropped after sharing, its mask recovered
  const secAgg: RoundSecureAggregation = { threshold: 4, advertised: 6, shared: 6, masked: 5, revealed: 5, recovered: 1, distributedNoise: false };
  const settings = { ...DEFAULT_SETTINGS, clipNorm: 1, secureAggregation: true };
  const view = describePrivacy(settings, [roundMetrics(1, { clipNorm: 1, secureAggregation: secAgg })], null);
  assert.equal(valueOf(view.rows, 'secure aggregation'), 'on · 5 of 6 tabs masked · 1 dropped · 1 recovered');
  assert.equal(secureAggregationSummary(secAgg), '5 masked · 1 recovered');
  const before = describePrivacy({ ...settings, noiseMultiplier: 1, distributedNoise: true }, [], null);
  assert.equal(valueOf(before.rows, 'secure aggregation'), 'on · distributed noise');
});

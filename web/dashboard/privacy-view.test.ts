import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PrivacyBudget, RoundMetrics, RoundPrivacy, RoundSecureAggregation } from '../../shared/protocol/records.ts';
import { DEFAULT_SETTINGS, resolveSettings, type Settings } from '../../shared/settings.ts';
import { PrivacyLedger } from '../../shared/fl/privacy-ledger.ts';
import { createStrategy } from '../../shared/fl/strategies.ts';
import { createRng } from '../../shared/fl/rng.ts';
import { describePrivacy, privacyMode, secureAggregationSummary, type PrivacyInput } from './privacy-view.ts';
import { roundMetrics } from '../../harness/round-metrics.ts';
import { formatStat } from '../format.ts';

const valueOf = (rows: { label: string; value: string }[], label: string) => rows.find((r) => r.label === label)?.value;
const describe = (settings: Settings, history: RoundMetrics[], budget: PrivacyBudget | null, more: Partial<PrivacyInput> = {}) =>
  describePrivacy({ settings, history, privacyBudget: budget, privacyLedger: { worstTab: null, resets: [] }, privacyWarning: null, participationHidden: false, ...more });

/**
 * The rounds as the coordinator's strategy records them (shared/fl/strategies.ts): the card shows
 * what the strategy computed, so the figures below come from the code that makes them, not from here.
 */
function strategyRounds(settings: Settings, tabs: number, rounds: number) {
  const ledger = new PrivacyLedger();
  const rng = createRng(1);
  const strategy = createStrategy(settings, { paramCount: 100, ledger, secureRng: () => rng, state: null });
  const ids = Array.from({ length: tabs }, (_, i) => ({ clientId: `t${i}`, numExamples: 100 }));
  const history = Array.from({ length: rounds }, (_, r) => {
    const plan = strategy.configure({ round: r + 1, attempt: 1, ready: ids, members: ids });
    strategy.begin(plan);
    for (const id of plan.selected) {
      strategy.uploaded(id);
      strategy.add({ clientId: id, delta: new Float32Array(100).fill(0.01), weight: plan.weights.get(id)! });
    }
    const outcome = strategy.finish(new Float32Array(100));
    return roundMetrics(r + 1, strategy.record(outcome));
  });
  return { history, budget: strategy.budget(), ledger };
}

// Central DP-FedAvg: 8 tabs of weight 1, q = 0.5, so W = 4; z = 0.8, C = 1.5: noise z·C = 1.2 on the sum, 0.3 on the mean.
const central = resolveSettings({ clipNorm: 1.5, noiseMultiplier: 0.8, samplingRate: 0.5, targetEpsilon: 3, population: 8 });
const { history: centralHistory, budget: centralBudget } = strategyRounds(central, 8, 2);
const budget = centralBudget!;
const charged = (epsilon: number, roundsSpent: number): RoundPrivacy => ({ ...centralHistory[0].privacy!, epsilon, roundsSpent });

test('no clipping, no noise: off, no ε rows, secure aggregation off', () => {
  const view = describe(DEFAULT_SETTINGS, [roundMetrics(1)], null);
  assert.equal(view.mode, 'off');
  assert.equal(valueOf(view.rows, 'clip norm C'), 'off');
  assert.equal(valueOf(view.rows, 'noise std (last round)'), '0');
  assert.equal(valueOf(view.rows, 'secure aggregation'), 'off');
  assert.equal(valueOf(view.rows, 'ε spent (all runs)'), undefined);
});

test('clipping only: clip norm shown, no ε rows', () => {
  const view = describe({ ...DEFAULT_SETTINGS, clipNorm: 2 }, [], null);
  assert.equal(view.mode, 'clipping only');
  assert.equal(valueOf(view.rows, 'clip norm C'), '2');
  assert.equal(valueOf(view.rows, 'noise std (last round)'), '—');
});

test('central DP: the population\'s budget, ε spent of the target, δ, z, q and rounds spent; the noise on the mean is z·C/W', () => {
  const view = describe(central, centralHistory, budget, { participationHidden: true });
  assert.equal(view.mode, 'central DP');
  assert.equal(valueOf(view.rows, 'noise multiplier z'), '0.8');
  assert.equal(valueOf(view.rows, 'noise std (last round)'), '0.3', 'z·C / W = 0.8 · 1.5 / 4, as the strategy computed it');
  assert.equal(valueOf(view.rows, 'ε spent (all runs)'), `${formatStat(budget.epsilon)} of 3`);
  assert.equal(valueOf(view.rows, 'who took part'), 'shown to the admin only');
  assert.equal(valueOf(view.rows, 'δ'), '1.00e-5');
  assert.equal(valueOf(view.rows, 'sampling rate q'), '0.5');
  assert.equal(valueOf(view.rows, 'rounds spent'), '2');
  assert.equal(valueOf(view.rows, 'clip norm C'), '1.5');
  assert.equal(view.warning, null);
  const warned = describe(central, [], null, { privacyWarning: 'with 3 tabs … the model will stay near chance' });
  assert.equal(warned.warning, 'with 3 tabs … the model will stay near chance', 'a warning before Start is shown as it came');
});

test('central DP before the coordinator reports a budget: the last round\'s account; before any round: dashes', () => {
  const spent = formatStat(centralHistory[1].privacy!.epsilon);
  assert.equal(valueOf(describe(central, centralHistory, null).rows, 'ε spent (all runs)'), `${spent} of 3`);
  const fresh = describe(central, [], null).rows;
  assert.equal(valueOf(fresh, 'ε spent (all runs)'), '— of 3', 'the target from the settings, nothing spent yet');
  assert.equal(valueOf(fresh, 'rounds spent'), '—');
  const noTarget = { ...budget, targetEpsilon: null };
  assert.equal(valueOf(describe({ ...central, targetEpsilon: 0 }, centralHistory, noTarget).rows, 'ε spent (all runs)'), formatStat(budget.epsilon));
});

test('adaptive clipping: C as it stands now, from where it started, and the unclipped fraction against its target', () => {
  const settings = { ...central, clipNorm: 1, adaptiveClipping: true, clipQuantile: 0.5 };
  const history = [roundMetrics(1, { clipNorm: 1, unclippedFraction: 0.25, privacy: charged(0.9, 1) })];
  // The budget holds the C of the next round: 1 · exp(−0.2 · (0.25 − 0.5)) ≈ 1.051
  const view = describe(settings, history, { ...budget, clipNorm: 1.051 });
  assert.equal(valueOf(view.rows, 'clip norm C'), '1.051 (adaptive, from 1)');
  assert.equal(valueOf(view.rows, 'unclipped (last round)'), '25% (target 50%)');
  // Without central DP there is no budget: the last round's C
  const noDp = describe({ ...settings, noiseMultiplier: 0, targetEpsilon: 0 }, [roundMetrics(1, { clipNorm: 0.7, unclippedFraction: 0.75 })], null);
  assert.equal(noDp.mode, 'clipping only');
  assert.equal(valueOf(noDp.rows, 'clip norm C'), '0.7 (adaptive, from 1)');
});

test('local DP: per-tab noise, the noise left on the mean, ε of the tab that sent most; no central rows', () => {
  // z = 0.8, C = 0.5: each tab adds std 0.4; two tabs of equal weight leave 0.4·√2/2 ≈ 0.2828 on the mean
  const settings = resolveSettings({ clipNorm: 0.5, localNoiseMultiplier: 0.8, minClientsPerRound: 2 });
  const { history, ledger } = strategyRounds(settings, 2, 3);
  const worst = ledger.worstTab(settings.dpDelta)!;
  const view = describe(settings, history, null, { privacyLedger: { worstTab: { uploads: worst.uploads, epsilon: worst.epsilon }, resets: [] } });
  assert.equal(view.mode, 'local DP');
  assert.equal(valueOf(view.rows, 'noise multiplier z'), 'off');
  assert.equal(valueOf(view.rows, 'local noise z'), '0.8');
  assert.equal(valueOf(view.rows, 'noise std per tab'), '0.4');
  assert.equal(valueOf(view.rows, 'noise std on the mean'), '0.2828');
  assert.equal(valueOf(view.rows, 'noise std (last round)'), '0.2828');
  assert.equal(worst.uploads, 3);
  assert.equal(valueOf(view.rows, 'ε per tab'), `${formatStat(worst.epsilon)} after 3 updates (δ 1.00e-5)`);
  assert.equal(valueOf(view.rows, 'ε spent (all runs)'), undefined);
});

test('a reset of the ledger is said, with what it forgot', () => {
  const view = describe(central, [], null, { privacyLedger: { worstTab: null, resets: [{ at: 1, rounds: 12, uploads: 0 }] } });
  assert.equal(valueOf(view.rows, 'ledger reset'), '1× (last forgot 12 rounds, 0 noised updates)');
});

test('the mode names central and local together, though the settings refuse that pair today', () => {
  assert.equal(privacyMode({ ...DEFAULT_SETTINGS, clipNorm: 1, noiseMultiplier: 1, localNoiseMultiplier: 1 }), 'central + local DP');
});

test('secure aggregation: the last round\'s masked, dropped and recovered tabs; before a round, what the settings say', () => {
  // 6 tabs sent keys and shares, 5 sent a masked update: 1 dropped after sharing, its mask recovered
  const secAgg: RoundSecureAggregation = { threshold: 4, advertised: 6, shared: 6, masked: 5, revealed: 5, recovered: 1, distributedNoise: false };
  const settings = { ...DEFAULT_SETTINGS, clipNorm: 1, secureAggregation: true };
  const view = describe(settings, [roundMetrics(1, { clipNorm: 1, secureAggregation: secAgg })], null);
  assert.equal(valueOf(view.rows, 'secure aggregation'), 'on · 5 of 6 tabs masked · 1 dropped · 1 recovered');
  assert.equal(secureAggregationSummary(secAgg), '5 masked · 1 recovered');
  const before = describe({ ...settings, noiseMultiplier: 1, distributedNoise: true }, [], null);
  assert.equal(valueOf(before.rows, 'secure aggregation'), 'on · distributed noise');
});

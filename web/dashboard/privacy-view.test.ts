import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RoundMetrics } from '../../shared/protocol.ts';
import { DEFAULT_SETTINGS } from '../../shared/settings.ts';
import { describePrivacy } from './privacy-view.ts';

const round = (n: number, noiseStd: number, epsilon: number | null, delta: number | null): RoundMetrics => ({
  round: n, attempt: 1, accuracy: 0.9, loss: 0.3, participants: 4, selected: 4, totalWeight: 4000,
  noiseStd, epsilon, delta, durationMs: 4000, answered: [], late: [], dropped: [], bytesSent: 0, bytesReceived: 0,
  aggregation: 'FedAvg', discarded: [], downweighted: [],
});

const valueOf = (rows: { label: string; value: string }[], label: string) => rows.find((r) => r.label === label)?.value;

test('no clipping, no noise: DP off, no ε rows', () => {
  const view = describePrivacy(DEFAULT_SETTINGS, [round(1, 0, null, null)]);
  assert.equal(view.mode, 'off');
  assert.equal(valueOf(view.rows, 'clip norm C'), 'off');
  assert.equal(valueOf(view.rows, 'noise std (last round)'), '0');
  assert.equal(valueOf(view.rows, 'ε spent'), undefined);
});

test('clipping only: clip norm shown, no ε rows', () => {
  const view = describePrivacy({ ...DEFAULT_SETTINGS, clipNorm: 2 }, []);
  assert.equal(view.mode, 'clipping only');
  assert.equal(valueOf(view.rows, 'clip norm C'), '2');
  assert.equal(valueOf(view.rows, 'noise std (last round)'), '—');
});

test('noise on: the last round\'s noise std and the ε, δ spent so far', () => {
  // C = 1.5, z = 0.8, 4 updates: std of the mean's noise = z·C/4 = 0.3
  const settings = { ...DEFAULT_SETTINGS, clipNorm: 1.5, noiseMultiplier: 0.8 };
  const view = describePrivacy(settings, [round(1, 0.3, 1.1, 1e-5), round(2, 0.3, 1.673, 1e-5)]);
  assert.equal(view.mode, 'clipping + Gaussian noise');
  assert.equal(valueOf(view.rows, 'noise multiplier z'), '0.8');
  assert.equal(valueOf(view.rows, 'noise std (last round)'), '0.3');
  assert.equal(valueOf(view.rows, 'ε spent'), '1.673');
  assert.equal(valueOf(view.rows, 'δ'), '1.00e-5');
});

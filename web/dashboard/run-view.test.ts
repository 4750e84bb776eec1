import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunState } from '../../shared/protocol/records.ts';
import { DEFAULT_SETTINGS } from '../../shared/settings.ts';
import { describeRun } from './run-view.ts';
import { roundMetrics } from '../../harness/round-metrics.ts';

const metrics = (round: number) => roundMetrics(round);

function runState(overrides: Partial<RunState>): RunState {
  return {
    phase: 'idle', round: 0, attempt: 0, selected: [], answered: [], selectedCount: 0, answeredCount: 0, participationHidden: false, deadlineAt: null, message: '',
    settings: { ...DEFAULT_SETTINGS, rounds: 20 }, modelTitle: 'MLP', paramCount: 199_210, clients: [], history: [], pastRuns: [],
    privacyBudget: null, privacyLedger: { worstTab: null, resets: [] }, privacyWarning: null, serverNow: 0, joinUrls: [], roomCode: null,
    ...overrides,
  };
}

test('before any run: not started, start allowed, no countdown', () => {
  const view = describeRun(runState({}), 0);
  assert.equal(view.roundText, 'Not started');
  assert.equal(view.progress, 0);
  assert.equal(view.countdownText, '');
  assert.equal(view.canStart, true);
  assert.equal(view.canStop, false);
  assert.equal(view.canReset, false, 'nothing to reset yet');
  assert.equal(view.roundOfText, '0 of 20');
});

test('mid-round: round k of N, answered count, countdown to the deadline', () => {
  const state = runState({
    phase: 'training', round: 6, attempt: 1, selected: ['a', 'b', 'c', 'd'], answered: ['b'],
    deadlineAt: 100_000, history: [1, 2, 3, 4, 5].map(metrics),
  });
  const view = describeRun(state, 100_000 - 42_300);
  assert.equal(view.phaseLabel, 'Training');
  assert.equal(view.roundText, 'Round 6 of 20');
  assert.equal(view.progress, 5 / 20);
  assert.equal(view.answeredText, '1 of 4 selected tabs answered');
  assert.equal(view.countdownText, '0:43 left'); // 42.3 s rounds up
  assert.equal(view.canStart, false);
  assert.equal(view.canStop, true);
  assert.equal(view.canReset, false, 'stop first');
  assert.equal(view.roundOfText, '6 of 20');
});

test('a retried round shows its attempt; a passed deadline shows 0:00', () => {
  const view = describeRun(runState({ phase: 'training', round: 3, attempt: 2, selected: ['a'], deadlineAt: 1_000 }), 5_000);
  assert.equal(view.roundText, 'Round 3 of 20 (attempt 2)');
  assert.equal(view.countdownText, '0:00 left');
});

test('a finished run: full progress, no countdown even if a deadline lingers', () => {
  const view = describeRun(runState({ phase: 'done', round: 20, attempt: 1, deadlineAt: 9_999, history: Array.from({ length: 20 }, (_, i) => metrics(i + 1)) }), 0);
  assert.equal(view.progress, 1);
  assert.equal(view.countdownText, '');
  assert.equal(view.canStart, true);
  assert.equal(view.canReset, true);
});

test('a run that reached its target early shows a full progress bar', () => {
  const view = describeRun(runState({ phase: 'done', round: 8, attempt: 1, history: Array.from({ length: 8 }, (_, i) => metrics(i + 1)) }), 0);
  assert.equal(view.roundText, 'Round 8 of 20');
  assert.equal(view.progress, 1);
});

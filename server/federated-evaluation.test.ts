// Federated evaluation in the round state machine: the tabs' reports on each global model land in
// that round's history entry, bad reports change nothing, and without a test set the reports are
// the round's accuracy and decide the target. Same harness as round.test.ts: a manual clock and a
// scripted evaluator, so every step is exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL_SPECS } from '../shared/model-spec.ts';
import type { EvaluationRequest, RoundStart } from '../shared/protocol/messages.ts';
import type { Phase, RoundMetrics } from '../shared/protocol/records.ts';
import { resolveSettings, SettingsError, type Settings } from '../shared/settings.ts';
import { decodeWeights } from '../shared/wire.ts';
import { EvaluationRejectedError } from './evaluation-reports.ts';
import { parseInbound, ProtocolError } from '../shared/protocol/parse.ts';

const parseEvaluation = (raw: unknown) => parseInbound('participant:evaluation', raw);
import { coordinatorFixture } from '../harness/coordinator-fixture.ts';
import { flushAsync, ManualTimers } from '../harness/manual-timers.ts';
import { ScriptedEvaluator } from '../harness/scripted-evaluator.ts';

const P = MODEL_SPECS.mlp.paramCount;
const filled = (value: number) => new Float32Array(P).fill(value);

function setup(overrides: Partial<Settings> = {}, evaluator = new ScriptedEvaluator()) {
  const t = coordinatorFixture({ rounds: 3, minClientsPerRound: 2, minClientsToStart: 2, roundDeadlineMs: 10_000, shards: 8, ...overrides }, evaluator);
  /** A tab holding out `heldOutExamples` joins and reports ready. */
  const addTab = (id: string, heldOutExamples: number, numExamples = 100) => t.addTab(id, numExamples, heldOutExamples);
  /** Both tabs answer round `round` with a delta of ones, and the round closes. */
  const answer = async (round: number) => {
    t.send('a', { round, numExamples: 100, loss: 0.5 }, filled(1));
    t.send('b', { round, numExamples: 100, loss: 0.5 }, filled(1));
    await flushAsync();
  };
  const report = (id: string, round: number, accuracy: number, count: number, loss = 1 - accuracy) =>
    t.coordinator.submitEvaluation(`conn-${id}`, { round, accuracy, loss, count });
  let stateChanges = 0;
  t.coordinator.on('stateChanged', () => stateChanges++);
  return { ...t, addTab, answer, report, stateChanges: () => stateChanges };
}

const close = (actual: number | undefined, expected: number, what: string) =>
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-12, `${what}: ${actual}, expected ${expected}`);

test('the reports on the model in round 2\'s start fill in round 1\'s entry, weighted by count, whether they come before or after its test-set result', async () => {
  const t = setup();
  t.addTab('a', 10);
  t.addTab('b', 30);
  t.coordinator.start();
  await t.answer(1);
  assert.equal(t.starts[1].start.round, 2, 'round 2 is out with round 1\'s model');
  // a reports while round 1 is still being evaluated on the test set: kept until its entry exists
  t.report('a', 1, 0.9, 10, 0.2);
  await flushAsync();
  assert.deepEqual(t.done[0].federatedEvaluation, { accuracy: 0.9, loss: 0.2, count: 10, tabs: 1 });
  assert.equal(t.done[0].accuracySource, 'test-set');
  assert.equal(t.done[0].accuracy, 0.5, 'the round is still judged by the test set');
  const changesBefore = t.stateChanges();
  t.report('b', 1, 0.5, 30, 1.4);
  // (9 + 15) right of 40; loss (10·0.2 + 30·1.4) / 40 = 44 / 40
  const f = t.coordinator.history[0].federatedEvaluation!;
  close(f.accuracy, 0.6, 'accuracy');
  close(f.loss, 1.1, 'loss');
  assert.equal(f.count, 40);
  assert.equal(f.tabs, 2);
  assert.ok(t.stateChanges() > changesBefore, 'the dashboard hears of it');
  assert.equal(t.coordinator.history[0].accuracy, 0.5);

  await t.answer(2);
  await flushAsync();
  const round2 = () => t.coordinator.history[1].federatedEvaluation; // read afresh: a report fills it in
  assert.equal(round2(), null, 'round 2\'s model has not been reported on yet');
  t.report('a', 2, 0.95, 10);
  assert.equal(round2()?.count, 10);
  assert.equal(t.coordinator.history[0].federatedEvaluation?.count, 40, 'round 1\'s figure is untouched');
});

test('a report that does not belong is refused with a clear error and changes nothing', async () => {
  const t = setup();
  t.addTab('a', 10);
  t.addTab('b', 30);
  t.coordinator.start();
  assert.throws(() => t.report('a', 1, 0.9, 10), /evaluation of round 1 refused: this tab was sent no model to evaluate in this run/);
  await t.answer(1);
  await flushAsync();
  const cases: [string, () => void, RegExp][] = [
    ['more examples than it holds out', () => t.report('a', 1, 0.9, 11), /counts 11 examples, the tab reported 10 held out when it got ready/],
    ['a round it was not sent', () => t.report('a', 2, 0.9, 10), /the last model this tab was sent is round 1's \(a round that has not been aggregated\)/],
    ['the initial model', () => t.report('a', 0, 0.9, 10), /the last model this tab was sent is round 1's \(a late report\?\)/],
  ];
  for (const [name, send, expected] of cases) {
    assert.throws(send, (error: unknown) => error instanceof EvaluationRejectedError && expected.test(error.message), name);
  }
  assert.equal(t.coordinator.history[0].federatedEvaluation, null, 'nothing was counted');
  t.report('a', 1, 0.9, 10);
  assert.throws(() => t.report('a', 1, 0.1, 10), /this tab already reported on round 1's model/);
  assert.deepEqual(t.coordinator.history[0].federatedEvaluation, { accuracy: 0.9, loss: 1 - 0.9, count: 10, tabs: 1 }, 'the duplicate did not count');

  // Out of range or malformed: refused at the edge, before the state machine sees it.
  const wire: [unknown, RegExp][] = [
    [{ round: 1, accuracy: 1.5, loss: 0.1, count: 10 }, /malformed evaluation report: accuracy: Expected number to be less or equal to 1/],
    [{ round: 1, accuracy: -0.1, loss: 0.1, count: 10 }, /malformed evaluation report: accuracy/],
    [{ round: 1, accuracy: 0.5, loss: -1, count: 10 }, /malformed evaluation report: loss/],
    [{ round: 1, accuracy: 0.5, loss: Infinity, count: 10 }, /malformed evaluation report: loss: Expected number/],
    [{ round: 1, accuracy: 0.5, loss: 0.1, count: 0 }, /malformed evaluation report: count/],
    [{ round: 1, accuracy: 0.5, loss: 0.1, count: 2.5 }, /malformed evaluation report: count/],
    [{ round: 1, accuracy: 0.5, loss: 0.1, count: 10, pixels: 'x' }, /malformed evaluation report/],
    [{ round: 1, accuracy: 0.5, loss: 0.1 }, /malformed evaluation report: count/],
  ];
  for (const [raw, expected] of wire) assert.throws(() => parseEvaluation(raw), (e: unknown) => e instanceof ProtocolError && expected.test(e.message), JSON.stringify(raw));
  assert.deepEqual(parseEvaluation({ round: 1, accuracy: 0.5, loss: 0.1, count: 10 }), { round: 1, accuracy: 0.5, loss: 0.1, count: 10 });
});

test('without a test set the tabs\' accuracy is the round\'s, and the run stops at the target it reaches', async () => {
  const t = setup({ centralEvaluation: false, rounds: 10, targetAccuracy: 0.9 });
  t.addTab('a', 10);
  t.addTab('b', 30);
  t.coordinator.start();
  await t.answer(1);
  await flushAsync();
  assert.equal(t.done.length, 0, 'round 1 waits for the tabs\' reports');
  t.report('a', 1, 0.5, 10);
  await flushAsync();
  assert.equal(t.done.length, 0, 'one of two reports is not the evaluation yet');
  t.report('b', 1, 0.7, 30);
  await flushAsync();
  assert.equal(t.done.length, 1);
  close(t.done[0].accuracy, (5 + 21) / 40, 'round 1 accuracy');
  assert.equal(t.done[0].accuracySource, 'federated');
  assert.equal(t.done[0].federatedEvaluation?.count, 40);

  await t.answer(2);
  await flushAsync();
  assert.equal(t.coordinator.phase, 'training', 'round 3 is out');
  t.report('a', 2, 0.9, 10);
  t.report('b', 2, 0.95, 30); // (9 + 28.5) / 40 = 0.9375
  await flushAsync();
  assert.equal(t.coordinator.phase, 'done');
  assert.match(t.coordinator.runState().message, /reached target accuracy 0.9 in round 2/);
  assert.deepEqual(t.coordinator.global, filled(2), 'round 3 never counts');
  assert.equal(t.evaluator.evaluated.length, 0, 'the coordinator\'s test set was never used');
  assert.deepEqual(t.bugs, []);
});

test('without a test set the next round is not aggregated before the reports are in; at the deadline whatever came counts', async () => {
  const t = setup({ centralEvaluation: false });
  t.addTab('a', 10);
  t.addTab('b', 30);
  t.coordinator.start();
  await t.answer(1);
  t.report('a', 1, 0.8, 10); // b never reports
  await t.answer(2);
  await flushAsync();
  assert.equal(t.coordinator.phase, 'aggregating', 'round 2 waits for round 1\'s evaluation');
  assert.deepEqual(t.coordinator.global, filled(1));
  t.timers.advance(10_000);
  await flushAsync();
  assert.deepEqual(t.done.map((m) => [m.round, m.accuracy, m.federatedEvaluation?.tabs]), [[1, 0.8, 1]]);
  assert.deepEqual(t.coordinator.global, filled(2), 'then round 2 aggregates');
  assert.equal(t.coordinator.runState().round, 3);
});

test('a tab that leaves is not waited for; nothing reported by the deadline stops the run saying why', async () => {
  const t = setup({ centralEvaluation: false, minClientsPerRound: 1 });
  t.addTab('a', 10);
  t.addTab('b', 30);
  t.coordinator.start();
  await t.answer(1);
  t.report('a', 1, 0.8, 10);
  t.leave('b');
  await flushAsync();
  assert.deepEqual(t.done.map((m) => m.round), [1], 'b left: a\'s report is round 1\'s evaluation');

  t.send('a', { round: 2, numExamples: 100, loss: 0.5 }, filled(1));
  await flushAsync();
  assert.equal(t.starts.at(-1)!.start.round, 3);
  t.timers.advance(10_000); // a never reports on round 2's model (and round 3 times out: retried)
  await flushAsync();
  assert.equal(t.coordinator.phase, 'stopped');
  assert.match(t.coordinator.runState().message, /no tab evaluated round 2's model within 10 s; with centralEvaluation off the tabs' held-out examples are the only measure/);
});

test('the final model goes to every ready tab holding out examples; without a test set the run ends when they report', async () => {
  const t = setup({ centralEvaluation: false, rounds: 2, minClientsToStart: 3, maxClientsPerRound: 2, minClientsPerRound: 2 });
  t.addTab('a', 10);
  t.addTab('b', 30);
  t.addTab('c', 0); // holds nothing out: never asked
  t.coordinator.start();
  const [first, second] = t.starts[0].ids;
  const answerBy = (ids: string[], round: number) => {
    for (const id of ids) t.send(id, { round, numExamples: 100, loss: 0.5 }, filled(1));
  };
  answerBy([first, second], 1);
  await flushAsync();
  for (const id of t.starts[1].ids.filter((id) => id !== 'c')) t.report(id, 1, 0.6, id === 'a' ? 10 : 30);
  await flushAsync();
  answerBy(t.starts[1].ids, 2);
  await flushAsync();
  assert.equal(t.coordinator.phase, 'evaluating');
  assert.equal(t.requests.length, 1);
  const { ids, request } = t.requests[0];
  assert.deepEqual([...ids].sort(), ['a', 'b']);
  assert.equal(request.round, 2);
  assert.equal(request.dataVersion, t.starts[1].start.dataVersion);
  assert.deepEqual(decodeWeights(MODEL_SPECS.mlp, request.weights), filled(2), 'the final global model');
  t.report('a', 2, 0.9, 10);
  await flushAsync();
  assert.equal(t.coordinator.phase, 'evaluating');
  t.report('b', 2, 0.7, 30);
  await flushAsync();
  assert.equal(t.coordinator.phase, 'done');
  close(t.coordinator.history[1].accuracy, (9 + 21) / 40, 'final accuracy');
  assert.match(t.coordinator.runState().message, /done: 2 rounds, accuracy 0.7500/);
});

test('with a test set the final model is reported on after the run is done, and a new run starts with none of the old reports', async () => {
  const t = setup({ rounds: 1 });
  t.addTab('a', 10);
  t.addTab('b', 30);
  t.coordinator.start();
  await t.answer(1);
  await flushAsync();
  assert.equal(t.coordinator.phase, 'done');
  t.report('b', 1, 0.75, 30);
  assert.deepEqual(t.coordinator.history[0].federatedEvaluation, { accuracy: 0.75, loss: 0.25, count: 30, tabs: 1 });
  t.coordinator.start();
  assert.throws(() => t.report('a', 1, 0.75, 10), /this tab was sent no model to evaluate in this run/);
});

test('centralEvaluation off needs held-out examples to measure with', () => {
  assert.throws(() => resolveSettings({ centralEvaluation: false, evalFraction: 0 }), (e: unknown) => e instanceof SettingsError && /centralEvaluation off needs evalFraction > 0/.test(e.message));
  assert.throws(() => resolveSettings({ evalFraction: 1 }), /evalFraction: Expected number to be less than 1/);
  assert.equal(resolveSettings({ centralEvaluation: false }).evalFraction, 0.1);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL_SPECS } from '../shared/model-spec.ts';
import type { Phase, RoundMetrics, RoundStart } from '../shared/protocol.ts';
import { resolveSettings, type Settings } from '../shared/settings.ts';
import { decodeWeights } from '../shared/wire.ts';
import { Room } from './room.ts';
import { RoundController, RunStateError, UpdateRejectedError } from './round.ts';
import { flushAsync, ManualTimers, ScriptedEvaluator } from './test-support.ts';

const P = MODEL_SPECS.mlp.paramCount;

function setup(overrides: Partial<Settings> = {}, evaluator = new ScriptedEvaluator()) {
  const settings = resolveSettings({ rounds: 3, minClientsPerRound: 2, minClientsToStart: 2, roundDeadlineMs: 10_000, ...overrides });
  const room = new Room();
  const timers = new ManualTimers();
  const phases: Phase[] = [];
  const starts: { ids: string[]; start: RoundStart }[] = [];
  const done: RoundMetrics[] = [];
  const controller = new RoundController(
    settings,
    room,
    evaluator,
    {
      sendRoundStart: (ids, start) => starts.push({ ids, start }),
      publishRoundDone: (m) => done.push(m),
      stateChanged: () => {
        if (phases.at(-1) !== controller.phase) phases.push(controller.phase);
      },
      log: () => {},
    },
    timers,
  );
  const addTab = (id: string, numExamples = 100) => {
    room.join(id, settings.shards);
    room.markReady(id, { backend: 'wasm', backendReason: 'test', numExamples });
    controller.clientsChanged();
  };
  return { settings, room, timers, phases, starts, done, controller, evaluator, addTab };
}

const filled = (value: number) => new Float32Array(P).fill(value);
const update = (round: number, numExamples: number) => ({ round, numExamples, loss: 0.5 });

test('waits for enough ready tabs, then selects them and sends the global weights', () => {
  const t = setup();
  t.controller.start();
  t.addTab('a');
  assert.equal(t.controller.phase, 'waiting');
  assert.match(t.controller.message, /waiting for 1 more ready tab/);
  t.addTab('b');
  assert.deepEqual(t.phases, ['waiting', 'selecting', 'training']);
  assert.equal(t.starts.length, 1);
  assert.deepEqual([...t.starts[0].ids].sort(), ['a', 'b']);
  assert.equal(t.starts[0].start.round, 1);
  assert.deepEqual(decodeWeights(MODEL_SPECS.mlp, t.starts[0].start.weights), filled(0));
});

test('when every selected tab answers, the global model moves by the example-weighted mean delta', async () => {
  const t = setup();
  t.addTab('a', 100);
  t.addTab('b', 300);
  t.controller.start();
  t.controller.acceptUpdate('a', update(1, 100), filled(1));
  assert.equal(t.controller.phase, 'training');
  t.controller.acceptUpdate('b', update(1, 300), filled(3));
  await flushAsync();
  // (100·1 + 300·3) / 400 = 2.5
  assert.deepEqual(t.evaluator.evaluated[0], filled(2.5));
  assert.equal(t.done.length, 1);
  assert.equal(t.done[0].participants, 2);
  assert.equal(t.done[0].totalWeight, 400);
  assert.deepEqual(t.phases, ['idle', 'waiting', 'selecting', 'training', 'aggregating', 'evaluating', 'waiting', 'selecting', 'training']);
  assert.equal(t.controller.round, 2);
  assert.equal(t.starts.length, 2);
  assert.deepEqual(decodeWeights(MODEL_SPECS.mlp, t.starts[1].start.weights), filled(2.5));
});

test('the weight cap limits how much one tab counts', async () => {
  const t = setup({ clientWeightCap: 100 });
  t.addTab('a', 100);
  t.addTab('b', 300);
  t.controller.start();
  t.controller.acceptUpdate('a', update(1, 100), filled(1));
  t.controller.acceptUpdate('b', update(1, 300), filled(3));
  await flushAsync();
  assert.deepEqual(t.evaluator.evaluated[0], filled(2)); // (100·1 + 100·3) / 200
});

test('at the deadline the round aggregates what arrived if the minimum arrived', async () => {
  const t = setup({ minClientsPerRound: 1 });
  t.addTab('a', 100);
  t.addTab('b', 100);
  t.controller.start();
  t.controller.acceptUpdate('a', update(1, 100), filled(4));
  t.timers.advance(10_000);
  await flushAsync();
  assert.deepEqual(t.evaluator.evaluated[0], filled(4));
  assert.equal(t.done[0].participants, 1);
  assert.equal(t.done[0].selected, 2);
  assert.deepEqual(t.done[0].answered, ['a']);
  assert.deepEqual(t.done[0].late, ['b']);
});

test('too few answers by the deadline retry the same round and leave the model unchanged', async () => {
  const t = setup();
  t.addTab('a');
  t.addTab('b');
  t.controller.start();
  t.controller.acceptUpdate('a', update(1, 100), filled(7));
  t.timers.advance(9_999);
  assert.equal(t.controller.phase, 'training');
  t.timers.advance(1);
  await flushAsync();
  assert.equal(t.evaluator.evaluated.length, 0);
  assert.equal(t.controller.round, 1);
  assert.equal(t.controller.attempt, 2);
  assert.equal(t.controller.phase, 'training');
  assert.deepEqual(decodeWeights(MODEL_SPECS.mlp, t.starts[1].start.weights), filled(0));
  assert.deepEqual(t.controller.global, filled(0));
});

test('a tab leaving mid-round does not stall it: the round closes with the others', async () => {
  const t = setup({ minClientsPerRound: 1, minClientsToStart: 3 });
  t.addTab('a');
  t.addTab('b');
  t.addTab('c');
  t.controller.start();
  t.controller.acceptUpdate('a', update(1, 100), filled(1));
  t.controller.acceptUpdate('b', update(1, 100), filled(2));
  t.room.disconnect('c');
  assert.equal(t.room.get('c')?.status, 'dropped');
  t.controller.clientsChanged();
  await flushAsync();
  assert.deepEqual(t.evaluator.evaluated[0], filled(1.5));
  assert.deepEqual(t.done[0].dropped, ['c']);
  assert.deepEqual(t.done[0].late, []);
  assert.equal(t.controller.round, 2);
});

test('updates that do not belong are rejected and leave the model untouched', async () => {
  const t = setup({ maxClientsPerRound: 2, minClientsToStart: 3 });
  t.addTab('a');
  t.addTab('b');
  t.addTab('c');
  assert.throws(() => t.controller.acceptUpdate('a', update(1, 100), filled(1)), /no round is collecting updates \(phase: idle\)/);
  t.controller.start();
  const [chosen, other] = [t.starts[0].ids[0], ['a', 'b', 'c'].find((id) => !t.starts[0].ids.includes(id))!];
  assert.throws(() => t.controller.acceptUpdate(chosen, update(2, 100), filled(1)), /round 1 is open \(late update\?\)/);
  assert.throws(() => t.controller.acceptUpdate(other, update(1, 100), filled(1)), /not selected for round 1/);
  assert.throws(() => t.controller.acceptUpdate(chosen, update(1, 101), filled(1)), /claims 101 examples/);
  t.controller.acceptUpdate(chosen, update(1, 100), filled(1));
  assert.throws(() => t.controller.acceptUpdate(chosen, update(1, 100), filled(9)), UpdateRejectedError);
  assert.deepEqual(t.controller.global, filled(0));
});

test('stop abandons the round; late updates are rejected; start begins a fresh run', async () => {
  const t = setup();
  assert.throws(() => t.controller.stop(), RunStateError);
  t.addTab('a');
  t.addTab('b');
  t.controller.start();
  assert.throws(() => t.controller.start(), /already in progress/);
  t.controller.stop();
  assert.equal(t.controller.phase, 'stopped');
  assert.throws(() => t.controller.acceptUpdate('a', update(1, 100), filled(1)), /phase: stopped/);
  t.timers.advance(20_000); // the old deadline must not fire into the stopped run
  assert.equal(t.controller.phase, 'stopped');
  t.controller.start();
  assert.equal(t.controller.phase, 'training');
  assert.equal(t.controller.round, 1);
});

test('stop while evaluating drops that evaluation', async () => {
  const t = setup();
  t.addTab('a');
  t.addTab('b');
  t.controller.start();
  t.controller.acceptUpdate('a', update(1, 100), filled(1));
  t.controller.acceptUpdate('b', update(1, 100), filled(1));
  assert.equal(t.controller.phase, 'evaluating');
  t.controller.stop();
  await flushAsync();
  assert.equal(t.controller.phase, 'stopped');
  assert.equal(t.done.length, 0);
});

test('the run ends at the configured number of rounds', async () => {
  const t = setup({ rounds: 2 });
  t.addTab('a');
  t.addTab('b');
  t.controller.start();
  for (let round = 1; round <= 2; round++) {
    t.controller.acceptUpdate('a', update(round, 100), filled(1));
    t.controller.acceptUpdate('b', update(round, 100), filled(1));
    await flushAsync();
  }
  assert.equal(t.controller.phase, 'done');
  assert.equal(t.done.length, 2);
  assert.deepEqual(t.controller.global, filled(2));
});

test('the run ends early at the target accuracy', async () => {
  const t = setup({ rounds: 10, targetAccuracy: 0.9 }, new ScriptedEvaluator([0.5, 0.93]));
  t.addTab('a');
  t.addTab('b');
  t.controller.start();
  for (let round = 1; round <= 2; round++) {
    t.controller.acceptUpdate('a', update(round, 100), filled(1));
    t.controller.acceptUpdate('b', update(round, 100), filled(1));
    await flushAsync();
  }
  assert.equal(t.controller.phase, 'done');
  assert.match(t.controller.message, /reached target accuracy 0.9 in round 2/);
});

test('a failing evaluation stops the run with the reason', async () => {
  const t = setup({}, new ScriptedEvaluator([], true));
  t.addTab('a');
  t.addTab('b');
  t.controller.start();
  t.controller.acceptUpdate('a', update(1, 100), filled(1));
  t.controller.acceptUpdate('b', update(1, 100), filled(1));
  await flushAsync();
  assert.equal(t.controller.phase, 'stopped');
  assert.match(t.controller.message, /evaluator broke/);
});

test('with DP, deltas are clipped to C and noise of std z·C·w_max/W is added, reproducibly', async () => {
  const run = async () => {
    const t = setup({ clipNorm: 0.5, noiseMultiplier: 1.5 });
    t.addTab('a', 100);
    t.addTab('b', 300);
    t.controller.start();
    t.controller.acceptUpdate('a', update(1, 100), filled(1)); // norm √P ≫ 0.5: clipped
    t.controller.acceptUpdate('b', update(1, 300), filled(-1));
    await flushAsync();
    return t;
  };
  const t = await run();
  const clipped = 0.5 / Math.sqrt(P);
  const expectedMean = (100 * clipped + 300 * -clipped) / 400;
  const global = t.evaluator.evaluated[0];
  let sum = 0;
  let sumSq = 0;
  for (const v of global) {
    sum += v - expectedMean;
    sumSq += (v - expectedMean) ** 2;
  }
  const std = Math.sqrt(sumSq / P - (sum / P) ** 2);
  const expectedStd = (1.5 * 0.5 * 300) / 400;
  assert.equal(t.done[0].noiseStd, expectedStd);
  assert.ok(Math.abs(std / expectedStd - 1) < 0.01, `noise std ${std}, expected ${expectedStd}`);
  assert.ok(t.done[0].epsilon !== null && t.done[0].epsilon > 0);
  assert.deepEqual((await run()).evaluator.evaluated[0], global, 'same seed, same noise');
});

test('illegal transitions are refused', () => {
  const t = setup();
  t.controller.start();
  t.controller.stop();
  assert.throws(() => t.controller.stop(), /nothing to stop/);
  assert.throws(() => (t.controller as unknown as { moveTo(p: Phase): void }).moveTo('evaluating'), /illegal transition stopped → evaluating/);
});

test('reset returns to idle with the initial weights and no history, only between runs', async () => {
  const t = setup({ rounds: 1 });
  t.addTab('a');
  t.addTab('b');
  t.controller.start();
  assert.throws(() => t.controller.reset(), /stop the run before resetting/);
  t.controller.acceptUpdate('a', update(1, 100), filled(1));
  t.controller.acceptUpdate('b', update(1, 100), filled(1));
  await flushAsync();
  assert.equal(t.controller.phase, 'done');
  t.controller.reset();
  assert.equal(t.controller.phase, 'idle');
  assert.deepEqual(t.controller.history, []);
  assert.deepEqual(t.controller.global, filled(0));
});

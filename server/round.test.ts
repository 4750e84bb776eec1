import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL_SPECS, type ModelName } from '../shared/model-spec.ts';
import type { Phase, RoundMetrics, RoundStart } from '../shared/protocol.ts';
import { resolveSettings, type Settings } from '../shared/settings.ts';
import { decodeWeights } from '../shared/wire.ts';
import { Room } from './room.ts';
import { RoundController, RunStateError, UpdateRejectedError } from './round.ts';
import { flushAsync, ManualTimers, ScriptedEvaluator } from './test-support.ts';

const P = MODEL_SPECS.mlp.paramCount;

/** Evaluations that end when the test says so, to see what happens while one is running. */
class DeferredEvaluator extends ScriptedEvaluator {
  private readonly running: ((accuracy: number) => void)[] = [];

  override evaluate(_model: ModelName, weights: Float32Array): Promise<{ accuracy: number; loss: number }> {
    this.evaluated.push(weights.slice());
    return new Promise((resolve) => this.running.push((accuracy) => resolve({ accuracy, loss: 1 - accuracy })));
  }

  /** Ends the oldest running evaluation with this accuracy. */
  finish(accuracy: number): void {
    const next = this.running.shift();
    assert.ok(next, 'no evaluation is running');
    next(accuracy);
  }
}

function setup<E extends ScriptedEvaluator = ScriptedEvaluator>(overrides: Partial<Settings> = {}, evaluator: E = new ScriptedEvaluator() as E) {
  const settings = resolveSettings({ rounds: 3, minClientsPerRound: 2, minClientsToStart: 2, roundDeadlineMs: 10_000, ...overrides });
  const nextIds: string[] = [];
  const bugs: unknown[] = [];
  const room = new Room(() => nextIds.shift()!);
  const timers = new ManualTimers();
  const phases: Phase[] = [];
  const starts: { ids: string[]; start: RoundStart }[] = [];
  const done: RoundMetrics[] = [];
  /** round:start and round:done in the order they went out. */
  const events: string[] = [];
  const controller = new RoundController(
    settings,
    room,
    evaluator,
    {
      sendRoundStart: (ids, start) => {
        starts.push({ ids, start });
        events.push(`start ${start.round}`);
      },
      publishRoundDone: (m) => {
        done.push(m);
        events.push(`done ${m.round}`);
      },
      stateChanged: () => {
        if (phases.at(-1) !== controller.phase) phases.push(controller.phase);
      },
      roundCompleted: () => {},
      log: () => {},
      bug: (error) => bugs.push(error),
    },
    timers,
  );
  const addTab = (id: string, numExamples = 100) => {
    nextIds.push(id);
    const { resumeToken } = room.join(`conn-${id}`, undefined, settings.shards);
    room.markReady(id, { backend: 'wasm', backendReason: 'test', numExamples });
    controller.clientsChanged();
    return resumeToken;
  };
  return { settings, room, timers, phases, starts, done, events, controller, evaluator, addTab, bugs };
}

const filled = (value: number) => new Float32Array(P).fill(value);

/** Tabs a and b each send an all-ones delta of 100 examples in rounds 1..rounds. */
async function answerRounds(t: ReturnType<typeof setup>, rounds: number): Promise<void> {
  for (let round = 1; round <= rounds; round++) {
    t.controller.acceptUpdate('a', update(round, 100), filled(1));
    t.controller.acceptUpdate('b', update(round, 100), filled(1));
    await flushAsync();
  }
}
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
  assert.deepEqual(t.phases, ['idle', 'waiting', 'selecting', 'training', 'aggregating', 'waiting', 'selecting', 'training']);
  assert.equal(t.controller.round, 2);
  assert.equal(t.starts.length, 2);
  assert.deepEqual(decodeWeights(MODEL_SPECS.mlp, t.starts[1].start.weights), filled(2.5));
});

test('the next round starts on the new model before the last one is evaluated; results follow in round order', async () => {
  const t = setup({}, new DeferredEvaluator());
  t.addTab('a', 100);
  t.addTab('b', 300);
  t.controller.start();
  t.controller.acceptUpdate('a', update(1, 100), filled(1));
  t.controller.acceptUpdate('b', update(1, 300), filled(3));
  // at once, without waiting for the evaluation: round 2 is out with the new model
  assert.equal(t.controller.phase, 'training');
  assert.equal(t.controller.round, 2);
  assert.deepEqual(decodeWeights(MODEL_SPECS.mlp, t.starts[1].start.weights), filled(2.5));
  assert.deepEqual(t.evaluator.evaluated, [filled(2.5)]);
  assert.deepEqual(t.events, ['start 1', 'start 2']);

  // round 2 answers before round 1's accuracy is in: it waits, and the model stays round 1's
  t.controller.acceptUpdate('a', update(2, 100), filled(1));
  t.controller.acceptUpdate('b', update(2, 300), filled(1));
  await flushAsync();
  assert.equal(t.controller.phase, 'aggregating');
  assert.deepEqual(t.controller.global, filled(2.5));
  assert.equal(t.done.length, 0);

  t.evaluator.finish(0.5);
  await flushAsync();
  assert.deepEqual(t.events, ['start 1', 'start 2', 'done 1', 'start 3']);
  assert.equal(t.done[0].accuracy, 0.5);
  assert.deepEqual(t.controller.global, filled(3.5));
  assert.deepEqual(t.evaluator.evaluated, [filled(2.5), filled(3.5)]);

  t.evaluator.finish(0.6);
  await flushAsync();
  t.controller.acceptUpdate('a', update(3, 100), filled(1));
  t.controller.acceptUpdate('b', update(3, 300), filled(1));
  await flushAsync();
  assert.equal(t.controller.phase, 'evaluating', 'the last round waits for its evaluation');
  t.evaluator.finish(0.7);
  await flushAsync();
  assert.deepEqual(t.events, ['start 1', 'start 2', 'done 1', 'start 3', 'done 2', 'done 3']);
  assert.deepEqual(t.done.map((m) => [m.round, m.accuracy]), [[1, 0.5], [2, 0.6], [3, 0.7]]);
  assert.equal(t.controller.phase, 'done');
  assert.match(t.controller.message, /done: 3 rounds, accuracy 0.7000/);
});

test('reaching the target while the next round trains ends the run at the round that reached it', async () => {
  const t = setup({ rounds: 10, targetAccuracy: 0.9 }, new DeferredEvaluator());
  t.addTab('a');
  t.addTab('b');
  t.controller.start();
  t.controller.acceptUpdate('a', update(1, 100), filled(1));
  t.controller.acceptUpdate('b', update(1, 100), filled(1));
  t.controller.acceptUpdate('a', update(2, 100), filled(5)); // one tab of round 2 is already back
  assert.equal(t.controller.statusOf('a'), 'submitted');
  t.evaluator.finish(0.95);
  await flushAsync();
  assert.equal(t.controller.phase, 'done');
  assert.equal(t.controller.round, 1);
  assert.match(t.controller.message, /reached target accuracy 0.9 in round 1/);
  assert.deepEqual(t.controller.global, filled(1), 'round 2 never counts');
  assert.deepEqual(t.events, ['start 1', 'start 2', 'done 1']);
  assert.equal(t.controller.statusOf('a'), 'idle');
  assert.equal(t.controller.statusOf('b'), 'idle');
  assert.throws(() => t.controller.acceptUpdate('b', update(2, 100), filled(1)), /no round is collecting updates \(phase: done\)/);
  t.timers.advance(20_000); // round 2's deadline must not fire into the finished run
  assert.equal(t.controller.phase, 'done');
  assert.equal(t.evaluator.evaluated.length, 1);
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
  t.room.disconnect('conn-c');
  assert.equal(t.controller.statusOf('c'), 'dropped');
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
  const t = setup({ rounds: 1 });
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

test('stop while the next round trains drops the background evaluation of the last one', async () => {
  const t = setup({}, new DeferredEvaluator());
  t.addTab('a');
  t.addTab('b');
  t.controller.start();
  t.controller.acceptUpdate('a', update(1, 100), filled(1));
  t.controller.acceptUpdate('b', update(1, 100), filled(1));
  assert.equal(t.controller.phase, 'training');
  t.controller.stop();
  t.evaluator.finish(0.99);
  await flushAsync();
  assert.equal(t.controller.phase, 'stopped');
  assert.equal(t.done.length, 0);
  assert.deepEqual(t.controller.history, []);
});

test('the run ends at the configured number of rounds', async () => {
  const t = setup({ rounds: 2 });
  t.addTab('a');
  t.addTab('b');
  t.controller.start();
  await answerRounds(t, 2);
  assert.equal(t.controller.phase, 'done');
  assert.equal(t.done.length, 2);
  assert.deepEqual(t.controller.global, filled(2));
});

test('the run ends early at the target accuracy', async () => {
  const t = setup({ rounds: 10, targetAccuracy: 0.9 }, new ScriptedEvaluator([0.5, 0.93]));
  t.addTab('a');
  t.addTab('b');
  t.controller.start();
  await answerRounds(t, 2);
  assert.equal(t.controller.phase, 'done');
  assert.match(t.controller.message, /reached target accuracy 0.9 in round 2/);
  assert.equal(t.controller.round, 2);
  assert.equal(t.starts.length, 3, 'round 3 went out before round 2 was evaluated');
  assert.deepEqual(t.controller.global, filled(2), 'and was abandoned');
  assert.deepEqual(t.done.map((m) => m.round), [1, 2]);
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
  assert.equal((t.bugs[0] as Error).message, 'evaluator broke', 'a failing evaluator is our bug: logged with its stack');
  assert.throws(() => t.controller.acceptUpdate('a', update(2, 100), filled(1)), /phase: stopped/);
  assert.equal(t.done.length, 0);
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

test('a tab that reconnects after its update was accepted shows submitted, not idle, and is not sent the round again', () => {
  const t = setup({ minClientsPerRound: 2 }, new DeferredEvaluator());
  const tokenOfA = t.addTab('a');
  t.addTab('b');
  t.controller.start();
  t.controller.acceptUpdate('a', update(1, 100), filled(1));
  t.room.disconnect('conn-a');
  t.controller.clientsChanged();
  assert.equal(t.controller.statusOf('a'), 'submitted');
  const back = t.room.join('conn-a2', tokenOfA, t.settings.shards);
  assert.equal(back.client.clientId, 'a', 'its token brings it back as itself');
  t.room.markReady('a', { backend: 'wasm', backendReason: 'test', numExamples: 100 });
  t.controller.clientsChanged();
  assert.equal(t.controller.statusOf('a'), 'submitted');
  assert.equal(t.controller.roundOwedTo('a'), null);
  assert.equal(t.controller.statusOf('b'), 'training');
  assert.ok(t.controller.roundOwedTo('b'), 'b still owes its update: a reconnect of b gets the round again');
});

test('a checkpointed run resumes at the round in flight, with the same model and history', async () => {
  const t = setup({ rounds: 5 });
  t.addTab('a');
  t.addTab('b');
  t.controller.start();
  await answerRounds(t, 2);
  t.controller.acceptUpdate('a', update(3, 100), filled(9)); // round 3 is in flight when the process dies
  const snapshot = JSON.parse(JSON.stringify(t.controller.snapshot()));
  const global = t.controller.global.slice();
  assert.equal(snapshot.completedRounds, 2);

  const fresh = setup({ rounds: 1 });
  fresh.controller.resume(snapshot, global);
  assert.equal(fresh.controller.phase, 'waiting');
  assert.equal(fresh.controller.round, 3, 'the round in flight is redone');
  assert.equal(fresh.controller.settings.rounds, 5, 'the run keeps its settings');
  assert.deepEqual(fresh.controller.history.map((m) => m.round), [1, 2]);
  fresh.addTab('a');
  fresh.addTab('b');
  assert.equal(fresh.starts[0].start.round, 3);
  assert.deepEqual(decodeWeights(MODEL_SPECS.mlp, fresh.starts[0].start.weights), global, 'the model it goes on from is the checkpointed one');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODEL_SPECS, type ModelName } from '../shared/model-spec.ts';
import type { Settings } from '../shared/settings.ts';
import { decodeWeights } from '../shared/wire.ts';
import { RunStateError } from './coordinator.ts';
import { UpdateRejectedError } from './attempt.ts';
import { isClientFault } from './client-fault.ts';
import { RunTransitionError } from './run.ts';
import { RunCheckpoints } from './run-checkpoints.ts';
import { coordinatorFixture, coordinatorOnDisk, type CoordinatorFixture } from '../harness/coordinator-fixture.ts';
import { flushAsync } from '../harness/manual-timers.ts';
import { ScriptedEvaluator } from '../harness/scripted-evaluator.ts';

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

const BASE: Partial<Settings> = { rounds: 3, minClientsPerRound: 2, minClientsToStart: 2, roundDeadlineMs: 10_000 };

function setup<E extends ScriptedEvaluator = ScriptedEvaluator>(overrides: Partial<Settings> = {}, evaluator: E = new ScriptedEvaluator() as E) {
  return coordinatorFixture({ ...BASE, ...overrides }, evaluator);
}

const filled = (value: number) => new Float32Array(P).fill(value);

/** Tabs a and b each send an all-ones delta of 100 examples in rounds 1..rounds. */
async function answerRounds(t: CoordinatorFixture, rounds: number, { value = 1, first = 1 } = {}): Promise<void> {
  for (let round = first; round < first + rounds; round++) {
    t.send('a', update(round, 100), filled(value));
    t.send('b', update(round, 100), filled(value));
    await t.settle();
  }
}
const update = (round: number, numExamples: number) => ({ round, numExamples, loss: 0.5 });

test('waits for enough ready tabs, then selects them and sends the global weights', () => {
  const t = setup();
  t.coordinator.start();
  t.addTab('a');
  assert.equal(t.coordinator.phase, 'waiting');
  assert.match(t.coordinator.runState().message, /waiting for 1 more ready tab/);
  t.addTab('b');
  assert.deepEqual(t.phases, ['waiting', 'training']);
  assert.equal(t.starts.length, 1);
  assert.deepEqual([...t.starts[0].ids].sort(), ['a', 'b']);
  assert.equal(t.starts[0].start.round, 1);
  assert.deepEqual(decodeWeights(MODEL_SPECS.mlp, t.starts[0].start.weights), filled(0));
});

test('when every selected tab answers, the global model moves by the example-weighted mean delta', async () => {
  const t = setup();
  t.addTab('a', 100);
  t.addTab('b', 300);
  t.coordinator.start();
  t.send('a', update(1, 100), filled(1));
  assert.equal(t.coordinator.phase, 'training');
  t.send('b', update(1, 300), filled(3));
  await flushAsync();
  // (100·1 + 300·3) / 400 = 2.5
  assert.deepEqual(t.evaluator.evaluated[0], filled(2.5));
  assert.equal(t.done.length, 1);
  assert.equal(t.done[0].participants, 2);
  assert.equal(t.done[0].totalWeight, 400);
  assert.deepEqual(t.phases, ['idle', 'waiting', 'training', 'aggregating', 'waiting', 'training']);
  assert.equal(t.coordinator.runState().round, 2);
  assert.equal(t.starts.length, 2);
  assert.deepEqual(decodeWeights(MODEL_SPECS.mlp, t.starts[1].start.weights), filled(2.5));
});

test('the next round starts on the new model before the last one is evaluated; results follow in round order', async () => {
  const t = setup({}, new DeferredEvaluator());
  t.addTab('a', 100);
  t.addTab('b', 300);
  t.coordinator.start();
  t.send('a', update(1, 100), filled(1));
  t.send('b', update(1, 300), filled(3));
  await flushAsync();
  // without waiting for the evaluation: round 2 is out with the new model
  assert.equal(t.coordinator.phase, 'training');
  assert.equal(t.coordinator.runState().round, 2);
  assert.deepEqual(decodeWeights(MODEL_SPECS.mlp, t.starts[1].start.weights), filled(2.5));
  assert.deepEqual(t.evaluator.evaluated, [filled(2.5)]);
  assert.deepEqual(t.events, ['start 1', 'start 2']);

  // round 2 answers before round 1's accuracy is in: it waits, and the model stays round 1's
  t.send('a', update(2, 100), filled(1));
  t.send('b', update(2, 300), filled(1));
  await flushAsync();
  assert.equal(t.coordinator.phase, 'aggregating');
  assert.deepEqual(t.coordinator.global, filled(2.5));
  assert.equal(t.done.length, 0);

  t.evaluator.finish(0.5);
  await flushAsync();
  assert.deepEqual(t.events, ['start 1', 'start 2', 'done 1', 'start 3']);
  assert.equal(t.done[0].accuracy, 0.5);
  assert.deepEqual(t.coordinator.global, filled(3.5));
  assert.deepEqual(t.evaluator.evaluated, [filled(2.5), filled(3.5)]);

  t.evaluator.finish(0.6);
  await flushAsync();
  t.send('a', update(3, 100), filled(1));
  t.send('b', update(3, 300), filled(1));
  await flushAsync();
  assert.equal(t.coordinator.phase, 'evaluating', 'the last round waits for its evaluation');
  t.evaluator.finish(0.7);
  await flushAsync();
  assert.deepEqual(t.events, ['start 1', 'start 2', 'done 1', 'start 3', 'done 2', 'done 3']);
  assert.deepEqual(t.done.map((m) => [m.round, m.accuracy]), [[1, 0.5], [2, 0.6], [3, 0.7]]);
  assert.equal(t.coordinator.phase, 'done');
  assert.match(t.coordinator.runState().message, /done: 3 rounds, accuracy 0.7000/);
});

test('reaching the target while the next round trains ends the run at the round that reached it', async () => {
  const t = setup({ rounds: 10, targetAccuracy: 0.9 }, new DeferredEvaluator());
  t.addTab('a');
  t.addTab('b');
  t.coordinator.start();
  t.send('a', update(1, 100), filled(1));
  t.send('b', update(1, 100), filled(1));
  await flushAsync();
  t.send('a', update(2, 100), filled(5)); // one tab of round 2 is already back
  assert.equal(t.status('a'), 'submitted');
  t.evaluator.finish(0.95);
  await flushAsync();
  assert.equal(t.coordinator.phase, 'done');
  assert.equal(t.coordinator.runState().round, 1);
  assert.match(t.coordinator.runState().message, /reached target accuracy 0.9 in round 1/);
  assert.deepEqual(t.coordinator.global, filled(1), 'round 2 never counts');
  assert.deepEqual(t.events, ['start 1', 'start 2', 'done 1']);
  assert.equal(t.status('a'), 'idle');
  assert.equal(t.status('b'), 'idle');
  assert.throws(() => t.send('b', update(2, 100), filled(1)), /no round is collecting updates \(phase: done\)/);
  t.timers.advance(20_000); // round 2's deadline must not fire into the finished run
  assert.equal(t.coordinator.phase, 'done');
  assert.equal(t.evaluator.evaluated.length, 1);
});

test('the weight cap limits how much one tab counts', async () => {
  const t = setup({ clientWeightCap: 100 });
  t.addTab('a', 100);
  t.addTab('b', 300);
  t.coordinator.start();
  t.send('a', update(1, 100), filled(1));
  t.send('b', update(1, 300), filled(3));
  await flushAsync();
  assert.deepEqual(t.evaluator.evaluated[0], filled(2)); // (100·1 + 100·3) / 200
});

test('at the deadline the round aggregates what arrived if the minimum arrived', async () => {
  const t = setup({ minClientsPerRound: 1 });
  t.addTab('a', 100);
  t.addTab('b', 100);
  t.coordinator.start();
  t.send('a', update(1, 100), filled(4));
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
  t.coordinator.start();
  t.send('a', update(1, 100), filled(7));
  t.timers.advance(9_999);
  assert.equal(t.coordinator.phase, 'training');
  t.timers.advance(1);
  await flushAsync();
  assert.equal(t.evaluator.evaluated.length, 0);
  assert.equal(t.coordinator.runState().round, 1);
  assert.equal(t.coordinator.runState().attempt, 2);
  assert.equal(t.coordinator.phase, 'training');
  assert.deepEqual(decodeWeights(MODEL_SPECS.mlp, t.starts[1].start.weights), filled(0));
  assert.deepEqual(t.coordinator.global, filled(0));
});

test('a tab leaving mid-round does not stall it: the round closes with the others', async () => {
  const t = setup({ minClientsPerRound: 1, minClientsToStart: 3 });
  t.addTab('a');
  t.addTab('b');
  t.addTab('c');
  t.coordinator.start();
  t.send('a', update(1, 100), filled(1));
  t.send('b', update(1, 100), filled(2));
  t.leave('c');
  assert.equal(t.status('c'), 'dropped');
  await flushAsync();
  assert.deepEqual(t.evaluator.evaluated[0], filled(1.5));
  assert.deepEqual(t.done[0].dropped, ['c']);
  assert.deepEqual(t.done[0].late, []);
  assert.equal(t.coordinator.runState().round, 2);
});

test('updates that do not belong are rejected and leave the model untouched', async () => {
  const t = setup({ maxClientsPerRound: 2, minClientsToStart: 3 });
  t.addTab('a');
  t.addTab('b');
  t.addTab('c');
  assert.throws(() => t.send('a', update(1, 100), filled(1)), /no round is collecting updates \(phase: idle\)/);
  t.coordinator.start();
  const [chosen, other] = [t.starts[0].ids[0], ['a', 'b', 'c'].find((id) => !t.starts[0].ids.includes(id))!];
  assert.throws(() => t.send(chosen, update(2, 100), filled(1)), /round 1 is open \(late update\?\)/);
  assert.throws(() => t.send(other, update(1, 100), filled(1)), /not selected for round 1/);
  assert.throws(() => t.send(chosen, update(1, 101), filled(1)), /claims 101 examples/);
  t.send(chosen, update(1, 100), filled(1));
  assert.throws(() => t.send(chosen, update(1, 100), filled(9)), UpdateRejectedError);
  assert.deepEqual(t.coordinator.global, filled(0));
});

test('stop abandons the round; late updates are rejected; start begins a fresh run', async () => {
  const t = setup();
  assert.throws(() => t.coordinator.stop(), RunStateError);
  t.addTab('a');
  t.addTab('b');
  t.coordinator.start();
  assert.throws(() => t.coordinator.start(), /already in progress/);
  t.coordinator.stop();
  assert.equal(t.coordinator.phase, 'stopped');
  assert.throws(() => t.send('a', update(1, 100), filled(1)), /phase: stopped/);
  t.timers.advance(20_000); // the old deadline must not fire into the stopped run
  assert.equal(t.coordinator.phase, 'stopped');
  t.coordinator.start();
  assert.equal(t.coordinator.phase, 'training');
  assert.equal(t.coordinator.runState().round, 1);
});

/** Tabs a and b answer round 1 while its evaluation hangs; then a stop comes, and the evaluation ends after it. */
async function stopWhileRound1IsEvaluated(rounds: number, phaseAtStop: string) {
  const t = setup({ rounds }, new DeferredEvaluator());
  t.addTab('a');
  t.addTab('b');
  t.coordinator.start();
  t.send('a', update(1, 100), filled(1));
  t.send('b', update(1, 100), filled(1));
  await flushAsync();
  assert.equal(t.coordinator.phase, phaseAtStop);
  t.coordinator.stop();
  t.evaluator.finish(0.99);
  await flushAsync();
  assert.equal(t.coordinator.phase, 'stopped');
  assert.equal(t.done.length, 0);
  assert.deepEqual(t.coordinator.history, []);
}

test('stop while evaluating drops that evaluation', () => stopWhileRound1IsEvaluated(1, 'evaluating'));

test('stop while the next round trains drops the background evaluation of the last one', () => stopWhileRound1IsEvaluated(3, 'training'));

test('the run ends at the configured number of rounds', async () => {
  const t = setup({ rounds: 2 });
  t.addTab('a');
  t.addTab('b');
  t.coordinator.start();
  await answerRounds(t, 2);
  assert.equal(t.coordinator.phase, 'done');
  assert.equal(t.done.length, 2);
  assert.deepEqual(t.coordinator.global, filled(2));
});

test('the run ends early at the target accuracy', async () => {
  const t = setup({ rounds: 10, targetAccuracy: 0.9 }, new ScriptedEvaluator([0.5, 0.93]));
  t.addTab('a');
  t.addTab('b');
  t.coordinator.start();
  await answerRounds(t, 2);
  assert.equal(t.coordinator.phase, 'done');
  assert.match(t.coordinator.runState().message, /reached target accuracy 0.9 in round 2/);
  assert.equal(t.coordinator.runState().round, 2);
  assert.equal(t.starts.length, 3, 'round 3 went out before round 2 was evaluated');
  assert.deepEqual(t.coordinator.global, filled(2), 'and was abandoned');
  assert.deepEqual(t.done.map((m) => m.round), [1, 2]);
});

test('a failing evaluation stops the run with the reason', async () => {
  const t = setup({}, new ScriptedEvaluator([], true));
  t.addTab('a');
  t.addTab('b');
  t.coordinator.start();
  t.send('a', update(1, 100), filled(1));
  t.send('b', update(1, 100), filled(1));
  await flushAsync();
  assert.equal(t.coordinator.phase, 'stopped');
  assert.match(t.coordinator.runState().message, /evaluator broke/);
  assert.equal((t.bugs[0] as Error).message, 'evaluator broke', 'a failing evaluator is our bug: logged with its stack');
  assert.throws(() => t.send('a', update(2, 100), filled(1)), /phase: stopped/);
  assert.equal(t.done.length, 0);
});

/** Measured mean and std of global − expectedMean over all parameters. */
function noiseAround(global: Float32Array, expectedMean: number): { mean: number; std: number } {
  let sum = 0;
  let sumSq = 0;
  for (const v of global) {
    sum += v - expectedMean;
    sumSq += (v - expectedMean) ** 2;
  }
  return { mean: sum / global.length, std: Math.sqrt(sumSq / global.length - (sum / global.length) ** 2) };
}

test('DP-FedAvg: clipped deltas, weights ≤ 1, the fixed denominator W = q·Σw over the population, noise z·C on the sum', async () => {
  // Weight cap 200: a (100 examples) weighs 0.5, b and c (300, 200) weigh 1. The population is all
  // three (Σw = 2.5, q = 1, so W = 2.5); c is sampled but leaves, and W stays 2.5: the denominator
  // does not depend on who answered.
  const t = setup({ clipNorm: 0.5, noiseMultiplier: 1.5, clientWeightCap: 200, minClientsToStart: 3 });
  t.addTab('a', 100);
  t.addTab('b', 300);
  t.addTab('c', 200);
  t.coordinator.start();
  assert.deepEqual(t.starts[0].ids.sort(), ['a', 'b', 'c'], 'q = 1: everyone is sampled');
  t.send('a', update(1, 100), filled(1)); // norm √P ≫ 0.5: clipped to 0.5
  t.send('b', update(1, 300), filled(-1));
  t.leave('c');
  await flushAsync();
  const clipped = 0.5 / Math.sqrt(P);
  const expectedMean = (0.5 * clipped + 1 * -clipped) / 2.5; // −0.2 · clipped, not (0.5c − c)/1.5
  const m = t.done[0];
  const expectedStd = (1.5 * 0.5) / 2.5; // z·C on the sum, divided by W
  assert.ok(Math.abs(m.noiseStd / expectedStd - 1) < 1e-12, `reported noise std ${m.noiseStd}`);
  const { mean, std } = noiseAround(t.evaluator.evaluated[0], expectedMean);
  assert.ok(Math.abs(std / expectedStd - 1) < 0.01, `noise std ${std}, expected ${expectedStd}`);
  assert.ok(Math.abs(mean) < (5 * expectedStd) / Math.sqrt(P), `the mean is the fixed-denominator estimate (off by ${mean})`);
  assert.equal(m.privacy?.expectedWeight, 2.5);
  assert.equal(m.privacy?.noiseStdOnSum, 0.75);
  assert.equal(m.privacy?.samplingRate, 1);
  assert.equal(m.privacy?.roundsSpent, 1);
  assert.ok(m.privacy!.epsilon > 0 && Number.isFinite(m.privacy!.epsilon));
  assert.equal(t.coordinator.runState().privacyBudget?.epsilon, m.privacy!.epsilon);
});

test('DP noise comes from a secure source: two identical runs draw different noise', async () => {
  const run = async () => {
    const t = setup({ clipNorm: 0.5, noiseMultiplier: 1 });
    t.addTab('a');
    t.addTab('b');
    t.coordinator.start();
    t.send('a', update(1, 100), filled(1));
    t.send('b', update(1, 100), filled(1));
    await flushAsync();
    return t.evaluator.evaluated[0];
  };
  const [first, second] = [await run(), await run()];
  let same = 0;
  for (let i = 0; i < P; i++) if (first[i] === second[i]) same++;
  assert.ok(same < P / 1000, `${same} of ${P} values identical: the noise was predictable from the settings`);
});

test('DP: Poisson sampling takes each ready tab with probability q, and a round with few answers is not retried', async () => {
  const t = setup({ clipNorm: 1, noiseMultiplier: 1, samplingRate: 0.3, rounds: 40, minClientsPerRound: 5, minClientsToStart: 10 });
  const ids = 'abcdefghij'.split('');
  for (const id of ids) t.addTab(id);
  t.coordinator.start();
  let sampled = 0;
  const answered = new Set<number>();
  for (let step = 0; step < 200 && t.coordinator.running; step++) {
    const { ids: selected, start } = t.starts.at(-1)!;
    if (!answered.has(start.round)) {
      assert.equal(start.attempt, 1, 'no round is retried for too few answers');
      answered.add(start.round);
      sampled += selected.length; // a round that sampled no one closes by itself, with noise only
      for (const id of selected) t.send(id, update(start.round, 100), filled(0.01));
    }
    await flushAsync();
  }
  assert.deepEqual(
    t.starts.map((s) => s.start.round),
    Array.from({ length: 40 }, (_, i) => i + 1),
    'every round opened once',
  );
  await flushAsync();
  assert.equal(t.coordinator.phase, 'done', t.coordinator.runState().message);
  // 400 Bernoulli(0.3) draws: mean 120, std √(400·0.3·0.7) ≈ 9.2; 5 std either side
  assert.ok(Math.abs(sampled - 120) < 46, `sampled ${sampled} of 400 tab-rounds, expected about 120`);
  assert.equal(t.coordinator.history.at(-1)?.privacy?.roundsSpent, 40);
  assert.equal(t.coordinator.history.at(-1)?.privacy?.samplingRate, 0.3);
});

test('the budget gate ends the run before a round would take ε past the target, and refuses a start it cannot afford', async () => {
  const t = setup({ clipNorm: 1, noiseMultiplier: 1, rounds: 50, targetEpsilon: 8 });
  t.addTab('a');
  t.addTab('b');
  t.coordinator.start();
  let round = 1;
  while (t.coordinator.running && round <= 50) {
    t.send('a', update(round, 100), filled(0.01));
    t.send('b', update(round, 100), filled(0.01));
    await flushAsync();
    round++;
  }
  assert.equal(t.coordinator.phase, 'done');
  const history = t.coordinator.history;
  assert.ok(history.length > 1 && history.length < 50, `${history.length} rounds ran`);
  const spent = history.map((m) => m.privacy!.epsilon);
  for (let i = 1; i < spent.length; i++) assert.ok(spent[i] > spent[i - 1], 'ε grows every round');
  assert.ok(spent.at(-1)! <= 8, `ε ${spent.at(-1)} is within the budget`);
  assert.match(t.coordinator.runState().message, /privacy budget reached: another round would take the population's ε from [\d.]+ to [\d.]+, over the target 8/);
  assert.equal(t.coordinator.runState().privacyBudget?.roundsSpent, history.length);

  const tiny = setup({ clipNorm: 1, noiseMultiplier: 0.5, targetEpsilon: 0.01 });
  assert.throws(() => tiny.coordinator.start(), /cannot start: privacy budget reached: the first round would take the population's ε from 0\.000 to/);
});

test('the privacy budget and the clip norm survive a restart: the resumed run keeps spending from where it was', async (context) => {
  const dir = await mkdtemp(join(tmpdir(), 'flock-run-'));
  context.after(() => rm(dir, { recursive: true, force: true, maxRetries: 10 }));
  const settings = { ...BASE, clipNorm: 1, noiseMultiplier: 1.2, rounds: 4, adaptiveClipping: true, clipCountNoise: 1 };
  const t = await coordinatorOnDisk(dir, settings);
  const tokens = [t.addTab('a'), t.addTab('b')];
  t.coordinator.start();
  await answerRounds(t, 2);
  await t.coordinator.saveCheckpoint();
  const spentBefore = t.coordinator.runState().privacyBudget!;
  assert.equal(spentBefore.roundsSpent, 2);

  const resumed = await coordinatorOnDisk(dir, settings); // the process restarted on the same data directory
  await resumed.coordinator.resume();
  assert.deepEqual(resumed.coordinator.runState().privacyBudget, spentBefore);
  resumed.rejoin('a', tokens[0]);
  resumed.rejoin('b', tokens[1]);
  await answerRounds(resumed, 1, { first: 3 });
  assert.equal(resumed.coordinator.history.at(-1)?.privacy?.roundsSpent, 3);
  assert.equal(resumed.coordinator.history.at(-1)?.clipNorm, spentBefore.clipNorm, 'round 3 clips to the C round 2 left');
});

test('adaptive clipping moves C geometrically towards the target quantile of the update norms', async () => {
  // Updates of norm √P · 0.01 ≈ 4.46 against C = 100: all under C, so b = 1 and C shrinks by
  // exp(−η(1 − γ)) = exp(−0.2 · 0.5) per round until it passes below 4.46, then oscillates around it.
  const t = setup({ clipNorm: 100, rounds: 60, adaptiveClipping: true, clipQuantile: 0.5, clipLearningRate: 0.2 });
  t.addTab('a');
  t.addTab('b');
  t.coordinator.start();
  await answerRounds(t, 60, { value: 0.01 });
  const norm = Math.sqrt(P) * 0.01;
  const cs = t.coordinator.history.map((m) => m.clipNorm!);
  assert.equal(cs[0], 100);
  // While every update is under C: C_{t+1} = C_t · e^(−0.1), exactly
  assert.ok(Math.abs(cs[1] / cs[0] - Math.exp(-0.1)) < 1e-12, `C went ${cs[0]} → ${cs[1]}`);
  assert.equal(t.coordinator.history[0].unclippedFraction, 1);
  // 100 → 4.46 takes ln(100 / 4.46) / 0.1 ≈ 31 rounds; after that C stays within one step of the norm
  const settled = cs.slice(40);
  for (const c of settled) assert.ok(c > norm * Math.exp(-0.11) && c < norm * Math.exp(0.11), `C ${c} strayed from the norm ${norm}`);
  assert.equal(t.coordinator.history[0].privacy, null, 'no central noise: no budget record');
});

test('a request in the wrong phase is the caller\'s fault; an illegal transition is our bug, never blamed on a tab', () => {
  const t = setup();
  t.coordinator.start();
  t.coordinator.stop();
  assert.throws(() => t.coordinator.stop(), (e: unknown) => e instanceof RunStateError && isClientFault(e) && /nothing to stop/.test(e.message));
  const run = t.coordinator.run as unknown as { moveTo(p: { name: string; round: number; attempt: number }): void };
  assert.throws(
    () => run.moveTo({ name: 'evaluating', round: 1, attempt: 1 }),
    (e: unknown) => e instanceof RunTransitionError && !isClientFault(e) && /illegal transition stopped → evaluating/.test((e as Error).message),
  );
});

test('reset returns to idle with the initial weights and no history, only between runs', async () => {
  const t = setup({ rounds: 1 });
  t.addTab('a');
  t.addTab('b');
  t.coordinator.start();
  assert.throws(() => t.coordinator.reset(), /stop the run before resetting/);
  t.send('a', update(1, 100), filled(1));
  t.send('b', update(1, 100), filled(1));
  await flushAsync();
  assert.equal(t.coordinator.phase, 'done');
  t.coordinator.reset();
  assert.equal(t.coordinator.phase, 'idle');
  assert.deepEqual(t.coordinator.history, []);
  assert.deepEqual(t.coordinator.global, filled(0));
});

test('a tab that reconnects after its update was accepted shows submitted, not idle, and is not sent the round again', () => {
  const t = setup({ minClientsPerRound: 2 }, new DeferredEvaluator());
  const tokenOfA = t.addTab('a');
  t.addTab('b');
  t.coordinator.start();
  t.send('a', update(1, 100), filled(1));
  t.leave('a');
  assert.equal(t.status('a'), 'submitted');
  const back = t.rejoin('a', tokenOfA);
  assert.equal(back.clientId, 'a', 'its token brings it back as itself');
  assert.equal(t.starts.length, 1, 'no round start is resent to a tab that answered');
  assert.equal(t.status('a'), 'submitted');
  assert.equal(t.coordinator.run!.roundOwedTo('a'), null);
  assert.equal(t.status('b'), 'training');
  assert.ok(t.coordinator.run!.roundOwedTo('b'), 'b still owes its update: a reconnect of b gets the round again');
});

test('a checkpointed run resumes at the round in flight, with the same model and history', async (context) => {
  const dir = await mkdtemp(join(tmpdir(), 'flock-run-'));
  context.after(() => rm(dir, { recursive: true, force: true, maxRetries: 10 }));
  const t = await coordinatorOnDisk(dir, { ...BASE, rounds: 5 });
  const tokens = [t.addTab('a'), t.addTab('b')];
  t.coordinator.start();
  await answerRounds(t, 2);
  t.send('a', update(3, 100), filled(9)); // round 3 is in flight when the process dies
  await t.coordinator.saveCheckpoint();
  const global = t.coordinator.global.slice();

  const fresh = await coordinatorOnDisk(dir, { rounds: 1 });
  assert.match(await fresh.coordinator.resume(), /2 rounds done, phase waiting/);
  assert.equal(fresh.coordinator.runState().round, 3, 'the round in flight is redone');
  assert.equal(fresh.coordinator.shownSettings.rounds, 5, 'the run keeps its settings');
  assert.deepEqual(fresh.coordinator.history.map((m) => m.round), [1, 2]);
  fresh.rejoin('a', tokens[0]);
  fresh.rejoin('b', tokens[1]);
  assert.equal(fresh.starts[0].start.round, 3);
  assert.deepEqual(decodeWeights(MODEL_SPECS.mlp, fresh.starts[0].start.weights), global, 'the model it goes on from is the checkpointed one');
});

/** Every value within float32 rounding of `expected`. */
function assertAll(values: Float32Array, expected: number, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!(Math.abs(values[i] - expected) <= 1e-6 * Math.abs(expected))) assert.fail(`${what}: value ${i} is ${values[i]}, expected ${expected}`);
  }
}
const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

test('fedadam: its m and v carry over from round to round; a new start, a reset and new settings begin from zero', async () => {
  const settings = { serverOptimizer: 'fedadam', serverLearningRate: 0.01, rounds: 3 } as const;
  const t = setup(settings);
  t.addTab('a');
  t.addTab('b');
  t.coordinator.start();
  await answerRounds(t, 2); // Δ = 1 everywhere, both rounds; β₁ = 0.9, β₂ = 0.99, τ = 0.001
  // round 1: m = 0.1, v = 0.01, step = 0.01·0.1 / (0.1 + 0.001) = 0.00990099
  assertAll(t.evaluator.evaluated[0], 0.00990099, 'after round 1');
  // round 2: m = 0.9·0.1 + 0.1 = 0.19, v = 0.99·0.01 + 0.01 = 0.0199, step = 0.01·0.19 / (0.1410674 + 0.001) = 0.01337393;
  // without the state it would step 0.00990099 again
  assertAll(t.evaluator.evaluated[1], 0.00990099 + 0.01337393, 'after round 2');
  const firstRound = t.evaluator.evaluated[0];

  const assertCleared = (what: string) => {
    for (const values of Object.values(t.coordinator.run!.snapshot().serverOptimizer)) assertAll(values, 0, `m and v after ${what}`);
  };
  const restarts: [string, () => void][] = [
    ['a new start', () => {}],
    ['a reset', () => void t.coordinator.reset()],
    ['new settings', () => void t.coordinator.changeSettings({ serverLearningRate: 0.01 })],
  ];
  for (const [what, restart] of restarts) {
    t.coordinator.stop();
    restart();
    t.coordinator.start();
    assertCleared(what);
    await answerRounds(t, 1);
    assert.ok(sameBits(t.evaluator.evaluated.at(-1)!, firstRound), `after ${what}, round 1 takes the first step of a fresh optimizer`);
  }
});

test('the server optimizer steps on the strategy\'s aggregate: FedAvgM on the median', async () => {
  const t = setup({ aggregation: 'median', serverOptimizer: 'fedavgm', serverLearningRate: 0.5, serverMomentum: 0.9 });
  t.addTab('a');
  t.addTab('b');
  t.addTab('c');
  t.coordinator.start();
  for (const round of [1, 2]) {
    t.send('a', update(round, 100), filled(1));
    t.send('b', update(round, 100), filled(2));
    t.send('c', update(round, 100), filled(10)); // the outlier the median ignores
    await flushAsync();
  }
  // median Δ = 2 both rounds. Round 1: m = 2, x = 0.5·2 = 1. Round 2: m = 0.9·2 + 2 = 3.8, x = 1 + 0.5·3.8 = 2.9
  assertAll(t.evaluator.evaluated[0], 1, 'after round 1');
  assertAll(t.evaluator.evaluated[1], 2.9, 'after round 2');
});

test('a checkpointed fedadam run resumes with the same m and v: round 3 ends bit for bit as without the restart', async (context) => {
  const dir = await mkdtemp(join(tmpdir(), 'flock-run-'));
  context.after(() => rm(dir, { recursive: true, force: true, maxRetries: 10 }));
  const settings = { ...BASE, serverOptimizer: 'fedadam', serverLearningRate: 0.01, rounds: 5 } as const;
  const deltas = [1, -0.5, 2]; // rounds 1, 2, 3: unequal, so m and v are not the same every round

  const uninterrupted = setup(settings);
  uninterrupted.addTab('a');
  uninterrupted.addTab('b');
  uninterrupted.coordinator.start();
  for (const [i, value] of deltas.entries()) await answerRounds(uninterrupted, 1, { value, first: i + 1 });
  const afterRound3 = uninterrupted.evaluator.evaluated[2];

  const t = await coordinatorOnDisk(dir, settings);
  const tokens = [t.addTab('a'), t.addTab('b')];
  t.coordinator.start();
  await answerRounds(t, 1, { value: deltas[0] });
  await answerRounds(t, 1, { value: deltas[1], first: 2 });
  await t.coordinator.saveCheckpoint(); // the process dies in round 3
  const copy = `${dir}-copy`;
  await cp(dir, copy, { recursive: true });
  context.after(() => rm(copy, { recursive: true, force: true, maxRetries: 10 }));

  const resumeAndRunRound3 = async (from: string) => {
    const resumed = await coordinatorOnDisk(from, { rounds: 1 });
    await resumed.coordinator.resume();
    resumed.rejoin('a', tokens[0]);
    resumed.rejoin('b', tokens[1]);
    await answerRounds(resumed, 1, { value: deltas[2], first: 3 });
    return resumed.evaluator.evaluated[0];
  };
  assert.ok(sameBits(await resumeAndRunRound3(dir), afterRound3), 'resumed with its state, round 3 gives the same model');
  // The same checkpoint with m and v lost would give another model: the test can tell them apart.
  const checkpoints = new RunCheckpoints(copy, () => {});
  const saved = (await checkpoints.load())!;
  assert.deepEqual(Object.keys(saved.run!.serverOptimizer).sort(), ['m', 'v']);
  for (const values of Object.values(saved.run!.serverOptimizer)) (values as Float32Array).fill(0);
  await checkpoints.save(saved);
  assert.ok(!sameBits(await resumeAndRunRound3(copy), afterRound3), 'a resume that lost m and v would give another model');
});

test('before Start the state warns when DP cannot work at the room\'s size, and stops warning once the run is on', () => {
  const t = setup({ clipNorm: 1, noiseMultiplier: 1.1, minClientsToStart: 3 });
  for (const id of ['a', 'b', 'c']) t.addTab(id);
  assert.match(t.coordinator.runState().privacyWarning ?? '', /with 3 tabs .* the model will stay near chance/);
  t.coordinator.start();
  assert.equal(t.coordinator.runState().privacyWarning, null);
  assert.equal(setup().coordinator.runState().privacyWarning, null, 'without DP: nothing to say');
});

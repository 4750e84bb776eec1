import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODEL_SPECS } from '../shared/model-spec.ts';
import type { PastRun } from '../shared/protocol/records.ts';
import { labelRuns } from '../shared/run-label.ts';
import { DEFAULT_SETTINGS, type Settings } from '../shared/settings.ts';
import { CheckpointStore, UnusableCheckpointsError } from './checkpoint-store.ts';
import { PAST_RUNS_KEPT, parsePastRuns, PastRunsError } from './past-runs.ts';
import { RunCheckpoints } from './run-checkpoints.ts';
import { coordinatorFixture, type FixtureOptions } from '../harness/coordinator-fixture.ts';
import { ManualTimers } from '../harness/manual-timers.ts';
import { ScriptedEvaluator } from '../harness/scripted-evaluator.ts';

const P = MODEL_SPECS.mlp.paramCount;

/** A coordinator with tabs a and b ready; each round takes 5 s on its clock. */
function setup(overrides: Partial<Settings>, accuracies: number[] = [], options: FixtureOptions = {}) {
  const t = coordinatorFixture({ rounds: 2, targetAccuracy: 1, minClientsPerRound: 2, minClientsToStart: 2, ...overrides }, new ScriptedEvaluator(accuracies), options);
  const tokens = ['a', 'b'].map((id) => t.addTab(id));
  /** Starts a run and answers `rounds` of its rounds (all of them by default). */
  const run = async (rounds = t.coordinator.settings.rounds) => {
    t.coordinator.start();
    await answer(1, rounds);
  };
  const answer = async (first: number, last: number) => {
    for (let round = first; round <= last; round++) {
      t.timers.advance(5_000);
      for (const id of ['a', 'b']) t.send(id, { round, numExamples: 100, loss: 0.5 }, new Float32Array(P).fill(0.01));
      await t.settle();
    }
  };
  return { ...t, tokens, run, answer };
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flock-past-runs-'));
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 10 }));
  return dir;
}

test('two runs on different splits: the state lists both with their accuracy per round, and their labels name the split', async () => {
  const t = setup({}, [0.5, 0.75, 0.25, 0.625]); // loss = 1 − accuracy, all exact in binary
  assert.deepEqual(t.coordinator.runState().pastRuns, [], 'nothing finished yet');
  await t.run();
  assert.equal(t.coordinator.phase, 'done');
  t.coordinator.changeSettings({ partition: 'dirichlet', dirichletAlpha: 0.1 });
  await t.run();

  const [iid, dirichlet] = t.coordinator.runState().pastRuns;
  assert.deepEqual(
    [iid, dirichlet].map((r) => ({ run: r.run, ended: r.ended, rounds: r.rounds })),
    [
      { run: 1, ended: 'done', rounds: [{ round: 1, accuracy: 0.5, loss: 0.5 }, { round: 2, accuracy: 0.75, loss: 0.25 }] },
      { run: 2, ended: 'done', rounds: [{ round: 1, accuracy: 0.25, loss: 0.75 }, { round: 2, accuracy: 0.625, loss: 0.375 }] },
    ],
  );
  assert.equal(iid.message, 'done: 2 rounds, accuracy 0.7500');
  // ManualTimers starts at 1,000 ms; each run is two rounds of 5 s.
  assert.deepEqual([iid.startedAt, iid.endedAt, dirichlet.startedAt, dirichlet.endedAt], [1_000, 11_000, 11_000, 21_000]);
  assert.equal(iid.settings.partition, 'iid');
  assert.deepEqual(labelRuns(t.coordinator.runState().pastRuns), ['IID', 'Dirichlet α=0.1']);
  assert.ok(!('answered' in iid.rounds[0]), 'compact points, not whole RoundMetrics');
});

test('a stopped run is kept with the rounds it finished; the list outlives reset and start, and keeps the newest 12', async (context) => {
  const dir = await tempDir(context);
  const checkpoints = new RunCheckpoints(dir, () => {});
  const t = setup({ rounds: 3 }, [], { checkpoints });
  await t.run(1);
  t.coordinator.stop();
  const [stopped] = t.coordinator.pastRuns;
  assert.equal(stopped.ended, 'stopped');
  assert.equal(stopped.message, 'stopped in round 2');
  assert.deepEqual(stopped.rounds.map((p) => p.round), [1]);

  await t.coordinator.reset();
  assert.deepEqual(t.coordinator.history, []);
  assert.equal(t.coordinator.pastRuns.length, 1, 'reset clears the run, not the comparison');
  await t.coordinator.saveCheckpoint();
  assert.deepEqual((await checkpoints.load())!.pastRuns, t.coordinator.pastRuns, 'so the next checkpoint writes them again');

  for (let i = 0; i < PAST_RUNS_KEPT; i++) {
    t.coordinator.start();
    t.coordinator.stop();
  }
  const numbers = t.coordinator.pastRuns.map((r) => r.run);
  assert.equal(numbers.length, PAST_RUNS_KEPT);
  assert.deepEqual(numbers, Array.from({ length: 12 }, (_, i) => i + 2), 'run 1, the oldest, was dropped');
});

test('the past runs survive a checkpoint: a restarted coordinator shows them and numbers its next run after them', async (context) => {
  const dir = await tempDir(context);
  const timers = new ManualTimers();
  const t = setup({ rounds: 3 }, [0.5, 0.6, 0.7, 0.8], { checkpoints: new RunCheckpoints(dir, () => {}), timers });
  await t.run();
  await t.run(1); // run 2 is in round 2 when the process dies
  await t.coordinator.saveCheckpoint();

  const saved = (await new RunCheckpoints(dir, () => {}).load())!;
  assert.deepEqual(saved.pastRuns, t.coordinator.pastRuns);
  assert.equal(saved.run?.runStartedAt, 16_000, 'run 2 started after run 1\'s three 5 s rounds');
  const restarted = coordinatorFixture({}, new ScriptedEvaluator([0.9, 0.95]), { checkpoints: new RunCheckpoints(dir, () => {}), timers });
  await restarted.coordinator.resume();
  assert.deepEqual(restarted.coordinator.runState().pastRuns, t.coordinator.pastRuns);
  restarted.rejoin('a', t.tokens[0]);
  restarted.rejoin('b', t.tokens[1]);
  for (let round = 2; round <= 3; round++) {
    for (const id of ['a', 'b']) restarted.send(id, { round, numExamples: 100, loss: 0.5 }, new Float32Array(P));
    await restarted.settle();
  }
  const [, run2] = restarted.coordinator.pastRuns;
  assert.equal(run2.run, 2);
  assert.equal(run2.startedAt, 16_000, 'its start time came through the restart');
  assert.deepEqual(run2.rounds.map((p) => p.accuracy), [0.8, 0.9, 0.95], 'round 1 from before the restart, 2 and 3 after');
});

/** Writes a checkpoint as RunCheckpoints would, with `change` applied to its meta, as the only one in `dir`. */
async function checkpointWith(dir: string, change: (meta: Record<string, unknown>) => void): Promise<RunCheckpoints> {
  const checkpoints = new RunCheckpoints(dir, () => {});
  const t = setup({ rounds: 2 }, [0.5, 0.6], { checkpoints });
  await t.run();
  await t.coordinator.saveCheckpoint();
  const store = new CheckpointStore({ dir, log: () => {} });
  const { checkpoint } = (await store.loadLatest())!;
  change(checkpoint.meta as Record<string, unknown>);
  const changed = await store.save(checkpoint);
  // The changed one is the only checkpoint: nothing to fall back to.
  for (const name of await readdir(dir)) if (join(dir, name) !== changed.path) await rm(join(dir, name));
  return checkpoints;
}

test('a checkpoint with malformed past runs is refused, naming the file and the field', async (context) => {
  const cases: [string, (meta: Record<string, unknown>) => void, string][] = [
    ['not a list', (meta) => (meta.pastRuns = { run: 1 }), 'pastRuns: Expected array (got {"run":1})'],
    ['a bad accuracy', (meta) => (((meta.pastRuns as PastRun[])[0].rounds[1] as unknown as Record<string, unknown>).accuracy = 'x'), 'pastRuns[0].rounds[1].accuracy: Expected number (got "x")'],
    ['bad settings', (meta) => ((meta.pastRuns as PastRun[])[0].settings.learningRate = -1), 'pastRuns[0].settings.learningRate: Expected number to be greater than 0 (got -1)'],
    ['a run number below 1', (meta) => ((meta.pastRuns as PastRun[])[0].run = 0), 'pastRuns[0].run: Expected integer to be greater or equal to 1 (got 0)'],
    ['a bad start time', (meta) => ((meta.run as Record<string, unknown>).runStartedAt = 'soon'), 'run.runStartedAt: Expected number (got "soon")'],
  ];
  for (const [what, change, reason] of cases) {
    const dir = await tempDir(context);
    const checkpoints = await checkpointWith(dir, change);
    await assert.rejects(checkpoints.load(), (error: Error) => {
      assert.ok(error instanceof UnusableCheckpointsError, what);
      assert.deepEqual(error.refusals.map((r) => r.reason), [reason], what);
      assert.match(error.message, /checkpoint-\d+\.flock: .*\n.*--fresh/, what);
      return true;
    });
  }
});

test('parsePastRuns checks every field cheaply and copies only what a past run has', () => {
  const good: PastRun = {
    run: 3, settings: DEFAULT_SETTINGS, ended: 'stopped', message: 'stopped in round 2', startedAt: 10, endedAt: 20,
    rounds: [{ round: 1, accuracy: 0.5, loss: null }],
  };
  assert.deepEqual(parsePastRuns([{ ...good, extra: 'dropped' }]), [good]);
  const refused = (value: unknown, message: RegExp) => assert.throws(() => parsePastRuns(value), (e: Error) => e instanceof PastRunsError && message.test(e.message));
  refused([good, good], /pastRuns\[1\]\.run: expected a run number after 3, got 3/);
  refused([null], /pastRuns\[0\]: expected a past run/);
  refused([{ ...good, ended: 'crashed' }], /pastRuns\[0\]\.ended: expected "done" or "stopped", got "crashed"/);
  refused([{ ...good, message: 7 }], /pastRuns\[0\]\.message: expected a string, got 7/);
  refused([{ ...good, endedAt: -1 }], /pastRuns\[0\]\.endedAt: expected a time in ms ≥ 0, got -1/);
  refused([{ ...good, rounds: [{ round: 2, accuracy: 0.5, loss: 1 }, { round: 2, accuracy: 0.6, loss: 1 }] }], /rounds\[1\]\.round: expected a round after 2/);
  refused([{ ...good, rounds: [{ round: 1, accuracy: 0.5, loss: 'NaN' }] }], /rounds\[0\]\.loss: expected a finite number or null, got "NaN"/);
  refused([{ ...good, settings: { ...DEFAULT_SETTINGS, rounds: 1 }, rounds: [good.rounds[0], { round: 2, accuracy: 1, loss: 0 }] }], /expected at most the run's 1 rounds, got "2 rounds"/);
  const many = Array.from({ length: PAST_RUNS_KEPT + 3 }, (_, i) => ({ ...good, run: i + 1 }));
  assert.deepEqual(parsePastRuns(many).map((r) => r.run), many.slice(3).map((r) => r.run), 'a longer list keeps its newest');
});

// A checkpoint whose file is intact can still hold a run the coordinator must not go on from: a
// model with NaN in it, a history of garbage, settings no command line would pass, a model of the
// wrong size. Each is written here with a valid checksum (as someone with write access to the
// data directory could), and each must count as damaged: the run resumes from the older file, and
// the warning names the file and the field.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODEL_SPECS } from '../shared/model-spec.ts';
import { resolveSettings, type Settings } from '../shared/settings.ts';
import { roundMetrics } from '../harness/round-metrics.ts';
import { CheckpointStore, UnusableCheckpointsError } from './checkpoint-store.ts';
import { RunCheckpoints, type RunCheckpoint } from './run-checkpoints.ts';

const P = MODEL_SPECS.mlp.paramCount;
const TOKEN_HASH = 'n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sNNG1ZbM'; // the length and alphabet of a real one

/** A run two rounds in, with central DP spent and a finished run before it: every part of the meta filled in. */
function runCheckpoint(overrides: Partial<Settings> = {}): RunCheckpoint {
  const settings = resolveSettings({ rounds: 5, clipNorm: 1, noiseMultiplier: 1.1, ...overrides });
  const privacy = { noiseMultiplier: 1.1, samplingRate: 1, expectedWeight: 200, noiseStdOnSum: 1.1, epsilon: 3.2, delta: 1e-5, order: 8, roundsSpent: 1, targetEpsilon: null };
  return {
    run: {
      phase: 'training',
      completedRounds: 2,
      message: 'round 3 of 5',
      settings,
      history: [roundMetrics(1, { privacy, clipNorm: 1 }), roundMetrics(2, { privacy: { ...privacy, roundsSpent: 2 }, clipNorm: 1 })],
      strategy: { clipNorm: 1 },
      serverOptimizer: {},
      runStartedAt: 3000,
    },
    settings,
    pastRuns: [{ run: 1, settings, ended: 'stopped', message: 'stopped in round 2', startedAt: 1000, endedAt: 2000, rounds: [{ round: 1, accuracy: 0.8, loss: 0.6 }] }],
    room: { joins: 2, dealt: 2, deals: 1, clients: [{ clientId: 'a1b2c3d4e5f6', tokenHash: TOKEN_HASH, shard: 0, numExamples: 4000, attack: 'none' }] },
    global: new Float32Array(P).fill(0.25),
  };
}

async function setup(t: TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'flock-run-checkpoints-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const checkpoints = new RunCheckpoints(dir, (level, message) => lines.push(`${level}: ${message}`));
  /** What RunCheckpoints wrote, altered and written again as the next file, with a valid checksum. */
  const writeAltered = async (alter: (meta: any, arrays: Record<string, Float32Array>) => void) => {
    const raw = new CheckpointStore({ dir, keep: 100, log: () => {} });
    const { checkpoint } = (await raw.loadLatest())!;
    alter(checkpoint.meta, checkpoint.arrays);
    return (await raw.save(checkpoint)).path;
  };
  return { dir, lines, checkpoints, writeAltered };
}

/** Saves a good checkpoint, then an altered one after it: the load must come back with the good one and one warning about the altered file. */
async function refusal(t: TestContext, alter: (meta: any, arrays: Record<string, Float32Array>) => void, base = runCheckpoint()): Promise<string> {
  const { lines, checkpoints, writeAltered } = await setup(t);
  const good = (await checkpoints.save(base)) as { path: string };
  const altered = await writeAltered(alter);
  lines.length = 0;
  const loaded = await checkpoints.load();
  assert.equal(loaded?.path, good.path, 'the older, good checkpoint is the one resumed');
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.equal(lines[1], `info: loaded checkpoint ${good.path}`);
  const prefix = `warn: skipping damaged checkpoint ${altered}: `;
  assert.ok(lines[0].startsWith(prefix) && lines[0].endsWith('; trying the previous one'), lines[0]);
  return lines[0].slice(prefix.length, -'; trying the previous one'.length);
}

test('a checkpoint of a real run reads back as it was written, with no warning', async (t) => {
  const { lines, checkpoints } = await setup(t);
  const saved = runCheckpoint({ serverOptimizer: 'fedadam', noiseMultiplier: 0, clipNorm: 0 });
  saved.run!.strategy = { clipNorm: 0 };
  saved.run!.serverOptimizer = { m: new Float32Array(P).fill(0.5), v: new Float32Array(P).fill(0.125) };
  await checkpoints.save(saved);
  const loaded = await checkpoints.load();
  assert.ok(loaded);
  const { path: _, ...back } = loaded;
  assert.deepEqual(back, saved);
  assert.deepEqual(lines.filter((l) => l.startsWith('warn')), []);
});

test('a model or server-optimizer state holding NaN or Inf is damage: the older checkpoint is resumed, the warning names the file and the value', async (t) => {
  assert.equal(await refusal(t, (_, arrays) => (arrays.global[1234] = NaN)), 'global[1234] is NaN');
  assert.equal(await refusal(t, (_, arrays) => (arrays.global[P - 1] = -Infinity)), `global[${P - 1}] is -Infinity`);
  const fedadam = runCheckpoint({ serverOptimizer: 'fedadam', noiseMultiplier: 0, clipNorm: 0 });
  fedadam.run!.strategy = { clipNorm: 0 };
  fedadam.run!.serverOptimizer = { m: new Float32Array(P), v: new Float32Array(P) };
  assert.equal(await refusal(t, (_, arrays) => (arrays['serverOptimizer.v'][7] = Infinity), fedadam), 'serverOptimizer.v[7] is Infinity');
});

test('a model or optimizer state of the wrong size for the checkpoint\'s model is damage named by the field', async (t) => {
  assert.equal(
    await refusal(t, (_, arrays) => (arrays.global = new Float32Array(10))),
    `global: 10 values, but the checkpoint's model mlp has ${P} parameters`,
  );
  assert.equal(await refusal(t, (_, arrays) => delete arrays.global), 'no "global" array (the model)');
  assert.equal(
    await refusal(t, (meta) => (meta.run.settings.model = 'cnn')),
    `global: ${P} values, but the checkpoint's model cnn has ${MODEL_SPECS.cnn.paramCount} parameters`,
  );
  const fedadam = runCheckpoint({ serverOptimizer: 'fedadam', noiseMultiplier: 0, clipNorm: 0 });
  fedadam.run!.strategy = { clipNorm: 0 };
  fedadam.run!.serverOptimizer = { m: new Float32Array(P), v: new Float32Array(P) };
  assert.match(await refusal(t, (_, arrays) => delete arrays['serverOptimizer.v'], fedadam), /^serverOptimizer: server optimizer FedAdam .* keeps \[m, v\], the saved state has \[m\]/);
  assert.equal(await refusal(t, (_, arrays) => (arrays.extra = new Float32Array(1))), 'an array "extra" that no part of a run is saved as');
});

test('a garbage history, room or privacy state is refused by the schema, naming the first failing field', async (t) => {
  assert.equal(await refusal(t, (meta) => (meta.run.history = [null, 'x', {}])), 'run.history[0]: Expected object (got null)');
  assert.equal(await refusal(t, (meta) => (meta.run.history[1].loss = 'low')), 'run.history[1].loss: Expected number (got "low")');
  assert.equal(await refusal(t, (meta) => (meta.run.history[0].privacy.epsilon = -1)), 'run.history[0].privacy.epsilon: Expected number to be greater or equal to 0 (got -1)');
  assert.equal(await refusal(t, (meta) => (meta.room.clients = [null])), 'room.clients[0]: Expected object (got null)');
  assert.equal(await refusal(t, (meta) => delete meta.room.clients[0].tokenHash), 'room.clients[0].tokenHash: Expected required property');
  assert.equal(await refusal(t, (meta) => (meta.run.phase = 'flying')), 'run.phase: expected one of "idle", "waiting", "training", "aggregating", "evaluating", "done", "stopped" (got "flying")');
  assert.equal(await refusal(t, (meta) => (meta.run.strategy.clipNorm = -1)), 'run.strategy.clipNorm: Expected number to be greater or equal to 0 (got -1)');
  assert.equal(await refusal(t, (meta) => (meta.run.strategy = null)), 'run.strategy: Expected object (got null)');
  assert.equal(await refusal(t, (meta) => (meta.pastRuns[0].ended = 'exploded')), 'pastRuns[0].ended: expected one of "done", "stopped" (got "exploded")');
  assert.equal(await refusal(t, (meta) => (meta.run.runStartedAt = 'yesterday')), 'run.runStartedAt: Expected number (got "yesterday")');
  assert.equal(await refusal(t, (meta) => (meta.run.surprise = 1)), 'run.surprise: Unexpected property (got 1)');
  assert.equal(await refusal(t, (meta) => (meta.run.completedRounds = 7)), 'run.completedRounds: 7, but the history\'s last round is 2');
  assert.equal(await refusal(t, (meta) => (meta.room.clients = [meta.room.clients[0], meta.room.clients[0]])), 'room.clients[1].clientId: "a1b2c3d4e5f6" twice');
  assert.equal(await refusal(t, (meta) => (meta.version = 1)), 'a run checkpoint of format 1; this Flock reads format 3');
});

test('settings a checkpoint holds are checked as settings, and a refusal names the checkpoint field, not a command-line flag', async (t) => {
  assert.equal(await refusal(t, (meta) => (meta.run.settings.rounds = 0)), 'run.settings.rounds: Expected integer to be greater or equal to 1 (got 0)');
  assert.equal(
    await refusal(t, (meta) => (meta.run.settings.clipNorm = 0)),
    'run.settings: invalid settings: noiseMultiplier > 0 needs clipNorm > 0: noise is calibrated to the clip norm',
  );
  assert.match(await refusal(t, (meta) => (meta.pastRuns[0].settings.rounds = 'many')), /^pastRuns\[0\]\.settings\.rounds: Expected integer \(got "many"\)$/);
});

test('a checkpoint without a setting added since it was written resumes with that setting\'s default', async (t) => {
  const { checkpoints, writeAltered } = await setup(t);
  await checkpoints.save(runCheckpoint());
  await writeAltered((meta) => delete meta.run.settings.seed);
  assert.equal((await checkpoints.load())?.run?.settings.seed, 42);
});

test('when no checkpoint passes, the refusal names each file with its reason and says what --fresh does', async (t) => {
  const { dir, lines, checkpoints, writeAltered } = await setup(t);
  await checkpoints.save(runCheckpoint());
  const nan = await writeAltered((_, arrays) => (arrays.global[3] = NaN));
  await rm(join(dir, 'checkpoint-00000001.flock'));
  const notAFile = join(dir, 'checkpoint-00000003.flock');
  await mkdir(notAFile);
  lines.length = 0;
  await assert.rejects(checkpoints.load(), (error: Error) => {
    assert.ok(error instanceof UnusableCheckpointsError);
    const [head, ...rest] = error.message.split('\n');
    assert.equal(head, `none of the 2 checkpoints in ${dir} can be used (nothing was deleted):`);
    assert.deepEqual(rest.slice(0, 2), [`  ${notAFile}: a directory, not a checkpoint file`, `  ${nan}: global[3] is NaN`]);
    assert.match(rest[2], /--fresh .* removes every checkpoint-\*\.flock file in .* starts again from round 0/);
    return true;
  });
  assert.deepEqual(lines, [], 'nothing is said to be loaded');
});

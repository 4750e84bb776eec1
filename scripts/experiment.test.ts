// `npm run experiment` as a user runs it: a child process, a real coordinator on loopback, clients
// in worker threads; what is tested is the promise that the last stdout line is the JSON result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT_DIR = fileURLToPath(new URL('..', import.meta.url));

function experiment(line: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'scripts/experiment.ts', ...line.split(' ').filter(Boolean)], { cwd: ROOT_DIR, timeout: 110_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

test('3 clients, 2 rounds, IID: the last stdout line is the result, and the model learned', { timeout: 120_000 }, async () => {
  const { code, stdout, stderr } = await experiment('--clients 3 --rounds 2 --local-epochs 1 --partition iid');
  assert.equal(code, 0, stderr);
  const lines = stdout.trim().split('\n');
  const result = JSON.parse(lines[lines.length - 1]);
  assert.equal(result.strategy, 'fedavg');
  assert.equal(result.clients, 3);
  assert.equal(result.accuracyPerRound.length, 2);
  assert.deepEqual(result.participantsPerRound, [3, 3]);
  // Chance is 0.10; one epoch on a third of the digits alone reaches about 0.9.
  assert.ok(result.finalAccuracy >= 0.85, `final accuracy ${result.finalAccuracy}`);
  assert.equal(result.finalAccuracy, result.accuracyPerRound[1]);
  assert.equal(result.settings.shards, 3);
  assert.equal(result.settings.localEpochs, 1);
  assert.ok(result.roundsToTarget === null || result.roundsToTarget <= 2);
  assert.ok(result.timing.federatedSeconds > 0 && result.timing.workers >= 1);
  // One progress line per round on stderr.
  assert.equal(stderr.split('\n').filter((l) => /^round +\d+\/2 +accuracy/.test(l)).length, 2, stderr);
});

test('3 clients, 1 round, secure aggregation: the simulated clients mask their updates and the round aggregates all three', { timeout: 120_000 }, async () => {
  const { code, stdout, stderr } = await experiment('--clients 3 --rounds 1 --local-epochs 1 --secure-aggregation true --clip-norm 5');
  assert.equal(code, 0, stderr);
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
  assert.equal(result.settings.secureAggregation, true);
  assert.deepEqual(result.participantsPerRound, [3]);
  assert.ok(result.finalAccuracy >= 0.85, `final accuracy ${result.finalAccuracy}`);
});

test('an unknown flag, a bad value and settings that do not fit: one line naming the problem, exit code 2', async () => {
  const cases: [string, RegExp][] = [
    ['--clients 3 --colour blue', /--colour/],
    ['--clients three', /--clients must be an integer/],
    ['--learning-rate 0.5 --proximal-mu 3', /learningRate × proximalMu must be below 1/],
  ];
  await Promise.all(
    cases.map(async ([line, message]) => {
      const { code, stdout, stderr } = await experiment(line);
      assert.equal(code, 2, line);
      assert.equal(stdout, '');
      assert.match(stderr, message);
      assert.equal(stderr.trim().split('\n').length, 1, `one line, no stack: ${stderr}`);
      assert.match(stderr, /^experiment: /);
    }),
  );
});

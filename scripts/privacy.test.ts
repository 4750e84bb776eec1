import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { epsilonSpent } from '../shared/fl/accountant.ts';
import { parsePrivacyArgs, UsageError } from './privacy.ts';

const ROOT_DIR = fileURLToPath(new URL('..', import.meta.url));
const args = (line: string) => line.split(' ').filter(Boolean);

/** The real command, as `npm run privacy` runs it but without npm's own lines around the output. */
function privacy(line: string): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/privacy.ts', ...args(line)], { cwd: ROOT_DIR, encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('parsePrivacyArgs: ε of a setting, with δ and the conversion defaulted', () => {
  assert.deepEqual(parsePrivacyArgs(args('--sampling-rate 0.01 --noise-multiplier 1.1 --rounds 10000')), {
    kind: 'epsilon',
    samplingRate: 0.01,
    noiseMultiplier: 1.1,
    rounds: 10_000,
    delta: 1e-5,
    conversion: 'balle2020',
  });
  assert.deepEqual(parsePrivacyArgs(args('--rounds=50 --sampling-rate=.5 --noise-multiplier 2 --delta 1e-7 --conversion mironov2017')), {
    kind: 'epsilon',
    samplingRate: 0.5,
    noiseMultiplier: 2,
    rounds: 50,
    delta: 1e-7,
    conversion: 'mironov2017',
  });
});

test('parsePrivacyArgs: the noise a budget needs, and --help', () => {
  assert.deepEqual(parsePrivacyArgs(args('--sampling-rate 1 --target-epsilon 8 --rounds 0')), {
    kind: 'noiseMultiplier',
    samplingRate: 1,
    targetEpsilon: 8,
    rounds: 0,
    delta: 1e-5,
    conversion: 'balle2020',
  });
  assert.deepEqual(parsePrivacyArgs(['--help']), { kind: 'help' });
  assert.deepEqual(parsePrivacyArgs(['-h', '--rounds', 'x']), { kind: 'help' });
});

test('parsePrivacyArgs: every mistake says what is wrong and what is allowed', () => {
  const refused: [string, RegExp][] = [
    ['--noise-multiplier 1 --rounds 10', /^--sampling-rate is missing: give a number in \[0, 1\]/],
    ['--sampling-rate 0.1 --noise-multiplier 1', /^--rounds is missing: give an integer >= 0/],
    ['--sampling-rate abc --noise-multiplier 1 --rounds 10', /^--sampling-rate must be a number in \[0, 1\], got 'abc'$/],
    ['--sampling-rate 1.5 --noise-multiplier 1 --rounds 10', /^--sampling-rate must be a number in \[0, 1\], got '1.5'$/],
    ['--sampling-rate 0x1 --noise-multiplier 1 --rounds 10', /^--sampling-rate must be a number in \[0, 1\], got '0x1'$/],
    ['--sampling-rate 0.1 --noise-multiplier 1 --rounds 2.5', /^--rounds must be an integer >= 0, got '2.5'$/],
    ['--sampling-rate 0.1 --noise-multiplier 0 --rounds 10', /^--noise-multiplier must be a number > 0 \(without noise ε is infinite\), got '0'$/],
    ['--sampling-rate 0.1 --target-epsilon 0 --rounds 10', /^--target-epsilon must be a number > 0, got '0'$/],
    ['--sampling-rate 0.1 --noise-multiplier 1 --rounds 10 --delta 1', /^--delta must be a number in \(0, 1\), e.g. 1e-5, got '1'$/],
    ['--sampling-rate 0.1 --noise-multiplier 1 --rounds 10 --delta=-1', /^--delta must be a number in \(0, 1\)/],
    ['--sampling-rate 0.1 --noise-multiplier 1 --rounds 10 --delta -1', /^--delta needs a value \(one that starts with '-' is written --delta=-…\)$/],
    ['--sampling-rate 0.1 --rounds 10', /^give --noise-multiplier Z \(to get ε\) or --target-epsilon E/],
    ['--sampling-rate 0.1 --rounds 10 --noise-multiplier 1 --target-epsilon 1', /^give --noise-multiplier \(to get ε\) or --target-epsilon \(to get z\), not both$/],
    ['--sampling-rate 0.1 --rounds 10 --noise-multiplier 1 --conversion abadi', /^--conversion must be balle2020 or mironov2017, got 'abadi'$/],
    ['--sampling-rate 0.1 --rounds 10 --noise-multiplier 1 --epochs 3', /^Unknown option '--epochs' \(see --help\)$/],
    ['--sampling-rate 0.1 --rounds 10 --noise-multiplier 1 extra', /^Unexpected argument 'extra' \(see --help\)$/],
    ['--sampling-rate 0.1 --noise-multiplier 1 --rounds', /^Option '--rounds <value>' argument missing \(see --help\)$/],
  ];
  for (const [line, message] of refused) {
    assert.throws(() => parsePrivacyArgs(args(line)), (error: unknown) => error instanceof UsageError && message.test(error.message), line);
  }
});

test('the command prints ε as one JSON line: TF Privacy\'s q = 0.0025, z = 1.3, 6000 steps, δ = 1e-5 → 0.72422 at order 19', () => {
  const run = privacy('--sampling-rate 0.0025 --noise-multiplier 1.3 --rounds 6000');
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, '');
  const lines = run.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 1);
  const answer = JSON.parse(lines[0]) as { epsilon: number; order: number };
  assert.deepEqual(Object.keys(answer), ['epsilon', 'order']);
  assert.ok(Math.abs(answer.epsilon - 0.7242234026109595) < 1e-9, `ε ${answer.epsilon}`); // compute_dp_sgd_privacy_test.py
  assert.equal(answer.order, 19);
});

test('the command prints the noise a budget needs, and that z keeps the budget', () => {
  const run = privacy('--sampling-rate 0.01 --target-epsilon 2 --rounds 1000 --delta 1e-6');
  assert.equal(run.code, 0, run.stderr);
  const { noiseMultiplier } = JSON.parse(run.stdout) as { noiseMultiplier: number };
  const epsilonAt = (z: number) => epsilonSpent({ spends: [{ samplingRate: 0.01, noiseMultiplier: z, rounds: 1000 }], delta: 1e-6 }).epsilon;
  assert.ok(epsilonAt(noiseMultiplier) <= 2 && epsilonAt(0.999 * noiseMultiplier) > 2, `z ${noiseMultiplier}`);
});

test('the command: a mistake is one line on stderr and exit code 2, an impossible budget exit code 1, never a stack', () => {
  const wrong = privacy('--sampling-rate 2 --noise-multiplier 1 --rounds 10');
  assert.equal(wrong.code, 2);
  assert.equal(wrong.stdout, '');
  assert.equal(wrong.stderr, "privacy: --sampling-rate must be a number in [0, 1], got '2'\n");

  const unknown = privacy('--sampling-rate 0.1 --noise-multiplier 1 --rounds 10 --epsilon 3');
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr, "privacy: Unknown option '--epsilon' (see --help)\n");

  const impossible = privacy('--sampling-rate 1 --target-epsilon 0.01 --rounds 10000');
  assert.equal(impossible.code, 1);
  assert.match(impossible.stderr, /^privacy: no noise multiplier up to 1000 keeps ε ≤ 0.01 after 10000 rounds at sampling rate 1 .*\n$/);
  for (const run of [wrong, unknown, impossible]) assert.doesNotMatch(run.stderr, /\n\s+at /);

  const help = privacy('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: npm run privacy -- --sampling-rate Q --rounds T \(--noise-multiplier Z \| --target-epsilon E\)/);
});

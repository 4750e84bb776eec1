import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SettingsError } from '../shared/settings.ts';
import { parseExperimentArgs, UsageError } from './experiment-cli.ts';
import { STRATEGY_PRESETS } from '../harness/experiment/strategy-presets.ts';

const parse = (line: string) => parseExperimentArgs(line.split(' ').filter(Boolean));
const run = (line: string) => {
  const parsed = parse(line);
  assert.equal(parsed.kind, 'run');
  return parsed as Extract<ReturnType<typeof parse>, { kind: 'run' }>;
};

test('defaults: 10 clients, FedAvg, one shard each, every round run to the end, target 0.95', () => {
  const args = run('');
  assert.equal(args.clients, 10);
  assert.equal(args.strategy, 'fedavg');
  assert.equal(args.target, 0.95);
  assert.equal(args.centralized, false);
  assert.equal(args.settings.shards, 10);
  assert.equal(args.settings.minClientsToStart, 10);
  assert.equal(args.settings.targetAccuracy, 1);
  assert.equal(args.settings.proximalMu, 0);
  assert.equal(args.settings.serverOptimizer, 'none');
});

test('the brief example: the named flags and the preset land in the settings', () => {
  const args = run('--partition dirichlet --alpha 0.5 --strategy fedprox --clients 12 --rounds 50 --local-epochs 3 --batch-size 16 --seed 7 --centralized');
  assert.equal(args.clients, 12);
  assert.equal(args.centralized, true);
  const s = args.settings;
  assert.deepEqual(
    [s.partition, s.dirichletAlpha, s.rounds, s.shards, s.localEpochs, s.batchSize, s.seed, s.proximalMu],
    ['dirichlet', 0.5, 50, 12, 3, 16, 7, STRATEGY_PRESETS.fedprox.proximalMu],
  );
});

test('any setting as --kebab-name, overriding the preset; booleans and choices parse', () => {
  const s = run('--strategy fedadam --server-learning-rate 0.05 --classes-per-client 3 --partition shards --adaptive-clipping true --clip-norm 2').settings;
  assert.equal(s.serverOptimizer, 'fedadam');
  assert.equal(s.serverLearningRate, 0.05);
  assert.equal(s.classesPerClient, 3);
  assert.equal(s.adaptiveClipping, true);
  assert.equal(s.clipNorm, 2);
});

test('secure aggregation: the simulated clients mask their updates as tabs do (it needs a clip norm)', () => {
  const s = run('--clients 3 --rounds 2 --secure-aggregation true --clip-norm 5').settings;
  assert.equal(s.secureAggregation, true);
  assert.equal(s.clipNorm, 5);
  assert.throws(() => parse('--clients 3 --secure-aggregation true'), (e: Error) => e instanceof SettingsError && /secureAggregation needs clipNorm > 0/.test(e.message));
});

test('every mistake names its flag', () => {
  const refused: [string, RegExp][] = [
    ['--clinets 3', /Unknown option '--clinets'/],
    ['--clients 0', /^--clients must be an integer in \[1, 1000\], got '0'$/],
    ['--clients 2.5', /^--clients must be an integer/],
    ['--strategy fedsgd', /^--strategy must be one of fedavg, fedprox, fedavgm, fedadam, fedyogi, fedadagrad, got 'fedsgd'$/],
    ['--target 1.5', /^--target must be a number in \[0, 1\], got '1.5'$/],
    ['--alpha -1', /^--alpha needs a value \(one that starts with '-' is written --alpha=-…\)$/],
    ['--alpha=-1', /^--alpha must be a number greater than 0, got '-1'$/],
    ['--alpha 0.5 --dirichlet-alpha 0.3', /^--dirichlet-alpha and --alpha set the same setting: give one of them$/],
    ['--batch-size 0', /^--batch-size must be an integer greater or equal to 1, got '0'$/],
    ['--rounds', /^Option '--rounds <value>' argument missing/],
    ['extra', /^Unexpected argument 'extra'/],
    ['--learning-rate fast', /^--learning-rate must be a number, got 'fast'$/],
    ['--local-epochs 1.5', /^--local-epochs must be an integer, got '1.5'$/],
    ['--partition zipf', /^--partition must be one of iid, dirichlet, shards, quantity, got 'zipf'$/],
    ['--adaptive-clipping yes', /^--adaptive-clipping must be true or false, got 'yes'$/],
    ['--shards 4', /^--shards is not an experiment flag: each client holds its own shard: set --clients$/],
    ['--model cnn', /^--model cnn: .*cannot train convolutions/],
    ['--clients 3 --min-clients-to-start 5', /^--min-clients-to-start 5 is more than --clients 3/],
  ];
  for (const [line, message] of refused) assert.throws(() => parse(line), (e: Error) => e instanceof UsageError && message.test(e.message), line);
});

test('settings that do not fit together are refused by resolveSettings', () => {
  assert.throws(() => parse('--learning-rate 0.5 --proximal-mu 2'), (e: Error) => e instanceof SettingsError && /learningRate × proximalMu must be below 1/.test(e.message));
});

test('--help', () => {
  assert.deepEqual(parse('--help'), { kind: 'help' });
});

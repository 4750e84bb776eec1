import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelRuns, nextRunNumber } from './run-label.ts';
import { DEFAULT_SETTINGS, resolveSettings, type Settings } from './settings.ts';

/** Runs numbered 1, 2, … with these changes to the defaults (validated, as the coordinator would). */
const runs = (...changes: Partial<Settings>[]) => changes.map((c, i) => ({ run: i + 1, settings: resolveSettings(c) }));

test('partitions are named in words, with only the parameter the split uses', () => {
  assert.deepEqual(
    labelRuns(runs({}, { partition: 'dirichlet', dirichletAlpha: 0.1 }, { partition: 'shards', classesPerClient: 2 }, { partition: 'quantity', quantitySkew: 1 })),
    ['IID', 'Dirichlet α=0.1', '2 classes per tab', 'quantity skew β=1'],
  );
  assert.deepEqual(labelRuns(runs({ partition: 'shards', classesPerClient: 1 }, {})), ['1 class per tab', 'IID']);
  // dirichletAlpha differs, but neither run splits by Dirichlet: nothing to tell them apart by.
  assert.deepEqual(labelRuns(runs({ dirichletAlpha: 0.1 }, { dirichletAlpha: 5 })), ['run 1', 'run 2']);
});

test('the algorithm: FedAvg, FedProx, a server optimizer with its η, a robust rule, and their combinations', () => {
  assert.deepEqual(labelRuns(runs({}, { proximalMu: 0.01 })), ['FedAvg', 'FedProx μ=0.01']);
  assert.deepEqual(
    labelRuns(runs({}, { serverOptimizer: 'fedadam', serverLearningRate: 0.03 }, { aggregation: 'median' }, { proximalMu: 0.01, serverOptimizer: 'fedadam', serverLearningRate: 0.03 })),
    ['FedAvg', 'FedAdam η=0.03', 'median', 'FedProx μ=0.01 + FedAdam η=0.03'],
  );
  assert.deepEqual(
    labelRuns(runs({ aggregation: 'trimmed-mean', trimFraction: 0.2 }, { aggregation: 'krum', byzantineClients: 2 }, { aggregation: 'norm-bound', normBound: 5 })),
    ['trimmed mean β=0.2', 'Krum f=2', 'norm bound 5'],
  );
});

test('DP on against off; clipping is its own phrase, so "no DP" does not hide that the other run clipped', () => {
  const dp = { clipNorm: 1, noiseMultiplier: 1.1, samplingRate: 0.5 };
  assert.deepEqual(labelRuns(runs({ clipNorm: 1 }, dp)), ['no DP', 'DP z=1.1'], 'samplingRate acts only in the DP run: not a difference');
  assert.deepEqual(labelRuns(runs({}, dp)), ['no DP, no clipping', 'DP z=1.1, clip C=1']);
  assert.deepEqual(labelRuns(runs({ clipNorm: 1, localNoiseMultiplier: 0.5 }, { clipNorm: 1 })), ['local DP z=0.5', 'no DP']);
  assert.deepEqual(
    labelRuns(runs({ ...dp, samplingRate: 0.2 }, dp)),
    ['samplingRate=0.2', 'samplingRate=0.5'],
    'two DP runs at other sampling rates say so',
  );
});

test('several differences at once, in a fixed order: model, split, algorithm, privacy, then name=value', () => {
  assert.deepEqual(
    labelRuns(runs({ learningRate: 0.05 }, { model: 'cnn', partition: 'dirichlet', dirichletAlpha: 0.1, proximalMu: 0.01, learningRate: 0.05 }, { learningRate: 0.2 })),
    ['MLP, IID, FedAvg, learningRate=0.05', 'CNN, Dirichlet α=0.1, FedProx μ=0.01, learningRate=0.05', 'MLP, IID, FedAvg, learningRate=0.2'],
  );
  assert.deepEqual(labelRuns(runs({ secureAggregation: true, clipNorm: 1 }, { clipNorm: 1 })), ['secure aggregation', 'no secure aggregation']);
  assert.deepEqual(labelRuns(runs({ adaptiveClipping: true, clipNorm: 1 }, { adaptiveClipping: false, clipNorm: 1 })), [
    'adaptive clipping from C=1 to quantile 0.5',
    'clip C=1',
  ]);
});

test('settings that only change timing do not count; runs alike in what they learn are run 1, run 2', () => {
  assert.deepEqual(labelRuns(runs({}, { roundDeadlineMs: 5_000, secAggStepMs: 2_000, minClientsToStart: 4 })), ['run 1', 'run 2']);
  // Runs 1 and 3 share a label, so their numbers tell them apart; run 2 needs none.
  assert.deepEqual(labelRuns(runs({}, { partition: 'dirichlet', dirichletAlpha: 0.1 }, { roundDeadlineMs: 5_000 })), ['IID (run 1)', 'Dirichlet α=0.1', 'IID (run 3)']);
  assert.deepEqual(labelRuns([{ run: 7, settings: DEFAULT_SETTINGS }]), ['run 7'], 'one run alone: nothing differs');
  assert.deepEqual(labelRuns([]), []);
});

test('any other setting that differs reads name=value; the next run number follows the last one kept', () => {
  assert.deepEqual(labelRuns(runs({ seed: 1 }, { seed: 2 })), ['seed=1', 'seed=2']);
  const fedavgm = { serverOptimizer: 'fedavgm', serverLearningRate: 0.5 } as const;
  assert.deepEqual(labelRuns(runs({ ...fedavgm, serverMomentum: 0.5 }, fedavgm)), ['serverMomentum=0.5', 'serverMomentum=0.9']);
  assert.deepEqual(labelRuns(runs({ serverMomentum: 0.5 }, {})), ['run 1', 'run 2'], 'no server optimizer: its momentum does nothing');
  assert.equal(nextRunNumber([]), 1);
  assert.equal(nextRunNumber([{ run: 4 }, { run: 9 }]), 10);
});

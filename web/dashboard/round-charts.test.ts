import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roundSeries } from './round-charts.ts';
import { roundMetrics } from '../../harness/round-metrics.ts';

test('the accuracy chart: the test set\'s points and, beside them, the tabs\' federated ones where reports came', () => {
  const history = [
    roundMetrics(1, { accuracy: 0.8, federatedEvaluation: { accuracy: 0.78, loss: 0.6, count: 400, tabs: 4 } }),
    roundMetrics(2, { accuracy: 0.85 }),
  ];
  assert.deepEqual(roundSeries(history, 'accuracy'), { testSet: [{ x: 1, y: 0.8 }, { x: 2, y: 0.85 }], federated: [{ x: 1, y: 0.78 }] });
  assert.deepEqual(roundSeries(history, 'loss').federated, [{ x: 1, y: 0.6 }]);
});

test('without a test set there is no test-set line: the round\'s accuracy is the federated one, drawn once', () => {
  const federatedEvaluation = { accuracy: 0.7, loss: 0.9, count: 100, tabs: 2 };
  const history = [roundMetrics(1, { accuracy: 0.7, loss: 0.9, accuracySource: 'federated', federatedEvaluation })];
  assert.deepEqual(roundSeries(history, 'accuracy'), { testSet: [], federated: [{ x: 1, y: 0.7 }] });
});

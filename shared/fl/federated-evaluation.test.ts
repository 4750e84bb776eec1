import { test } from 'node:test';
import assert from 'node:assert/strict';
import { federatedMean } from './federated-evaluation.ts';

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual}, expected ${expected}`);

test('three tabs: the mean is weighted by held-out count, by hand', () => {
  // 9 of 10 right, 15 of 30 right, 57 of 60 right: 81 of 100 over the union.
  // loss: (10·0.2 + 30·1.4 + 60·0.1) / 100 = (2 + 42 + 6) / 100 = 0.5
  const result = federatedMean([
    { accuracy: 0.9, loss: 0.2, count: 10 },
    { accuracy: 0.5, loss: 1.4, count: 30 },
    { accuracy: 0.95, loss: 0.1, count: 60 },
  ])!;
  close(result.accuracy, 0.81, 'accuracy');
  close(result.loss, 0.5, 'loss');
  assert.equal(result.count, 100);
  assert.equal(result.tabs, 3);
  // the unweighted mean would say (0.9 + 0.5 + 0.95) / 3 = 0.7833…: not what the union holds
  assert.ok(Math.abs(result.accuracy - (0.9 + 0.5 + 0.95) / 3) > 0.02);
});

test('one tab: its own figures; equal counts: the plain mean', () => {
  assert.deepEqual(federatedMean([{ accuracy: 0.25, loss: 2, count: 4 }]), { accuracy: 0.25, loss: 2, count: 4, tabs: 1 });
  const equal = federatedMean([
    { accuracy: 0.5, loss: 1, count: 20 },
    { accuracy: 1, loss: 0, count: 20 },
  ])!;
  close(equal.accuracy, 0.75, 'accuracy');
  close(equal.loss, 0.5, 'loss');
});

test('no reports: no figure', () => {
  assert.equal(federatedMean([]), null);
});

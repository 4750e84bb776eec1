import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { historyCells, historyKey } from './history-table.ts';
import { roundMetrics } from '../../harness/round-metrics.ts';

const texts = (cells: { text: string }[]) => cells.map((c) => c.text);

test('a plain round: dashes for noise, ε and secure aggregation', () => {
  assert.deepEqual(texts(historyCells(roundMetrics(3, { accuracy: 0.9123, loss: 0.31, participants: 3, totalWeight: 3000, durationMs: 1500 }))), [
    '3', '91.23%', '0.31', '—', '3 of 4', '3,000', '—', '—', '—', '1.5 s',
  ]);
});

test('a private round: its noise std, the ε spent after it, and secure aggregation\'s masked and recovered tabs', () => {
  const m = roundMetrics(2, {
    attempt: 2,
    noiseStd: 0.3,
    privacy: { noiseMultiplier: 0.8, samplingRate: 1, expectedWeight: 4, noiseStdOnSum: 1.2, epsilon: 1.673, delta: 1e-5, order: 12, roundsSpent: 2, targetEpsilon: null },
    secureAggregation: { threshold: 4, advertised: 6, shared: 6, masked: 5, revealed: 5, recovered: 1, distributedNoise: true },
  });
  const cells = historyCells(m);
  assert.deepEqual(texts(cells).slice(6, 9), ['0.3', '1.673', '5 masked · 1 recovered']);
  assert.equal(cells[0].text, '2 (attempt 2)');
  assert.match(cells[8].title, /6 tabs sent keys.*1 dropped after sharing.*4 shares needed.*noise/);
});

test('the tabs\' federated evaluation: its accuracy, with count and tabs in the tooltip; without a test set the accuracy says where it came from', () => {
  const federatedEvaluation = { accuracy: 0.8765, loss: 0.4, count: 1200, tabs: 6 };
  const cells = historyCells(roundMetrics(4, { accuracy: 0.8765, accuracySource: 'federated', federatedEvaluation }));
  assert.deepEqual(texts(cells).slice(1, 4), ['87.65%', '0.3', '87.65%']);
  assert.match(cells[1].title, /no test set \(centralEvaluation off\)/);
  assert.equal(cells[3].title, '1,200 held-out examples on 6 tabs, loss 0.4');
  assert.equal(historyCells(roundMetrics(4)).at(1)!.title, '', 'a test-set accuracy needs no explanation');
});

test('the history key changes when a late report fills in a round already shown', () => {
  const before = [roundMetrics(1), roundMetrics(2, { federatedEvaluation: { accuracy: 0.9, loss: 0.3, count: 100, tabs: 1 } })];
  const after = [before[0], { ...before[1], federatedEvaluation: { accuracy: 0.91, loss: 0.3, count: 200, tabs: 2 } }];
  assert.notEqual(historyKey(before), historyKey(after));
  assert.equal(historyKey(before), historyKey([...before]));
});

test('one cell per column of the history table in dashboard.html', () => {
  const html = readFileSync(new URL('../dashboard.html', import.meta.url), 'utf8');
  const table = html.slice(html.indexOf('data-testid="history-table"'));
  const head = table.slice(0, table.indexOf('</thead>'));
  assert.equal(historyCells(roundMetrics(1)).length, head.split('<th ').length - 1);
});

// A new split reaches tabs that were already connected: they held IID shards (every digit), the
// admin switches to pathological shards of one class each, and at the next start each tab fetches
// its new shard before training. The dashboard shows each tab's label histogram throughout, and
// after a run on each split, both runs' accuracy curves on one chart, labelled by their split.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright';
import { launchChromium, openTabs } from '../harness/browser.ts';
import { adminHeaders, E2E_ACCESS, startCoordinator, type RunningCoordinator } from '../harness/coordinator.ts';
import type { RunState } from '../shared/protocol/records.ts';
import { labelRuns } from '../shared/run-label.ts';

let browser: Browser;
let coordinator: RunningCoordinator;

before(async () => {
  browser = await launchChromium();
  coordinator = await startCoordinator({ shards: 2, rounds: 1, targetAccuracy: 1, localEpochs: 1, minClientsToStart: 2, minClientsPerRound: 2 });
});
after(async () => {
  await browser?.close();
  await coordinator?.close();
});

const digitsIn = (counts: number[] | null) => (counts ?? []).filter((c) => c > 0).length;

test('a partition change between runs reaches the tabs already connected; the dashboard shows their label histograms and both runs side by side', { timeout: 300_000 }, async () => {
  await openTabs(browser, `${coordinator.url}/?backend=wasm`, 2);
  const iid = await coordinator.waitFor('2 ready tabs', (s) => s.clients.filter((c) => c.labelCounts).length === 2, 120_000);
  for (const c of iid.clients) {
    assert.equal(digitsIn(c.labelCounts), 10, 'an IID shard holds every digit');
    assert.equal(c.labelCounts!.reduce((a, b) => a + b, 0), c.numExamples);
  }
  const [dashboard] = await openTabs(browser, `${coordinator.url}/dashboard.html#admin=${E2E_ACCESS.adminToken}`, 1);
  const shownCounts = () => dashboard.locator('[data-testid="clients-table"] .label-histogram').evaluateAll((boxes) => boxes.map((b) => (b as HTMLElement).dataset.counts ?? ''));
  await dashboard.waitForFunction(() => document.querySelectorAll('[data-testid="clients-table"] .label-histogram .label-bar').length === 20);
  assert.deepEqual((await shownCounts()).sort(), iid.clients.map((c) => c.labelCounts!.join(',')).sort());

  // A run on the IID split first, to compare with.
  const first = await fetch(`${coordinator.url}/api/run/start`, { method: 'POST', headers: adminHeaders() });
  assert.equal(first.status, 200, await first.text());
  const iidDone = await coordinator.waitFor('the run on the IID split', (s) => s.pastRuns.length === 1, 180_000);
  assert.equal(iidDone.phase, 'done', iidDone.message);

  // Ten slices of the digits sorted by label, one per shard: a tab now sees one digit (two where a slice straddles a boundary).
  const changed = await fetch(`${coordinator.url}/api/settings`, {
    method: 'PUT',
    headers: { ...adminHeaders(), 'content-type': 'application/json' },
    body: JSON.stringify({ partition: 'shards', classesPerClient: 1, shards: 10 }),
  });
  assert.equal(changed.status, 200, await changed.text());
  const started = await fetch(`${coordinator.url}/api/run/start`, { method: 'POST', headers: adminHeaders() });
  assert.equal(started.status, 200, await started.text());
  const done = await coordinator.waitFor('the run on the new split', (s) => s.pastRuns.length === 2, 180_000);
  assert.equal(done.phase, 'done', done.message);
  assert.equal(done.history[0].participants, 2, 'both tabs trained, on their new shards');
  for (const c of done.clients) {
    assert.ok(digitsIn(c.labelCounts) <= 2, `tab ${c.clientId} holds ${digitsIn(c.labelCounts)} digits: ${c.labelCounts}`);
    assert.ok(c.numExamples < 1000, `tab ${c.clientId} holds ${c.numExamples} examples: a tenth of 8,000, not half`);
  }
  await dashboard.waitForFunction(
    (expected) => {
      const shown = [...document.querySelectorAll('[data-testid="clients-table"] .label-histogram')].map((b) => (b as HTMLElement).dataset.counts);
      return expected.every((counts) => shown.includes(counts));
    },
    done.clients.map((c) => c.labelCounts!.join(',')),
  );

  // Both runs are kept, each with its accuracy in round 1, and their labels say what differed: the split.
  const { pastRuns } = (await (await fetch(`${coordinator.url}/api/status`)).json()) as RunState;
  assert.deepEqual(pastRuns.map((r) => [r.run, r.ended, r.settings.partition, r.rounds.length]), [[1, 'done', 'iid', 1], [2, 'done', 'shards', 1]]);
  const labels = labelRuns(pastRuns);
  assert.deepEqual(labels, ['IID, shards=2', '1 class per tab, shards=10']);
  await dashboard.getByTestId('runs-compared-chart').waitFor({ state: 'visible' });
  const drawn = await dashboard.evaluate(() => window.flockDashboard.runsCompared?.map((r) => ({ label: r.label, points: r.points.length })));
  assert.deepEqual(drawn, labels.map((label) => ({ label, points: 1 })));
});

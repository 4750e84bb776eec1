// A tab closed mid-round does not stall training; tabs reconnect by themselves
// after the coordinator restarts, and training goes on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright';
import { launchChromium, openTabs } from '../harness/browser.ts';
import { adminHeaders, startCoordinator } from '../harness/coordinator.ts';
import { tabView, waitForTab } from '../harness/participant-page.ts';

let browser: Browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

const start = (url: string) => fetch(`${url}/api/run/start`, { method: 'POST', headers: adminHeaders() });

test('a tab closed mid-round does not stop training', { timeout: 300_000 }, async () => {
  const deadlineMs = 200_000; // far longer than a round: closing must be noticed, not waited out
  const coordinator = await startCoordinator({
    shards: 4,
    rounds: 3,
    targetAccuracy: 1,
    localEpochs: 3,
    minClientsToStart: 3,
    minClientsPerRound: 2,
    roundDeadlineMs: deadlineMs,
  });
  try {
    const tabs = await openTabs(browser, `${coordinator.url}/?backend=wasm`, 3);
    await coordinator.waitFor('3 ready tabs', (s) => s.clients.filter((c) => c.backend).length === 3, 120_000);
    assert.equal((await start(coordinator.url)).status, 200);
    await coordinator.waitFor('round 1 training', (s) => s.phase === 'training' && s.round === 1);
    const leaving = (await tabView(tabs[0])).clientId;
    await tabs[0].context().close();
    const state = await coordinator.waitFor('the run to finish', (s) => s.phase === 'done' || s.phase === 'stopped', 240_000);
    assert.equal(state.phase, 'done', state.message);
    assert.equal(state.history.length, 3);
    const first = state.history[0];
    assert.deepEqual(first.dropped, [leaving]);
    assert.equal(first.participants, 2);
    assert.ok(first.durationMs < deadlineMs / 2, `round 1 took ${first.durationMs} ms: it waited for the closed tab`);
    for (const m of state.history.slice(1)) assert.equal(m.participants, 2);
  } finally {
    await coordinator.close();
  }
});

test('tabs reconnect by themselves after a coordinator restart and training goes on', { timeout: 300_000 }, async () => {
  const settings = { shards: 4, rounds: 1, targetAccuracy: 1, localEpochs: 1, minClientsToStart: 2, minClientsPerRound: 2 };
  const first = await startCoordinator(settings);
  const port = first.port;
  const tabs = await openTabs(browser, `${first.url}/?backend=wasm`, 2);
  await first.waitFor('2 ready tabs', (s) => s.clients.filter((c) => c.backend).length === 2, 120_000);
  await first.close();
  for (const page of tabs) await waitForTab(page, 'disconnected', '!flock.connected', 30_000);

  const second = await startCoordinator(settings, { port });
  try {
    await second.waitFor('both tabs back', (s) => s.clients.filter((c) => c.backend).length === 2, 120_000);
    assert.equal((await start(second.url)).status, 200);
    const state = await second.waitFor('a round after the restart', (s) => s.phase === 'done' || s.phase === 'stopped', 180_000);
    assert.equal(state.phase, 'done', state.message);
    assert.equal(state.history[0].participants, 2);
    for (const page of tabs) assert.equal((await tabView(page)).connected, true);
  } finally {
    await second.close();
  }
});

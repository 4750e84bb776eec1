// Every tfjs backend path, for real: tabs forced to WebGPU, WebGL, WASM and CPU each
// train and contribute accepted updates; with the CNN, WASM is skipped with its reason.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright';
import { BACKENDS } from '../shared/protocol/records.ts';
import { launchChromium, openTabs } from '../harness/browser.ts';
import { adminHeaders, startCoordinator } from '../harness/coordinator.ts';
import { tabView, waitForTab } from '../harness/participant-page.ts';

let browser: Browser;
before(async () => {
  browser = await launchChromium({ webgpu: true });
});
after(() => browser?.close());

test('tabs forced to webgpu, webgl, wasm and cpu each train the MLP and contribute accepted updates', { timeout: 420_000 }, async () => {
  const rounds = 2;
  const coordinator = await startCoordinator({
    shards: 8, // 1,000 digits per tab: the software WebGPU trains ~120 ex/s here
    rounds,
    targetAccuracy: 1,
    localEpochs: 1,
    minClientsToStart: BACKENDS.length,
    minClientsPerRound: BACKENDS.length,
    roundDeadlineMs: 240_000,
  });
  try {
    const tabs = await openTabs(browser, (i) => `${coordinator.url}/?backend=${BACKENDS[i]}`, BACKENDS.length);
    await coordinator.waitFor('4 ready tabs', (s) => s.clients.filter((c) => c.backend).length === BACKENDS.length, 120_000);
    assert.equal((await fetch(`${coordinator.url}/api/run/start`, { method: 'POST', headers: adminHeaders() })).status, 200);
    const state = await coordinator.waitFor('both rounds', (s) => s.phase === 'done' || s.phase === 'stopped', 360_000);
    assert.equal(state.phase, 'done', state.message);
    for (const m of state.history) assert.equal(m.participants, BACKENDS.length, `round ${m.round}: every backend's update was aggregated`);
    const reported = state.clients.map((c) => c.backend).sort();
    assert.deepEqual(reported, [...BACKENDS].sort());
    for (const [i, page] of tabs.entries()) {
      // every round aggregated all four tabs, so each ack arrives shortly after the run ends
      await waitForTab(page, 'every update acknowledged', `flock.updatesAccepted === ${rounds}`, 15_000);
      const view = await tabView(page);
      assert.equal(view.backend, BACKENDS[i]);
      assert.match(view.backendReason, /forced/);
      assert.equal(view.updatesAccepted, rounds, `${BACKENDS[i]} tab`);
      console.log(`${BACKENDS[i]}: ${view.updatesAccepted} updates accepted; ${view.backendReason}`);
    }
    assert.ok(state.history.at(-1)!.accuracy > 0.8, `accuracy ${state.history.at(-1)!.accuracy}`);
  } finally {
    await coordinator.close();
  }
});

test('with the CNN the probe skips WASM (no convolution gradients), says why, and trains on a backend that can', { timeout: 300_000 }, async () => {
  const coordinator = await startCoordinator({ model: 'cnn', shards: 16, rounds: 1, targetAccuracy: 1, localEpochs: 1, roundDeadlineMs: 200_000 });
  try {
    const [page] = await openTabs(browser, `${coordinator.url}/`, 1);
    await waitForTab(page, 'a backend picked', 'flock.backend !== null', 180_000);
    const view = await tabView(page);
    const wasm = view.probe.find((p) => p.backend === 'wasm');
    assert.ok(wasm, 'the probe tried wasm');
    assert.equal(wasm.examplesPerSec, null);
    assert.match(wasm.note, /Conv2DBackpropFilter|convolution/i);
    assert.notEqual(view.backend, 'wasm');
    assert.match(await page.textContent('body') ?? '', /Conv2DBackpropFilter|convolution/i, 'the page shows the reason');
    assert.equal((await fetch(`${coordinator.url}/api/run/start`, { method: 'POST', headers: adminHeaders() })).status, 200);
    const state = await coordinator.waitFor('one CNN round', (s) => s.phase === 'done' || s.phase === 'stopped', 240_000);
    assert.equal(state.phase, 'done', state.message);
    assert.equal(state.history[0].participants, 1);
    console.log(`cnn: picked ${view.backend}; ${view.backendReason}; accuracy after 1 round ${state.history[0].accuracy.toFixed(4)}`);
  } finally {
    await coordinator.close();
  }
});

test('forcing a backend that cannot train the model shows a clear error', { timeout: 120_000 }, async () => {
  const coordinator = await startCoordinator({ model: 'cnn' });
  try {
    const [page] = await openTabs(browser, `${coordinator.url}/?backend=wasm`, 1);
    await waitForTab(page, 'an error', 'flock.lastError !== null', 90_000);
    assert.match((await tabView(page)).lastError ?? '', /wasm/i);
    assert.equal(coordinator.state().clients.filter((c) => c.backend !== null).length, 0, 'the tab did not join training');
  } finally {
    await coordinator.close();
  }
});

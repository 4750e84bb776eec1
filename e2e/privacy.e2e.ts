// A run with clipping and Gaussian noise, started from the dashboard's button:
// it completes, the noise has the documented σ, and the dashboard shows the DP settings and ε.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright';
import { launchChromium, openTabs } from './browser.ts';
import { E2E_ACCESS, startCoordinator, type RunningCoordinator } from './coordinator.ts';

let browser: Browser;
let coordinator: RunningCoordinator;
const clipNorm = 1.5;
const noiseMultiplier = 0.3;

before(async () => {
  browser = await launchChromium();
  coordinator = await startCoordinator({
    shards: 4,
    rounds: 3,
    targetAccuracy: 1,
    localEpochs: 1,
    minClientsToStart: 2,
    minClientsPerRound: 2,
    clipNorm,
    noiseMultiplier,
  });
});
after(async () => {
  await browser?.close();
  await coordinator?.close();
});

test('a DP run started from the dashboard completes and the dashboard shows clip norm, noise and ε', { timeout: 300_000 }, async () => {
  await openTabs(browser, `${coordinator.url}/?backend=wasm`, 2);
  await coordinator.waitFor('2 ready tabs', (s) => s.clients.filter((c) => c.backend).length === 2, 120_000);
  const [dashboard] = await openTabs(browser, `${coordinator.url}/dashboard.html#admin=${E2E_ACCESS.adminToken}`, 1);
  await dashboard.getByTestId('start-button').click();
  const state = await coordinator.waitFor('the DP run to finish', (s) => s.phase === 'done' || s.phase === 'stopped', 240_000);
  assert.equal(state.phase, 'done', state.message);
  assert.equal(state.history.length, 3);
  for (const m of state.history) {
    // σ on the mean = z · C · max w / Σ w, with two equal shards of 2,000 digits
    assert.equal(m.noiseStd, (noiseMultiplier * clipNorm * 2000) / 4000);
    assert.ok(m.epsilon !== null && Number.isFinite(m.epsilon) && m.epsilon > 0);
  }
  assert.ok(state.history[2].epsilon! > state.history[0].epsilon!, 'ε grows with rounds');

  await dashboard.waitForFunction(() => (window as unknown as { flockDashboard: { state: { history: unknown[] } | null } }).flockDashboard.state?.history.length === 3);
  const settingsText = (await dashboard.getByTestId('settings-panel').textContent()) ?? '';
  const privacyText = (await dashboard.getByTestId('privacy').textContent()) ?? '';
  const shown = settingsText + privacyText;
  assert.match(shown, /1\.5/, 'clip norm shown');
  assert.match(shown, /0\.3/, 'noise multiplier shown');
  assert.match(privacyText, /ε/, 'ε shown');
  assert.ok(privacyText.includes(String(Math.floor(state.history[2].epsilon!))), `the ε shown is the run's (${state.history[2].epsilon})`);
});

// Differential privacy with real tabs. Central DP-FedAvg started from the dashboard: ε per round
// on the dashboard, and the run stops at the budget before a round would exceed it. Local DP:
// the tabs noise their own updates and the run completes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright';
import { epsilonSpent } from '../shared/fl/accountant.ts';
import { launchChromium, openTabs } from '../harness/browser.ts';
import { E2E_ACCESS, startCoordinator, type RunningCoordinator } from '../harness/coordinator.ts';
import type { IncomingMessage } from '../server/plugins/socket.ts';

let browser: Browser;
let coordinator: RunningCoordinator | undefined;

before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await coordinator?.close();
});

const clipNorm = 1.5;
const noiseMultiplier = 1.1;
const delta = 1e-5;
const epsilonAfter = (rounds: number) => epsilonSpent({ spends: [{ samplingRate: 1, noiseMultiplier, rounds }], delta }).epsilon;
// A budget that three rounds fit in and four do not.
const targetEpsilon = Number(((epsilonAfter(3) + epsilonAfter(4)) / 2).toFixed(3));

test('a central-DP run shows ε per round on the dashboard and stops at the target ε before exceeding it', { timeout: 300_000 }, async () => {
  coordinator = await startCoordinator({
    shards: 2,
    rounds: 10,
    targetAccuracy: 1,
    localEpochs: 1,
    minClientsToStart: 2,
    clipNorm,
    noiseMultiplier,
    dpDelta: delta,
    targetEpsilon,
  });
  const tabs = await openTabs(browser, `${coordinator.url}/?backend=wasm`, 2);
  await coordinator.waitFor('2 ready tabs', (s) => s.clients.filter((c) => c.backend).length === 2, 120_000);
  const [dashboard] = await openTabs(browser, `${coordinator.url}/dashboard.html#admin=${E2E_ACCESS.adminToken}`, 1);
  await dashboard.getByTestId('start-button').click();
  const state = await coordinator.waitFor('the DP run to end', (s) => s.phase === 'done' || s.phase === 'stopped', 240_000);
  assert.equal(state.phase, 'done', state.message);
  assert.equal(state.history.length, 3, `${state.history.length} rounds ran: three fit in ε ≤ ${targetEpsilon}`);
  assert.match(state.message, new RegExp(`privacy budget reached: .* over the target ${targetEpsilon}`));
  state.history.forEach((m, i) => {
    // Two tabs of one shard each, uniform weights: W = q · 2 = 2; noise z·C on the sum
    assert.equal(m.privacy?.expectedWeight, 2);
    assert.ok(Math.abs(m.noiseStd - (noiseMultiplier * clipNorm) / 2) < 1e-12, `noise std ${m.noiseStd}`);
    assert.ok(Math.abs(m.privacy!.epsilon - epsilonAfter(i + 1)) < 1e-9, `round ${i + 1}: ε ${m.privacy!.epsilon}`);
  });
  assert.ok(state.history[2].privacy!.epsilon <= targetEpsilon && epsilonAfter(4) > targetEpsilon);
  assert.equal(state.privacyBudget?.roundsSpent, 3);

  type Dashboard = { flockDashboard: { state: { history: unknown[] } | null; charts: { epsilon: { x: number; y: number }[]; epsilonTarget: number | null } } };
  await dashboard.waitForFunction(() => (window as unknown as Dashboard).flockDashboard.state?.history.length === 3);
  const plotted = await dashboard.evaluate(() => (window as unknown as Dashboard).flockDashboard.charts);
  assert.deepEqual(
    plotted.epsilon.map((p) => p.x),
    [1, 2, 3],
    'one ε point per round',
  );
  plotted.epsilon.forEach((p, i) => assert.ok(Math.abs(p.y - state.history[i].privacy!.epsilon) < 1e-9));
  assert.equal(plotted.epsilonTarget, targetEpsilon, 'the target line is drawn at the budget');
  assert.ok(await dashboard.getByTestId('epsilon-chart').isVisible());
  const privacyText = (await dashboard.getByTestId('privacy').textContent()) ?? '';
  assert.ok(privacyText.includes(state.history[2].privacy!.epsilon.toFixed(2).slice(0, 3)), `the ε shown is the run's: ${privacyText}`);
  // Closed before the coordinator, so that they do not keep knocking at its port during the next test.
  await Promise.all([...tabs, dashboard].map((page) => page.context().close()));
  await coordinator.close();
  coordinator = undefined;
});

test('a local-DP run completes: every tab clips and noises its own update, and says so', { timeout: 300_000 }, async () => {
  const localNoiseMultiplier = 0.8;
  const localClip = 0.5;
  const received: IncomingMessage[] = [];
  coordinator = await startCoordinator(
    {
      shards: 2,
      rounds: 2,
      targetAccuracy: 1,
      localEpochs: 1,
      minClientsToStart: 2,
      minClientsPerRound: 2,
      clipNorm: localClip,
      localNoiseMultiplier,
    },
    { observeIncoming: (message) => received.push(message) },
  );
  const tabs = await openTabs(browser, `${coordinator.url}/?backend=wasm`, 2);
  await coordinator.waitFor('2 ready tabs', (s) => s.clients.filter((c) => c.backend).length === 2, 120_000);
  const response = await fetch(`${coordinator.url}/api/run/start`, { method: 'POST', headers: { authorization: `Bearer ${E2E_ACCESS.adminToken}` } });
  assert.equal(response.status, 200, await response.text());
  const state = await coordinator.waitFor('the local-DP run to finish', (s) => s.phase === 'done' || s.phase === 'stopped', 240_000);
  assert.equal(state.phase, 'done', state.message);
  assert.equal(state.history.length, 2);
  const last = state.history[1].localPrivacy!;
  assert.equal(last.noiseStdPerTab, localNoiseMultiplier * localClip);
  // two tabs of equal weight: σ·√2/2 on the mean
  assert.ok(Math.abs(last.noiseStdOnMean - (localNoiseMultiplier * localClip) / Math.SQRT2) < 1e-12);
  const perTab = epsilonSpent({ spends: [{ samplingRate: 1, noiseMultiplier: localNoiseMultiplier / 2, rounds: 2 }], delta: 1e-5 }).epsilon;
  assert.ok(Math.abs(last.epsilonPerTab - perTab) < 1e-9, `ε per tab ${last.epsilonPerTab}, expected ${perTab}`);
  assert.equal(state.privacyBudget, null, 'no central noise: no central budget');
  for (const tab of tabs) {
    const line = (await tab.getByTestId('privacy-line').textContent()) ?? '';
    assert.match(line, /added Gaussian noise of std 0\.4 per value here \(local DP\)/);
    const privatized = await tab.evaluate(() => (window as unknown as { flock: { privatized: { clippedTo: number; noiseStd: number } } }).flock.privatized);
    assert.ok(privatized.clippedTo <= localClip * (1 + 1e-6) && privatized.noiseStd === localNoiseMultiplier * localClip);
  }
  // Under local DP the tabs send no statistics of their data: no label counts, no losses, no evaluation reports.
  const payloads = (event: string) => received.filter((m) => m.event === event).map((m) => m.args[0] as Record<string, unknown>);
  assert.equal(payloads('participant:ready').length >= 2, true);
  for (const ready of payloads('participant:ready')) assert.ok(!('labelCounts' in ready), `a ready report with label counts: ${JSON.stringify(ready)}`);
  assert.ok(payloads('participant:progress').length > 0 && payloads('participant:update').length === 4);
  for (const event of ['participant:progress', 'participant:update']) {
    for (const payload of payloads(event)) assert.ok(!('loss' in payload), `${event} carried a loss`);
  }
  assert.deepEqual(payloads('participant:evaluation'), [], 'no evaluation reports');
});

// Secure aggregation with real tabs: three tabs exchange keys, one is closed before it sends its
// masked update, and the round still completes. The new global model is the FedAvg of the two
// survivors' updates (to fixed-point tolerance), and nothing the coordinator received holds an
// unmasked update.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright';
import { launchChromium, openTabs } from '../harness/browser.ts';
import { adminHeaders, startCoordinator, type RunningCoordinator } from '../harness/coordinator.ts';
import { lastUpdate } from '../harness/participant-page.ts';
import type { IncomingMessage } from '../server/plugins/socket.ts';

let browser: Browser;
let coordinator: RunningCoordinator;
const received: IncomingMessage[] = [];

before(async () => {
  browser = await launchChromium();
  coordinator = await startCoordinator(
    {
      shards: 3,
      rounds: 1,
      targetAccuracy: 1,
      localEpochs: 1,
      minClientsToStart: 3,
      minClientsPerRound: 2,
      secureAggregation: true,
      clipNorm: 5,
      secAggThreshold: 0.6,
      roundDeadlineMs: 120_000,
    },
    { observeIncoming: (message) => received.push(message) },
  );
});
after(async () => {
  await browser?.close();
  await coordinator?.close();
});

/** Pearson correlation of two equally long vectors. */
function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

test('secure aggregation: a tab closed after the key exchange, the round completes with the FedAvg of the survivors, and the coordinator never sees an update', { timeout: 300_000 }, async () => {
  // The third tab trains on the cpu backend (~4× slower than wasm here): it is still training when it is closed.
  const tabs = await openTabs(browser, (i) => `${coordinator.url}/?backend=${i === 2 ? 'cpu' : 'wasm'}`, 3);
  await coordinator.waitFor('3 ready tabs', (s) => s.clients.filter((c) => c.backend).length === 3, 120_000);
  const before = coordinator.coordinator.global.slice();
  const started = await fetch(`${coordinator.url}/api/run/start`, { method: 'POST', headers: adminHeaders() });
  assert.equal(started.status, 200, await started.text());

  // After the key exchange: every tab has sent its encrypted shares.
  const shares = () => received.filter((m) => m.event === 'secagg:shares').length;
  const deadline = Date.now() + 60_000;
  while (shares() < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(shares(), 3, 'all three tabs shared their keys');
  const examplesOf = new Map(coordinator.state().clients.map((c) => [c.clientId, c.numExamples]));
  const slowId = coordinator.state().clients.find((c) => c.backend === 'cpu')!.clientId;
  assert.ok(!received.some((m) => m.event === 'secagg:masked-update' && coordinator.coordinator.room.onConnection(m.socketId)?.clientId === slowId));
  await tabs[2].context().close();

  const state = await coordinator.waitFor('the secure round to finish', (s) => s.phase === "done" || s.phase === "stopped", 60_000);
  assert.equal(state.phase, 'done', state.message);
  const record = state.history[0].secureAggregation!;
  assert.deepEqual(record, { threshold: 2, advertised: 3, shared: 3, masked: 2, revealed: 2, recovered: 1, distributedNoise: false });

  // What the survivors computed, read from their own pages.
  const survivors = await Promise.all(
    tabs.slice(0, 2).map(async (tab) => {
      const clientId = await tab.evaluate(() => window.flock.clientId!);
      const { round, delta } = await lastUpdate(tab);
      assert.equal(round, 1);
      return { clientId, delta, examples: examplesOf.get(clientId)! };
    }),
  );
  // Without DP the weights are relative to the roster's largest claim; all three tabs are in it.
  const largest = Math.max(...examplesOf.values());
  const weights = survivors.map((s) => s.examples / largest);
  const total = weights[0] + weights[1];
  const after = coordinator.coordinator.global;
  let worst = 0;
  for (let i = 0; i < after.length; i++) {
    const expected = (weights[0] * survivors[0].delta[i] + weights[1] * survivors[1].delta[i]) / total;
    worst = Math.max(worst, Math.abs(after[i] - before[i] - expected));
  }
  // 3 tabs clipped to 5: fixed point at scale 2²⁷ (7.5e-9 per term), then float32 rounding of the model
  assert.ok(worst < 2e-6, `the new global model is off the survivors' FedAvg by ${worst}`);

  // The record of every message: no plain update, and no masked one that resembles its tab's update.
  assert.equal(received.filter((m) => m.event === 'participant:update').length, 0, 'no plain update was sent');
  const masked = received.filter((m) => m.event === 'secagg:masked-update');
  assert.equal(masked.length, 2);
  // Nor any statistics of the tabs' data: no label counts, losses or evaluation reports.
  for (const message of received.filter((m) => ['participant:ready', 'participant:progress', 'secagg:masked-update'].includes(m.event))) {
    const payload = message.args[0] as Record<string, unknown>;
    assert.ok(!('labelCounts' in payload) && !('loss' in payload), `${message.event} carried statistics: ${Object.keys(payload).join(', ')}`);
  }
  assert.equal(received.filter((m) => m.event === 'participant:evaluation').length, 0, 'no evaluation reports');
  for (const message of masked) {
    const clientId = coordinator.coordinator.room.onConnection(message.socketId)?.clientId;
    const own = survivors.find((s) => s.clientId === clientId)!;
    const bytes = (message.args[0] as { masked: Uint8Array }).masked;
    const words = new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)).subarray(0, own.delta.length);
    const rho = correlation(words, own.delta);
    // Unmasked, the fixed-point words would correlate with the update at ≈ 1; masked, at ≈ 0 (±1/√P ≈ 0.002).
    assert.ok(Math.abs(rho) < 0.02, `a masked update correlates with its tab's update at ${rho}`);
  }
});

// The core promise: four real headless Chromium tabs, each picking its backend by
// measurement and training on its own IID shard, federate an MLP to ≥ 0.90 test
// accuracy; the tabs' federated evaluation on their held-out digits agrees with the coordinator's
// test set; and nothing but model deltas and small metadata reaches the coordinator.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright';
import { MODEL_SPECS } from '../shared/model-spec.ts';
import { decodeWeights, encodedByteLength } from '../shared/wire.ts';
import type { IncomingMessage } from '../server/plugins/socket.ts';
import { launchChromium, openTabs } from '../harness/browser.ts';
import { adminHeaders, startCoordinator, type RunningCoordinator } from '../harness/coordinator.ts';
import { tabView, waitForTab } from '../harness/participant-page.ts';

const TABS = 4;
const ROUNDS = 6;
const received: IncomingMessage[] = [];
let coordinator: RunningCoordinator;
let browser: Browser;
let tabs: Page[];

/**
 * tf.memory().numTensors in each tab's worker after each round it trained: per tab, round → the
 * counts read for it. The page shows the count of the last round it finished training, so a
 * reading taken while it trains round r is round r − 1's.
 */
type TensorCounts = Map<number, Set<number>>;

/** Reads every tab's state every 250 ms (a round trains for seconds) until `stop()` is called. */
function recordTensorCounts(pages: Page[]): { counts: TensorCounts[]; stop: () => Promise<void> } {
  const counts = pages.map((): TensorCounts => new Map());
  let stopped = false;
  const polling = (async () => {
    while (!stopped) {
      const views = await Promise.all(pages.map((page) => tabView(page)));
      for (const [i, view] of views.entries()) {
        if (view.numTensors === null) continue;
        const round = view.status === 'training' ? view.round - 1 : view.round;
        if (round < 1) continue; // the count after loading, before any training
        const seen = counts[i].get(round) ?? new Set<number>();
        counts[i].set(round, seen.add(view.numTensors));
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return {
    counts,
    stop: async () => {
      stopped = true;
      await polling;
    },
  };
}
let recording: ReturnType<typeof recordTensorCounts> | undefined;

before(async () => {
  coordinator = await startCoordinator(
    { shards: TABS, rounds: ROUNDS, targetAccuracy: 1, minClientsToStart: TABS, minClientsPerRound: TABS - 1, localEpochs: 2, roundDeadlineMs: 180_000 },
    { observeIncoming: (message) => received.push(message) },
  );
  browser = await launchChromium({ webgpu: true }); // every backend is on offer to the probe
  tabs = await openTabs(browser, `${coordinator.url}/`, TABS);
});

after(async () => {
  await recording?.stop(); // stopped already, unless the run failed
  await browser?.close();
  await coordinator?.close();
});

test(`${TABS} tabs federate the MLP to at least 0.90 global test accuracy in ${ROUNDS} rounds`, { timeout: 600_000 }, async () => {
  await coordinator.waitFor(`${TABS} ready tabs`, (s) => s.clients.filter((c) => c.backend !== null).length === TABS, 180_000);
  recording = recordTensorCounts(tabs);
  const start = await fetch(`${coordinator.url}/api/run/start`, { method: 'POST', headers: adminHeaders() });
  assert.equal(start.status, 200, await start.text());
  const state = await coordinator.waitFor('the run to finish', (s) => s.phase === 'done' || s.phase === 'stopped', 480_000);

  console.log('round  accuracy  loss    participants');
  for (const m of state.history) console.log(`${String(m.round).padStart(5)}  ${m.accuracy.toFixed(4)}    ${m.loss.toFixed(4)}  ${m.participants}/${m.selected}`);
  for (const [i, page] of tabs.entries()) {
    const view = await tabView(page);
    console.log(`tab ${i}: ${view.backend} — ${view.backendReason}`);
  }

  assert.equal(state.phase, 'done', state.message);
  assert.equal(state.history.length, ROUNDS);
  const final = state.history.at(-1)!;
  assert.ok(final.accuracy >= 0.9, `final global test accuracy ${final.accuracy} < 0.90`);
  assert.ok(state.history[0].accuracy < final.accuracy, 'accuracy should improve over the run');

  // Federated evaluation: every round's model, the final one too, was evaluated by the tabs on the
  // digits they hold out (a tenth of 2,000 each); the final model's report comes after the run ends.
  const evaluated = await coordinator.waitFor(
    'every tab\'s report on the final model',
    (s) => s.history.at(-1)?.federatedEvaluation?.tabs === TABS,
    30_000,
  );
  console.log('round  test acc  federated acc (held-out examples, tabs)');
  for (const m of evaluated.history) {
    const f = m.federatedEvaluation;
    console.log(`${String(m.round).padStart(5)}  ${m.accuracy.toFixed(4)}    ${f ? `${f.accuracy.toFixed(4)} (${f.count}, ${f.tabs})` : '—'}`);
  }
  for (const m of evaluated.history) {
    assert.ok(m.federatedEvaluation && m.federatedEvaluation.count > 0, `round ${m.round} has no federated evaluation`);
    assert.equal(m.accuracySource, 'test-set');
  }
  const federated = evaluated.history.at(-1)!.federatedEvaluation!;
  assert.equal(federated.count, TABS * 200);
  assert.ok(Math.abs(federated.accuracy - final.accuracy) <= 0.05, `federated accuracy ${federated.accuracy} vs test accuracy ${final.accuracy}`);
  for (const page of tabs) {
    // every round aggregated all four tabs, so each tab's acks arrive shortly after
    await waitForTab(page, 'every update acknowledged', `flock.updatesAccepted === ${ROUNDS}`, 15_000);
    const view = await tabView(page);
    assert.ok(view.backend, 'each tab reports its backend');
    assert.ok(view.probe.some((p) => p.examplesPerSec !== null), 'the backend was picked by measuring');
    assert.equal(view.updatesRejected, 0);
    assert.equal(view.heldOutExamples, 200);
    assert.equal(view.heldOutEvaluation?.round, ROUNDS, 'the page shows its own figure on the final model');
    assert.equal(view.lastError, null);
  }
  await recording.stop(); // every tab has acknowledged its last update: its last round's count is in
});

test('tfjs memory stays flat across rounds in every tab', () => {
  assert.ok(recording, 'the run above recorded the counts');
  for (const [i, counts] of recording.counts.entries()) {
    const perRound = Array.from({ length: ROUNDS }, (_, r) => [...(counts.get(r + 1) ?? [])]);
    console.log(`tab ${i}: numTensors after rounds 1–${ROUNDS}: ${perRound.map((c) => c.join('/') || '?').join(', ')}`);
    const [afterFirst] = perRound[0];
    // One model's weights + its training data + optimizer-free SGD: a small constant, not growing with rounds.
    assert.ok(afterFirst !== undefined && afterFirst < 40, `tab ${i}: numTensors after round 1: ${afterFirst}`);
    for (const [r, seen] of perRound.entries()) {
      assert.ok(seen.length > 0, `tab ${i}: no reading after round ${r + 1}`);
      assert.deepEqual(seen, [afterFirst], `tab ${i}: numTensors after round ${r + 1} is ${seen.join(' and ')}, after round 1 it was ${afterFirst}`);
    }
  }
});

test('only model deltas and small metadata reached the coordinator: no pixels, no labels', () => {
  const spec = MODEL_SPECS.mlp;
  const allowed = new Set(['participant:join', 'participant:ready', 'participant:progress', 'participant:update', 'participant:evaluation']);
  let updates = 0;
  for (const message of received) {
    assert.ok(allowed.has(message.event), `unexpected event ${message.event}`);
    const [payload] = message.args;
    if (message.event === 'participant:update') {
      updates++;
      const { delta, ...meta } = payload as Record<string, unknown>;
      assert.deepEqual(Object.keys(meta).sort(), ['loss', 'numExamples', 'round']);
      assert.ok(ArrayBuffer.isView(delta), 'the delta arrives as binary');
      assert.equal((delta as Uint8Array).byteLength, encodedByteLength(spec));
      assert.equal(decodeWeights(spec, delta).length, spec.paramCount, 'the only binary is a weight vector of the model');
    } else {
      const json = JSON.stringify(message.args);
      assert.ok(json.length < 2048, `${message.event} carried ${json.length} bytes: ${json.slice(0, 200)}`);
      assert.ok(!message.args.some((arg) => hasBinary(arg)), `${message.event} carried binary data`);
    }
  }
  assert.ok(updates >= TABS * (ROUNDS - 1), `${updates} updates recorded`);
  // The engine-level byte count agrees: each tab sent about one model per round, not its 2,000 digits (1.57 MB).
  for (const client of coordinator.state().clients) {
    const perUpdate = encodedByteLength(spec);
    assert.ok(client.bytesReceived !== null && client.bytesReceived < (ROUNDS + 1) * perUpdate * 1.02, `tab ${client.clientId} sent ${client.bytesReceived} bytes`);
  }
});

function hasBinary(value: unknown): boolean {
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return true;
  if (value && typeof value === 'object') return Object.values(value).some(hasBinary);
  return false;
}

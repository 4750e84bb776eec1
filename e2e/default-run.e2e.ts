// The run a class gets without touching a setting: 4 tabs, and then 8, on the defaults (each
// tab picks its backend by measuring; one shard per tab, so all 8,000 training digits are in use)
// cross the default target accuracy within the default rounds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright';
import { DEFAULT_SETTINGS } from '../shared/settings.ts';
import { TRAIN_COUNT } from '../server/data-paths.ts';
import { launchChromium, openTabs } from '../harness/browser.ts';
import { adminHeaders, startCoordinator } from '../harness/coordinator.ts';

let browser: Browser;

before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

for (const tabs of [4, 8]) {
  test(`${tabs} tabs on the default settings cross the default target (${DEFAULT_SETTINGS.targetAccuracy}) within ${DEFAULT_SETTINGS.rounds} rounds`, { timeout: 900_000 }, async () => {
    const coordinator = await startCoordinator({});
    const pages = await openTabs(browser, `${coordinator.url}/`, tabs);
    try {
      await coordinator.waitFor(`${tabs} ready tabs`, (s) => s.clients.filter((c) => c.backend !== null).length === tabs, 240_000);
      const started = await fetch(`${coordinator.url}/api/run/start`, { method: 'POST', headers: adminHeaders() });
      assert.equal(started.status, 200, await started.text());
      const done = await coordinator.waitFor('the run to end', (s) => s.phase === 'done' || s.phase === 'stopped', 800_000);
      const firstRoundMs = done.history[0]?.durationMs ?? 0;
      console.log(`${tabs} tabs (${done.clients.map((c) => c.backend).join(', ')}), first round ${Math.round(firstRoundMs / 1000)} s`);
      console.log(`accuracy per round: ${done.history.map((m) => m.accuracy.toFixed(4)).join(' ')}`);

      assert.equal(done.phase, 'done', done.message);
      const final = done.history.at(-1)!;
      assert.ok(final.accuracy >= DEFAULT_SETTINGS.targetAccuracy, `ended at ${final.accuracy} after ${done.history.length} rounds: ${done.message}`);
      assert.ok(done.history.length <= DEFAULT_SETTINGS.rounds);
      // One shard per tab: the tabs hold every training digit between them, none twice.
      const split = coordinator.coordinator.split();
      assert.equal(split.partition.shards, tabs);
      assert.deepEqual(done.clients.map((c) => c.shard).sort((a, b) => a - b), Array.from({ length: tabs }, (_, i) => i));
      const held = done.clients.reduce((n, c) => n + c.numExamples + c.heldOutExamples, 0);
      assert.equal(held, TRAIN_COUNT, 'the shards the tabs hold (trained on and held out) add up to the whole training set');
      // The tabs evaluate the final model on their held-out digits after the run is done.
      const evaluated = await coordinator.waitFor('the final model\'s federated evaluation', (s) => s.history.at(-1)?.federatedEvaluation?.tabs === tabs, 60_000);
      const federated = evaluated.history.at(-1)!.federatedEvaluation!;
      assert.ok(Math.abs(federated.accuracy - final.accuracy) < 0.05, `held-out ${federated.accuracy} vs test set ${final.accuracy}`);
      console.log(`final model on the tabs' held-out digits: ${federated.accuracy.toFixed(4)} (${federated.count} digits, ${federated.tabs} tabs)`);
      assert.ok(done.history.every((m) => m.participants === tabs), 'every tab trained in every round');
    } finally {
      await Promise.all(pages.map((page) => page.context().close()));
      await coordinator.close();
    }
  });
}

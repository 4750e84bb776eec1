// A student draws a digit, labels it, and it joins that tab's local data: the next
// round's update is weighted with one more example. The try-it panel classifies a drawing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright';
import type { IncomingMessage } from '../server/plugins/socket.ts';
import { launchChromium, openTabs } from '../harness/browser.ts';
import { adminHeaders, startCoordinator, type RunningCoordinator } from '../harness/coordinator.ts';
import { tabView, waitForTab } from '../harness/participant-page.ts';

let browser: Browser;
let coordinator: RunningCoordinator;
const received: IncomingMessage[] = [];

before(async () => {
  browser = await launchChromium();
  coordinator = await startCoordinator({ shards: 8, rounds: 1, targetAccuracy: 1, localEpochs: 1 }, { observeIncoming: (m) => received.push(m) });
});
after(async () => {
  await browser?.close();
  await coordinator?.close();
});

/** Draws a vertical stroke — a "1" — on the canvas with the given test id. */
async function drawOne(page: Page, testId: string): Promise<void> {
  await page.getByTestId(testId).scrollIntoViewIfNeeded(); // mouse events only land inside the viewport
  const box = (await page.getByTestId(testId).boundingBox())!;
  const x = box.x + box.width / 2;
  await page.mouse.move(x, box.y + box.height * 0.15);
  await page.mouse.down();
  for (let step = 1; step <= 10; step++) await page.mouse.move(x, box.y + box.height * (0.15 + 0.07 * step));
  await page.mouse.up();
}

test('a drawn, labelled digit is added to the local data and used in the next round', { timeout: 180_000 }, async () => {
  const [page] = await openTabs(browser, `${coordinator.url}/?backend=wasm`, 1);
  await waitForTab(page, 'ready', "flock.status === 'waiting for a round'", 90_000);
  const before = (await tabView(page)).numExamples;
  assert.equal(before, 900, 'its 1,000-digit shard less the tenth held out for federated evaluation');

  await drawOne(page, 'draw-pad');
  await page.getByTestId('label-1').click();
  await waitForTab(page, 'the drawing added', 'flock.drawnExamples === 1');
  assert.equal((await tabView(page)).numExamples, before + 1);
  await coordinator.waitFor('the coordinator to know the new count', (s) => s.clients[0]?.numExamples === before + 1, 10_000);
  assert.match((await page.getByTestId('draw-feedback').textContent()) ?? '', /Added your 1/);

  assert.equal((await fetch(`${coordinator.url}/api/run/start`, { method: 'POST', headers: adminHeaders() })).status, 200);
  const state = await coordinator.waitFor('the round', (s) => s.phase === 'done' || s.phase === 'stopped', 120_000);
  assert.equal(state.phase, 'done', state.message);
  const update = received.find((m) => m.event === 'participant:update');
  assert.equal((update?.args[0] as { numExamples: number }).numExamples, before + 1, 'the update was trained on the shard plus the drawing');
  assert.equal(state.history[0].totalWeight, before + 1);
});

test('the try-it panel on the participant page classifies a drawing with the global model', { timeout: 60_000 }, async () => {
  const [page] = await openTabs(browser, `${coordinator.url}/?backend=wasm`, 1);
  await drawOne(page, 'try-it-pad');
  await page.waitForFunction(() => /^[0-9]$/.test(document.querySelector('[data-testid="try-it-prediction"]')?.textContent?.trim() ?? ''), undefined, {
    timeout: 30_000,
  });
  const probabilities = await page.$$eval('[data-testid="try-it-probabilities"] [data-probability]', (rows) =>
    rows.map((row) => Number((row as HTMLElement).dataset.probability)),
  );
  assert.equal(probabilities.length, 10);
  assert.ok(Math.abs(probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-3);
});

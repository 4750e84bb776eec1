// The dashboard in headless Chromium against a real coordinator: the QR code decodes to the
// join URL with the room code, steering needs the admin token, a bad setting shows the
// coordinator's own message, and a digit drawn on the try-it pad gets a prediction.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import type { Browser, Page } from 'playwright';
import { DEFAULT_SETTINGS } from '../shared/settings.ts';
import { launchChromium, openTabs } from '../harness/browser.ts';
import { adminHeaders, E2E_ACCESS, startCoordinator, type RunningCoordinator } from '../harness/coordinator.ts';

const ROOM_CODE = 'K7PQ4M';

let coordinator: RunningCoordinator;
let browser: Browser;
let page: Page;

before(async () => {
  coordinator = await startCoordinator({ minClientsToStart: 2 }, { access: { roomCode: ROOM_CODE } });
  browser = await launchChromium();
  [page] = await openTabs(browser, `${coordinator.url}/dashboard.html`, 1);
  await page.waitForFunction(() => window.flockDashboard?.state !== null && window.flockDashboard.connected);
});

after(async () => {
  await browser?.close();
  await coordinator?.close();
});

test('the QR code decodes to the join URL, which carries the room code', async () => {
  const joinUrl = coordinator.state().joinUrls[0];
  assert.equal(new URL(joinUrl).searchParams.get('room'), ROOM_CODE);
  const qr = page.getByTestId('join-qr');
  await page.waitForFunction(() => document.querySelector('[data-testid="join-qr"] svg') !== null);
  assert.equal(await qr.getAttribute('data-url'), joinUrl);

  const png = PNG.sync.read(await qr.screenshot());
  const decoded = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.byteLength), png.width, png.height);
  assert.ok(decoded !== null, `no QR code found in the ${png.width}×${png.height} screenshot`);
  assert.equal(decoded.data, joinUrl);

  assert.equal(await page.getByTestId('room-code').textContent(), ROOM_CODE);
  assert.equal(await page.getByTestId('join-url').getAttribute('href'), joinUrl);
});

test('start without the admin token shows the refusal and asks for the token; with it, the run starts', async () => {
  await page.getByTestId('start-button').click();
  const error = page.getByTestId('error');
  await error.waitFor({ state: 'visible' });
  assert.match((await error.textContent()) ?? '', /start needs the admin token/);
  assert.equal(coordinator.state().phase, 'idle', 'the refused start changed nothing');

  // A wrong token is refused as well, and forgotten.
  await page.getByTestId('admin-token-input').fill('not-the-token');
  await page.getByTestId('admin-token-save').click();
  await page.getByTestId('start-button').click();
  await page.waitForFunction(() => /HTTP 403/.test(document.querySelector('[data-testid="error"]')?.textContent ?? ''));
  assert.equal(coordinator.state().phase, 'idle');

  await page.getByTestId('admin-token-input').fill(E2E_ACCESS.adminToken);
  await page.getByTestId('admin-token-save').click();
  await page.getByTestId('start-button').click();
  await coordinator.waitFor('the run to start', (s) => s.phase !== 'idle', 10_000);
  await page.waitForFunction(() => window.flockDashboard.state?.phase === 'waiting');
  assert.equal(await error.isVisible(), false, 'the error is gone once a command succeeds');

  await page.getByTestId('stop-button').click();
  await coordinator.waitFor('the run to stop', (s) => s.phase === 'stopped', 10_000);
});

test('a bad setting shows the coordinator\'s message next to the form; a good one is saved', async () => {
  const reply = await fetch(`${coordinator.url}/api/settings`, {
    method: 'PUT',
    headers: { ...adminHeaders(), 'content-type': 'application/json' },
    body: JSON.stringify({ learningRate: 50 }),
  });
  assert.equal(reply.status, 400);
  const { error: serverMessage } = (await reply.json()) as { error: string };

  const feedback = page.getByTestId('settings-feedback');
  await page.getByTestId('setting-learningRate').fill('50');
  await page.getByTestId('settings-save').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="settings-feedback"]')?.getAttribute('data-kind') === 'error');
  assert.ok((await feedback.textContent())?.includes(serverMessage), `"${await feedback.textContent()}" should quote "${serverMessage}"`);
  assert.equal(coordinator.state().settings.learningRate, DEFAULT_SETTINGS.learningRate, 'nothing changed');

  await page.getByTestId('setting-learningRate').fill('0.05');
  await page.getByTestId('setting-roundDeadlineMs').fill('30');
  await page.getByTestId('settings-save').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="settings-feedback"]')?.getAttribute('data-kind') === 'ok');
  assert.match((await feedback.textContent()) ?? '', /apply from the next run/);
  assert.equal(coordinator.state().settings.learningRate, 0.05);
  assert.equal(coordinator.state().settings.roundDeadlineMs, 30_000, 'the deadline is typed in seconds');
});

test('a digit drawn on the try-it pad gets a prediction and 10 probabilities', async () => {
  const pad = page.getByTestId('try-it-pad');
  await pad.scrollIntoViewIfNeeded();
  const box = await pad.boundingBox();
  assert.ok(box !== null);
  // A "1": one vertical stroke down the middle.
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.15);
  await page.mouse.down();
  for (let step = 1; step <= 12; step++) await page.mouse.move(box.x + box.width * 0.52, box.y + box.height * (0.15 + 0.06 * step));
  await page.mouse.up();

  const prediction = page.getByTestId('try-it-prediction');
  await page.waitForFunction(() => /^[0-9]$/.test(document.querySelector('[data-testid="try-it-prediction"]')?.textContent ?? ''), null, {
    timeout: 30_000,
  });
  const digit = Number(await prediction.textContent());
  const probabilities = await page
    .getByTestId('try-it-probabilities')
    .locator('[data-digit]')
    .evaluateAll((rows) => rows.map((row) => Number((row as HTMLElement).dataset.probability)));
  assert.equal(probabilities.length, 10);
  const sum = probabilities.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 1) < 1e-3, `probabilities sum to ${sum}`);
  assert.equal(probabilities.indexOf(Math.max(...probabilities)), digit, 'the prediction is the most probable digit');
});

test('Download model saves model.json and weights.bin, and the snippet names this coordinator', async () => {
  const downloads: { name: string; bytes: number }[] = [];
  const saved = new Promise<void>((resolve) => {
    page.on('download', async (download) => {
      const stream = await download.createReadStream();
      let bytes = 0;
      for await (const chunk of stream) bytes += (chunk as Buffer).length;
      downloads.push({ name: download.suggestedFilename(), bytes });
      if (downloads.length === 2) resolve();
    });
  });
  await page.getByTestId('download-model').click();
  await saved;
  const byName = Object.fromEntries(downloads.map((d) => [d.name, d.bytes]));
  assert.deepEqual(Object.keys(byName).sort(), ['model.json', 'weights.bin']);
  assert.equal(byName['weights.bin'], 4 * 199_210, 'the mlp\'s 199,210 float32 weights');
  const snippet = (await page.getByTestId('model-snippet').textContent()) ?? '';
  assert.ok(snippet.includes(`tf.loadLayersModel('${new URL(coordinator.state().joinUrls[0]).origin}/api/model/model.json')`), snippet);
});

test('the admin token in the dashboard link is taken and removed from the address bar', async () => {
  const [tab] = await openTabs(browser, `${coordinator.url}/dashboard.html#admin=${E2E_ACCESS.adminToken}`, 1);
  await tab.waitForFunction(() => window.flockDashboard?.state !== null);
  assert.equal(new URL(tab.url()).hash, '');
  assert.match((await tab.getByTestId('admin-status').textContent()) ?? '', /token set/);
  await tab.getByTestId('start-button').click();
  await coordinator.waitFor('the run to start', (s) => s.phase === 'waiting', 10_000);
  await tab.getByTestId('stop-button').click();
  await coordinator.waitFor('the run to stop', (s) => s.phase === 'stopped', 10_000);
  await tab.context().close();
});

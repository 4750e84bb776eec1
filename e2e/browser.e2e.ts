// Smoke test of the browser every other e2e test relies on: it launches, it has the GPU APIs
// tfjs's webgl and webgpu backends need (software, via SwiftShader), and a participant tab keeps
// its identity the way the page means to (web/participant/connection.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { launchChromium, openTabs } from '../harness/browser.ts';
import { startCoordinator } from '../harness/coordinator.ts';
import { tabView, waitForTab } from '../harness/participant-page.ts';

const BLANK_PAGE = 'data:text/html,<!doctype html><title>flock smoke</title>';

// navigator.gpu needs a secure context with an origin, which a data: page is not;
// http://127.0.0.1 is one (loopback counts as trustworthy).
let server: Server;
let loopbackPage: string;
before(async () => {
  server = createServer((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>flock smoke</title>'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  loopbackPage = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
after(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
});

test('Chromium launches with WebGL2', async () => {
  const browser = await launchChromium();
  try {
    const [page] = await openTabs(browser, BLANK_PAGE, 1);
    const webgl = await page.evaluate(() => {
      const gl = document.createElement('canvas').getContext('webgl2');
      if (gl === null) return null;
      // tfjs's webgl backend trains in float32 textures; it needs this extension.
      return { version: String(gl.getParameter(gl.VERSION)), floatRender: gl.getExtension('EXT_color_buffer_float') !== null };
    });
    assert.ok(webgl !== null, 'canvas.getContext("webgl2") returned null: no WebGL2 in this Chromium');
    assert.match(webgl.version, /^WebGL 2\.0/);
    assert.equal(webgl.floatRender, true, 'EXT_color_buffer_float missing: tfjs webgl cannot render float32');
  } finally {
    await browser.close();
  }
});

test('Chromium with webgpu: true has a WebGPU adapter', async () => {
  const browser = await launchChromium({ webgpu: true });
  try {
    const [page] = await openTabs(browser, loopbackPage, 1);
    const adapter = await page.evaluate(async () => {
      if (!('gpu' in navigator)) return { exposed: false, found: false };
      const found = await navigator.gpu.requestAdapter();
      return { exposed: true, found: found !== null };
    });
    assert.equal(adapter.exposed, true, 'navigator.gpu is missing (not a secure context?)');
    assert.equal(adapter.found, true, 'navigator.gpu.requestAdapter() returned null despite --enable-unsafe-webgpu');
  } finally {
    await browser.close();
  }
});

test('a tab keeps its identity across a reload (resume token in sessionStorage only); another browser context is another tab', async () => {
  const coordinator = await startCoordinator({ shards: 2 });
  const browser = await launchChromium();
  try {
    const url = `${coordinator.url}/?backend=wasm`;
    const [page] = await openTabs(browser, url, 1);
    // Ready first: a tab that never reported ready is forgotten when its connection closes (room.ts).
    await waitForTab(page, 'joined and ready', 'flock.clientId !== null && flock.backend !== null');
    const { clientId } = await tabView(page);
    assert.ok(clientId);
    await coordinator.waitFor('the tab ready', (s) => s.clients.some((c) => c.clientId === clientId && c.backend !== null));

    const storage = () =>
      page.evaluate(() => ({ session: { ...sessionStorage } as Record<string, string>, local: { ...localStorage } as Record<string, string> }));
    const before = await storage();
    const token = before.session['flock.resumeToken'];
    assert.ok(token && token.length >= 16, `sessionStorage should hold the resume token: ${JSON.stringify(before.session)}`);
    assert.notEqual(token, clientId, 'the secret token is not the public id');
    assert.ok(!Object.values(before.local).some((value) => value.includes(token)), `the token leaked into localStorage: ${JSON.stringify(before.local)}`);
    assert.ok(
      !coordinator.state().clients.some((c) => JSON.stringify(c).includes(token)),
      '/api/status shows the public id, never the token',
    );

    await page.reload();
    await waitForTab(page, 'joined again after the reload', 'flock.clientId !== null && flock.backend !== null');
    assert.equal((await tabView(page)).clientId, clientId, 'the reloaded tab came back as itself');
    assert.equal((await storage()).session['flock.resumeToken'], token, 'the same token, kept across the reload');
    const afterReload = await coordinator.waitFor('the reloaded tab ready again', (s) => s.clients.some((c) => c.clientId === clientId && c.backend !== null));
    assert.deepEqual(afterReload.clients.map((c) => c.clientId), [clientId], 'one tab in the room, not a second one');

    const [other] = await openTabs(browser, url, 1);
    await waitForTab(other, 'the second context joined', 'flock.clientId !== null && flock.backend !== null');
    const otherId = (await tabView(other)).clientId;
    assert.ok(otherId && otherId !== clientId, `a new browser context is a new tab, got ${otherId}`);
    const otherToken = await other.evaluate(() => sessionStorage.getItem('flock.resumeToken'));
    assert.ok(otherToken && otherToken !== token, 'with its own token');
    const both = await coordinator.waitFor('both tabs ready', (s) => s.clients.filter((c) => c.backend !== null).length === 2);
    assert.deepEqual(both.clients.map((c) => c.clientId).sort(), [clientId, otherId].sort());
  } finally {
    await browser.close();
    await coordinator.close();
  }
});

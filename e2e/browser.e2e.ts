// Smoke test of the browser every other e2e test relies on: it launches, and it
// has the GPU APIs tfjs's webgl and webgpu backends need (software, via SwiftShader).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { launchChromium, openTabs } from '../harness/browser.ts';

const BLANK_PAGE = 'data:text/html,<!doctype html><title>flock smoke</title>';

// navigator.gpu and localStorage need a secure context with an origin, which a data: page
// is not; http://127.0.0.1 is one (loopback counts as trustworthy).
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

test('tabs opened by openTabs do not share storage', async () => {
  const browser = await launchChromium();
  try {
    const tabs = await openTabs(browser, loopbackPage, 2);
    await tabs[0].evaluate(() => localStorage.setItem('flock:clientId', 'tab-0'));
    const seenByOther = await tabs[1].evaluate(() => localStorage.getItem('flock:clientId'));
    assert.equal(seenByOther, null);
  } finally {
    await browser.close();
  }
});

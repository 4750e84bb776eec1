// Launches the Chromium the e2e tests drive and opens participant tabs in it.
// `npm test` finds the browser once and passes it down as CHROMIUM_PATH.
import { chromium, type Browser, type Page } from 'playwright';
import { findChromium } from './find-browser.ts';

// Without the network flags Chromium floods the closed network with refused connections;
// SwiftShader gives WebGL2 (and, with the unsafe flag, WebGPU) on a machine with no GPU.
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--enable-unsafe-swiftshader',
];

export interface LaunchOptions {
  /** Adds --enable-unsafe-webgpu, which gives a (software) WebGPU adapter. */
  webgpu?: boolean;
}

export async function launchChromium(opts: LaunchOptions = {}): Promise<Browser> {
  // An empty CHROMIUM_PATH counts as unset, as in findChromium.
  const executablePath = process.env.CHROMIUM_PATH || (await findChromium());
  const args = opts.webgpu ? [...CHROMIUM_FLAGS, '--enable-unsafe-webgpu'] : CHROMIUM_FLAGS;
  return chromium.launch({ executablePath, args, headless: true });
}

/**
 * Opens `count` tabs, each in its own BrowserContext so they share no storage
 * (a participant keeps its resume token in sessionStorage and its backend in localStorage). `url` may depend on the tab's
 * index, e.g. to force a backend per tab. Console errors and uncaught exceptions
 * are printed prefixed with the tab, so a failing test shows what the page said.
 */
export async function openTabs(browser: Browser, url: string | ((index: number) => string), count: number): Promise<Page[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const prefix = `[tab ${index}]`;
      page.on('console', (message) => {
        if (message.type() === 'error') process.stderr.write(`${prefix} console.error: ${message.text()}\n`);
      });
      page.on('pageerror', (error) => process.stderr.write(`${prefix} uncaught: ${error.stack ?? error.message}\n`));
      page.on('crash', () => process.stderr.write(`${prefix} page crashed\n`));
      await page.goto(typeof url === 'function' ? url(index) : url);
      return page;
    }),
  );
}

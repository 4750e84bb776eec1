// What e2e tests read from a participant tab: its window.flock test hook, and its training
// worker's flockLastUpdate (the worker hosts the participant loop: the update never reaches the page).
import type { Page } from 'playwright';

export interface TabView {
  connected: boolean;
  clientId: string | null;
  backend: string | null;
  backendReason: string;
  status: string;
  round: number;
  updatesAccepted: number;
  updatesRejected: number;
  lastError: string | null;
  numTensors: number | null;
  numExamples: number;
  /** Held out for federated evaluation, never trained on. */
  heldOutExamples: number;
  heldOutEvaluation: { round: number; accuracy: number; loss: number; count: number } | null;
  drawnExamples: number;
  probe: { backend: string; examplesPerSec: number | null; note: string }[];
}

export async function tabView(page: Page): Promise<TabView> {
  return page.evaluate(() => JSON.parse(JSON.stringify((window as unknown as { flock: unknown }).flock)) as TabView);
}

export async function waitForTab(page: Page, what: string, predicate: string, timeoutMs = 120_000): Promise<void> {
  try {
    await page.waitForFunction(`(() => { const flock = window.flock; return !!flock && (${predicate}); })()`, undefined, {
      timeout: timeoutMs,
      polling: 200,
    });
  } catch (error) {
    const view = await tabView(page).catch(() => null);
    throw new Error(`tab never reached "${what}" (${predicate}): ${JSON.stringify(view)}`, { cause: error });
  }
}

/** The last update the tab computed (clipped, before any masking), read from its training worker. */
export async function lastUpdate(page: Page): Promise<{ round: number; delta: Float32Array }> {
  const worker = page.workers().find((w) => w.url().includes('trainer.worker'));
  if (!worker) throw new Error(`${page.url()} has no training worker (workers: ${page.workers().map((w) => w.url()).join(', ') || 'none'})`);
  const update = await worker.evaluate(() => {
    const last = (self as unknown as { flockLastUpdate?: { round: number; delta: Float32Array } }).flockLastUpdate;
    return last ? { round: last.round, delta: Array.from(last.delta) } : null;
  });
  if (!update) throw new Error(`${page.url()}: the tab has computed no update yet`);
  return { round: update.round, delta: Float32Array.from(update.delta) };
}

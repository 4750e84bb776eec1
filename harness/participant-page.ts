// What e2e tests read from a participant tab: its window.flock test hook.
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

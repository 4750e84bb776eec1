// Renders docs/skewed-runs.png, the picture of learning on skewed data in docs/training.md: four headless
// tabs run the same 8 rounds three times (IID; Dirichlet α = 0.1; Dirichlet α = 0.1 with
// FedProx), and the dashboard's "Runs compared" card and tabs table are captured.
//
//   npm run build && npx tsx scripts/screenshot-skewed-runs.ts
import { join } from 'node:path';
import type { Settings } from '../shared/settings.ts';
import { ROOT_DIR } from '../server/data-paths.ts';
import { launchChromium, openTabs } from '../harness/browser.ts';
import { adminHeaders, E2E_ACCESS, startCoordinator } from '../harness/coordinator.ts';

const TABS = 4;
const RUNS: Partial<Settings>[] = [
  { partition: 'iid' },
  { partition: 'dirichlet', dirichletAlpha: 0.1 },
  { partition: 'dirichlet', dirichletAlpha: 0.1, proximalMu: 0.1 },
];
const OUT = join(ROOT_DIR, 'docs', 'skewed-runs.png');

const coordinator = await startCoordinator({ rounds: 8, targetAccuracy: 1, minClientsToStart: TABS, minClientsPerRound: TABS });
const browser = await launchChromium();
try {
  await openTabs(browser, `${coordinator.url}/?backend=wasm`, TABS);
  const [dashboard] = await openTabs(browser, `${coordinator.url}/dashboard.html#admin=${E2E_ACCESS.adminToken}`, 1);
  await dashboard.setViewportSize({ width: 1280, height: 900 });
  for (const [i, settings] of RUNS.entries()) {
    const put = await fetch(`${coordinator.url}/api/settings`, {
      method: 'PUT',
      headers: { ...adminHeaders(), 'content-type': 'application/json' },
      body: JSON.stringify({ proximalMu: 0, ...settings }),
    });
    if (!put.ok) throw new Error(`settings refused: ${await put.text()}`);
    await coordinator.waitFor(`${TABS} ready tabs`, (s) => s.clients.filter((c) => c.backend !== null).length === TABS, 120_000);
    const start = await fetch(`${coordinator.url}/api/run/start`, { method: 'POST', headers: adminHeaders() });
    if (!start.ok) throw new Error(`start refused: ${await start.text()}`);
    const done = await coordinator.waitFor(`run ${i + 1}`, (s) => s.pastRuns.length === i + 1, 600_000);
    console.error(`run ${i + 1} (${JSON.stringify(settings)}): ${done.pastRuns[i].rounds.map((r) => r.accuracy.toFixed(3)).join(' ')}`);
  }
  await dashboard.locator('[data-testid="runs-compared-card"]').waitFor({ state: 'visible' });
  await dashboard.waitForTimeout(1500); // the charts animate
  const card = dashboard.locator('[data-testid="runs-compared-card"]');
  const table = dashboard.locator('[data-testid="clients-table"]');
  const [a, b] = [await card.boundingBox(), await table.boundingBox()];
  if (!a || !b) throw new Error('the card or the table is not on the page');
  const top = Math.min(a.y, b.y);
  await dashboard.screenshot({ path: OUT, fullPage: true, clip: { x: 0, y: top, width: 1280, height: Math.max(a.y + a.height, b.y + b.height) - top + 16 } });
  console.error(`wrote ${OUT}`);
} finally {
  await browser.close();
  await coordinator.close();
}

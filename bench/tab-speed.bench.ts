// Issue 5, "in the tab": local training through Flock's worker within 10% of a plain
// model.fit on the same data, backend and batch size in the same browser.
//
// The measuring happens in the page web/bench/tab-speed.html (see web/bench/tab-speed.ts for
// what is timed and how); this file serves it from a real coordinator (the built dist/, shard 0
// holding all 8,000 training digits), opens it in headless Chromium once per case, each in a
// fresh tab, one at a time, and turns window.tabSpeed into rows.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright';
import { ROOT_DIR } from '../server/data-paths.ts';
import { launchChromium, openTabs } from '../harness/browser.ts';
import { startCoordinator } from '../harness/coordinator.ts';
import type { TabSpeed } from '../web/bench/tab-speed.ts';
import type { BenchRow } from './measure.ts';

const BENCH_PAGE = join(ROOT_DIR, 'dist', 'bench', 'tab-speed.html');
/** What the page is built from: a build older than any of these would time old code. */
const PAGE_SOURCES = [join(ROOT_DIR, 'web'), join(ROOT_DIR, 'shared'), join(ROOT_DIR, 'vite.config.ts')];
const RATIO_TARGET = 0.9;
const CASE_TIMEOUT_MS = 240_000;

interface Case {
  model: 'mlp' | 'cnn';
  backend: 'wasm' | 'webgl';
  batch: number;
  epochs: number;
  n: number;
  /** Timed turns of each path (after one warm-up each); the page reports medians. */
  reps: number;
}

// Each case runs 2 + 3 × reps trainings (warm-ups; worker, model.fit, model.fit without yielding).
// The CNN trains ~150 ex/s on SwiftShader WebGL here: one epoch of 512 keeps its case under a minute.
const CASES: Case[] = [
  { model: 'mlp', backend: 'wasm', batch: 32, epochs: 2, n: 2000, reps: 5 },
  { model: 'mlp', backend: 'webgl', batch: 32, epochs: 2, n: 2000, reps: 5 },
  { model: 'cnn', backend: 'webgl', batch: 32, epochs: 1, n: 512, reps: 3 },
];

export async function tabSpeed(): Promise<BenchRow[]> {
  await ensureBenchPageBuilt();
  const coordinator = await startCoordinator({ shards: 1 });
  let browser: Browser | null = null;
  try {
    browser = await launchChromium();
    // Another busy process (a second browser, an e2e run) halved these figures here; the ratios suffer less, as the paths take turns.
    const rows: BenchRow[] = [{ name: 'CPU busy with other work in the second before the cases (reference: ~0 when idle)', figure: await busyPercentOverOneSecond(), unit: '%' }];
    for (const c of CASES) {
      const startedAt = Date.now();
      const query = new URLSearchParams({ backend: c.backend, model: c.model, batch: String(c.batch), epochs: String(c.epochs), n: String(c.n), reps: String(c.reps) });
      const result = await measureInFreshTab(browser, `${coordinator.url}/bench/tab-speed.html?${query}`);
      process.stdout.write(`  ${c.model} ${c.backend}: ${((Date.now() - startedAt) / 1000).toFixed(0)} s; runs ${JSON.stringify(result.runs)}\n`);
      rows.push(...rowsOf(result));
    }
    return rows;
  } finally {
    await browser?.close();
    await coordinator.close();
  }
}

function rowsOf(r: TabSpeed): BenchRow[] {
  const label = `${r.model} ${r.backend}`;
  const setup = `batch ${r.batch}, ${r.epochs} × ${r.examplesPerEpoch.toLocaleString('en-US')} examples, median of ${r.reps}`;
  return [
    { name: `worker vs plain model.fit, ${label}: ratio (worker's own report, ${setup})`, figure: r.ratio, unit: '×', target: RATIO_TARGET },
    { name: `worker vs plain model.fit, ${label}: ratio, page's clock around train() (+ weights in, delta out)`, figure: r.wallRatio, unit: '×', target: RATIO_TARGET },
    {
      name: `  ${label}: ratio against the faster of the two model.fit medians (reference: the strictest reading)`,
      figure: r.flockExamplesPerSec / Math.max(r.plainExamplesPerSec, r.plainNoYieldExamplesPerSec),
      unit: '×',
    },
    { name: `  ${label}: worker, its own report (reference)`, figure: r.flockExamplesPerSec, unit: 'ex/s' },
    { name: `  ${label}: worker, page's clock around train() (reference)`, figure: r.flockWallExamplesPerSec, unit: 'ex/s' },
    { name: `  ${label}: model.fit on the page (reference)`, figure: r.plainExamplesPerSec, unit: 'ex/s' },
    { name: `  ${label}: model.fit, yieldEvery 'never' (reference)`, figure: r.plainNoYieldExamplesPerSec, unit: 'ex/s' },
    { name: `  ${label}: the worker's backend probe at init, trainStep on 128 examples (reference)`, figure: r.probeExamplesPerSec, unit: 'ex/s' },
    { name: `  ${label}: worker's progress messages per timed round (reference)`, figure: r.progressMessages, unit: 'msgs' },
  ];
}

async function measureInFreshTab(browser: Browser, url: string): Promise<TabSpeed> {
  const [page] = await openTabs(browser, url, 1);
  try {
    await page.waitForFunction(() => window.tabSpeed !== undefined || window.tabSpeedError !== undefined, null, { timeout: CASE_TIMEOUT_MS, polling: 250 });
    const { result, error } = await page.evaluate(() => ({ result: window.tabSpeed, error: window.tabSpeedError }));
    if (error !== undefined || result === undefined) throw new Error(`${url}: ${error ?? 'no result'}`);
    return result;
  } finally {
    await page.context().close();
  }
}

/** Share of all cores' time not idle over one second, while this process waits. */
async function busyPercentOverOneSecond(): Promise<number> {
  const totals = () =>
    cpus().reduce((sum, { times }) => ({ idle: sum.idle + times.idle, all: sum.all + times.user + times.nice + times.sys + times.idle + times.irq }), { idle: 0, all: 0 });
  const before = totals();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const after = totals();
  return 100 * (1 - (after.idle - before.idle) / Math.max(after.all - before.all, 1));
}

/** Builds dist/ when the bench page is missing or older than its sources. */
async function ensureBenchPageBuilt(): Promise<void> {
  const builtAtMs = existsSync(BENCH_PAGE) ? statSync(BENCH_PAGE).mtimeMs : -Infinity;
  const sourcesChangedMs = Math.max(...PAGE_SOURCES.map(newestModificationMs));
  if (builtAtMs >= sourcesChangedMs) return;
  process.stdout.write(`  ${existsSync(BENCH_PAGE) ? 'dist/ is older than web/ or shared/' : 'dist/bench/tab-speed.html is missing'}: building with \`npx vite build\`…\n`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: ROOT_DIR, stdio: 'inherit' });
    child.on('error', (error) => reject(new Error(`npx vite build could not start (${error.message}); build by hand with \`npx vite build\``)));
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`\`npx vite build\` failed (${signal ?? `exit code ${code}`}): fix the build, then rerun`))));
  });
  if (!existsSync(BENCH_PAGE)) throw new Error(`the build wrote no ${BENCH_PAGE}: is web/bench/tab-speed.html an input in vite.config.ts?`);
}

function newestModificationMs(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((entry) => newestModificationMs(join(path, entry))));
}

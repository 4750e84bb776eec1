// One federated experiment end to end: a real coordinator (buildApp, the real test-set evaluator,
// no checkpoints) on a free loopback port; the simulated clients in worker threads, each client
// on its own socket; the run started through the admin API; the round metrics as the coordinator
// publishes them; then, if asked, the centralized baseline. Used by `npm run experiment` and by
// bench/learning.bench.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { RoundMetrics } from '../../shared/protocol/records.ts';
import type { Settings } from '../../shared/settings.ts';
import { generateAdminToken } from '../../server/access.ts';
import { buildApp, type FlockApp } from '../../server/app.ts';
import { loadMnist, type Mnist } from '../../server/dataset.ts';
import { DEFAULT_LIMITS } from '../../server/limits/transport-limits.ts';
import { trainCentralized, type CentralizedRound } from './centralized.ts';
import type { ClientWorkerData, FromClientWorker, ToClientWorker } from './client-worker.ts';
import type { StrategyName } from './strategy-presets.ts';

export interface ExperimentOptions {
  /** Resolved settings (strategy-presets.ts experimentSettings): shards must equal clients. */
  settings: Settings;
  strategy: StrategyName;
  clients: number;
  /** roundsToTarget is the first round whose test accuracy reaches this. */
  target: number;
  /** Also train the centralized baseline (centralized.ts). */
  centralized: boolean;
  /** Worker threads hosting the clients; default min(clients, cores). */
  workers?: number;
  /** Loaded once by a caller that runs many experiments. */
  mnist?: Mnist;
  onRound?: (round: RoundProgress) => void;
  onCentralizedRound?: (round: CentralizedRound) => void;
  /** Setup milestones, one line each ("coordinator on …", "10 clients ready"). */
  onNote?: (line: string) => void;
}

export interface RoundProgress {
  round: number;
  rounds: number;
  accuracy: number;
  loss: number;
  participants: number;
  selected: number;
  /** Wall clock since the previous round's result (or since the start). */
  seconds: number;
}

export interface ExperimentResult {
  strategy: StrategyName;
  clients: number;
  finalAccuracy: number;
  finalLoss: number;
  accuracyPerRound: number[];
  lossPerRound: number[];
  participantsPerRound: number[];
  target: number;
  /** First round with accuracy ≥ target; null if none did. */
  roundsToTarget: number | null;
  centralizedAccuracy?: number;
  centralizedAccuracyPerRound?: number[];
  /** finalAccuracy / centralizedAccuracy. */
  ratio?: number;
  settings: Settings;
  timing: {
    workers: number;
    /** Coordinator up, threads started, every client joined with its shard. */
    setupSeconds: number;
    federatedSeconds: number;
    secondsPerRound: number[];
    /** Mean local training speed of the clients' rounds (one thread trains one client at a time). */
    clientExamplesPerSec: number;
    centralizedSeconds?: number;
    totalSeconds: number;
  };
}

export class ExperimentError extends Error {
  override name = 'ExperimentError';
}

const RUN_ENDED = new Set(['done', 'stopped']);

export async function runExperiment(options: ExperimentOptions): Promise<ExperimentResult> {
  const { settings, clients } = options;
  if (settings.shards !== clients) throw new ExperimentError(`settings.shards (${settings.shards}) must equal clients (${clients}): one shard per client`);
  const note = options.onNote ?? (() => {});
  const startedAt = performance.now();
  const mnist = options.mnist ?? loadMnist();
  const distDir = mkdtempSync(join(tmpdir(), 'flock-experiment-')); // no pages are served, but the static plugin wants a folder
  const access = { adminToken: generateAdminToken(), roomCode: null };
  let flock: FlockApp | null = null;
  const workers: Worker[] = [];
  try {
    flock = await buildApp({
      settings,
      access,
      mnist,
      distDir,
      // Every client connects from 127.0.0.1: the per-address limits are for strangers, not for this.
      limits: { ...DEFAULT_LIMITS, maxConnectionsPerAddress: clients + 8, joinsPerMinute: Math.max(DEFAULT_LIMITS.joinsPerMinute, 2 * clients) },
      logger: { level: 'warn', stream: process.stderr },
    });
    await flock.app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(flock.app.server.address() as { port: number }).port}`;
    const threadCount = Math.max(1, Math.min(clients, options.workers ?? availableParallelism()));
    note(`coordinator on ${url}; ${clients} clients in ${threadCount} worker thread${threadCount === 1 ? '' : 's'}`);

    const { coordinator } = flock;
    const failures = failureSignal();
    const joined = countdown(clients);
    const trainingSpeeds: number[] = [];
    for (const data of splitClients(url, clients, threadCount)) {
      const worker = startClientWorker(data);
      workers.push(worker);
      worker.on('message', (message: FromClientWorker) => {
        if (message.type === 'joined') joined.tick();
        else if (message.type === 'trained') trainingSpeeds.push(message.examplesPerSec);
        else failures.fail(`client ${message.client ?? `in thread ${workers.indexOf(worker)}`}: ${message.message}`);
      });
      worker.on('error', (error) => failures.fail(`a client thread crashed: ${error.message}`));
      worker.on('exit', (code) => {
        if (code !== 0) failures.fail(`a client thread exited with code ${code}`);
      });
    }
    await Promise.race([joined.done, failures.failed]);
    const setupSeconds = (performance.now() - startedAt) / 1000;
    note(`${clients} clients joined and ready (${setupSeconds.toFixed(1)} s)`);

    const history: RoundMetrics[] = [];
    const secondsPerRound: number[] = [];
    let lastAt = performance.now();
    coordinator.on('roundDone', (metrics) => {
      const now = performance.now();
      history.push(metrics);
      secondsPerRound.push((now - lastAt) / 1000);
      lastAt = now;
      options.onRound?.({
        round: metrics.round,
        rounds: settings.rounds,
        accuracy: metrics.accuracy,
        loss: metrics.loss,
        participants: metrics.participants,
        selected: metrics.selected,
        seconds: secondsPerRound[secondsPerRound.length - 1],
      });
    });
    const ended = new Promise<void>((resolve) =>
      coordinator.on('stateChanged', () => {
        if (RUN_ENDED.has(coordinator.phase)) resolve();
      }),
    );
    const federatedStartedAt = performance.now();
    lastAt = federatedStartedAt;
    await startRun(url, access.adminToken);
    await Promise.race([ended, failures.failed]);
    const federatedSeconds = (performance.now() - federatedStartedAt) / 1000;
    if (coordinator.phase !== 'done') throw new ExperimentError(`the run stopped: ${coordinator.runState().message}`);
    if (history.length === 0) throw new ExperimentError('the run ended without a single round');

    await closeAll(workers, flock);
    flock = null;

    const accuracyPerRound = history.map((m) => m.accuracy);
    const finalAccuracy = accuracyPerRound[accuracyPerRound.length - 1];
    const reached = accuracyPerRound.findIndex((a) => a >= options.target);
    const result: ExperimentResult = {
      strategy: options.strategy,
      clients,
      finalAccuracy,
      finalLoss: history[history.length - 1].loss,
      accuracyPerRound,
      lossPerRound: history.map((m) => m.loss),
      participantsPerRound: history.map((m) => m.participants),
      target: options.target,
      roundsToTarget: reached === -1 ? null : reached + 1,
      settings,
      timing: {
        workers: threadCount,
        setupSeconds,
        federatedSeconds,
        secondsPerRound,
        clientExamplesPerSec: trainingSpeeds.reduce((a, b) => a + b, 0) / Math.max(1, trainingSpeeds.length),
        totalSeconds: 0,
      },
    };
    if (options.centralized) {
      const baseline = await trainCentralized(settings, mnist, options.onCentralizedRound);
      result.centralizedAccuracy = baseline.accuracy;
      result.centralizedAccuracyPerRound = baseline.accuracyPerRound;
      result.ratio = finalAccuracy / baseline.accuracy;
      result.timing.centralizedSeconds = baseline.seconds;
    }
    result.timing.totalSeconds = (performance.now() - startedAt) / 1000;
    return result;
  } finally {
    await closeAll(workers, flock);
    rmSync(distDir, { recursive: true, force: true });
  }
}

/** Clients 0 … n − 1 dealt out to the threads in contiguous runs, as evenly as they go. */
export function splitClients(url: string, clients: number, threads: number): ClientWorkerData[] {
  const out: ClientWorkerData[] = [];
  let first = 0;
  for (let t = 0; t < threads; t++) {
    const clientCount = Math.floor(clients / threads) + (t < clients % threads ? 1 : 0);
    out.push({ url, firstClient: first, clientCount });
    first += clientCount;
  }
  return out;
}

// Node does not carry the parent's --import loader hooks (tsx's, which let it run .ts) into a
// worker thread: the thread registers tsx itself, then loads its .ts entry.
const TSX_API = import.meta.resolve('tsx/esm/api');
const WORKER_ENTRY = new URL('./client-worker.ts', import.meta.url).href;

function startClientWorker(data: ClientWorkerData): Worker {
  const boot = `import(${JSON.stringify(TSX_API)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_ENTRY)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}

async function startRun(url: string, adminToken: string): Promise<void> {
  const response = await fetch(`${url}/api/run/start`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });
  if (!response.ok) throw new ExperimentError(`POST /api/run/start: HTTP ${response.status} ${await response.text()}`);
}

async function closeAll(workers: Worker[], flock: FlockApp | null): Promise<void> {
  const stopping = workers.splice(0);
  for (const worker of stopping) worker.postMessage({ type: 'close' } satisfies ToClientWorker);
  await Promise.all(stopping.map((worker) => worker.terminate()));
  if (flock) {
    if (flock.coordinator.running) flock.coordinator.stop();
    await flock.app.close();
  }
}

/** A promise that rejects at the first failure, and stays quiet (no unhandled rejection) until someone awaits it. */
function failureSignal(): { failed: Promise<never>; fail: (message: string) => void } {
  let fail: (message: string) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = (message) => reject(new ExperimentError(message));
  });
  failed.catch(() => {});
  return { failed, fail };
}

function countdown(count: number): { done: Promise<void>; tick: () => void } {
  let left = count;
  let resolve: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  if (left === 0) resolve();
  return {
    done,
    tick: () => {
      if (--left === 0) resolve();
    },
  };
}

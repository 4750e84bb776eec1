// Issue 5, "in the tab": local training through Flock's worker should run within 10% of a
// plain model.fit on the same data, backend and batch size in the same browser. This page
// measures both in one tab, taking turns (at once, they would time each other):
//   - Flock's path: its trainer (participant/tfjs-trainer.ts, what the participant worker trains
//     with) in a worker (tab-speed.worker.ts) trains rounds from the same global weights, timed
//     twice: by the trainer's own report (its training loop) and by this page's clock around a
//     round (adding the weights' transfer in and the delta's read-back).
//   - model.fit on this page's main thread: same backend, model, batch size, learning rate and
//     examples; also with yieldEvery 'never', in case waiting for frames handicaps it.
// Each is warmed up once (shaders, JIT), then they alternate `reps` times; medians are reported.
// Flock's loop trains full batches only (web/local-training.ts drops the last partial one),
// so model.fit gets the full-batch prefix of the examples: both count the same examples.
// Parameters from the URL: ?backend=wasm&model=mlp&batch=32&epochs=2&n=2000[&reps=3&lr=0.1].
// Driven by bench/tab-speed.bench.ts, which reads window.tabSpeed (or window.tabSpeedError).
import { decodeDataset } from '../../shared/dataset-format.ts';
import { MODEL_NAMES, type ModelName } from '../../shared/model-spec.ts';
import { buildModel, readFlatWeights } from '../../shared/models.ts';
import { BACKENDS, type BackendName } from '../../shared/protocol/records.ts';
import { disposeExamples, toExampleTensors } from '../local-training.ts';
import type { FromBenchWorker, ToBenchWorker } from './tab-speed.worker.ts';
import { activateBackend, tf } from '../tfjs-backends.ts';

export interface TabSpeedParams {
  backend: BackendName;
  model: ModelName;
  batch: number;
  epochs: number;
  /** Examples loaded from shard 0 of the coordinator (which must hold at least this many). */
  n: number;
  /** Timed turns of each path. */
  reps: number;
  learningRate: number;
}

interface Examples {
  pixels: Uint8Array;
  labels: Uint8Array;
}

export interface TabSpeed {
  backend: BackendName;
  model: ModelName;
  batch: number;
  epochs: number;
  n: number;
  reps: number;
  /** Full batches × batch size: what either path trains per epoch. */
  examplesPerEpoch: number;
  /** The trainer's own reports (its fit loop: shuffle, steps, loss read-backs); median of the timed rounds, as every figure here. */
  flockExamplesPerSec: number;
  /** A round as this page sees it: 'train' posted → 'trained' received. */
  flockWallExamplesPerSec: number;
  /** model.fit(x, y, {batchSize, epochs, shuffle: true}), defaults otherwise (yieldEvery 'auto'). */
  plainExamplesPerSec: number;
  /** The same with yieldEvery: 'never' (no wait for an animation frame every 125 ms). */
  plainNoYieldExamplesPerSec: number;
  /** flockExamplesPerSec / plainExamplesPerSec. */
  ratio: number;
  /** flockWallExamplesPerSec / plainExamplesPerSec. */
  wallRatio: number;
  /** Loss read-backs per round. */
  progressMessages: number;
  /** What the worker's backend probe measured at init: trainStep alone, on 128 examples. */
  probeExamplesPerSec: number;
  /** Every timed run, in order, for a second look at the noise. */
  runs: { flock: { reported: number; wall: number; progressMessages: number }[]; plain: number[]; plainNoYield: number[] };
}

declare global {
  interface Window {
    tabSpeed?: TabSpeed;
    tabSpeedError?: string;
  }
}

const DEFAULT_LEARNING_RATE = 0.1; // the coordinator's default (shared/settings.ts)

export function readParams(search: URLSearchParams): TabSpeedParams {
  const backend = search.get('backend');
  if (!backend || !(BACKENDS as readonly string[]).includes(backend)) {
    throw new Error(`?backend= must be one of ${BACKENDS.join(', ')} (got ${backend ?? 'none'})`);
  }
  const model = search.get('model') ?? 'mlp';
  if (!(MODEL_NAMES as readonly string[]).includes(model)) throw new Error(`?model= must be one of ${MODEL_NAMES.join(', ')} (got ${model})`);
  const positiveInteger = (name: string, fallback: number): number => {
    const text = search.get(name);
    const value = text === null ? fallback : Number(text);
    if (!Number.isInteger(value) || value < 1) throw new Error(`?${name}= must be a positive integer (got ${text})`);
    return value;
  };
  const learningRate = Number(search.get('lr') ?? DEFAULT_LEARNING_RATE);
  if (!(learningRate > 0 && learningRate < Infinity)) throw new Error(`?lr= must be a positive number (got ${search.get('lr')})`);
  const params = {
    backend: backend as BackendName,
    model: model as ModelName,
    batch: positiveInteger('batch', 32),
    epochs: positiveInteger('epochs', 2),
    n: positiveInteger('n', 2000),
    reps: positiveInteger('reps', 3),
    learningRate,
  };
  if (params.n < params.batch) throw new Error(`?n=${params.n} is less than one batch of ${params.batch}`);
  return params;
}

const statusLine = document.querySelector<HTMLElement>('#status')!;
const rowsBody = document.querySelector<HTMLTableSectionElement>('#rows')!;
const errorBanner = document.querySelector<HTMLElement>('#error')!;

function say(text: string): void {
  statusLine.textContent = text;
}

function showRow(label: string, examplesPerSec: number): void {
  const row = rowsBody.insertRow();
  row.insertCell().textContent = label;
  row.insertCell().textContent = Math.round(examplesPerSec).toLocaleString('en-US');
}

async function loadExamples(n: number): Promise<Examples> {
  const response = await fetch('/api/shards/0');
  if (!response.ok) throw new Error(`GET /api/shards/0 answered ${response.status}: is the coordinator running?`);
  const shard = decodeDataset(new Uint8Array(await response.arrayBuffer()));
  if (shard.count < n) throw new Error(`shard 0 holds ${shard.count} digits, ?n=${n} asked: start the coordinator with fewer shards`);
  return { pixels: shard.pixels.subarray(0, n * shard.pixelsPerExample), labels: shard.labels.subarray(0, n) };
}

/** The global weights of a freshly built model, built on the cpu backend so no GPU context is opened on the page yet. */
async function freshGlobalWeights(model: ModelName): Promise<Float32Array> {
  await activateBackend('cpu');
  const network = buildModel(tf, model);
  const weights = readFlatWeights(network);
  network.dispose();
  return weights;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** Flock's trainer in a worker, initialised on the forced backend and warmed up by one untimed round. */
async function startFlock(params: TabSpeedParams, examples: Examples, global: Float32Array, examplesPerEpoch: number) {
  const worker = new Worker(new URL('./tab-speed.worker.ts', import.meta.url), { type: 'module' });
  /** Posts one message and waits for the worker's answer (it answers one at a time, in order). */
  const ask = (message: ToBenchWorker, transfer: Transferable[]) =>
    new Promise<Exclude<FromBenchWorker, { type: 'error' }>>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<FromBenchWorker>) => (event.data.type === 'error' ? reject(new Error(event.data.message)) : resolve(event.data));
      worker.onerror = (event) => reject(new Error(`the bench worker crashed: ${event.message}`));
      worker.postMessage(message, transfer);
    });
  let round = 0;
  const timedRound = async () => {
    round++;
    const weights = global.slice().buffer;
    const startedAt = performance.now();
    const trained = await ask({ type: 'train', round, weights, epochs: params.epochs, batchSize: params.batch, learningRate: params.learningRate }, [weights]);
    const wallSeconds = (performance.now() - startedAt) / 1000;
    if (trained.type !== 'trained') throw new Error(`the bench worker answered ${trained.type} to a round`);
    if (trained.numExamples !== params.n) throw new Error(`the worker trained on ${trained.numExamples} examples, ${params.n} sent`);
    return { reported: trained.examplesPerSec, wall: (params.epochs * examplesPerEpoch) / wallSeconds, progressMessages: trained.progressMessages };
  };
  let probeExamplesPerSec = NaN;
  try {
    say(`Flock's worker: probing ${params.backend}…`);
    const pixels = examples.pixels.slice().buffer;
    const labels = examples.labels.slice().buffer;
    const ready = await ask({ type: 'init', model: params.model, backend: params.backend, pixels, labels }, [pixels, labels]);
    if (ready.type === 'ready') probeExamplesPerSec = ready.probeExamplesPerSec;
    say("Flock's worker: warm-up round…");
    await timedRound();
  } catch (error) {
    worker.terminate();
    throw error;
  }
  return { timedRound, probeExamplesPerSec: () => probeExamplesPerSec, stop: () => worker.terminate() };
}

/** model.fit on this page's thread, compiled and warmed up by one untimed fit. */
async function startPlainFit(params: TabSpeedParams, examples: Examples, examplesPerEpoch: number) {
  await activateBackend(params.backend);
  const all = toExampleTensors(params.model, examples.pixels, examples.labels);
  const [x, y] = tf.tidy(() => [all.x.slice(0, examplesPerEpoch), all.y.slice(0, examplesPerEpoch)]);
  disposeExamples(all);
  const network = buildModel(tf, params.model);
  network.compile({ optimizer: tf.train.sgd(params.learningRate), loss: 'categoricalCrossentropy' });
  const timedFit = async (extra: Partial<tf.ModelFitArgs> = {}): Promise<number> => {
    const startedAt = performance.now();
    // fit ends by reading its loss history back, so the clock stops after the last step ran.
    await network.fit(x, y, { batchSize: params.batch, epochs: params.epochs, shuffle: true, ...extra });
    return (params.epochs * examplesPerEpoch) / ((performance.now() - startedAt) / 1000);
  };
  const stop = () => {
    network.dispose();
    tf.dispose([x, y]);
  };
  try {
    say(`model.fit on ${params.backend}: warm-up…`);
    await timedFit();
  } catch (error) {
    stop();
    throw error;
  }
  return { timedFit, stop };
}

async function run(): Promise<TabSpeed> {
  const params = readParams(new URLSearchParams(location.search));
  say(`loading ${params.n} digits…`);
  const examples = await loadExamples(params.n);
  const examplesPerEpoch = Math.floor(params.n / params.batch) * params.batch;
  const global = await freshGlobalWeights(params.model);

  const flock = await startFlock(params, examples, global, examplesPerEpoch);
  let plain: Awaited<ReturnType<typeof startPlainFit>> | null = null;
  try {
    plain = await startPlainFit(params, examples, examplesPerEpoch);
    // Interleaved, so a load that comes and goes on the machine lands on both paths alike.
    const flockRuns: { reported: number; wall: number; progressMessages: number }[] = [];
    const plainRuns: number[] = [];
    const plainNoYieldRuns: number[] = [];
    for (let rep = 1; rep <= params.reps; rep++) {
      say(`repetition ${rep} of ${params.reps}: Flock's worker…`);
      flockRuns.push(await flock.timedRound());
      say(`repetition ${rep} of ${params.reps}: model.fit…`);
      plainRuns.push(await plain.timedFit());
      say(`repetition ${rep} of ${params.reps}: model.fit, yieldEvery 'never'…`);
      plainNoYieldRuns.push(await plain.timedFit({ yieldEvery: 'never' }));
    }
    const result = {
      flockExamplesPerSec: median(flockRuns.map((r) => r.reported)),
      flockWallExamplesPerSec: median(flockRuns.map((r) => r.wall)),
      plainExamplesPerSec: median(plainRuns),
      plainNoYieldExamplesPerSec: median(plainNoYieldRuns),
      progressMessages: median(flockRuns.map((r) => r.progressMessages)),
    };
    showRow(`Flock's worker, its own report`, result.flockExamplesPerSec);
    showRow(`Flock's worker, the page's clock around train()`, result.flockWallExamplesPerSec);
    showRow('model.fit on the page', result.plainExamplesPerSec);
    showRow("model.fit on the page, yieldEvery 'never'", result.plainNoYieldExamplesPerSec);
    showRow("the worker's backend probe (trainStep on 128 examples)", flock.probeExamplesPerSec());
    const { backend, model, batch, epochs, n, reps } = params;
    return {
      backend,
      model,
      batch,
      epochs,
      n,
      reps,
      examplesPerEpoch,
      ...result,
      probeExamplesPerSec: flock.probeExamplesPerSec(),
      ratio: result.flockExamplesPerSec / result.plainExamplesPerSec,
      wallRatio: result.flockWallExamplesPerSec / result.plainExamplesPerSec,
      runs: { flock: flockRuns, plain: plainRuns, plainNoYield: plainNoYieldRuns },
    };
  } finally {
    flock.stop();
    plain?.stop();
  }
}

run().then(
  (result) => {
    window.tabSpeed = result;
    say(
      `${result.model} on ${result.backend}, batch ${result.batch}, ${result.epochs} × ${result.examplesPerEpoch} examples: ` +
        `worker / model.fit = ${result.ratio.toFixed(3)} (page's clock: ${result.wallRatio.toFixed(3)})`,
    );
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    window.tabSpeedError = message;
    errorBanner.textContent = message;
    errorBanner.hidden = false;
    say('failed');
  },
);

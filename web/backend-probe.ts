// Picks the tfjs backend by measuring, not by guessing: on each backend that
// initialises, train the task's own model for about half a second and count
// examples per second. Which one wins depends on the device *and* the model
// (measured here: wasm for the MLP, webgl for the CNN, which wasm cannot train).
// A backend whose one timed step is already slow is not timed further, so a
// software WebGPU costs seconds, not tens of seconds.
import { buildModel } from '../shared/models.ts';
import { modelSpec, type ModelName } from '../shared/model-spec.ts';
import { BACKENDS, type BackendName } from '../shared/protocol/records.ts';
import { formatCount } from './format.ts';
import { disposeExamples, toExampleTensors, trainStep } from './local-training.ts';
import { activateBackend, BackendUnavailableError, isSoftwareWebGpu, releaseBackend, tf } from './tfjs-backends.ts';
import type { BackendChoice, ProbeResult } from './worker-protocol.ts';

/** The tab's own examples: the probe trains on a few batches of real data of the real shape. */
export interface ProbeSample {
  pixels: Uint8Array;
  labels: Uint8Array;
}

export const PROBE_BATCH_SIZE = 32;
const PROBE_BATCHES = 4;
const MIN_MEASURE_MS = 350;
const TARGET_MEASURE_MS = 600;
const MAX_MEASURE_STEPS = 400;

export class NoUsableBackendError extends Error {
  override name = 'NoUsableBackendError';
}

/**
 * Activates a backend for `model`: the forced one, else the cached choice, else the
 * fastest measured. `onProbe` hears each measurement as it completes.
 */
export async function chooseBackend(
  model: ModelName,
  sample: ProbeSample,
  forced: BackendName | null,
  cached: BackendChoice | null,
  onProbe: (result: ProbeResult) => void,
): Promise<BackendChoice> {
  if (forced) {
    const result = await probeBackend(forced, model, sample);
    onProbe(result);
    if (result.examplesPerSec === null) {
      throw new NoUsableBackendError(`?backend=${forced}: ${result.note}. Remove ?backend= to let this tab choose a backend.`);
    }
    return { backend: forced, reason: `forced by ?backend=${forced} (${formatCount(result.examplesPerSec)} ex/s measured)`, probe: [result] };
  }
  if (cached) {
    try {
      await activateBackend(cached.backend);
      for (const result of cached.probe) onProbe(result);
      return { ...cached, reason: `${cached.reason} (measured earlier in this browser)` };
    } catch (error) {
      if (!(error instanceof BackendUnavailableError)) throw error;
      // The device changed since the measurement (flags, drivers): measure again.
    }
  }
  const results: ProbeResult[] = [];
  for (const backend of BACKENDS) {
    const result = await probeBackend(backend, model, sample);
    results.push(result);
    onProbe(result);
  }
  const measured = results.filter((r): r is ProbeResult & { examplesPerSec: number } => r.examplesPerSec !== null);
  if (measured.length === 0) {
    throw new NoUsableBackendError(`no tfjs backend can train the ${model} model here: ${results.map((r) => `${r.backend}: ${r.note}`).join('; ')}`);
  }
  measured.sort((a, b) => b.examplesPerSec - a.examplesPerSec);
  const best = measured[0].backend;
  await activateBackend(best);
  for (const backend of BACKENDS) if (backend !== best) releaseBackend(backend);
  return { backend: best, reason: describeChoice(measured, results), probe: results };
}

/** "measured fastest: wasm 2,450 ex/s · webgl 1,700 · cpu 580 · webgpu 120; skipped: …" */
function describeChoice(measured: (ProbeResult & { examplesPerSec: number })[], all: ProbeResult[]): string {
  const speeds = measured.map((r, i) => `${r.backend} ${formatCount(r.examplesPerSec)}${i === 0 ? ' ex/s' : ''}`).join(' · ');
  const skipped = all.filter((r) => r.examplesPerSec === null).map((r) => `${r.backend} (${r.note})`);
  return `measured fastest: ${speeds}${skipped.length > 0 ? `; skipped: ${skipped.join(', ')}` : ''}`;
}

/** Trains `model` on `backend` for ~0.6 s; a backend that cannot initialise or train is reported, not thrown. */
export async function probeBackend(backend: BackendName, model: ModelName, sample: ProbeSample): Promise<ProbeResult> {
  try {
    await activateBackend(backend);
  } catch (error) {
    if (error instanceof BackendUnavailableError) return { backend, examplesPerSec: null, note: error.message };
    throw error;
  }
  // Checked up front: a gradient kernel failing mid-backprop leaves the tape's saved tensors behind.
  const missing = missingTrainingKernels(backend, model);
  if (missing.length > 0) return { backend, examplesPerSec: null, note: `cannot train ${model}: no ${missing.join(', ')} kernel in tfjs ${backend}` };

  const network = buildModel(tf, model);
  const count = Math.min(PROBE_BATCH_SIZE * PROBE_BATCHES, sample.labels.length);
  const pixelsPerExample = sample.pixels.length / sample.labels.length;
  const examples = toExampleTensors(model, sample.pixels.subarray(0, count * pixelsPerExample), sample.labels.subarray(0, count));
  const batchSize = Math.min(PROBE_BATCH_SIZE, count);
  const batches = Math.floor(count / batchSize);
  const optimizer = tf.train.sgd(0.01);
  const runSteps = async (steps: number): Promise<number> => {
    const startedAt = performance.now();
    let loss: tf.Scalar | null = null;
    for (let i = 0; i < steps; i++) {
      loss?.dispose();
      // A new batch every step, as in real training: repeating one batch measured ~40% faster on wasm.
      const begin = (i % batches) * batchSize;
      loss = tf.tidy(() => trainStep(network, optimizer, examples.x.slice(begin, batchSize), examples.y.slice(begin, batchSize)));
    }
    // One read-back at the end: the GPU queue runs in order, so this waits for every step.
    await loss!.data();
    loss!.dispose();
    return performance.now() - startedAt;
  };
  try {
    const warmupMs = await runSteps(1); // compiles the shaders: never counted
    // Grow the timed run until it lasts long enough to mean something; a slow backend
    // is done after one step. Each run syncs once, at its end.
    let steps = 1;
    let elapsedMs = await runSteps(steps);
    for (let attempt = 0; attempt < 3 && elapsedMs < MIN_MEASURE_MS && steps < MAX_MEASURE_STEPS; attempt++) {
      steps = Math.min(MAX_MEASURE_STEPS, Math.ceil((steps * TARGET_MEASURE_MS) / Math.max(elapsedMs, 1)));
      elapsedMs = await runSteps(steps);
    }
    const examplesPerSec = (steps * batchSize * 1000) / elapsedMs;
    const software = backend === 'webgpu' && (await isSoftwareWebGpu()) ? ', software adapter' : '';
    return {
      backend,
      examplesPerSec,
      note: `${steps} step${steps === 1 ? '' : 's'} of ${batchSize} in ${Math.round(elapsedMs)} ms; first step ${Math.round(warmupMs)} ms${software}`,
    };
  } catch (error) {
    return { backend, examplesPerSec: null, note: `cannot train ${model}: ${firstLine(error)}` };
  } finally {
    optimizer.dispose();
    network.dispose();
    disposeExamples(examples);
  }
}

// Gradient kernels some backends lack (tfjs 4.22 wasm has no Conv2DBackpropFilter).
const CONVOLUTION_TRAINING_KERNELS = ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPool', 'MaxPoolGrad'];

function missingTrainingKernels(backend: BackendName, model: ModelName): string[] {
  if (!modelSpec(model).hasConvolutions) return [];
  return CONVOLUTION_TRAINING_KERNELS.filter((kernel) => !tf.getKernel(kernel, backend));
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0];
}

// Local SGD on the tab's own examples, as the worker and the backend probe run it.
// Two habits keep GPU backends fast: only full batches (a new batch size compiles
// new WebGL shaders), and the loss is read back in groups, never once per step
// (a read-back per step stalls the GPU pipeline: measured 40% of WebGL throughput).
//
// tfjs comes straight from its package, not from ./tfjs-backends.ts: the same module (the
// worker imports tfjs-backends.ts, which registers the backends), but without the wasm
// ?url imports only Vite understands, so local-training.test.ts runs in Node on cpu.
import * as tf from '@tensorflow/tfjs';
import { applyDeltaAttack, flipLabels } from '../shared/fl/attacks.ts';
import { privatizeLocally, type LocalPrivatization } from '../shared/fl/local-dp.ts';
import { createRng } from '../shared/fl/rng.ts';
import { createSecureRng } from '../shared/fl/secure-random.ts';
import { writeFlatWeights } from '../shared/models.ts';
import type { LabelledImages } from '../shared/dataset-format.ts';
import type { TabEvaluation } from '../shared/fl/federated-evaluation.ts';
import { evaluateModel } from '../shared/model-evaluation.ts';
import { modelSpec, type ModelName } from '../shared/model-spec.ts';
import type { AttackMode } from '../shared/protocol/records.ts';

/** The examples on the active backend: inputs scaled to 0..1 and one-hot labels. */
export interface ExampleTensors {
  x: tf.Tensor;
  y: tf.Tensor2D;
  count: number;
}

export function toExampleTensors(model: ModelName, pixels: Uint8Array, labels: Uint8Array): ExampleTensors {
  const spec = modelSpec(model);
  const count = labels.length;
  const scaled = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) scaled[i] = pixels[i] / 255;
  return { x: tf.tensor(scaled, [count, ...spec.inputShape], 'float32'), y: oneHotLabels(model, labels), count };
}

/** Labels as the one-hot float rows the loss compares against. */
export function oneHotLabels(model: ModelName, labels: Uint8Array): tf.Tensor2D {
  const { numClasses } = modelSpec(model);
  return tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses).toFloat() as tf.Tensor2D);
}

export function disposeExamples(examples: ExampleTensors): void {
  tf.dispose([examples.x, examples.y]);
}

/**
 * FedProx (Li et al. 2020): the local objective is cross-entropy + (μ/2)·‖w − w_global‖², which
 * keeps a tab on skewed data from drifting far from the round's global model. `anchors` are the
 * global weights, one constant tensor per trainable weight (model.trainableWeights order).
 */
export interface ProximalTerm {
  mu: number;
  anchors: tf.Tensor[];
}

/**
 * The term anchored at the model's weights as they are now (the round's global weights, once
 * trainRound has loaded them). Built once per round, not per step; free it with disposeProximalTerm.
 * A clone (the variable's data shared, or copied on wasm) stays the global weights: the optimizer
 * gives the variable new data on every step (assign), it never writes into the old data.
 */
export function proximalTermAt(model: tf.LayersModel, mu: number): ProximalTerm {
  return { mu, anchors: model.trainableWeights.map((w) => tf.clone(w.read())) };
}

export function disposeProximalTerm(term: ProximalTerm): void {
  tf.dispose(term.anchors);
}

/**
 * One SGD step on a batch; returns the batch's mean cross-entropy (not read back). With a
 * proximal term the step follows cross-entropy + (μ/2)·‖w − w_global‖², but the loss returned is
 * still the cross-entropy alone, so loss curves compare across μ. Without one (μ = 0) the step
 * is plain SGD, exactly as before FedProx.
 */
export function trainStep(model: tf.LayersModel, optimizer: tf.Optimizer, x: tf.Tensor, y: tf.Tensor, proximal: ProximalTerm | null = null): tf.Scalar {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const crossEntropy = () => tf.metrics.categoricalCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor).mean() as tf.Scalar;
  return tf.tidy(() => {
    if (proximal === null) {
      const cost = optimizer.minimize(crossEntropy, true, variables);
      if (cost === null) throw new Error('optimizer returned no loss');
      return cost;
    }
    // The term's gradient is μ(w − w_global), added to the cross-entropy's: the same step as
    // differentiating the whole objective, with no extra ops on the tape, and the value that
    // comes back is the cross-entropy's.
    const { value, grads } = tf.variableGrads(crossEntropy, variables);
    for (const [i, v] of variables.entries()) {
      grads[v.name] = tf.add(grads[v.name], tf.mul(proximal.mu, tf.sub(v, proximal.anchors[i])));
    }
    optimizer.applyGradients(grads);
    return value;
  });
}

export interface FitSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** FedProx's μ: > 0 pulls the local weights toward the ones the fit starts from; 0: plain SGD. */
  proximalMu: number;
}

export interface FitProgress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
}

export interface FitResult {
  /** Mean cross-entropy over the steps of the last epoch (without FedProx's term). */
  lastEpochLoss: number;
  examplesPerSec: number;
}

export class FitCancelledError extends Error {
  override name = 'FitCancelledError';
}

// Read the loss back after this many steps or this much time, whichever comes first.
const READBACK_EVERY_STEPS = 16;
const READBACK_EVERY_MS = 250;

/**
 * Trains `model` in place for `settings.epochs` passes over `examples`, shuffled each
 * epoch, in full batches (the last partial batch is dropped; a shard smaller than one
 * batch trains as a single batch). `shouldStop` is checked at every loss read-back.
 * With `settings.proximalMu` > 0 it trains FedProx's objective, anchored at the weights
 * `model` holds when the fit starts.
 */
export async function fitLocally(
  model: tf.LayersModel,
  examples: ExampleTensors,
  settings: FitSettings,
  onProgress: (progress: FitProgress) => void,
  shouldStop: () => boolean,
): Promise<FitResult> {
  const batchSize = Math.min(settings.batchSize, examples.count);
  const stepsPerEpoch = Math.floor(examples.count / batchSize);
  if (stepsPerEpoch === 0) throw new Error('this tab has no training examples');
  const optimizer = tf.train.sgd(settings.learningRate);
  const proximal = settings.proximalMu > 0 ? proximalTermAt(model, settings.proximalMu) : null;
  const startedAt = performance.now();
  let lastEpochLoss = NaN;
  try {
    for (let epoch = 1; epoch <= settings.epochs; epoch++) {
      const order = shuffledIndices(examples.count);
      const pending: tf.Scalar[] = [];
      let epochLossSum = 0;
      let lastReadAt = performance.now();
      const readBack = async (step: number) => {
        // Not tf.addN: on WebGPU it binds every input at once and silently breaks past 7
        // (the storage-buffer limit), poisoning the device; concat (inside stack) splits.
        const sum = tf.tidy(() => tf.stack(pending).sum());
        const [value] = await sum.data();
        const steps = pending.length;
        tf.dispose([sum, ...pending]);
        pending.length = 0;
        lastReadAt = performance.now();
        epochLossSum += value;
        onProgress({ epoch, epochs: settings.epochs, step, stepsPerEpoch, loss: value / steps });
        // Let the worker see a 'cancel' message that arrived meanwhile.
        await nextTask();
        if (shouldStop()) throw new FitCancelledError('training stopped: a newer round started');
      };
      try {
        for (let step = 1; step <= stepsPerEpoch; step++) {
          // Gather each batch by its indices, as model.fit does. Slicing batches off a shuffled
          // copy of the shard is slower on wasm: its Slice copies the whole input first
          // (measured: 0.70× of model.fit at 2,000 examples, 0.49× at 8,000).
          const loss = tf.tidy(() => {
            const begin = (step - 1) * batchSize;
            const batch = tf.tensor1d(order.subarray(begin, begin + batchSize), 'int32');
            return trainStep(model, optimizer, tf.gather(examples.x, batch), tf.gather(examples.y, batch), proximal);
          });
          pending.push(loss);
          if (pending.length >= READBACK_EVERY_STEPS || performance.now() - lastReadAt >= READBACK_EVERY_MS) {
            await readBack(step);
          }
        }
        if (pending.length > 0) await readBack(stepsPerEpoch);
      } finally {
        tf.dispose(pending);
      }
      lastEpochLoss = epochLossSum / stepsPerEpoch;
    }
  } finally {
    optimizer.dispose();
    if (proximal) disposeProximalTerm(proximal);
  }
  const seconds = (performance.now() - startedAt) / 1000;
  return { lastEpochLoss, examplesPerSec: (settings.epochs * stepsPerEpoch * batchSize) / seconds };
}

/**
 * local − global as one flat vector in spec order. Reads back asynchronously: on WebGPU
 * a synchronous read (dataSync, as in shared/models.ts readFlatWeights) goes through a
 * canvas, and in a worker it returned zeros and then lost the device.
 */
export async function weightDelta(model: tf.LayersModel, global: Float32Array): Promise<Float32Array<ArrayBuffer>> {
  const locals = await Promise.all(model.getWeights().map((w) => w.data() as Promise<Float32Array>));
  const total = locals.reduce((n, local) => n + local.length, 0);
  if (total !== global.length) throw new Error(`model has ${total} weights, the global vector ${global.length}`);
  const delta = new Float32Array(total);
  let offset = 0;
  for (const local of locals) {
    for (let i = 0; i < local.length; i++) delta[offset + i] = local[i] - global[offset + i];
    offset += local.length;
  }
  return delta;
}

export interface RoundInput {
  model: ModelName;
  network: tf.LayersModel;
  examples: ExampleTensors;
  /** The honest labels of `examples`, in the same order (label flip trains on them flipped). */
  labels: Uint8Array;
  /** The global weights this round starts from. */
  global: Float32Array;
  settings: FitSettings;
  round: number;
  attack: AttackMode;
  /** This tab's own seed for the gaussian attack, so two attackers in one round draw different noise. */
  attackSeed: number;
  /** > 0: the delta is clipped to this norm before it leaves (local DP, secure aggregation). */
  clipNorm: number;
  /** Local DP: noise std localNoiseMultiplier · clipNorm per value, added after clipping. */
  localNoiseMultiplier: number;
}

export interface RoundOutput {
  /** local − global, or what the attack makes of it: what the tab sends. */
  delta: Float32Array<ArrayBuffer>;
  fit: FitResult;
  /** What clipping and local noise did; null when the round asked for neither. */
  privatized: LocalPrivatization | null;
}

/**
 * One round as the worker runs it: load the global weights, train, return local − global.
 * An attacking tab (shared/fl/attacks.ts) trains on flipped labels for label-flip, this
 * round only, or changes its delta after computing it for the delta attacks.
 */
export async function trainRound(
  input: RoundInput,
  onProgress: (progress: FitProgress) => void,
  shouldStop: () => boolean,
): Promise<RoundOutput> {
  const { model, network, examples, global, settings, round, attack } = input;
  writeFlatWeights(tf, network, global);
  // Built only for the round that needs them and freed after it, so tensor count stays flat.
  const flippedY = attack === 'label-flip' ? oneHotLabels(model, flipLabels(input.labels, modelSpec(model).numClasses)) : null;
  let fit: FitResult;
  try {
    fit = await fitLocally(network, flippedY ? { ...examples, y: flippedY } : examples, settings, onProgress, shouldStop);
  } finally {
    flippedY?.dispose();
  }
  const delta = await weightDelta(network, global);
  // Seeded by the tab and the round: the same tab attacks the same way on a rerun of a round.
  applyDeltaAttack(delta, attack, createRng((input.attackSeed ^ Math.imul(round, 0x9e3779b1)) >>> 0));
  // Last: the page code clips and noises whatever it sends, attacked or not. The noise must be
  // unpredictable (secure-random.ts): a seeded one could be subtracted again by whoever knows the seed.
  const privatized = input.clipNorm > 0 ? privatizeLocally(delta, input.clipNorm, input.localNoiseMultiplier, createSecureRng()) : null;
  return { delta, fit, privatized };
}

/**
 * Federated evaluation: loads the global weights into `network` and measures them on the tab's
 * held-out examples, exactly as the coordinator measures its test set (shared/model-evaluation.ts).
 * The next trainRound loads the weights it trains from itself, so this leaves nothing behind.
 */
export async function evaluateHeldOut(model: ModelName, network: tf.LayersModel, global: Float32Array, heldOut: LabelledImages): Promise<TabEvaluation> {
  writeFlatWeights(tf, network, global);
  return evaluateModel(tf, network, model, heldOut);
}

function shuffledIndices(count: number): Int32Array {
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

// The training Web Worker: picks the tfjs backend, holds the tab's examples and
// model, trains one round at a time and returns local − global; evaluates a global model on the
// examples it holds out (federated evaluation). Keeping tfjs off
// the page's thread leaves the page responsive while a round trains.
import { parseAttackMode } from '../shared/fl/attacks.ts';
import { buildModel } from '../shared/models.ts';
import { modelSpec, type ModelName } from '../shared/model-spec.ts';
import { chooseBackend } from './backend-probe.ts';
import type { LabelledImages } from '../shared/dataset-format.ts';
import { disposeExamples, evaluateHeldOut, FitCancelledError, toExampleTensors, trainRound, type ExampleTensors } from './local-training.ts';
import { tf } from './tfjs-backends.ts';
import type { FromWorker, ToWorker } from './worker-protocol.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;

interface Trainer {
  model: ModelName;
  network: tf.LayersModel;
  examples: ExampleTensors;
  /** The raw examples, kept so drawn digits can be appended. */
  pixels: Uint8Array;
  labels: Uint8Array;
  /** Federated evaluation's held-out examples, raw (tensors are made per evaluation, so none stay alive). */
  heldOut: LabelledImages;
}

let trainer: Trainer | null = null;
/** Drawn once per tab: two gaussian attackers in one room send independent noise. */
const ATTACK_SEED = crypto.getRandomValues(new Uint32Array(1))[0];
const cancelledJobs = new Set<number>();
// Messages are handled one at a time; 'cancel' alone bypasses the queue so it can reach a running round.
let queue: Promise<void> = Promise.resolve();

function post(message: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

scope.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === 'cancel') {
    cancelledJobs.add(message.job);
    return;
  }
  queue = queue.then(() => handle(message)).catch((error: unknown) => {
    post({ type: 'error', job: message.type === 'train' || message.type === 'evaluate' ? message.job : null, message: errorText(error) });
  });
};

async function handle(message: Exclude<ToWorker, { type: 'cancel' }>): Promise<void> {
  switch (message.type) {
    case 'init':
      return init(message);
    case 'train':
      return train(message);
    case 'add-examples':
      return addExamples(message);
    case 'evaluate':
      return evaluate(message);
  }
}

/** Queued like a round, so drawn digits join between rounds, never in the middle of one. */
function addExamples(message: Extract<ToWorker, { type: 'add-examples' }>): void {
  if (!trainer) throw new Error('add examples after init');
  const pixels = new Uint8Array(message.pixels);
  const labels = new Uint8Array(message.labels);
  const spec = modelSpec(trainer.model);
  const pixelsPerExample = spec.inputShape.reduce((a, b) => a * b, 1);
  if (labels.length === 0 || pixels.length !== labels.length * pixelsPerExample || labels.some((l) => l >= spec.numClasses)) {
    throw new Error(`drawn examples rejected: ${labels.length} labels (0..${spec.numClasses - 1}) with ${pixelsPerExample} pixels each expected`);
  }
  const allPixels = new Uint8Array(trainer.pixels.length + pixels.length);
  allPixels.set(trainer.pixels);
  allPixels.set(pixels, trainer.pixels.length);
  const allLabels = new Uint8Array(trainer.labels.length + labels.length);
  allLabels.set(trainer.labels);
  allLabels.set(labels, trainer.labels.length);
  disposeExamples(trainer.examples);
  trainer.examples = toExampleTensors(trainer.model, allPixels, allLabels);
  trainer.pixels = allPixels;
  trainer.labels = allLabels;
  post({ type: 'examples-added', numExamples: allLabels.length });
}

async function init(message: Extract<ToWorker, { type: 'init' }>): Promise<void> {
  if (trainer) throw new Error('worker already initialised: start a new worker for another model or shard');
  const spec = modelSpec(message.model);
  const pixels = new Uint8Array(message.pixels);
  const labels = new Uint8Array(message.labels);
  const pixelsPerExample = spec.inputShape.reduce((a, b) => a * b, 1);
  if (pixels.length !== labels.length * pixelsPerExample) {
    throw new Error(`shard holds ${pixels.length} pixels for ${labels.length} labels; ${pixelsPerExample} per example expected for ${spec.name}`);
  }
  const heldOutLabels = new Uint8Array(message.heldOutLabels);
  const heldOutPixels = new Uint8Array(message.heldOutPixels);
  if (heldOutPixels.length !== heldOutLabels.length * pixelsPerExample || heldOutLabels.some((l) => l >= spec.numClasses)) {
    throw new Error(`held-out examples: ${heldOutPixels.length} pixels for ${heldOutLabels.length} labels (0..${spec.numClasses - 1}); ${pixelsPerExample} per example expected`);
  }
  const heldOut = { count: heldOutLabels.length, pixelsPerExample, pixels: heldOutPixels, labels: heldOutLabels };
  const choice = await chooseBackend(message.model, { pixels, labels }, message.forcedBackend, message.cachedChoice, (result) =>
    post({ type: 'probe', result }),
  );
  trainer = { model: message.model, network: buildModel(tf, message.model), examples: toExampleTensors(message.model, pixels, labels), pixels, labels, heldOut };
  post({ type: 'ready', choice, numExamples: labels.length, heldOutExamples: heldOut.count, numTensors: tf.memory().numTensors });
}

/** Queued like a round: a round start's evaluation runs before the training it precedes. */
async function evaluate(message: Extract<ToWorker, { type: 'evaluate' }>): Promise<void> {
  if (!trainer) throw new Error('evaluate before init');
  const global = new Float32Array(message.weights);
  const { paramCount } = modelSpec(trainer.model);
  if (global.length !== paramCount) throw new Error(`${paramCount} weights expected for ${trainer.model}, got ${global.length}`);
  if (trainer.heldOut.count === 0) throw new Error('this tab holds out no examples to evaluate on');
  const { accuracy, loss, count } = await evaluateHeldOut(trainer.model, trainer.network, global, trainer.heldOut);
  post({ type: 'evaluated', job: message.job, round: message.round, accuracy, loss, count });
}

async function train(message: Extract<ToWorker, { type: 'train' }>): Promise<void> {
  if (!trainer) throw new Error('train before init');
  const { job, round, epochs, batchSize, learningRate, proximalMu, clipNorm, localNoiseMultiplier } = message;
  if (cancelledJobs.delete(job)) {
    post({ type: 'cancelled', job });
    return;
  }
  if (!Number.isInteger(epochs) || epochs < 1 || !Number.isInteger(batchSize) || batchSize < 1 || !(learningRate > 0 && learningRate < Infinity)) {
    throw new Error(`round ${round}: unusable settings (epochs ${epochs}, batch size ${batchSize}, learning rate ${learningRate})`);
  }
  if (!(proximalMu >= 0 && proximalMu < Infinity)) {
    throw new Error(`round ${round}: unusable FedProx μ ${proximalMu}: a finite number ≥ 0 expected (0 = plain FedAvg)`);
  }
  if (!(clipNorm >= 0 && clipNorm < Infinity) || !(localNoiseMultiplier >= 0 && localNoiseMultiplier < Infinity) || (localNoiseMultiplier > 0 && !(clipNorm > 0))) {
    throw new Error(`round ${round}: unusable privacy settings (clip norm ${clipNorm}, local noise multiplier ${localNoiseMultiplier})`);
  }
  const attack = parseAttackMode(message.attack);
  const global = new Float32Array(message.weights);
  const { paramCount } = modelSpec(trainer.model);
  if (global.length !== paramCount) throw new Error(`${paramCount} weights expected for ${trainer.model}, got ${global.length}`);
  let result;
  try {
    result = await trainRound(
      {
        model: trainer.model,
        network: trainer.network,
        examples: trainer.examples,
        labels: trainer.labels,
        global,
        settings: { epochs, batchSize, learningRate, proximalMu },
        round,
        attack,
        attackSeed: ATTACK_SEED,
        clipNorm,
        localNoiseMultiplier,
      },
      (progress) => post({ type: 'progress', job, round, ...progress }),
      () => cancelledJobs.has(job),
    );
  } catch (error) {
    if (!(error instanceof FitCancelledError)) throw error;
    cancelledJobs.delete(job);
    post({ type: 'cancelled', job });
    return;
  }
  const { delta, fit, privatized } = result;
  post(
    {
      type: 'trained',
      job,
      round,
      delta: delta.buffer,
      numExamples: trainer.examples.count,
      loss: fit.lastEpochLoss,
      examplesPerSec: fit.examplesPerSec,
      privatized,
      numTensors: tf.memory().numTensors,
    },
    [delta.buffer],
  );
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}


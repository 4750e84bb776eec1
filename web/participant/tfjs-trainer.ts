// The participant loop's Trainer (shared/participant/trainer.ts) on tfjs: the tab's model and
// examples on whatever backend is active, trained by web/local-training.ts. The page's training
// worker and the experiment's simulated clients in Node use it alike. Evaluations, rounds and added
// examples go through one queue, so they never overlap on the model; a queue can be shared by
// several trainers (the simulated clients of one thread train in turn).
//
// tfjs comes straight from its package, as in local-training.ts: the worker's tfjs-backends.ts
// registers the backends on the same module, and Node runs this on wasm or cpu.
import * as tf from '@tensorflow/tfjs';
import type { LabelledImages } from '../../shared/dataset-format.ts';
import type { TabEvaluation } from '../../shared/fl/federated-evaluation.ts';
import { buildModel } from '../../shared/models.ts';
import { modelSpec, type ModelName } from '../../shared/model-spec.ts';
import { countLabels } from '../../shared/participant/shard-examples.ts';
import {
  oneAtATime,
  type LocalProgress,
  type ShardExamples,
  type Trainer,
  type TrainerReadiness,
  type TrainingJob,
  type TrainingQueue,
  type TrainingRun,
  type TrainedUpdate,
} from '../../shared/participant/trainer.ts';
import type { BackendName } from '../../shared/protocol/records.ts';
import { disposeExamples, evaluateHeldOut, FitCancelledError, toExampleTensors, trainRound, type ExampleTensors } from '../local-training.ts';

export interface TfjsTrainerOptions {
  model: ModelName;
  examples: ShardExamples;
  /** The backend already active, and why it was picked. */
  backend: BackendName;
  backendReason: string;
  /** Default: a queue of its own. */
  queue?: TrainingQueue;
  /** Seeds the gaussian attack: two attackers in one room send independent noise. Default: drawn at random. */
  attackSeed?: number;
}

export class TfjsTrainer implements Trainer {
  private readonly model: ModelName;
  private readonly network: tf.LayersModel;
  private examples: ExampleTensors;
  /** The raw examples, kept so that added ones (drawn digits) can be appended. */
  private pixels: Uint8Array;
  private labels: Uint8Array;
  private labelCounts: number[];
  /** Federated evaluation's examples, raw: tensors are made per evaluation, so none stay alive. */
  private readonly heldOut: LabelledImages;
  private readonly queue: TrainingQueue;
  private readonly attackSeed: number;
  private disposed = false;

  constructor(private readonly options: TfjsTrainerOptions) {
    const { model, examples } = options;
    this.model = model;
    this.pixels = examples.train.pixels;
    this.labels = examples.train.labels;
    this.labelCounts = countLabels(this.labels, modelSpec(model).numClasses); // also refuses a label the model has no class for
    countLabels(examples.heldOut.labels, modelSpec(model).numClasses);
    this.heldOut = examples.heldOut;
    this.queue = options.queue ?? oneAtATime();
    this.attackSeed = options.attackSeed ?? crypto.getRandomValues(new Uint32Array(1))[0];
    this.network = buildModel(tf, model);
    this.examples = toExampleTensors(model, this.pixels, this.labels);
  }

  readiness(): TrainerReadiness {
    return {
      backend: this.options.backend,
      backendReason: this.options.backendReason,
      numExamples: this.labels.length,
      heldOutExamples: this.heldOut.count,
      labelCounts: this.labelCounts.slice(),
      numTensors: tf.memory().numTensors,
    };
  }

  train(job: TrainingJob, onProgress: (progress: LocalProgress) => void): TrainingRun {
    let cancelled = false;
    const stopped = () => cancelled || this.disposed;
    const result = this.queue(async (): Promise<TrainedUpdate | 'cancelled'> => {
      if (stopped()) return 'cancelled';
      let output;
      try {
        output = await trainRound(
          {
            model: this.model,
            network: this.network,
            examples: this.examples,
            labels: this.labels,
            global: job.global,
            settings: { epochs: job.epochs, batchSize: job.batchSize, learningRate: job.learningRate, proximalMu: job.proximalMu },
            round: job.round,
            attack: job.attack,
            attackSeed: this.attackSeed,
            clipNorm: job.clipNorm,
            localNoiseMultiplier: job.localNoiseMultiplier,
          },
          (progress) => onProgress({ round: job.round, ...progress }),
          stopped,
        );
      } catch (error) {
        if (error instanceof FitCancelledError) return 'cancelled';
        throw error;
      }
      const { delta, fit, privatized } = output;
      return { delta, numExamples: this.examples.count, loss: fit.lastEpochLoss, examplesPerSec: fit.examplesPerSec, privatized, numTensors: tf.memory().numTensors };
    });
    return {
      result,
      cancel: () => {
        cancelled = true;
      },
    };
  }

  evaluate(global: Float32Array): Promise<TabEvaluation> {
    return this.queue(async () => {
      if (this.heldOut.count === 0) throw new Error('this tab holds out no examples to evaluate on');
      return evaluateHeldOut(this.model, this.network, global, this.heldOut);
    });
  }

  /** Queued like a round, so added examples join between rounds, never in the middle of one; resolves with the new count. */
  addExamples(pixels: Uint8Array, labels: Uint8Array): Promise<number> {
    return this.queue(async () => {
      if (this.disposed) throw new Error('this tab is setting up another model or shard: add it again in a moment');
      const spec = modelSpec(this.model);
      const pixelsPerExample = spec.inputShape.reduce((a, b) => a * b, 1);
      if (labels.length === 0 || pixels.length !== labels.length * pixelsPerExample || labels.some((l) => l >= spec.numClasses)) {
        throw new Error(`added examples refused: ${labels.length} labels (0..${spec.numClasses - 1}) with ${pixelsPerExample} pixels each expected`);
      }
      const allPixels = new Uint8Array(this.pixels.length + pixels.length);
      allPixels.set(this.pixels);
      allPixels.set(pixels, this.pixels.length);
      const allLabels = new Uint8Array(this.labels.length + labels.length);
      allLabels.set(this.labels);
      allLabels.set(labels, this.labels.length);
      disposeExamples(this.examples);
      this.examples = toExampleTensors(this.model, allPixels, allLabels);
      this.pixels = allPixels;
      this.labels = allLabels;
      for (const label of labels) this.labelCounts[label]++;
      return allLabels.length;
    });
  }

  /** A round under way stops at its next read-back; the tensors go once it has. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.queue(async () => {
      this.network.dispose();
      disposeExamples(this.examples);
    });
  }
}

// What the participant loop (participant.ts) asks of local training, whoever does it: tfjs in
// the page's worker or in Node (web/participant/tfjs-trainer.ts), or the headless participant's
// stand-in that makes deltas up. The loop never sees the examples themselves.
import type { LabelledImages } from '../dataset-format.ts';
import type { TabEvaluation } from '../fl/federated-evaluation.ts';
import type { LocalPrivatization } from '../fl/local-dp.ts';
import type { ModelName } from '../model-spec.ts';
import type { ShardInfo } from '../protocol/messages.ts';
import type { AttackMode, BackendName } from '../protocol/records.ts';

/** One round of local training, as the round's start asks for it. */
export interface TrainingJob {
  round: number;
  /** The global weights the round starts from (the trainer must not change them). */
  global: Float32Array;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** FedProx's μ; 0: plain FedAvg. */
  proximalMu: number;
  /** 'none' for an honest tab (shared/fl/attacks.ts). */
  attack: AttackMode;
  /** > 0: the delta is clipped to this L2 norm before it is returned (local DP, secure aggregation). */
  clipNorm: number;
  /** Local DP: N(0, (z · clipNorm)²) per value is added after clipping; 0: none. */
  localNoiseMultiplier: number;
}

/** A loss read-back during training. */
export interface LocalProgress {
  round: number;
  /** 1-based. */
  epoch: number;
  epochs: number;
  /** Steps done in this epoch (1-based), out of stepsPerEpoch. */
  step: number;
  stepsPerEpoch: number;
  /** Mean loss of the steps since the previous read-back. */
  loss: number;
}

export interface TrainedUpdate {
  /** local − global (attacked, clipped and noised as the job asked): what the tab sends. */
  delta: Float32Array;
  /** Its FedAvg weight: the examples it trained on. */
  numExamples: number;
  /** Mean training loss of the last epoch. */
  loss: number;
  examplesPerSec: number;
  /** What clipping and local noise did; null when the job asked for neither. */
  privatized: LocalPrivatization | null;
  /** tfjs's live tensors after the round (must stay flat from round to round); null where there is no tfjs. */
  numTensors: number | null;
}

/** One job under way; `cancel` stops it at its next loss read-back, or before it starts. */
export interface TrainingRun {
  readonly result: Promise<TrainedUpdate | 'cancelled'>;
  cancel(): void;
}

/** What the ready report says about the trainer; the loop leaves labelCounts out where statistics stay on the tab. */
export interface TrainerReadiness {
  backend: BackendName;
  backendReason: string;
  numExamples: number;
  /** Examples held out for federated evaluation, never trained on. */
  heldOutExamples: number;
  /** Examples per label of what it trains on; null when it holds no real examples. */
  labelCounts: number[] | null;
  numTensors: number | null;
}

export interface Trainer {
  readiness(): TrainerReadiness;
  train(job: TrainingJob, onProgress: (progress: LocalProgress) => void): TrainingRun;
  /** Federated evaluation: these global weights on the held-out examples. */
  evaluate(global: Float32Array): Promise<TabEvaluation>;
  /** Frees what it holds; a job still running is cancelled first. */
  dispose(): void;
}

/** A shard as a tab uses it: what it trains on and what it holds out (shard-examples.ts). */
export interface ShardExamples {
  train: LabelledImages;
  heldOut: LabelledImages;
}

export interface TrainerSetup {
  model: ModelName;
  shard: ShardInfo;
  /** The shard's examples; null for a host that loads none (the headless participant). */
  examples: ShardExamples | null;
}

/** Runs jobs one after another: an evaluation, a round and added examples never overlap on one model or thread. */
export type TrainingQueue = <T>(job: () => Promise<T>) => Promise<T>;

export function oneAtATime(): TrainingQueue {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(job: () => Promise<T>) => {
    const run = tail.then(job);
    tail = run.catch(() => undefined); // a failed job is reported by its caller; the next one still runs
    return run;
  };
}

// Typed messages between the participant page and its training Web Worker.
// Weights cross as flat float32 ArrayBuffers (transferred, not copied).
import type { ModelName } from '../shared/model-spec.ts';
import type { LocalPrivatization } from '../shared/fl/local-dp.ts';
import type { AttackMode, BackendName } from '../shared/protocol/records.ts';

export interface ProbeResult {
  backend: BackendName;
  /** Training throughput measured on the task's model; null when the backend was skipped. */
  examplesPerSec: number | null;
  /** Why it was skipped or how it was measured. */
  note: string;
}

export interface BackendChoice {
  backend: BackendName;
  reason: string;
  probe: ProbeResult[];
}

export type ToWorker =
  | {
      type: 'init';
      model: ModelName;
      /** From ?backend=…: use this one, no probing. */
      forcedBackend: BackendName | null;
      /** A previous probe's choice for this device and model (from localStorage). */
      cachedChoice: BackendChoice | null;
      pixels: ArrayBuffer; // uint8, count × pixels per example
      labels: ArrayBuffer; // uint8, count
      /** Federated evaluation's held-out examples (shared/held-out.ts): evaluated on, never trained on. May be empty. */
      heldOutPixels: ArrayBuffer;
      heldOutLabels: ArrayBuffer;
    }
  | {
      type: 'train';
      /** Names this request in the answers; unique per page (a round number repeats after a coordinator restart). */
      job: number;
      round: number;
      weights: ArrayBuffer; // float32, the global model
      epochs: number;
      batchSize: number;
      learningRate: number;
      /** FedProx's μ: (μ/2)·‖w − w_global‖² joins the local loss; 0: plain FedAvg. */
      proximalMu: number;
      /** 'none' for an honest tab; otherwise how this round's update is attacked (shared/fl/attacks.ts). */
      attack: AttackMode;
      /** > 0: clip the delta to this L2 norm before returning it (local DP, secure aggregation). */
      clipNorm: number;
      /** Local DP: then add N(0, (z · clipNorm)²) per value, from the secure random source. */
      localNoiseMultiplier: number;
    }
  /** Federated evaluation: accuracy and loss of these global weights (round `round`'s model) on the held-out examples. */
  | { type: 'evaluate'; job: number; round: number; weights: ArrayBuffer /* float32 */ }
  /** Stop `job` at its next loss read-back, or skip it if it has not started (a newer round has begun). */
  | { type: 'cancel'; job: number }
  /** Digits drawn on the page: joined to the local data, used from the next round on. */
  | { type: 'add-examples'; pixels: ArrayBuffer; labels: ArrayBuffer };

export type FromWorker =
  | { type: 'probe'; result: ProbeResult }
  | { type: 'examples-added'; numExamples: number }
  | { type: 'ready'; choice: BackendChoice; numExamples: number; heldOutExamples: number; numTensors: number }
  | { type: 'evaluated'; job: number; round: number; accuracy: number; loss: number; count: number }
  | {
      type: 'progress';
      job: number;
      round: number;
      /** 1-based. */
      epoch: number;
      epochs: number;
      /** Steps done in this epoch so far (1-based), out of stepsPerEpoch. */
      step: number;
      stepsPerEpoch: number;
      /** Mean loss of the steps since the previous progress message. */
      loss: number;
    }
  | {
      type: 'trained';
      job: number;
      round: number;
      delta: ArrayBuffer; // float32, local − global
      numExamples: number;
      /** Mean training loss (cross-entropy, without FedProx's term) of the last epoch. */
      loss: number;
      examplesPerSec: number;
      /** What clipping and local noise did to the delta; null when the round asked for neither. */
      privatized: LocalPrivatization | null;
      /** tf.memory().numTensors after the round: must not grow from round to round. */
      numTensors: number;
    }
  | { type: 'cancelled'; job: number }
  /** `job` is null when the failure is not tied to a training job (init, a bad message). */
  | { type: 'error'; job: number | null; message: string };

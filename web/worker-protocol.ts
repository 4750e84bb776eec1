// Typed messages between the participant page and its training Web Worker.
// Weights cross as flat float32 ArrayBuffers (transferred, not copied).
import type { ModelName } from '../shared/model-spec.ts';
import type { BackendName } from '../shared/protocol.ts';

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
      batchSize: number;
      pixels: ArrayBuffer; // uint8, count × 784
      labels: ArrayBuffer; // uint8, count
    }
  | {
      type: 'train';
      round: number;
      weights: ArrayBuffer; // float32, the global model
      epochs: number;
      batchSize: number;
      learningRate: number;
    };

export type FromWorker =
  | { type: 'probe'; result: ProbeResult }
  | { type: 'ready'; choice: BackendChoice; numExamples: number }
  | { type: 'progress'; round: number; epoch: number; loss: number }
  | {
      type: 'trained';
      round: number;
      delta: ArrayBuffer; // float32, local − global
      numExamples: number;
      loss: number;
      examplesPerSec: number;
    }
  | { type: 'error'; message: string };

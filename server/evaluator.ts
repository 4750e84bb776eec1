// Evaluates the global model on the held-out test split in Node. tfjs-node
// can't be installed here, so this uses tfjs's WASM backend (pure-JS cpu as fallback).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { LabelledImages } from '../shared/dataset-format.ts';
import type { ModelName } from '../shared/model-spec.ts';
import { evaluateModel } from '../shared/model-evaluation.ts';
import { buildModel, readFlatWeights, writeFlatWeights } from '../shared/models.ts';

/** The initial weights of a run and the figures of each global model. */
export interface Evaluator {
  initialWeights(model: ModelName, seed: number): Float32Array;
  evaluate(model: ModelName, weights: Float32Array): Promise<{ accuracy: number; loss: number }>;
}

export async function initNodeBackend(): Promise<string> {
  for (const backend of ['wasm', 'cpu']) {
    if (await tf.setBackend(backend)) {
      await tf.ready();
      return backend;
    }
  }
  throw new Error('no tfjs backend could start in Node');
}

export class TestSetEvaluator implements Evaluator {
  private readonly models = new Map<ModelName, tf.Sequential>();
  private readonly initial = new Map<string, Float32Array>();

  constructor(private readonly test: LabelledImages) {}

  initialWeights(model: ModelName, seed: number): Float32Array {
    const key = `${model}/${seed}`;
    let weights = this.initial.get(key);
    if (!weights) {
      const fresh = buildModel(tf, model, seed);
      weights = readFlatWeights(fresh);
      fresh.dispose();
      this.initial.set(key, weights);
    }
    return weights.slice();
  }

  async evaluate(name: ModelName, weights: Float32Array): Promise<{ accuracy: number; loss: number }> {
    const model = this.model(name);
    writeFlatWeights(tf, model, weights);
    const { accuracy, loss } = await evaluateModel(tf, model, name, this.test);
    return { accuracy, loss };
  }

  private model(name: ModelName): tf.Sequential {
    let model = this.models.get(name);
    if (!model) {
      model = buildModel(tf, name);
      this.models.set(name, model);
    }
    return model;
  }
}

// Evaluates the global model on the held-out test split in Node. tfjs-node
// can't be installed here, so this uses tfjs's WASM backend (pure-JS cpu as fallback).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { LabelledImages } from '../shared/dataset-format.ts';
import { modelSpec, type ModelName } from '../shared/model-spec.ts';
import { buildModel, readFlatWeights, writeFlatWeights } from '../shared/models.ts';
import type { Evaluator } from './round.ts';

const EVAL_BATCH = 500;

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
    const { count, pixelsPerExample, pixels, labels } = this.test;
    const inputShape = modelSpec(name).inputShape;
    let correct = 0;
    let lossSum = 0;
    for (let start = 0; start < count; start += EVAL_BATCH) {
      const end = Math.min(count, start + EVAL_BATCH);
      const [batchCorrect, batchLoss] = tf.tidy(() => {
        const x = tf
          .tensor(pixels.subarray(start * pixelsPerExample, end * pixelsPerExample), [end - start, pixelsPerExample], 'float32')
          .div(255)
          .reshape([end - start, ...inputShape]);
        const y = tf.tensor1d(labels.subarray(start, end), 'int32');
        const probs = model.predict(x) as tf.Tensor2D;
        const hits = probs.argMax(1).equal(y).sum();
        // cross-entropy summed over the batch; clipping keeps log finite for a confident wrong answer
        const loss = tf.oneHot(y, 10).mul(probs.clipByValue(1e-7, 1).log()).sum().neg();
        return [hits, loss];
      });
      correct += (await batchCorrect.data())[0];
      lossSum += (await batchLoss.data())[0];
      tf.dispose([batchCorrect, batchLoss]);
    }
    return { accuracy: correct / count, loss: lossSum / count };
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

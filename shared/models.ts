// Builds the same tfjs layers model in the browser, the worker and Node.
// Takes the tf namespace as an argument so callers choose their own tfjs bundle.
import type * as tfType from '@tensorflow/tfjs';
import { modelSpec, type ModelName } from './model-spec.ts';

type Tf = typeof tfType;

export function buildModel(tf: Tf, name: ModelName, seed = 1): tfType.Sequential {
  const spec = modelSpec(name);
  const init = (offset: number) => tf.initializers.glorotUniform({ seed: seed + offset });
  const model = tf.sequential();
  if (name === 'mlp' || name === 'mlp-large') {
    const hidden = name === 'mlp' ? 200 : 1024;
    model.add(tf.layers.dense({ inputShape: spec.inputShape, units: hidden, activation: 'relu', kernelInitializer: init(0) }));
    model.add(tf.layers.dense({ units: 200, activation: 'relu', kernelInitializer: init(1) }));
    model.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(2) }));
  } else {
    model.add(tf.layers.conv2d({ inputShape: spec.inputShape, filters: 8, kernelSize: 5, activation: 'relu', kernelInitializer: init(0) }));
    model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
    model.add(tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu', kernelInitializer: init(1) }));
    model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(2) }));
  }
  const shapes = model.getWeights().map((w) => w.shape);
  if (JSON.stringify(shapes) !== JSON.stringify(spec.tensorShapes)) {
    throw new Error(`model ${name} does not match its spec: built ${JSON.stringify(shapes)}`);
  }
  return model;
}

/** Concatenates the model's weights into one flat Float32Array (spec order). */
export function readFlatWeights(model: tfType.LayersModel): Float32Array {
  const weights = model.getWeights();
  const total = weights.reduce((n, w) => n + w.size, 0);
  const flat = new Float32Array(total);
  let offset = 0;
  for (const w of weights) {
    flat.set(w.dataSync() as Float32Array, offset);
    offset += w.size;
  }
  return flat;
}

/** Sets the model's weights from one flat Float32Array (spec order). */
export function writeFlatWeights(tf: Tf, model: tfType.LayersModel, flat: Float32Array): void {
  const current = model.getWeights();
  let offset = 0;
  const next = current.map((w) => {
    const t = tf.tensor(flat.subarray(offset, offset + w.size), w.shape, 'float32');
    offset += w.size;
    return t;
  });
  if (offset !== flat.length) throw new Error(`expected ${offset} values, got ${flat.length}`);
  model.setWeights(next);
  tf.dispose(next);
}

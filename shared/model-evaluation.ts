// Accuracy and mean cross-entropy of a model on labelled images: what the coordinator measures on
// its test set and what a tab measures on its held-out examples, computed the same way on both so
// the two figures compare. Takes the tf namespace as an argument, like models.ts.
import type * as tfType from '@tensorflow/tfjs';
import type { LabelledImages } from './dataset-format.ts';
import type { TabEvaluation } from './fl/federated-evaluation.ts';
import { modelSpec, type ModelName } from './model-spec.ts';

type Tf = typeof tfType;

const EVAL_BATCH = 500;

export async function evaluateModel(tf: Tf, model: tfType.LayersModel, name: ModelName, data: LabelledImages): Promise<TabEvaluation> {
  const { count, pixelsPerExample, pixels, labels } = data;
  if (count === 0) throw new RangeError('nothing to evaluate on: no examples');
  const { inputShape, numClasses } = modelSpec(name);
  let correct = 0;
  let lossSum = 0;
  // Batches read back asynchronously: a synchronous read stalls (and on WebGPU in a worker breaks) the GPU backends.
  for (let start = 0; start < count; start += EVAL_BATCH) {
    const end = Math.min(count, start + EVAL_BATCH);
    const [batchCorrect, batchLoss] = tf.tidy(() => {
      const x = tf
        .tensor(pixels.subarray(start * pixelsPerExample, end * pixelsPerExample), [end - start, pixelsPerExample], 'float32')
        .div(255)
        .reshape([end - start, ...inputShape]);
      const y = tf.tensor1d(labels.subarray(start, end), 'int32');
      const probs = model.predict(x) as tfType.Tensor2D;
      const hits = probs.argMax(1).equal(y).sum();
      // cross-entropy summed over the batch; clipping keeps log finite for a confident wrong answer
      const loss = tf.oneHot(y, numClasses).mul(probs.clipByValue(1e-7, 1).log()).sum().neg();
      return [hits, loss];
    });
    correct += (await batchCorrect.data())[0];
    lossSum += (await batchLoss.data())[0];
    tf.dispose([batchCorrect, batchLoss]);
  }
  return { accuracy: correct / count, loss: lossSum / count, count };
}

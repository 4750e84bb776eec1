// An evaluator whose answers the test chooses, for coordinator tests that need no real model.
import type { ModelName } from '../shared/model-spec.ts';
import { modelSpec } from '../shared/model-spec.ts';
import type { Evaluator } from '../server/evaluator.ts';

/** Starts from all-zero weights; reports the accuracies it is given, one per evaluation. */
export class ScriptedEvaluator implements Evaluator {
  evaluated: Float32Array[] = [];
  constructor(private readonly accuracies: number[] = [], private readonly fail = false) {}

  initialWeights(model: ModelName): Float32Array {
    return new Float32Array(modelSpec(model).paramCount);
  }

  async evaluate(_model: ModelName, weights: Float32Array): Promise<{ accuracy: number; loss: number }> {
    if (this.fail) throw new Error('evaluator broke');
    this.evaluated.push(weights.slice());
    const accuracy = this.accuracies[this.evaluated.length - 1] ?? 0.5;
    return { accuracy, loss: 1 - accuracy };
  }
}

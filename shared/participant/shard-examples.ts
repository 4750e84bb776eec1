// A downloaded shard as a tab uses it: decoded, checked against the model, and split into what
// it trains on and what it holds out for federated evaluation (shared/held-out.ts).
import { decodeDataset } from '../dataset-format.ts';
import { holdOut } from '../held-out.ts';
import { modelSpec, type ModelName } from '../model-spec.ts';
import { labelHistogram } from '../partition.ts';
import type { ShardInfo } from '../protocol/messages.ts';
import type { ShardExamples } from './trainer.ts';

export function shardExamples(bytes: Uint8Array, model: ModelName, shard: ShardInfo): ShardExamples {
  const data = decodeDataset(bytes);
  const pixelsPerExample = modelSpec(model).inputShape.reduce((a, b) => a * b, 1);
  if (data.pixelsPerExample !== pixelsPerExample) {
    throw new Error(`shard ${shard.index} has ${data.pixelsPerExample} pixels per example, ${model} needs ${pixelsPerExample}`);
  }
  // The held-out examples never reach training; only their count is reported.
  return holdOut(data, shard.evalFraction, shard.index);
}

/** Examples per label 0 … numClasses − 1 (the ready report's labelCounts). */
export function countLabels(labels: Uint8Array, numClasses: number): number[] {
  return labelHistogram(labels, Array.from(labels.keys()), numClasses);
}

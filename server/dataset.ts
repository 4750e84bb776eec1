// The coordinator's copy of the generated MNIST splits: it serves each tab its
// shard and keeps the held-out test split for evaluating the global model.
import { existsSync, readFileSync } from 'node:fs';
import { decodeDataset, encodeDataset, selectExamples, type LabelledImages } from '../shared/dataset-format.ts';
import { dataVersion, partitionIndices, type PartitionSettings } from '../shared/partition.ts';
import { TEST_FILE, TRAIN_FILE } from './data-paths.ts';

export interface Mnist {
  train: LabelledImages;
  test: LabelledImages;
}

export function loadMnist(): Mnist {
  for (const file of [TRAIN_FILE, TEST_FILE]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run prepare-data\` (or \`npm start\`, which builds it)`);
  }
  return { train: decodeDataset(readFileSync(TRAIN_FILE)), test: decodeDataset(readFileSync(TEST_FILE)) };
}

/** Encoded shards for one choice of the partition settings, computed once and reused. */
export class ShardStore {
  private key = '';
  private encoded: Uint8Array[] = [];

  constructor(private readonly train: LabelledImages) {}

  shard(settings: PartitionSettings, index: number): Uint8Array {
    const key = dataVersion(settings);
    if (key !== this.key) {
      const parts = partitionIndices(this.train.labels, settings);
      this.encoded = parts.map((indices) => encodeDataset(selectExamples(this.train, indices)));
      this.key = key;
    }
    const bytes = this.encoded[index];
    if (!bytes) throw new RangeError(`shard ${index} does not exist (${settings.shards} shards)`);
    return bytes;
  }

  shardSize(settings: PartitionSettings, index: number): number {
    return decodeDataset(this.shard(settings, index)).count;
  }
}

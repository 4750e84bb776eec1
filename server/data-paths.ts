import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const ROOT_DIR = fileURLToPath(new URL('..', import.meta.url));
// Generated at build time, and never under public/: whatever is there the build copies into dist/,
// and a tab must be able to fetch only the shard it was given (/api/shards/:index), not the whole set.
export const DATA_DIR = join(ROOT_DIR, '.cache', 'mnist');
export const TRAIN_FILE = join(DATA_DIR, 'mnist-train.bin');
export const TEST_FILE = join(DATA_DIR, 'mnist-test.bin');
export const TRAIN_COUNT = 8000;

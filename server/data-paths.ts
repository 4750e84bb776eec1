import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const ROOT_DIR = fileURLToPath(new URL('..', import.meta.url));
export const DATA_DIR = join(ROOT_DIR, 'public', 'data');
export const TRAIN_FILE = join(DATA_DIR, 'mnist-train.bin');
export const TEST_FILE = join(DATA_DIR, 'mnist-test.bin');
export const TRAIN_COUNT = 8000;

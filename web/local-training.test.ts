// The worker's round (trainRound) in Node on tfjs's cpu backend: attacks change what is
// trained or sent, and no attack leaves tensors behind from round to round.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { flipLabels } from '../shared/fl/attacks.ts';
import { createRng } from '../shared/fl/rng.ts';
import { buildModel, readFlatWeights } from '../shared/models.ts';
import type { AttackMode } from '../shared/protocol.ts';
import { disposeExamples, toExampleTensors, trainRound, type ExampleTensors } from './local-training.ts';

const COUNT = 48;
const PIXELS = 784;

await tf.setBackend('cpu');

function randomShard(seed: number): { pixels: Uint8Array; labels: Uint8Array } {
  const rng = createRng(seed);
  const pixels = new Uint8Array(COUNT * PIXELS);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.int(256);
  const labels = new Uint8Array(COUNT);
  for (let i = 0; i < COUNT; i++) labels[i] = rng.int(10);
  return { pixels, labels };
}

const shard = randomShard(3);
const network = buildModel(tf, 'mlp');
const global = readFlatWeights(network);

// One full batch per epoch: the gradient is the mean over all examples whatever the shuffle,
// so two runs from the same global weights give the same delta up to float rounding.
const FULL_BATCH = { epochs: 1, batchSize: COUNT, learningRate: 0.1 };

async function deltaOf(
  examples: ExampleTensors,
  labels: Uint8Array,
  attack: AttackMode,
  round = 1,
  attackSeed = 7,
  privacy = { clipNorm: 0, localNoiseMultiplier: 0 },
): Promise<Float32Array> {
  const { delta } = await trainRound(
    { model: 'mlp', network, examples, labels, global, settings: FULL_BATCH, round, attack, attackSeed, ...privacy },
    () => {},
    () => false,
  );
  return delta;
}

function maxAbsDifference(a: Float32Array, b: Float32Array, scaleOfB = 1): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - scaleOfB * b[i]));
  return max;
}

function maxAbs(v: Float32Array): number {
  let max = 0;
  for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]));
  return max;
}

test('sign flip sends −10 × the honest delta; scale sends 10 ×', async () => {
  const examples = toExampleTensors('mlp', shard.pixels, shard.labels);
  try {
    const honest = await deltaOf(examples, shard.labels, 'none');
    assert.ok(maxAbs(honest) > 1e-4, 'the honest round should change the weights');
    const flipped = await deltaOf(examples, shard.labels, 'sign-flip');
    const scaled = await deltaOf(examples, shard.labels, 'scale');
    const tolerance = 1e-4 * maxAbs(honest) * 10;
    assert.ok(maxAbsDifference(flipped, honest, -10) < tolerance, `sign flip off by ${maxAbsDifference(flipped, honest, -10)}`);
    assert.ok(maxAbsDifference(scaled, honest, 10) < tolerance, `scale off by ${maxAbsDifference(scaled, honest, 10)}`);
  } finally {
    disposeExamples(examples);
  }
});

test('label flip trains as if the labels were 9 − y, and keeps the honest labels', async () => {
  const honestExamples = toExampleTensors('mlp', shard.pixels, shard.labels);
  const flippedLabels = flipLabels(shard.labels, 10);
  const preFlipped = toExampleTensors('mlp', shard.pixels, flippedLabels);
  const labelsBefore = shard.labels.slice();
  try {
    const attacked = await deltaOf(honestExamples, shard.labels, 'label-flip');
    const onFlippedData = await deltaOf(preFlipped, flippedLabels, 'none');
    const honest = await deltaOf(honestExamples, shard.labels, 'none');
    const tolerance = 1e-4 * maxAbs(onFlippedData);
    assert.ok(maxAbsDifference(attacked, onFlippedData) < tolerance, `off by ${maxAbsDifference(attacked, onFlippedData)}`);
    assert.ok(maxAbsDifference(attacked, honest) > 100 * tolerance, 'label flip should train differently from an honest round');
    assert.deepEqual(shard.labels, labelsBefore);
    // The next honest round trains on the honest labels again.
    const honestAgain = await deltaOf(honestExamples, shard.labels, 'none');
    assert.ok(maxAbsDifference(honestAgain, honest) < tolerance);
  } finally {
    disposeExamples(honestExamples);
    disposeExamples(preFlipped);
  }
});

test('tensor count stays flat across rounds, whatever the attack', async () => {
  const examples = toExampleTensors('mlp', shard.pixels, shard.labels);
  try {
    const modes: AttackMode[] = ['none', 'label-flip', 'sign-flip', 'gaussian', 'label-flip', 'scale', 'none', 'label-flip'];
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    for (const [i, attack] of modes.entries()) {
      await trainRound(
        { model: 'mlp', network, examples, labels: shard.labels, global, settings: { epochs: 2, batchSize: 16, learningRate: 0.05 }, round: i + 1, attack, attackSeed: 7, clipNorm: 0, localNoiseMultiplier: 0 },
        () => {},
        () => false,
      );
      counts.push(tf.memory().numTensors);
    }
    assert.deepEqual(counts, modes.map(() => before), `tensors after each round: ${counts.join(', ')} (before: ${before})`);
  } finally {
    disposeExamples(examples);
  }
});

test('a gaussian round is seeded by its tab and its round number', async () => {
  const examples = toExampleTensors('mlp', shard.pixels, shard.labels);
  try {
    const first = await deltaOf(examples, shard.labels, 'gaussian', 7);
    const again = await deltaOf(examples, shard.labels, 'gaussian', 7);
    const other = await deltaOf(examples, shard.labels, 'gaussian', 8);
    const otherTab = await deltaOf(examples, shard.labels, 'gaussian', 7, 8);
    // The honest deltas of two runs differ by float rounding only, so the noise (10 × their RMS) barely moves.
    assert.ok(maxAbsDifference(first, again) < 1e-3 * maxAbs(first), `off by ${maxAbsDifference(first, again)}`);
    assert.ok(maxAbsDifference(first, other) > 0.1 * maxAbs(first), 'another round should draw other noise');
    assert.ok(maxAbsDifference(first, otherTab) > 0.1 * maxAbs(first), 'another tab should draw other noise in the same round');
  } finally {
    disposeExamples(examples);
  }
});

test('local DP: the delta that leaves is the honest one clipped to C plus noise of std z·C, fresh every time', async () => {
  const examples = toExampleTensors('mlp', shard.pixels, shard.labels);
  try {
    const honest = await deltaOf(examples, shard.labels, 'none');
    let norm = 0;
    for (const v of honest) norm += v * v;
    norm = Math.sqrt(norm);
    const clipNorm = norm / 4; // clipping must bite: the honest delta shrinks to a quarter
    const z = 0.7;
    const privacy = { clipNorm, localNoiseMultiplier: z };
    const [first, second] = [await deltaOf(examples, shard.labels, 'none', 1, 7, privacy), await deltaOf(examples, shard.labels, 'none', 1, 7, privacy)];
    let sum = 0;
    let sumSq = 0;
    let same = 0;
    for (let i = 0; i < first.length; i++) {
      const noise = first[i] - honest[i] / 4;
      sum += noise;
      sumSq += noise * noise;
      if (first[i] === second[i]) same++;
    }
    const std = Math.sqrt(sumSq / first.length - (sum / first.length) ** 2);
    // ~200k values: the std's sampling error is ~0.16%; 2% catches σ² or √σ for σ = z·C
    assert.ok(Math.abs(std / (z * clipNorm) - 1) < 0.02, `noise std ${std}, expected ${z * clipNorm}`);
    assert.ok(Math.abs(sum / first.length) < (5 * z * clipNorm) / Math.sqrt(first.length), 'noise has mean 0: the clipped delta is under it');
    assert.ok(same < first.length / 1000, `${same} values repeat between two rounds: the noise must not be predictable`);
  } finally {
    disposeExamples(examples);
  }
});

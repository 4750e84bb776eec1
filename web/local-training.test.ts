// The worker's round (trainRound) in Node on tfjs's cpu backend: attacks change what is
// trained or sent, FedProx's step is the hand-computed one, and no attack or proximal term
// leaves tensors behind from round to round.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { flipLabels } from '../shared/fl/attacks.ts';
import { createRng } from '../shared/fl/rng.ts';
import { buildModel, readFlatWeights } from '../shared/models.ts';
import type { AttackMode } from '../shared/protocol/records.ts';
import { disposeExamples, disposeProximalTerm, evaluateHeldOut, proximalTermAt, toExampleTensors, trainRound, trainStep, type ExampleTensors } from './local-training.ts';

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
const FULL_BATCH = { epochs: 1, batchSize: COUNT, learningRate: 0.1, proximalMu: 0 };

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
        { model: 'mlp', network, examples, labels: shard.labels, global, settings: { epochs: 2, batchSize: 16, learningRate: 0.05, proximalMu: 0 }, round: i + 1, attack, attackSeed: 7, clipNorm: 0, localNoiseMultiplier: 0 },
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

// FedProx on a model small enough to follow by hand: 2 inputs, 2 softmax outputs, weights W (2×2), b (2).
function tinyModel(): tf.LayersModel {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [2], activation: 'softmax' })] });
  model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
  return model;
}

function setTinyWeights(model: tf.LayersModel, values: number[]): void {
  const weights = [tf.tensor2d(values.slice(0, 4), [2, 2]), tf.tensor1d(values.slice(4))];
  model.setWeights(weights);
  tf.dispose(weights);
}

function flatWeights(model: tf.LayersModel): number[] {
  return model.getWeights().flatMap((w) => Array.from(w.dataSync()));
}

test('FedProx step: w − η(∇CE + μ(w − w_global)), i.e. the plain step minus ημ(w − w_global)', () => {
  const model = tinyModel();
  const w = [0.1, -0.2, 0.3, 0.4, 0, 0.1]; // W row by row, then b
  const wGlobal = [0.5, 0.5, -0.5, 0.5, 0.2, -0.2];
  const [learningRate, mu] = [0.5, 0.8];
  const x = tf.tensor2d([[1, 2], [0.5, -1]]);
  const y = tf.tensor2d([[1, 0], [0, 1]]);
  try {
    // The plain step gives w − η∇CE; its loss is the cross-entropy at w.
    setTinyWeights(model, w);
    const plainOptimizer = tf.train.sgd(learningRate);
    const plainLoss = trainStep(model, plainOptimizer, x, y);
    const wPlain = flatWeights(model);
    plainOptimizer.dispose();

    setTinyWeights(model, wGlobal);
    const proximal = proximalTermAt(model, mu);
    setTinyWeights(model, w);
    const proxOptimizer = tf.train.sgd(learningRate);
    const proxLoss = trainStep(model, proxOptimizer, x, y, proximal);
    const wProx = flatWeights(model);
    proxOptimizer.dispose();
    disposeProximalTerm(proximal);

    // ημ = 0.4: e.g. W₀₀ moves by an extra −0.4·(0.1 − 0.5) = +0.16 toward the global 0.5.
    const expected = wPlain.map((v, i) => v - learningRate * mu * (w[i] - wGlobal[i]));
    for (let i = 0; i < w.length; i++) {
      assert.ok(Math.abs(wProx[i] - expected[i]) < 1e-6, `weight ${i}: ${wProx[i]}, expected ${expected[i]} (plain step: ${wPlain[i]})`);
    }
    assert.ok(Math.abs(wProx[0] - wPlain[0] - 0.16) < 1e-6, 'the proximal term should move W₀₀ by +0.16');
    // The loss reported is the cross-entropy at w, the same with or without the term.
    assert.equal(proxLoss.dataSync()[0], plainLoss.dataSync()[0]);
    tf.dispose([plainLoss, proxLoss]);
  } finally {
    tf.dispose([x, y]);
    model.dispose();
  }
});

function l2Norm(v: Float32Array): number {
  let sumSq = 0;
  for (const value of v) sumSq += value * value;
  return Math.sqrt(sumSq);
}

// Several steps per round, so the local weights get away from the global ones and the term bites
// (at the first step w = w_global and it is 0). ημ = 0.5 < 2: the pull contracts, it does not overshoot.
const MANY_STEPS = { epochs: 4, batchSize: 16, learningRate: 0.05 };

async function fedProxDelta(examples: ExampleTensors, proximalMu: number, round = 1): Promise<Float32Array> {
  const { delta } = await trainRound(
    { model: 'mlp', network, examples, labels: shard.labels, global, settings: { ...MANY_STEPS, proximalMu }, round, attack: 'none', attackSeed: 7, clipNorm: 0, localNoiseMultiplier: 0 },
    () => {},
    () => false,
  );
  return delta;
}

test('a large μ keeps the local weights close to the global ones', async () => {
  const examples = toExampleTensors('mlp', shard.pixels, shard.labels);
  try {
    const plain = l2Norm(await fedProxDelta(examples, 0));
    const pulled = l2Norm(await fedProxDelta(examples, 10));
    console.log(`‖delta‖ over ${4 * (COUNT / 16)} steps: μ = 0: ${plain.toFixed(4)}, μ = 10: ${pulled.toFixed(4)}`);
    assert.ok(plain > 1e-3, 'the plain round should change the weights');
    // Measured ~0.19–0.22 vs ~0.63: with ημ = 0.5 each step halves what the earlier ones moved, so the
    // delta holds about two steps' worth instead of twelve.
    assert.ok(pulled < plain / 2, `μ = 10 should shrink the delta: ${pulled} vs ${plain} at μ = 0`);
  } finally {
    disposeExamples(examples);
  }
});

test('tensor count stays flat across FedProx rounds', async () => {
  const examples = toExampleTensors('mlp', shard.pixels, shard.labels);
  try {
    const mus = [0.5, 0, 10, 0.5];
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    for (const [i, mu] of mus.entries()) {
      await fedProxDelta(examples, mu, i + 1);
      counts.push(tf.memory().numTensors);
    }
    assert.deepEqual(counts, mus.map(() => before), `tensors after each round: ${counts.join(', ')} (before: ${before})`);
  } finally {
    disposeExamples(examples);
  }
});

test('federated evaluation: a model that always answers 3 is right on exactly the held-out 3s, with the hand-computed loss', async () => {
  // All weights 0 but the output bias: every hidden unit is relu(0) = 0, so every example gets the
  // logits b, and with b₃ = ln 9 (the rest 0) softmax gives 3 a probability of 9 / 18 = 1/2 and
  // each other digit 1/18. Ten held-out examples, four of them 3s: accuracy 4 / 10, and
  // loss (4·ln 2 + 6·ln 18) / 10.
  const labels = Uint8Array.of(3, 1, 3, 0, 7, 3, 9, 3, 2, 5);
  const pixels = new Uint8Array(labels.length * PIXELS);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37) % 256;
  const weights = new Float32Array(global.length);
  weights[weights.length - 10 + 3] = Math.log(9);
  const own = buildModel(tf, 'mlp');
  try {
    const before = tf.memory().numTensors;
    const result = await evaluateHeldOut('mlp', own, weights, { count: labels.length, pixelsPerExample: PIXELS, pixels, labels });
    assert.equal(result.count, 10);
    assert.equal(result.accuracy, 0.4);
    const expectedLoss = (4 * Math.log(2) + 6 * Math.log(18)) / 10;
    assert.ok(Math.abs(result.loss - expectedLoss) < 1e-5, `loss ${result.loss}, expected ${expectedLoss}`);
    assert.equal(tf.memory().numTensors, before, 'no tensor is left behind');
    assert.deepEqual(readFlatWeights(own), weights, 'the network holds the weights it evaluated, nothing else changed them');
  } finally {
    own.dispose();
  }
});

test('federated evaluation on a real digit split: its accuracy is the count of argmax hits, whatever the batch', async () => {
  const held = randomShard(11);
  const heldOut = { count: COUNT, pixelsPerExample: PIXELS, pixels: held.pixels, labels: held.labels };
  const own = buildModel(tf, 'mlp', 5);
  try {
    const weights = readFlatWeights(own);
    const result = await evaluateHeldOut('mlp', own, weights, heldOut);
    // the same count by hand: predict, take each row's argmax, compare with the label
    const probs = tf.tidy(() => own.predict(tf.tensor(held.pixels, [COUNT, PIXELS], 'float32').div(255)) as tf.Tensor2D);
    const rows = (await probs.array()) as number[][];
    probs.dispose();
    const hits = rows.filter((row, i) => row.indexOf(Math.max(...row)) === held.labels[i]).length;
    assert.equal(result.accuracy, hits / COUNT);
  } finally {
    own.dispose();
  }
});

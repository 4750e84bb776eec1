// Speed of the federated math in shared/fl/ at the sizes a round really has.
// Rows without a target are references: the plain-JS paths the fast ones replaced, and memcpy
// as the ceiling for anything that has to read every byte.
import { accumulateWeighted, accumulateWeightedBatch, FedAvgAccumulator, meanInto } from '../shared/fl/fedavg.ts';
import { clipToNorm } from '../shared/fl/clip.ts';
import { addGaussianNoise } from '../shared/fl/noise.ts';
import { createRng } from '../shared/fl/rng.ts';
import { benchVector, medianSeconds, type BenchRow } from './measure.ts';

const PARAMS = 1_000_000;
const CLIENTS = 100;
/**
 * Updates arrive one by one; cycling through 8 distinct deltas (32 MB, as much as the L3 cache)
 * stands in for 100 fresh ones without allocating 400 MB, and keeps them from all being cached.
 */
const DISTINCT_DELTAS = 8;
const DELTA_BYTES_PER_AGGREGATION = CLIENTS * PARAMS * 4;
const FEDAVG_TARGET_GB_PER_S = 5;
const VALUES_TARGET_M_PER_S = 50;

const gbPerSecond = (seconds: number) => DELTA_BYTES_PER_AGGREGATION / seconds / 1e9;

export function fedavg(): BenchRow[] {
  const deltas = Array.from({ length: DISTINCT_DELTAS }, (_, k) => benchVector(PARAMS, 1 + k, 0.01));
  const deltaOf = (client: number) => deltas[client % DISTINCT_DELTAS];
  const weights = Array.from({ length: CLIENTS }, (_, k) => 50 + ((k * 37) % 600)); // 50…649 examples
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const sum = new Float32Array(PARAMS);
  const mean = new Float32Array(PARAMS);
  const timing = { warmupRuns: 2, timedRuns: 7 };

  const memcpy = medianSeconds(() => {
    for (let k = 0; k < CLIENTS; k++) sum.set(deltaOf(k));
  }, timing);

  const onePerPass = medianSeconds(() => {
    sum.fill(0);
    for (let k = 0; k < CLIENTS; k++) accumulateWeighted(sum, deltaOf(k), weights[k]);
    meanInto(mean, sum, totalWeight);
  }, timing);

  const fourPerPassJs = medianSeconds(() => {
    sum.fill(0);
    for (let k = 0; k < CLIENTS; k += 4) {
      accumulateWeightedBatch(sum, [deltaOf(k), deltaOf(k + 1), deltaOf(k + 2), deltaOf(k + 3)], weights.slice(k, k + 4));
    }
    meanInto(mean, sum, totalWeight);
  }, timing);

  // What the coordinator runs: add() as each update arrives (copying it into a staging slot).
  const accumulator = new FedAvgAccumulator(PARAMS, { deltasPerPass: 4 });
  const streamed = medianSeconds(() => {
    accumulator.reset();
    for (let k = 0; k < CLIENTS; k++) accumulator.add(deltaOf(k), weights[k]);
    accumulator.meanInto(mean);
  }, timing);

  return [
    { name: 'memcpy: Float32Array.set of each delta (reference)', figure: gbPerSecond(memcpy), unit: 'GB/s' },
    { name: 'fedavg: accumulateWeighted, 1 delta/pass, JS', figure: gbPerSecond(onePerPass), unit: 'GB/s' },
    { name: 'fedavg: accumulateWeightedBatch, 4 deltas/pass, JS', figure: gbPerSecond(fourPerPassJs), unit: 'GB/s' },
    {
      name: `fedavg: FedAvgAccumulator, 4 staged, ${accumulator.simd ? 'wasm SIMD' : 'JS (no wasm SIMD!)'}`,
      figure: gbPerSecond(streamed),
      unit: 'GB/s',
      target: FEDAVG_TARGET_GB_PER_S,
    },
  ];
}

export function clip(): BenchRow[] {
  const source = benchVector(PARAMS, 77); // norm ≈ 1000, so clipping to 1 always scales
  const v = new Float32Array(PARAMS);
  const seconds = medianSeconds(() => clipToNorm(v, 1), { beforeEach: () => v.set(source) });
  return [{ name: 'clip: clipToNorm of 1M values (norm + scale)', figure: PARAMS / seconds / 1e6, unit: 'M values/s', target: VALUES_TARGET_M_PER_S }];
}

export function noise(): BenchRow[] {
  const v = new Float32Array(PARAMS);
  const rng = createRng(1);
  const boxMuller = medianSeconds(() => {
    for (let i = 0; i < v.length; i++) v[i] += 0.37 * rng.gaussian(); // addGaussianNoise before the Ziggurat
  });
  const ziggurat = medianSeconds(() => addGaussianNoise(v, 0.37, rng));
  return [
    { name: 'noise: v += σ·rng.gaussian() per value, Box–Muller', figure: PARAMS / boxMuller / 1e6, unit: 'M values/s' },
    { name: 'noise: addGaussianNoise, Ziggurat', figure: PARAMS / ziggurat / 1e6, unit: 'M values/s', target: VALUES_TARGET_M_PER_S },
  ];
}

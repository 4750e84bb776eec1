// The hot loop of FedAvg, sum += w₀·Δ₀ + … + w₍ₖ₋₁₎·Δ₍ₖ₋₁₎ for k = 1…4, as a tiny WebAssembly
// module using 128-bit SIMD. Why: V8 does not vectorise JavaScript loops. On the 2-core
// coordinator accumulateWeightedBatch (4 deltas per pass) consumes ~3 GB/s of delta, ~3.5
// unrolled; this kernel ~14 GB/s on deltas already in its memory, ~6.5 GB/s counting the copy
// in (FedAvgAccumulator.add; bench/fl-math.bench.ts). A memcpy does ~13–18 GB/s there.
//
// The arithmetic is the same as accumulateWeightedBatch in fedavg.ts, step for step: every
// float32 is widened to float64 (f64x2, two lanes at a time), the products are summed left to
// right, added to the running sum, and rounded to float32 once. IEEE double arithmetic in the
// same order gives the same bits, so both paths produce identical sums (fedavg.test.ts checks).
//
// The module is assembled from bytes (wasm-encoding.ts) rather than shipped as a .wasm file: it
// is under 1 KB and needs no build step.
import {
  assembleModule,
  compileIfSupported,
  F32X4_DEMOTE_F64X2_ZERO,
  F64,
  F64X2_ADD,
  F64X2_MUL,
  F64X2_PROMOTE_LOW_F32X4,
  F64X2_SPLAT,
  I32,
  I32_ADD,
  I32_GE_U,
  i32Const,
  localGet,
  localSet,
  V128,
  v128Load64Zero,
  v128Store64Lane,
  whileNot,
  type WasmFunction,
} from './wasm-encoding.ts';

/** k = 1…4 deltas folded into the sum per pass; offsets and lengths are in bytes. */
export interface SimdAccumulateKernel {
  readonly maxDeltasPerPass: number;
  /**
   * For each float32 i in [0, byteLength/4): sum[i] = f32(sum[i] + Σⱼ weights[j]·delta_j[i]).
   * byteLength must be a multiple of 16 (the kernel does 4 values per step, no scalar tail).
   */
  accumulate(sumOffset: number, byteLength: number, deltaOffsets: readonly number[], weights: readonly number[]): void;
}

export const SIMD_STEP_BYTES = 16;
const MAX_DELTAS = 4;

/**
 * accumulate{k}(sum, byteLength, delta₀, w₀, …, delta₍ₖ₋₁₎, w₍ₖ₋₁₎): params are i32 pointers
 * and f64 weights; locals are the byte offset and each weight splatted to both f64 lanes.
 */
function accumulateFunction(k: number): WasmFunction {
  const SUM = 0;
  const LENGTH = 1;
  const delta = (j: number) => 2 + 2 * j;
  const weight = (j: number) => 3 + 2 * j;
  const OFFSET = 2 + 2 * k;
  const weightLanes = (j: number) => OFFSET + 1 + j;

  const params = [I32, I32, ...Array.from({ length: k }, () => [I32, F64]).flat()];
  const body: number[] = [];
  for (let j = 0; j < k; j++) body.push(...localGet(weight(j)), ...F64X2_SPLAT, ...localSet(weightLanes(j)));
  // Two float32 per half (load64_zero + promote fill both f64 lanes), two halves per 16-byte step.
  const widenedAt = (pointer: number, half: number) => [...localGet(pointer), ...localGet(OFFSET), ...I32_ADD, ...v128Load64Zero(half), ...F64X2_PROMOTE_LOW_F32X4];
  const step: number[] = [];
  for (const half of [0, 8]) {
    step.push(...localGet(SUM), ...localGet(OFFSET), ...I32_ADD); // address the result is stored to
    step.push(...widenedAt(SUM, half)); // s
    for (let j = 0; j < k; j++) {
      step.push(...widenedAt(delta(j), half), ...localGet(weightLanes(j)), ...F64X2_MUL); // wⱼ·Δⱼ
      if (j > 0) step.push(...F64X2_ADD); // left to right: ((w₀Δ₀ + w₁Δ₁) + w₂Δ₂) + w₃Δ₃
    }
    step.push(...F64X2_ADD, ...F32X4_DEMOTE_F64X2_ZERO, ...v128Store64Lane(half, 0)); // f32(s + Σ)
  }
  body.push(
    ...whileNot(
      [...localGet(OFFSET), ...localGet(LENGTH), ...I32_GE_U], // until offset >= byteLength
      [...step, ...localGet(OFFSET), ...i32Const(SIMD_STEP_BYTES), ...I32_ADD, ...localSet(OFFSET)],
    ),
  );
  return { name: `accumulate${k}`, params, locals: [[1, I32], [k, V128]], body };
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null where WebAssembly or its SIMD proposal is missing (then callers use plain JS). */
function simdModule(): WebAssembly.Module | null {
  if (compiled === undefined) compiled = compileIfSupported(assembleModule(Array.from({ length: MAX_DELTAS }, (_, i) => accumulateFunction(i + 1))));
  return compiled;
}

/** The kernel working on `memory`, or null without WebAssembly SIMD. */
export function loadSimdAccumulateKernel(memory: WebAssembly.Memory): SimdAccumulateKernel | null {
  const module = simdModule();
  if (!module) return null;
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<string, (...args: number[]) => void>;
  const [accumulate1, accumulate2, accumulate3, accumulate4] = [1, 2, 3, 4].map((k) => exports[`accumulate${k}`]);
  return {
    maxDeltasPerPass: MAX_DELTAS,
    accumulate(sumOffset, byteLength, d, w) {
      if (byteLength % SIMD_STEP_BYTES !== 0) throw new RangeError(`byte length ${byteLength} is not a multiple of ${SIMD_STEP_BYTES}`);
      if (d.length !== w.length) throw new RangeError(`${d.length} deltas but ${w.length} weights`);
      switch (d.length) {
        case 1: return accumulate1(sumOffset, byteLength, d[0], w[0]);
        case 2: return accumulate2(sumOffset, byteLength, d[0], w[0], d[1], w[1]);
        case 3: return accumulate3(sumOffset, byteLength, d[0], w[0], d[1], w[1], d[2], w[2]);
        case 4: return accumulate4(sumOffset, byteLength, d[0], w[0], d[1], w[1], d[2], w[2], d[3], w[3]);
        default: throw new RangeError(`the kernel folds 1 to ${MAX_DELTAS} deltas per pass, got ${d.length}`);
      }
    },
  };
}

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
// The module is assembled here from bytes rather than shipped as a .wasm file: it is under
// 1 KB, needs no build step, and every instruction is named below. Spec:
// https://webassembly.github.io/spec/core/binary/ (SIMD opcodes: "Vector Instructions").

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

// --- a minimal binary encoder ------------------------------------------------------------
const unsignedLeb128 = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
const vector = (items: number[][]): number[] => [...unsignedLeb128(items.length), ...items.flat()];
const name = (s: string): number[] => [...unsignedLeb128(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...unsignedLeb128(body.length), ...body];

const I32 = 0x7f;
const F64 = 0x7c;
const V128 = 0x7b;
const localGet = (i: number) => [0x20, i];
const localSet = (i: number) => [0x21, i];
const I32_ADD = [0x6a];
const I32_GE_U = [0x4f];
const i32Const = (n: number) => [0x41, n]; // n < 64, so its signed LEB128 is the byte itself
const simd = (opcode: number, ...immediates: number[]) => [0xfd, ...unsignedLeb128(opcode), ...immediates];
const V128_LOAD64_ZERO = (offset: number) => simd(93, 3, offset); // align 2³ bytes, static offset
const V128_STORE64_LANE = (offset: number) => simd(91, 3, offset, 0); // stores lane 0 (the low 64 bits)
const F64X2_SPLAT = simd(20);
const F64X2_PROMOTE_LOW_F32X4 = simd(95);
const F32X4_DEMOTE_F64X2_ZERO = simd(94);
const F64X2_ADD = simd(240);
const F64X2_MUL = simd(242);

/**
 * accumulate{k}(sum, byteLength, delta₀, w₀, …, delta₍ₖ₋₁₎, w₍ₖ₋₁₎): params are i32 pointers
 * and f64 weights; locals are the byte offset and each weight splatted to both f64 lanes.
 */
function accumulateFunction(k: number): { type: number[]; body: number[] } {
  const SUM = 0;
  const LENGTH = 1;
  const delta = (j: number) => 2 + 2 * j;
  const weight = (j: number) => 3 + 2 * j;
  const OFFSET = 2 + 2 * k;
  const weightLanes = (j: number) => OFFSET + 1 + j;

  const params = [I32, I32, ...Array.from({ length: k }, () => [I32, F64]).flat()];
  const code: number[] = [];
  for (let j = 0; j < k; j++) code.push(...localGet(weight(j)), ...F64X2_SPLAT, ...localSet(weightLanes(j)));
  // Two float32 per half (load64_zero + promote fill both f64 lanes), two halves per 16-byte step.
  const widenedAt = (pointer: number, half: number) => [...localGet(pointer), ...localGet(OFFSET), ...I32_ADD, ...V128_LOAD64_ZERO(half), ...F64X2_PROMOTE_LOW_F32X4];
  const step: number[] = [];
  for (const half of [0, 8]) {
    step.push(...localGet(SUM), ...localGet(OFFSET), ...I32_ADD); // address the result is stored to
    step.push(...widenedAt(SUM, half)); // s
    for (let j = 0; j < k; j++) {
      step.push(...widenedAt(delta(j), half), ...localGet(weightLanes(j)), ...F64X2_MUL); // wⱼ·Δⱼ
      if (j > 0) step.push(...F64X2_ADD); // left to right: ((w₀Δ₀ + w₁Δ₁) + w₂Δ₂) + w₃Δ₃
    }
    step.push(...F64X2_ADD, ...F32X4_DEMOTE_F64X2_ZERO, ...V128_STORE64_LANE(half)); // f32(s + Σ)
  }
  code.push(
    0x02, 0x40, // block
    0x03, 0x40, //   loop
    ...localGet(OFFSET), ...localGet(LENGTH), ...I32_GE_U, 0x0d, 1, // br_if out of the block when offset >= byteLength
    ...step,
    ...localGet(OFFSET), ...i32Const(SIMD_STEP_BYTES), ...I32_ADD, ...localSet(OFFSET),
    0x0c, 0, // br to the loop head
    0x0b, 0x0b, // end loop, end block
    0x0b, // end function
  );
  const locals = vector([[1, I32], [k, V128]]);
  const body = [...locals, ...code];
  return { type: [0x60, ...vector(params.map((p) => [p])), 0], body: [...unsignedLeb128(body.length), ...body] };
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const functions = Array.from({ length: MAX_DELTAS }, (_, i) => accumulateFunction(i + 1));
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, vector(functions.map((f) => f.type))), // types: one per k
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]])), // imports env.memory (min 1 page)
    ...section(3, vector(functions.map((_, i) => [i]))), // function i has type i
    ...section(7, vector(functions.map((_, i) => [...name(`accumulate${i + 1}`), 0x00, i]))), // exports
    ...section(10, vector(functions.map((f) => f.body))), // code
  ]);
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null where WebAssembly or its SIMD proposal is missing (then callers use plain JS). */
function simdModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = moduleBytes();
    compiled = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
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

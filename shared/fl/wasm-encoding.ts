// A minimal WebAssembly binary encoder for the hand-assembled SIMD kernels of FedAvg and the robust
// rules (fedavg-simd.ts, trimmed-mean-simd.ts, krum-simd.ts): a module is a few functions over one imported memory,
// assembled from bytes at run time, so there is no .wasm file and no build step. Every opcode the
// kernels use is named here once. Spec: https://webassembly.github.io/spec/core/binary/ (SIMD
// opcodes: "Vector Instructions").

export const I32 = 0x7f;
export const F64 = 0x7c;
export const V128 = 0x7b;

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

/** Signed LEB128 of a 32-bit integer (i32.const immediates). */
const signedLeb128 = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
};

const vector = (items: number[][]): number[] => [...unsignedLeb128(items.length), ...items.flat()];
const name = (s: string): number[] => [...unsignedLeb128(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...unsignedLeb128(body.length), ...body];

// --- instructions ------------------------------------------------------------------------
export const localGet = (i: number) => [0x20, ...unsignedLeb128(i)];
export const localSet = (i: number) => [0x21, ...unsignedLeb128(i)];
export const localTee = (i: number) => [0x22, ...unsignedLeb128(i)];
export const i32Const = (n: number) => [0x41, ...signedLeb128(n)];
export const I32_ADD = [0x6a];
export const I32_SUB = [0x6b];
export const I32_EQZ = [0x45];
export const I32_LT_U = [0x49];
export const I32_GE_U = [0x4f];
export const F64_CONVERT_I32_U = [0xb8];
export const i32Load = (offset: number) => [0x28, 2, ...unsignedLeb128(offset)];

const simd = (opcode: number, ...immediates: number[]) => [0xfd, ...unsignedLeb128(opcode), ...immediates];
/** v128.load/store with alignment hint 2⁴ and a constant byte offset added to the address. */
export const v128Load = (offset = 0) => simd(0, 4, ...unsignedLeb128(offset));
export const v128Store = (offset = 0) => simd(11, 4, ...unsignedLeb128(offset));
export const V128_ZERO = simd(12, ...new Array<number>(16).fill(0));
/** i8x16.shuffle of (a, a) that moves lanes 2 and 3 into lanes 0 and 1, so promote_low widens the high half. Push the vector twice. */
export const F32X4_HIGH_HALF_DOWN = simd(13, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
/** Loads 8 bytes (two float32) into the low half, zeroing the high half: promote_low then widens them. */
export const v128Load64Zero = (offset: number) => simd(93, 3, ...unsignedLeb128(offset));
export const F64X2_SPLAT = simd(20);
export const F32X4_LT = simd(67);
export const F32X4_GT = simd(68);
export const V128_OR = simd(80);
/** Stores lane `lane` (64 bits) of a v128 at address + offset. */
export const v128Store64Lane = (offset: number, lane: number) => simd(91, 3, ...unsignedLeb128(offset), lane);
export const F32X4_DEMOTE_F64X2_ZERO = simd(94);
export const F64X2_PROMOTE_LOW_F32X4 = simd(95);
export const I32X4_SUB = simd(177);
export const F32X4_ADD = simd(228);
export const F32X4_MUL = simd(230);
/** pmin(a, b) = b < a ? b : a and pmax(a, b) = a < b ? b : a: one minps/maxps each, unlike min/max (NaN and ±0 rules). */
export const F32X4_PMIN = simd(234);
export const F32X4_PMAX = simd(235);
export const F64X2_ADD = simd(240);
export const F64X2_MUL = simd(242);
export const F64X2_DIV = simd(243);

// --- control -----------------------------------------------------------------------------
/** `while (!exitCondition) body`: block { loop { br_if 1 (exit); body; br 0 } }. */
export const whileNot = (exitCondition: number[], body: number[]): number[] => [
  0x02, 0x40, 0x03, 0x40, ...exitCondition, 0x0d, 1, ...body, 0x0c, 0, 0x0b, 0x0b,
];
/** `do body while (condition)`: loop { body; br_if 0 (condition) }. */
export const doWhile = (body: number[], condition: number[]): number[] => [0x03, 0x40, ...body, ...condition, 0x0d, 0, 0x0b];

export interface WasmFunction {
  name: string;
  params: number[];
  /** Extra locals after the params, as [count, type] runs. */
  locals: [number, number][];
  body: number[];
}

/** A module importing env.memory and exporting each function by name; no results, all work goes through memory. */
export function assembleModule(functions: readonly WasmFunction[]): Uint8Array<ArrayBuffer> {
  const bodies = functions.map((f) => {
    const code = [...vector(f.locals.map(([count, type]) => [...unsignedLeb128(count), type])), ...f.body, 0x0b];
    return [...unsignedLeb128(code.length), ...code];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, vector(functions.map((f) => [0x60, ...vector(f.params.map((p) => [p])), 0]))), // one type per function
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]])), // imports env.memory (min 1 page)
    ...section(3, vector(functions.map((_, i) => [i]))), // function i has type i
    ...section(7, vector(functions.map((f, i) => [...name(f.name), 0x00, i]))), // exports
    ...section(10, vector(bodies)),
  ]);
}

/** The compiled module, or null where WebAssembly or its SIMD proposal is missing (callers then use plain JS). */
export function compileIfSupported(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module | null {
  return typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
}

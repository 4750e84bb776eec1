// Krum's two hot loops (krum.ts) as a tiny WebAssembly module using 128-bit SIMD:
//
//   gramBlock  the dot products of every pair of held rows over one block of coordinates
//   rowMean    the mean of some rows over one block, summed in float64, rounded to float32 once
//
// gramBlock is where the time goes: n(n+1)/2 dot products of the whole model, ~5 × 10⁹
// multiply-adds for 100 tabs × 1M parameters. It computes 2 × 4 pairs per pass (two rows against
// four: 8 accumulators + 3 operands fit the 16 vector registers without spilling, which is what
// V8 makes of larger tiles), four coordinates per instruction, float32 products summed in four
// float32 lanes over one block (BLOCK_LENGTH coordinates) and then folded into float64 pair sums:
// lanes (0 + 2) and (1 + 3), one f64x2 per pair. Over 512 coordinates a float32 lane sum is within
// ~128 roundings of 2⁻²⁴ (1e-5 relative at worst, ~1e-6 typically); across blocks the sums are
// double, so the error does not grow with the model. The plain-JS reference in krum.ts does the same
// operations in the same order, so the two agree bit for bit (krum.test.ts checks).
//
// The row stride is a constant in the code (v128.load offsets 0, S, 2S, 3S), so the module is
// assembled per stride, i.e. per model size; offsets and lengths are in bytes.
import {
  assembleModule,
  compileIfSupported,
  doWhile,
  F32X4_ADD,
  F32X4_DEMOTE_F64X2_ZERO,
  F32X4_HIGH_HALF_DOWN,
  F32X4_MUL,
  F64_CONVERT_I32_U,
  F64X2_ADD,
  F64X2_DIV,
  F64X2_PROMOTE_LOW_F32X4,
  F64X2_SPLAT,
  I32,
  I32_ADD,
  I32_GE_U,
  I32_LT_U,
  I32_SUB,
  i32Const,
  i32Load,
  localGet,
  localSet,
  localTee,
  V128,
  V128_ZERO,
  v128Load,
  v128Load64Zero,
  v128Store,
  v128Store64Lane,
  whileNot,
  type WasmFunction,
} from './wasm-encoding.ts';

/** Coordinates per block: 100 rows × 2 KB = 200 KB, which stays in the 512 KB L2 cache while every pair is done. */
export const BLOCK_LENGTH = 512;
/**
 * Coordinates per rowMean call: each selected row is read in 64 KB runs (the memory prefetcher
 * streams those; 2 KB runs from 90 rows at once ran ~40% slower), summed into 128 KB of float64 in L2.
 */
export const MEAN_BLOCK_LENGTH = 16384;
/** Rows per tile: TILE_ROWS against TILE_COLUMNS. */
export const TILE_ROWS = 2;
export const TILE_COLUMNS = 4;
/** Bytes of one tile's output: one f64x2 (lanes 0 + 2, lanes 1 + 3) per pair. */
export const TILE_BYTES = TILE_ROWS * TILE_COLUMNS * 16;

export interface KrumKernels {
  /**
   * For rows a = first + i·S (i even) and b = a + j·S (j = 0, 4, 8, … while b < end) in that order,
   * one tile per (a, b): tiles += dot products of rows a, a + S against b, b + S, b + 2S, b + 3S
   * over `length` bytes. A tile may read up to 3 rows past `end`; those pairs are not used.
   */
  gramBlock(first: number, end: number, length: number, tiles: number): void;
  /**
   * out[j] = f32((Σ over the `count` rows listed at `list` (i32 byte offsets) of row[block + j], in
   * float64, in list order) / count) for j < length/4; `acc` is length × 2 bytes of float64 scratch.
   */
  rowMean(list: number, count: number, block: number, length: number, acc: number, out: number): void;
}

function gramBlock(S: number): WasmFunction {
  const [FIRST, END, LENGTH, TILES, PA, PB, QA, QB, QEND] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const ACC = (i: number, j: number) => 9 + i * TILE_COLUMNS + j;
  const VA = (i: number) => 9 + TILE_ROWS * TILE_COLUMNS + i;
  const VB = 9 + TILE_ROWS * TILE_COLUMNS + TILE_ROWS;

  const step: number[] = [];
  for (let i = 0; i < TILE_ROWS; i++) step.push(...localGet(QA), ...v128Load(i * S), ...localSet(VA(i)));
  for (let j = 0; j < TILE_COLUMNS; j++) {
    step.push(...localGet(QB), ...v128Load(j * S), ...localSet(VB));
    for (let i = 0; i < TILE_ROWS; i++) {
      step.push(...localGet(ACC(i, j)), ...localGet(VA(i)), ...localGet(VB), ...F32X4_MUL, ...F32X4_ADD, ...localSet(ACC(i, j)));
    }
  }
  step.push(
    ...localGet(QB), ...i32Const(16), ...I32_ADD, ...localSet(QB),
    ...localGet(QA), ...i32Const(16), ...I32_ADD, ...localTee(QA),
  );

  const tile: number[] = [];
  for (let i = 0; i < TILE_ROWS; i++) for (let j = 0; j < TILE_COLUMNS; j++) tile.push(...V128_ZERO, ...localSet(ACC(i, j)));
  tile.push(
    ...localGet(PA), ...localSet(QA), ...localGet(PB), ...localSet(QB),
    ...localGet(PA), ...localGet(LENGTH), ...I32_ADD, ...localSet(QEND),
    ...doWhile(step, [...localGet(QEND), ...I32_LT_U]),
  );
  for (let i = 0; i < TILE_ROWS; i++) {
    for (let j = 0; j < TILE_COLUMNS; j++) {
      const offset = 16 * (i * TILE_COLUMNS + j);
      tile.push(
        ...localGet(TILES), // address for the store
        ...localGet(TILES), ...v128Load(offset),
        ...localGet(ACC(i, j)), ...F64X2_PROMOTE_LOW_F32X4, // lanes 0, 1
        ...localGet(ACC(i, j)), ...localGet(ACC(i, j)), ...F32X4_HIGH_HALF_DOWN, ...F64X2_PROMOTE_LOW_F32X4, // lanes 2, 3
        ...F64X2_ADD, ...F64X2_ADD, ...v128Store(offset), // tile += (lane 0 + lane 2, lane 1 + lane 3)
      );
    }
  }
  tile.push(
    ...localGet(TILES), ...i32Const(TILE_BYTES), ...I32_ADD, ...localSet(TILES),
    ...localGet(PB), ...i32Const(TILE_COLUMNS * S), ...I32_ADD, ...localSet(PB),
  );

  const body = [
    ...localGet(FIRST), ...localSet(PA),
    ...whileNot(
      [...localGet(PA), ...localGet(END), ...I32_GE_U],
      [
        ...localGet(PA), ...localSet(PB),
        ...whileNot([...localGet(PB), ...localGet(END), ...I32_GE_U], tile),
        ...localGet(PA), ...i32Const(TILE_ROWS * S), ...I32_ADD, ...localSet(PA),
      ],
    ),
  ];
  return { name: 'gramBlock', params: [I32, I32, I32, I32], locals: [[5, I32], [TILE_ROWS * TILE_COLUMNS + TILE_ROWS + 1, V128]], body };
}

function rowMean(): WasmFunction {
  const [LIST, COUNT, BLOCK, LENGTH, ACC, OUT, ROW, P, Q, LEFT, DIVISOR] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  // acc holds float64 j at byte 8j: values j, j+1 of a 16-byte group p at acc + 2p, j+2, j+3 at acc + 2p + 16.
  const zero = [
    ...i32Const(0), ...localSet(P),
    ...doWhile(
      [
        ...localGet(ACC), ...localGet(P), ...I32_ADD, ...localGet(P), ...I32_ADD, ...localTee(Q),
        ...V128_ZERO, ...v128Store(0), ...localGet(Q), ...V128_ZERO, ...v128Store(16),
        ...localGet(P), ...i32Const(16), ...I32_ADD, ...localTee(P),
      ],
      [...localGet(LENGTH), ...I32_LT_U],
    ),
  ];
  const addRow = [
    ...localGet(LIST), ...i32Load(0), ...localGet(BLOCK), ...I32_ADD, ...localSet(ROW),
    ...i32Const(0), ...localSet(P),
    ...localGet(ACC), ...localSet(Q),
    ...doWhile(
      [
        ...localGet(Q), ...localGet(Q), ...v128Load(0), ...localGet(ROW), ...localGet(P), ...I32_ADD, ...v128Load64Zero(0), ...F64X2_PROMOTE_LOW_F32X4, ...F64X2_ADD, ...v128Store(0),
        ...localGet(Q), ...localGet(Q), ...v128Load(16), ...localGet(ROW), ...localGet(P), ...I32_ADD, ...v128Load64Zero(8), ...F64X2_PROMOTE_LOW_F32X4, ...F64X2_ADD, ...v128Store(16),
        ...localGet(Q), ...i32Const(32), ...I32_ADD, ...localSet(Q),
        ...localGet(P), ...i32Const(16), ...I32_ADD, ...localTee(P),
      ],
      [...localGet(LENGTH), ...I32_LT_U],
    ),
    ...localGet(LIST), ...i32Const(4), ...I32_ADD, ...localSet(LIST),
    ...localGet(LEFT), ...i32Const(1), ...I32_SUB, ...localTee(LEFT),
  ];
  const divide = [
    ...localGet(COUNT), ...F64_CONVERT_I32_U, ...F64X2_SPLAT, ...localSet(DIVISOR),
    ...i32Const(0), ...localSet(P),
    ...localGet(ACC), ...localSet(Q),
    ...doWhile(
      [
        ...localGet(OUT), ...localGet(P), ...I32_ADD, ...localGet(Q), ...v128Load(0), ...localGet(DIVISOR), ...F64X2_DIV, ...F32X4_DEMOTE_F64X2_ZERO, ...v128Store64Lane(0, 0),
        ...localGet(OUT), ...localGet(P), ...I32_ADD, ...localGet(Q), ...v128Load(16), ...localGet(DIVISOR), ...F64X2_DIV, ...F32X4_DEMOTE_F64X2_ZERO, ...v128Store64Lane(8, 0),
        ...localGet(Q), ...i32Const(32), ...I32_ADD, ...localSet(Q),
        ...localGet(P), ...i32Const(16), ...I32_ADD, ...localTee(P),
      ],
      [...localGet(LENGTH), ...I32_LT_U],
    ),
  ];
  const body = [...zero, ...localGet(COUNT), ...localSet(LEFT), ...doWhile(addRow, []), ...divide];
  return { name: 'rowMean', params: [I32, I32, I32, I32, I32, I32], locals: [[4, I32], [1, V128]], body };
}

const modules = new Map<number, WebAssembly.Module | null>();

/** The kernels for rows `rowStride` bytes apart working on `memory`, or null without WebAssembly SIMD. */
export function loadKrumKernels(memory: WebAssembly.Memory, rowStride: number): KrumKernels | null {
  if (!modules.has(rowStride)) modules.set(rowStride, compileIfSupported(assembleModule([gramBlock(rowStride), rowMean()])));
  const module = modules.get(rowStride);
  if (!module) return null;
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<string, (...args: number[]) => void>;
  const { gramBlock: gram, rowMean: mean } = exports;
  return {
    gramBlock: (first, end, length, tiles) => {
      if (!(length > 0 && length % 16 === 0)) throw new RangeError(`block length must be a positive multiple of 16 bytes, got ${length}`);
      gram(first, end, length, tiles);
    },
    rowMean: (list, count, block, length, acc, out) => {
      if (!(count >= 1)) throw new RangeError(`a mean needs at least one row, got ${count}`);
      if (!(length > 0 && length % 16 === 0)) throw new RangeError(`block length must be a positive multiple of 16 bytes, got ${length}`);
      mean(list, count, block, length, acc, out);
    },
  };
}

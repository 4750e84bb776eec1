// The trimmed mean's per-chunk steps (trimmed-mean.ts) as tiny WebAssembly modules using 128-bit
// SIMD: four coordinates per instruction, where V8 runs the JavaScript loops one value at a time.
// The plain-JS reference of each step is in trimmed-mean.ts; both do the same float operations in
// the same order, so their results are identical bit for bit (trimmed-mean.test.ts checks).
//
//   gather        copy one chunk (CHUNK_LENGTH coordinates) of every row into a small scratch
//   network       run the comparator network on the scratch rows (the wires)
//   keptMean      mean of the kept rows, summed in float64, one rounding to float32
//   countOutside  per client, count the coordinates where its value lies outside [lo, hi]
//
// The network kernel is assembled for one network (n, k). Through memory, a compare-exchange of
// four coordinates costs two 16-byte loads and two stores, and the stores bound it at ~2.2 cycles.
// So the comparators are cut into segments on at most SEGMENT_WIRES wires, and for each segment a
// loop over the chunk loads its wires into registers (v128 locals), runs its ~10 comparators
// there and stores the wires back: ~1 store per compare instead of 2, ~1.5 cycles, with the
// chunk's 16 groups of four coordinates as independent iterations to overlap. Filling segments
// reorders the comparators, but each wire still meets its comparators in the network's order, so
// every value is the one the plain network computes. The comparator is pmin/pmax: lo = b < a ? b
// : a, hi = b < a ? a : b, one minps and one maxps (f32x4.min/max would add NaN and ±0 handling).
//
// Offsets and strides are in bytes.
import {
  assembleModule,
  compileIfSupported,
  doWhile,
  F32X4_DEMOTE_F64X2_ZERO,
  F32X4_GT,
  F32X4_LT,
  F32X4_PMAX,
  F32X4_PMIN,
  F64X2_ADD,
  F64X2_DIV,
  F64X2_PROMOTE_LOW_F32X4,
  F64X2_SPLAT,
  F64_CONVERT_I32_U,
  I32,
  I32_ADD,
  I32_EQZ,
  I32_LT_U,
  I32_SUB,
  i32Const,
  I32X4_SUB,
  localGet,
  localSet,
  localTee,
  V128,
  V128_OR,
  V128_ZERO,
  v128Load,
  v128Load64Zero,
  v128Store,
  v128Store64Lane,
  whileNot,
  type WasmFunction,
} from './wasm-encoding.ts';
import type { TrimNetwork } from './trimmed-mean.ts';

/**
 * Coordinates per chunk (a divisor of HELD_COORDINATE_ALIGN): 100 rows × 1 KB = ~109 KB of scratch,
 * in the 512 KB L2 cache, while the 10 KB a segment works on stays in L1. Each row is read from
 * memory in 1 KB runs; 64-coordinate chunks, all in L1, ran ~25% slower (shorter runs, 4× the loops).
 */
export const CHUNK_LENGTH = 256;
export const CHUNK_BYTES = CHUNK_LENGTH * 4;
/**
 * Bytes from one scratch row to the next: a chunk plus one cache line, so two rows a compare reads
 * are never a multiple of 256 bytes apart (that put both loads in the same L1 bank: ~30% slower).
 */
export const SCRATCH_STRIDE = CHUNK_BYTES + 64;
/**
 * Wires a segment keeps in registers. 10 (+ 1 for the exchange) leaves V8's scheduler room within
 * the 15 vector registers it allocates; 12 made it spill, 6–8 stored more often (measured).
 */
export const SEGMENT_WIRES = 10;
const STEPS = CHUNK_BYTES / 16; // v128 steps per chunk

export interface TrimKernels {
  /** scratch + r·SCRATCH_STRIDE ← one chunk (CHUNK_BYTES) at rows + r·rowStride, for r < count. */
  gather(rows: number, rowStride: number, count: number, scratch: number): void;
  /**
   * Applies the network's comparators to the n scratch rows (row a ← min, row b ← max, coordinate
   * by coordinate). Afterwards rows k … n−k−1 (and the bounds) hold what the network leaves there;
   * the others are left partly updated, which nothing reads.
   */
  network(scratch: number): void;
  /** out[j] = f32((Σ of rows first … first + keptCount − 1 at j, in float64, in row order) / keptCount), j < CHUNK_LENGTH; `first` is a byte offset. */
  keptMean(first: number, keptCount: number, out: number): void;
  /** counts[r] (4 × i32 lanes) += [rowᵣ[j] < lo[j] or rowᵣ[j] > hi[j]] per lane, over the chunk, for r < count. */
  countOutside(rows: number, rowStride: number, count: number, lo: number, hi: number, counts: number): void;
}

// --- segments ----------------------------------------------------------------------------
export interface Segment {
  /** The wires it loads into registers 0, 1, … */
  wires: number[];
  /** Its comparators, as pairs of register indices. */
  pairs: number[];
  /** Per wire: whether it must be stored back (a later segment or the sums read it). */
  stored: boolean[];
}

/**
 * The network's comparators cut into segments of at most `width` wires. Greedy: among the
 * comparators whose earlier comparators (on either wire) are all placed, take one whose wires are
 * already in the segment, else one adding a single wire, else two; when none fits, start the next
 * segment with the earliest. ~10 comparators per segment for n = 100 and 10 wires.
 */
export function segmentsOf(network: TrimNetwork, width: number): Segment[] {
  const { n, trimPerEnd: k, comparators } = network;
  const count = comparators.length / 2;
  const lastOn = new Int32Array(n).fill(-1);
  const waitingFor = new Int32Array(count); // earlier comparators on its wires not yet placed
  const followers: number[][] = Array.from({ length: count }, () => []);
  for (let c = 0; c < count; c++) {
    for (const wire of [comparators[2 * c], comparators[2 * c + 1]]) {
      if (lastOn[wire] >= 0) {
        waitingFor[c]++;
        followers[lastOn[wire]].push(c);
      }
      lastOn[wire] = c;
    }
  }
  const ready = new Set<number>();
  for (let c = 0; c < count; c++) if (waitingFor[c] === 0) ready.add(c);

  const placed: number[][] = []; // comparator indices per segment
  let current: number[] = [];
  let wires = new Set<number>();
  while (ready.size > 0) {
    let best = -1;
    let bestAdded = 3;
    for (const c of ready) {
      const added = (wires.has(comparators[2 * c]) ? 0 : 1) + (wires.has(comparators[2 * c + 1]) ? 0 : 1);
      if (wires.size + added <= width && (added < bestAdded || (added === bestAdded && c < best))) [best, bestAdded] = [c, added];
    }
    if (best < 0) {
      placed.push(current);
      current = [];
      wires = new Set();
      best = Math.min(...ready);
    }
    ready.delete(best);
    current.push(best);
    wires.add(comparators[2 * best]).add(comparators[2 * best + 1]);
    for (const f of followers[best]) if (--waitingFor[f] === 0) ready.add(f);
  }
  if (current.length > 0) placed.push(current);

  const readAtTheEnd = (wire: number) => wire >= k && wire < n - k; // the kept rows, bounds included
  const lastSegmentOf = new Int32Array(n).fill(-1);
  placed.forEach((segment, s) => segment.forEach((c) => (lastSegmentOf[comparators[2 * c]] = lastSegmentOf[comparators[2 * c + 1]] = s)));
  return placed.map((segment, s) => {
    const wireList: number[] = [];
    const pairs: number[] = [];
    for (const c of segment) {
      for (const wire of [comparators[2 * c], comparators[2 * c + 1]]) {
        if (!wireList.includes(wire)) wireList.push(wire);
        pairs.push(wireList.indexOf(wire));
      }
    }
    return { wires: wireList, pairs, stored: wireList.map((wire) => lastSegmentOf[wire] > s || readAtTheEnd(wire)) };
  });
}

// --- the kernels -------------------------------------------------------------------------
const gather = (): WasmFunction => {
  const [ROWS, ROW_STRIDE, COUNT, SCRATCH] = [0, 1, 2, 3];
  const step: number[] = [];
  for (let s = 0; s < STEPS; s++) step.push(...localGet(SCRATCH), ...localGet(ROWS), ...v128Load(16 * s), ...v128Store(16 * s));
  const body = whileNot(
    [...localGet(COUNT), ...I32_EQZ],
    [
      ...step,
      ...localGet(ROWS), ...localGet(ROW_STRIDE), ...I32_ADD, ...localSet(ROWS),
      ...localGet(SCRATCH), ...i32Const(SCRATCH_STRIDE), ...I32_ADD, ...localSet(SCRATCH),
      ...localGet(COUNT), ...i32Const(1), ...I32_SUB, ...localSet(COUNT),
    ],
  );
  return { name: 'gather', params: [I32, I32, I32, I32], locals: [], body };
};

const countOutside = (): WasmFunction => {
  const [ROWS, ROW_STRIDE, COUNT, LO, HI, COUNTS, TALLY, VALUE] = [0, 1, 2, 3, 4, 5, 6, 7];
  const step: number[] = [...localGet(COUNTS), ...localGet(COUNTS), ...v128Load(0), ...localSet(TALLY)];
  for (let s = 0; s < STEPS; s++) {
    const offset = 16 * s;
    step.push(
      ...localGet(ROWS), ...v128Load(offset), ...localSet(VALUE),
      ...localGet(TALLY),
      ...localGet(VALUE), ...localGet(LO), ...v128Load(offset), ...F32X4_LT,
      ...localGet(VALUE), ...localGet(HI), ...v128Load(offset), ...F32X4_GT,
      ...V128_OR, ...I32X4_SUB, ...localSet(TALLY), // a true lane is all ones, i.e. −1: subtracting it counts 1
    );
  }
  step.push(...localGet(TALLY), ...v128Store(0));
  const body = whileNot(
    [...localGet(COUNT), ...I32_EQZ],
    [
      ...step,
      ...localGet(ROWS), ...localGet(ROW_STRIDE), ...I32_ADD, ...localSet(ROWS),
      ...localGet(COUNTS), ...i32Const(16), ...I32_ADD, ...localSet(COUNTS),
      ...localGet(COUNT), ...i32Const(1), ...I32_SUB, ...localSet(COUNT),
    ],
  );
  return { name: 'countOutside', params: [I32, I32, I32, I32, I32, I32], locals: [[2, V128]], body };
};

function networkFunction(network: TrimNetwork): WasmFunction {
  const [SCRATCH, P] = [0, 1];
  const REGISTER = (r: number) => 2 + r;
  const EXCHANGE = 2 + SEGMENT_WIRES;
  const home = (wire: number) => wire * SCRATCH_STRIDE; // offset from P, the current 16-byte group of scratch row 0
  const body: number[] = [];
  for (const { wires, pairs, stored } of segmentsOf(network, SEGMENT_WIRES)) {
    const group: number[] = [];
    wires.forEach((wire, r) => group.push(...localGet(P), ...v128Load(home(wire)), ...localSet(REGISTER(r))));
    for (let c = 0; c < pairs.length; c += 2) {
      const [a, b] = [REGISTER(pairs[c]), REGISTER(pairs[c + 1])];
      group.push(
        ...localGet(a), ...localGet(b), ...F32X4_PMIN, ...localSet(EXCHANGE), // b < a ? b : a
        ...localGet(b), ...localGet(a), ...F32X4_PMAX, ...localSet(b), // b < a ? a : b
        ...localGet(EXCHANGE), ...localSet(a),
      );
    }
    wires.forEach((wire, r) => stored[r] && group.push(...localGet(P), ...localGet(REGISTER(r)), ...v128Store(home(wire))));
    // once per 16-byte group of the chunk: P = SCRATCH, SCRATCH + 16, … < SCRATCH + CHUNK_BYTES
    body.push(
      ...localGet(SCRATCH), ...localSet(P),
      ...doWhile([...group, ...localGet(P), ...i32Const(16), ...I32_ADD, ...localTee(P)], [...localGet(SCRATCH), ...i32Const(CHUNK_BYTES), ...I32_ADD, ...I32_LT_U]),
    );
  }
  return { name: 'network', params: [I32], locals: [[1, I32], [SEGMENT_WIRES + 1, V128]], body };
}

const keptMean = (): WasmFunction => {
  const [FIRST, KEPT, OUT, P, ROW, LEFT, LOW, HIGH, DIVISOR] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  // For each 16-byte group p: widen lanes (0, 1) and (2, 3) to float64 and sum them down the kept
  // rows. A short loop, so the core overlaps the next group's sums with this one's.
  const sumDownTheRows = doWhile(
    [
      ...localGet(LOW), ...localGet(ROW), ...v128Load64Zero(0), ...F64X2_PROMOTE_LOW_F32X4, ...F64X2_ADD, ...localSet(LOW),
      ...localGet(HIGH), ...localGet(ROW), ...v128Load64Zero(8), ...F64X2_PROMOTE_LOW_F32X4, ...F64X2_ADD, ...localSet(HIGH),
      ...localGet(ROW), ...i32Const(SCRATCH_STRIDE), ...I32_ADD, ...localSet(ROW),
      ...localGet(LEFT), ...i32Const(1), ...I32_SUB, ...localTee(LEFT),
    ],
    [], // br_if on LEFT ≠ 0, left on the stack by the tee
  );
  const body = [
    ...localGet(KEPT), ...F64_CONVERT_I32_U, ...F64X2_SPLAT, ...localSet(DIVISOR),
    ...doWhile(
      [
        ...V128_ZERO, ...localSet(LOW), ...V128_ZERO, ...localSet(HIGH),
        ...localGet(FIRST), ...localGet(P), ...I32_ADD, ...localSet(ROW),
        ...localGet(KEPT), ...localSet(LEFT),
        ...sumDownTheRows,
        ...localGet(OUT), ...localGet(P), ...I32_ADD, ...localGet(LOW), ...localGet(DIVISOR), ...F64X2_DIV, ...F32X4_DEMOTE_F64X2_ZERO, ...v128Store64Lane(0, 0),
        ...localGet(OUT), ...localGet(P), ...I32_ADD, ...localGet(HIGH), ...localGet(DIVISOR), ...F64X2_DIV, ...F32X4_DEMOTE_F64X2_ZERO, ...v128Store64Lane(8, 0),
        ...localGet(P), ...i32Const(16), ...I32_ADD, ...localTee(P),
      ],
      [...i32Const(CHUNK_BYTES), ...I32_LT_U],
    ),
  ];
  return { name: 'keptMean', params: [I32, I32, I32], locals: [[3, I32], [3, V128]], body };
};

let generic: WebAssembly.Module | null | undefined;
const perNetwork = new WeakMap<TrimNetwork, WebAssembly.Module | null>();

/** The kernels for `network` working on `memory`, or null without WebAssembly SIMD. */
export function loadTrimKernels(memory: WebAssembly.Memory, network: TrimNetwork): TrimKernels | null {
  if (generic === undefined) generic = compileIfSupported(assembleModule([gather(), keptMean(), countOutside()]));
  if (!perNetwork.has(network)) perNetwork.set(network, generic ? compileIfSupported(assembleModule([networkFunction(network)])) : null);
  const compiledNetwork = perNetwork.get(network);
  if (!generic || !compiledNetwork) return null;
  type Kernel = (...args: number[]) => void;
  const { gather: g, keptMean: k, countOutside: c } = new WebAssembly.Instance(generic, { env: { memory } }).exports as Record<string, Kernel>;
  const { network: n } = new WebAssembly.Instance(compiledNetwork, { env: { memory } }).exports as Record<string, Kernel>;
  return {
    gather: (rows, rowStride, count, scratch) => g(rows, rowStride, count, scratch),
    network: (scratch) => n(scratch),
    keptMean: (first, keptCount, out) => {
      if (!(keptCount >= 1)) throw new RangeError(`a kept mean needs at least one row, got ${keptCount}`);
      k(first, keptCount, out);
    },
    countOutside: (rows, rowStride, count, lo, hi, counts) => c(rows, rowStride, count, lo, hi, counts),
  };
}

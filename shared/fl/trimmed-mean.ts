// Coordinate-wise trimmed mean (Yin et al. 2018): for every parameter, sort the n clients' values,
// cut k = ⌊β·n⌋ from each end and average the n − 2k in the middle. With at most k attackers every
// value kept lies within the range of the honest values, so no coordinate can be dragged outside
// it. The median is the same rule cut as far as it goes (median.ts). Both are unweighted: a tab's
// claimed example count is whatever it says, so weighting by it would let one liar outvote
// everyone; only the values count.
//
// How it runs: the updates are held as rows (held-updates.ts); for each chunk of 64 coordinates
// the n values are gathered into a scratch that stays in L1, passed through a comparator network
// that puts the middle ranks in the middle rows, and the middle rows are averaged in float64. A
// network is a fixed sequence of compare-exchanges, so the SIMD kernel (trimmed-mean-simd.ts)
// runs it on four coordinates at once without a branch, takes the same time whatever values an
// attacker sends, and does exactly what the plain-JS reference below does, bit for bit.
import { AggregationError, type AggregateOutcome } from './aggregation-rule.ts';
import { HoldingRule } from './holding-rule.ts';
import { HeldUpdates } from './held-updates.ts';
import { CHUNK_LENGTH, loadTrimKernels, SCRATCH_STRIDE, type TrimKernels } from './trimmed-mean-simd.ts';

/** k = ⌊β·n⌋ values cut at each end. The 1e-9 keeps β = 0.29 of 100 at 29, not 28 (0.29·100 = 28.999… in binary). */
export function trimCount(n: number, trimFraction: number): number {
  return Math.floor(trimFraction * n + 1e-9);
}

function checkTrimFraction(trimFraction: number): void {
  if (!(trimFraction >= 0 && trimFraction < 0.5)) throw new RangeError(`trim fraction β must be in [0, 0.5), got ${trimFraction}`);
}

// --- the comparator network --------------------------------------------------------------
const UNUSED = 0;
const SUMMED = 1; // only its sum with the other summed wires matters
const EXACT = 2; // its own value matters

export interface TrimNetwork {
  n: number;
  trimPerEnd: number;
  /** Wire k holds exactly the rank-k value and wire n−1−k the rank-(n−1−k) value (else only their sum is right). */
  exactBounds: boolean;
  /** Compare-exchanges as (a, b) pairs, a < b: the smaller value goes to wire a. */
  comparators: Int32Array;
}

const networks = new Map<string, TrimNetwork>();

/**
 * A comparator network after which wires k … n−k−1 hold the values of ranks k … n−k−1 (as a set:
 * their sum is right, their order need not be), and with `exactBounds` wires k and n−1−k hold
 * exactly the rank-k and rank-(n−1−k) values.
 *
 * Built from Batcher's odd–even merge sort for the next power of two (the missing wires would
 * hold +∞, never move, and every comparator touching them is dropped), then pruned from the last
 * comparator back: one whose two outputs are both unused, or both only summed, changes nothing
 * that is read (n = 100 keeps ~900 of Batcher's 1,104). Cached: the same (n, k) always gets the
 * same object, and with it the same compiled kernel.
 */
export function trimNetwork(n: number, trimPerEnd: number, exactBounds: boolean): TrimNetwork {
  if (!(n >= 1 && trimPerEnd >= 0 && n - 2 * trimPerEnd >= 1)) throw new RangeError(`cannot keep the middle of ${n} values with ${trimPerEnd} cut at each end`);
  const key = `${n}/${trimPerEnd}/${exactBounds}`;
  const cached = networks.get(key);
  if (cached) return cached;

  let wires = 1;
  while (wires < n) wires *= 2;
  const sorting: number[] = [];
  for (let p = 1; p < wires; p *= 2) {
    for (let k = p; k >= 1; k /= 2) {
      for (let j = k % p; j + k < wires; j += 2 * k) {
        for (let i = 0; i < Math.min(k, wires - j - k); i++) {
          const a = i + j;
          const b = i + j + k;
          if (Math.floor(a / (2 * p)) === Math.floor(b / (2 * p)) && b < n) sorting.push(a, b);
        }
      }
    }
  }

  const status = new Uint8Array(n).fill(UNUSED);
  for (let r = trimPerEnd; r < n - trimPerEnd; r++) status[r] = SUMMED;
  if (exactBounds) status[trimPerEnd] = status[n - 1 - trimPerEnd] = EXACT;
  const kept: number[] = [];
  for (let c = sorting.length - 2; c >= 0; c -= 2) {
    const a = sorting[c];
    const b = sorting[c + 1];
    if (status[a] === status[b] && status[a] !== EXACT) continue;
    kept.push(b, a);
    status[a] = status[b] = EXACT;
  }
  const network = { n, trimPerEnd, exactBounds, comparators: Int32Array.from(kept.reverse()) };
  networks.set(key, network);
  return network;
}

// --- plain-JS reference of the kernels ---------------------------------------------------
/** The SIMD kernels' reference and fallback: the same steps, one value at a time. */
export function plainTrimKernels(heap: Float32Array, network: TrimNetwork): TrimKernels {
  const ints = new Int32Array(heap.buffer, heap.byteOffset, heap.length);
  const { comparators } = network;
  return {
    gather(rows, rowStride, count, scratch) {
      for (let r = 0; r < count; r++) {
        const from = (rows + r * rowStride) / 4;
        heap.copyWithin((scratch + r * SCRATCH_STRIDE) / 4, from, from + CHUNK_LENGTH);
      }
    },
    network(scratch) {
      for (let c = 0; c < comparators.length; c += 2) {
        const a = (scratch + comparators[c] * SCRATCH_STRIDE) / 4;
        const b = (scratch + comparators[c + 1] * SCRATCH_STRIDE) / 4;
        for (let j = 0; j < CHUNK_LENGTH; j++) {
          const x = heap[a + j];
          const y = heap[b + j];
          if (y < x) {
            heap[a + j] = y;
            heap[b + j] = x;
          }
        }
      }
    },
    keptMean(first, keptCount, out) {
      for (let j = 0; j < CHUNK_LENGTH; j++) {
        let sum = 0;
        for (let r = 0; r < keptCount; r++) sum += heap[(first + r * SCRATCH_STRIDE) / 4 + j];
        heap[out / 4 + j] = sum / keptCount;
      }
    },
    countOutside(rows, rowStride, count, lo, hi, counts) {
      for (let r = 0; r < count; r++) {
        const at = (rows + r * rowStride) / 4;
        for (let j = 0; j < CHUNK_LENGTH; j++) {
          const v = heap[at + j];
          if (v < heap[lo / 4 + j] || v > heap[hi / 4 + j]) ints[counts / 4 + 4 * r + (j % 4)]++;
        }
      }
    },
  };
}

function kernelsFor(held: HeldUpdates, network: TrimNetwork): TrimKernels {
  const simd = held.memory ? loadTrimKernels(held.memory, network) : null;
  return simd ?? plainTrimKernels(held.heap, network);
}

// --- the rule over held updates ----------------------------------------------------------
export interface TrimmedMeanResult {
  /** The trimmed mean, a view into the held buffer's scratch: copy it out before the next add(). */
  mean: Float32Array;
  /**
   * Per held update (row order), in how many coordinates its value lay below the rank-k value or
   * above the rank-(n−1−k) value, i.e. was cut (a value equal to a bound counts as kept: which of
   * equal values is cut does not change the mean). Null unless asked for, or when k = 0.
   */
  coordinatesCut: Int32Array | null;
}

/** Trimmed mean of the held updates, `trimPerEnd` values cut at each end of every coordinate. */
export function trimmedMeanOfHeld(held: HeldUpdates, trimPerEnd: number, options: { countCut: boolean }): TrimmedMeanResult {
  const n = held.count;
  const countCut = options.countCut && trimPerEnd > 0;
  const network = trimNetwork(n, trimPerEnd, countCut);

  // Scratch: the gathered chunk, per-row cut counts (4 lanes each), the mean.
  const scratchBytes = n * SCRATCH_STRIDE;
  const countsBytes = n * 16;
  const meanBytes = held.paddedLength * 4;
  const scratch = held.reserveScratch(scratchBytes + countsBytes + meanBytes);
  const counts = scratch + scratchBytes;
  const meanOffset = counts + countsBytes;
  const heap = held.heap;
  const ints = new Int32Array(heap.buffer);
  ints.fill(0, counts / 4, (counts + countsBytes) / 4);

  const kernels = kernelsFor(held, network);
  const lo = scratch + trimPerEnd * SCRATCH_STRIDE; // after the network: the rank-k row, the first kept
  const hi = scratch + (n - 1 - trimPerEnd) * SCRATCH_STRIDE;
  for (let chunk = 0; chunk < held.paddedLength; chunk += CHUNK_LENGTH) {
    const rows = chunk * 4; // row 0 starts at byte 0
    kernels.gather(rows, held.rowStride, n, scratch);
    kernels.network(scratch);
    kernels.keptMean(lo, n - 2 * trimPerEnd, meanOffset + chunk * 4);
    if (countCut) kernels.countOutside(rows, held.rowStride, n, lo, hi, counts);
  }

  let coordinatesCut: Int32Array | null = null;
  if (countCut) {
    coordinatesCut = new Int32Array(n);
    for (let r = 0; r < n; r++) {
      const lanes = counts / 4 + 4 * r;
      coordinatesCut[r] = ints[lanes] + ints[lanes + 1] + ints[lanes + 2] + ints[lanes + 3];
    }
  }
  return { mean: heap.subarray(meanOffset / 4, meanOffset / 4 + held.paramCount), coordinatesCut };
}

/** Clients cut in more than half of the coordinates: the ones the rule mostly set aside. */
export function mostlyCut(held: HeldUpdates, coordinatesCut: Int32Array | null): string[] {
  if (!coordinatesCut) return [];
  return held.clientIds.filter((_, r) => coordinatesCut[r] > held.paramCount / 2);
}

/**
 * Coordinate-wise trimmed mean of `deltas`, cutting ⌊β·n⌋ values at each end, in a fresh array.
 * Every delta counts the same (see the top of this file).
 */
export function trimmedMean(deltas: readonly Float32Array[], trimFraction: number): Float32Array {
  checkTrimFraction(trimFraction);
  if (deltas.length === 0) throw new RangeError('cannot take a trimmed mean of zero deltas');
  const held = HeldUpdates.holding(deltas);
  return trimmedMeanOfHeld(held, trimCount(deltas.length, trimFraction), { countCut: false }).mean.slice();
}

/**
 * The round's trimmed mean. Holds every update (copied into buffers it owns and reuses).
 *
 * Outcome: `downweighted` lists the tabs whose value was cut in more than half of the coordinates
 * (one extra pass comparing each update with the per-coordinate bounds the main pass leaves);
 * `totalWeight` is the Σ of every update's weight, since each one was ranked (the mean itself is
 * unweighted).
 */
export class TrimmedMeanRule extends HoldingRule {
  readonly title: string;

  constructor(
    paramCount: number,
    private readonly options: { trimFraction: number; simd?: boolean },
  ) {
    super(paramCount, options.simd);
    checkTrimFraction(options.trimFraction);
    this.title = `trimmed mean (β = ${options.trimFraction})`;
  }

  finish(out: Float32Array): AggregateOutcome {
    this.checkOutput(out);
    const n = this.held.count;
    if (n === 0) throw new AggregationError('the trimmed mean needs at least one update');
    const trimPerEnd = trimCount(n, this.options.trimFraction);
    if (n - 2 * trimPerEnd < 1) {
      throw new AggregationError(
        `β = ${this.options.trimFraction} cuts ${trimPerEnd} of ${n} updates at each end: nothing remains (lower trimFraction, or wait for more updates)`,
      );
    }
    const { mean, coordinatesCut } = trimmedMeanOfHeld(this.held, trimPerEnd, { countCut: true });
    out.set(mean);
    return {
      accepted: n,
      totalWeight: this.held.weights.reduce((a, b) => a + b, 0),
      discarded: [],
      downweighted: mostlyCut(this.held, coordinatesCut),
    };
  }
}

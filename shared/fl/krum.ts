// Krum and Multi-Krum (Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine
// Tolerant Gradient Descent"). With at most f attackers among n updates, score each update by the
// sum of squared distances to its n − f − 2 nearest neighbours: an honest update sits among the
// other honest ones, an attacker's far from most of them. Krum keeps the update with the lowest
// score; Multi-Krum averages the m lowest-scored (m = n − f unless set). The guarantee needs
// n ≥ 2f + 3, so fewer updates are refused.
//
// The mean is unweighted, as in the paper: claimed example counts are attacker-controlled, and a
// huge claim must not buy a selected attacker more pull than an honest tab.
//
// Distances come from the Gram matrix, ‖a − b‖² = ‖a‖² + ‖b‖² − 2a·b: one dot product per pair
// (n(n+1)/2 in all) instead of one subtraction per pair and coordinate. The dot products are taken
// blockwise over 512 coordinates, so the block of every update stays in cache while all pairs are
// done, summed in float32 lanes within a block and in float64 across blocks (krum-simd.ts has the
// error bound). The subtraction loses digits only when two updates are nearly equal (then their
// distance is tiny next to ‖a‖² anyway, and it is clamped at 0); scores are sums of such distances.
import { AggregationError, type AggregateOutcome } from './aggregation-rule.ts';
import { HoldingRule } from './holding-rule.ts';
import { HeldUpdates } from './held-updates.ts';
import { BLOCK_LENGTH, loadKrumKernels, MEAN_BLOCK_LENGTH, TILE_BYTES, TILE_COLUMNS, TILE_ROWS, type KrumKernels } from './krum-simd.ts';

function checkByzantineClients(f: number): void {
  if (!Number.isInteger(f) || f < 0) throw new RangeError(`Byzantine clients f must be an integer >= 0, got ${f}`);
}

/** Refuses a round Krum cannot score: it needs n ≥ 2f + 3. */
function checkEnoughUpdates(n: number, f: number): void {
  if (n < 2 * f + 3) {
    throw new AggregationError(
      `${n} update${n === 1 ? '' : 's'}, but tolerating f = ${f} attacker${f === 1 ? '' : 's'} needs at least 2f + 3 = ${2 * f + 3} ` +
        '(lower byzantineClients, or wait for more tabs)',
    );
  }
}

/** m = 0 means n − f; more than n cannot be kept. */
function keptCount(keep: number, n: number, f: number): number {
  const m = keep === 0 ? n - f : keep;
  if (m > n) throw new AggregationError(`Multi-Krum keeps m = ${m} updates but the round has ${n} (lower multiKrumKeep; 0 keeps n − f)`);
  return m;
}

// --- plain-JS reference of the kernels ---------------------------------------------------
/** The SIMD kernels' reference and fallback: the same float operations in the same order. */
export function plainKrumKernels(heap: Float32Array, rowStride: number): KrumKernels {
  const doubles = new Float64Array(heap.buffer, heap.byteOffset, heap.length / 2);
  const ints = new Int32Array(heap.buffer, heap.byteOffset, heap.length);
  return {
    gramBlock(first, end, length, tiles) {
      let tile = tiles / 8;
      for (let pa = first; pa < end; pa += TILE_ROWS * rowStride) {
        for (let pb = pa; pb < end; pb += TILE_COLUMNS * rowStride, tile += TILE_BYTES / 8) {
          for (let i = 0; i < TILE_ROWS; i++) {
            for (let j = 0; j < TILE_COLUMNS; j++) {
              const a = (pa + i * rowStride) / 4;
              const b = (pb + j * rowStride) / 4;
              if (a * 4 >= end || b * 4 >= end) continue; // rows past the last: the kernel computes them, nobody reads them
              let [lane0, lane1, lane2, lane3] = [0, 0, 0, 0];
              for (let p = 0; p < length / 4; p += 4) {
                lane0 = Math.fround(lane0 + Math.fround(heap[a + p] * heap[b + p]));
                lane1 = Math.fround(lane1 + Math.fround(heap[a + p + 1] * heap[b + p + 1]));
                lane2 = Math.fround(lane2 + Math.fround(heap[a + p + 2] * heap[b + p + 2]));
                lane3 = Math.fround(lane3 + Math.fround(heap[a + p + 3] * heap[b + p + 3]));
              }
              const pair = tile + 2 * (i * TILE_COLUMNS + j);
              doubles[pair] += lane0 + lane2;
              doubles[pair + 1] += lane1 + lane3;
            }
          }
        }
      }
    },
    rowMean(list, count, block, length, acc, out) {
      const values = length / 4;
      doubles.fill(0, acc / 8, acc / 8 + values);
      for (let r = 0; r < count; r++) {
        const row = (ints[list / 4 + r] + block) / 4;
        for (let j = 0; j < values; j++) doubles[acc / 8 + j] += heap[row + j];
      }
      for (let j = 0; j < values; j++) heap[out / 4 + j] = doubles[acc / 8 + j] / count;
    },
  };
}

function kernelsFor(held: HeldUpdates): KrumKernels {
  const simd = held.memory ? loadKrumKernels(held.memory, held.rowStride) : null;
  return simd ?? plainKrumKernels(held.heap, held.rowStride);
}

// --- the rule over held updates ----------------------------------------------------------
const tileCount = (n: number): number => {
  let tiles = 0;
  for (let i0 = 0; i0 < n; i0 += TILE_ROWS) tiles += Math.ceil((n - i0) / TILE_COLUMNS);
  return tiles;
};

/** ‖aᵢ − aⱼ‖² for every pair of held rows, as an n × n row-major matrix (0 on the diagonal); `tiles` is tileCount(n) × TILE_BYTES of scratch. */
function squaredDistancesOfHeld(held: HeldUpdates, kernels: KrumKernels, tiles: number): Float64Array {
  const n = held.count;
  const doubles = new Float64Array(held.heap.buffer, tiles, (tileCount(n) * TILE_BYTES) / 8);
  doubles.fill(0);
  const end = n * held.rowStride;
  for (let start = 0; start < held.paddedLength; start += BLOCK_LENGTH) {
    const length = Math.min(BLOCK_LENGTH, held.paddedLength - start) * 4;
    kernels.gramBlock(start * 4, start * 4 + end, length, tiles);
  }

  // Tiles in the kernel's order → the Gram matrix (a pair the kernel did twice has the same bits both times).
  const gram = new Float64Array(n * n);
  let tile = 0;
  for (let i0 = 0; i0 < n; i0 += TILE_ROWS) {
    for (let j0 = i0; j0 < n; j0 += TILE_COLUMNS, tile++) {
      for (let i = 0; i < TILE_ROWS; i++) {
        for (let j = 0; j < TILE_COLUMNS; j++) {
          const row = i0 + i;
          const column = j0 + j;
          if (row >= n || column >= n) continue;
          const pair = (tile * TILE_BYTES) / 8 + 2 * (i * TILE_COLUMNS + j);
          gram[row * n + column] = gram[column * n + row] = doubles[pair] + doubles[pair + 1];
        }
      }
    }
  }
  // Updates are norm-bounded at the edge (maxUpdateNorm), so float32 products stay finite; should
  // one overflow anyway, ∞ − ∞ = NaN counts as infinitely far rather than poisoning the sort.
  const distances = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const d = gram[i * n + i] + gram[j * n + j] - 2 * gram[i * n + j];
      if (i !== j) distances[i * n + j] = Number.isNaN(d) ? Infinity : Math.max(0, d);
    }
  }
  return distances;
}

/** Krum score of each of the n updates: Σ of its n − f − 2 smallest squared distances to the others. */
export function krumScores(distances: Float64Array, n: number, f: number): Float64Array {
  checkByzantineClients(f);
  checkEnoughUpdates(n, f);
  const neighbours = n - f - 2;
  const scores = new Float64Array(n);
  const others = new Float64Array(n - 1);
  for (let i = 0; i < n; i++) {
    for (let j = 0, o = 0; j < n; j++) if (j !== i) others[o++] = distances[i * n + j];
    others.sort();
    let score = 0;
    for (let k = 0; k < neighbours; k++) score += others[k];
    scores[i] = score;
  }
  return scores;
}

/** Indices of the m lowest scores (ties: the earlier update), in ascending index order. */
export function lowestScored(scores: Float64Array, m: number): number[] {
  const byScore = Array.from(scores.keys()).sort((a, b) => scores[a] - scores[b] || a - b);
  return byScore.slice(0, m).sort((a, b) => a - b);
}

export interface KrumResult {
  /** The mean of the selected updates, a view into the held buffer's scratch: copy it out before the next add(). */
  mean: Float32Array;
  /** Held rows averaged, ascending. */
  selected: number[];
  scores: Float64Array;
}

/** Multi-Krum over the held updates: the unweighted mean of the `keep` lowest-scored (0 = n − f; 1 = Krum). */
export function multiKrumOfHeld(held: HeldUpdates, f: number, keep: number): KrumResult {
  const n = held.count;
  checkByzantineClients(f);
  checkEnoughUpdates(n, f);
  const m = keptCount(keep, n, f);

  // Scratch: the Gram tiles, the list of selected rows, a block of float64 sums for the mean, the mean.
  const tilesBytes = tileCount(n) * TILE_BYTES;
  const listBytes = Math.ceil((4 * m) / 16) * 16;
  const accBytes = MEAN_BLOCK_LENGTH * 8;
  const tiles = held.reserveScratch(tilesBytes + listBytes + accBytes + held.paddedLength * 4);
  const list = tiles + tilesBytes;
  const acc = list + listBytes;
  const meanOffset = acc + accBytes;
  const kernels = kernelsFor(held);

  const scores = krumScores(squaredDistancesOfHeld(held, kernels, tiles), n, f);
  const selected = lowestScored(scores, m);
  const heap = held.heap;
  const ints = new Int32Array(heap.buffer);
  selected.forEach((row, k) => (ints[list / 4 + k] = held.rowOffset(row)));
  for (let start = 0; start < held.paddedLength; start += MEAN_BLOCK_LENGTH) {
    const length = Math.min(MEAN_BLOCK_LENGTH, held.paddedLength - start) * 4;
    kernels.rowMean(list, m, start * 4, length, acc, meanOffset + start * 4);
  }
  return { mean: heap.subarray(meanOffset / 4, meanOffset / 4 + held.paramCount), selected, scores };
}

/** Krum scores and the m = `keep` updates Multi-Krum would average (0 = n − f), for `deltas`. */
export function krumSelection(deltas: readonly Float32Array[], f: number, keep: number): { selected: number[]; scores: Float64Array } {
  checkByzantineClients(f);
  checkEnoughUpdates(deltas.length, f);
  const { selected, scores } = multiKrumOfHeld(HeldUpdates.holding(deltas), f, keep);
  return { selected, scores };
}

/** Multi-Krum: the unweighted mean of the `keep` lowest-scored deltas (0 = n − f), in a fresh array. */
export function multiKrum(deltas: readonly Float32Array[], f: number, keep = 0): Float32Array {
  checkByzantineClients(f);
  checkEnoughUpdates(deltas.length, f);
  return multiKrumOfHeld(HeldUpdates.holding(deltas), f, keep).mean.slice();
}

/** Krum: a copy of the lowest-scored delta. */
export function krum(deltas: readonly Float32Array[], f: number): Float32Array {
  return multiKrum(deltas, f, 1);
}

/**
 * The round's Krum (keep 1, the default) or Multi-Krum (keep m; 0 = n − f). Holds every update
 * (copied into buffers it owns and reuses).
 *
 * Outcome: `discarded` lists the tabs not selected; `totalWeight` is the Σ weight of the selected
 * ones (the mean itself is unweighted); `downweighted` stays empty.
 */
export class KrumRule extends HoldingRule {
  readonly title: string;
  private readonly f: number;
  private readonly keep: number;

  constructor(paramCount: number, options: { byzantineClients: number; keep?: number; simd?: boolean }) {
    super(paramCount, options.simd);
    const keep = options.keep ?? 1;
    checkByzantineClients(options.byzantineClients);
    if (!Number.isInteger(keep) || keep < 0) throw new RangeError(`Multi-Krum keep must be an integer >= 0 (0 = n − f), got ${keep}`);
    this.f = options.byzantineClients;
    this.keep = keep;
    this.title = keep === 1 ? `Krum (f = ${this.f})` : `Multi-Krum (f = ${this.f}, m = ${keep === 0 ? 'n − f' : keep})`;
  }

  finish(out: Float32Array): AggregateOutcome {
    this.checkOutput(out);
    const { mean, selected } = multiKrumOfHeld(this.held, this.f, this.keep);
    out.set(mean);
    const chosen = new Set(selected);
    const { clientIds, weights } = this.held;
    return {
      accepted: selected.length,
      totalWeight: selected.reduce((sum, row) => sum + weights[row], 0),
      discarded: clientIds.filter((_, row) => !chosen.has(row)),
      downweighted: [],
    };
  }
}

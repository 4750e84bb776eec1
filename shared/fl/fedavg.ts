// FedAvg (McMahan et al. 2017): the global model moves by the mean of the client
// deltas, each weighted by how many examples the client trained on, so a tab with
// 600 digits counts six times as much as a tab with 100.
//
// The coordinator streams: a FedAvgAccumulator keeps one running sum plus a few staged
// deltas (O(parameters) memory, reused across rounds), takes each update as it arrives, and
// writes the mean once the round closes. accumulateWeighted + meanInto are the same math one
// delta at a time; weightedMean is it in one call, for tests and simulations.
import { loadSimdAccumulateKernel, SIMD_STEP_BYTES, type SimdAccumulateKernel } from './fedavg-simd.ts';
import { AggregationError, type AggregateOutcome, type AggregationRule, type ClientUpdate } from './aggregation-rule.ts';

/**
 * FedAvg weight of one client: its example count, capped at `cap` when cap > 0.
 * The cap bounds how far one tab can pull the mean (and, with DP, the sensitivity).
 */
export function clientWeight(numExamples: number, cap: number): number {
  if (!(numExamples >= 0) || !Number.isFinite(numExamples)) {
    throw new RangeError(`example count must be a finite number >= 0, got ${numExamples}`);
  }
  if (!(cap >= 0)) throw new RangeError(`weight cap must be >= 0 (0 = no cap), got ${cap}`);
  return cap > 0 ? Math.min(numExamples, cap) : numExamples;
}

/** sum += weight · delta, in place. */
export function accumulateWeighted(sum: Float32Array, delta: Float32Array, weight: number): void {
  if (delta.length !== sum.length) {
    throw new RangeError(`delta has ${delta.length} values, running sum has ${sum.length}`);
  }
  for (let i = 0; i < sum.length; i++) sum[i] += weight * delta[i];
}

/**
 * sum += Σⱼ weights[j]·deltas[j], in place, folding up to 4 deltas into the sum per pass:
 * the sum is read and written once per 4 deltas instead of once per delta. Within a pass the
 * products are summed in double and rounded to float32 once (not once per delta), so the result
 * is usually closer to the exact sum than calling accumulateWeighted per delta, and not always
 * bit-identical to it.
 * The SIMD kernel in fedavg-simd.ts computes exactly this, bit for bit, ~4× faster; this loop is
 * its reference and fallback, so it is not unrolled (that gained ~30%, not enough to matter).
 */
export function accumulateWeightedBatch(sum: Float32Array, deltas: readonly Float32Array[], weights: readonly number[]): void {
  if (weights.length !== deltas.length) throw new RangeError(`${deltas.length} deltas but ${weights.length} weights`);
  for (const delta of deltas) {
    if (delta.length !== sum.length) throw new RangeError(`delta has ${delta.length} values, running sum has ${sum.length}`);
  }
  const n = sum.length;
  for (let first = 0; first < deltas.length; first += 4) {
    const [d0, d1, d2, d3] = deltas.slice(first, first + 4);
    const [w0, w1, w2, w3] = weights.slice(first, first + 4);
    switch (Math.min(4, deltas.length - first)) {
      case 1: for (let i = 0; i < n; i++) sum[i] += w0 * d0[i]; break;
      case 2: for (let i = 0; i < n; i++) sum[i] += w0 * d0[i] + w1 * d1[i]; break;
      case 3: for (let i = 0; i < n; i++) sum[i] += w0 * d0[i] + w1 * d1[i] + w2 * d2[i]; break;
      default: for (let i = 0; i < n; i++) sum[i] += w0 * d0[i] + w1 * d1[i] + w2 * d2[i] + w3 * d3[i];
    }
  }
}

/** out = sum / totalWeight. `out` may be `sum` itself. Returns `out`. */
export function meanInto(out: Float32Array, sum: Float32Array, totalWeight: number): Float32Array {
  if (!(totalWeight > 0)) {
    throw new RangeError(`total weight must be > 0 to take a mean, got ${totalWeight} (no examples in this round?)`);
  }
  if (out.length !== sum.length) throw new RangeError(`output has ${out.length} values, sum has ${sum.length}`);
  // Divide rather than multiply by 1/W: one rounding instead of two, so hand-computed means match exactly.
  for (let i = 0; i < sum.length; i++) out[i] = sum[i] / totalWeight;
  return out;
}

/** Σ wᵢ·Δᵢ / Σ wᵢ, in a fresh array. */
export function weightedMean(deltas: readonly Float32Array[], weights: readonly number[]): Float32Array {
  if (deltas.length === 0) throw new RangeError('cannot average zero deltas');
  if (weights.length !== deltas.length) {
    throw new RangeError(`${deltas.length} deltas but ${weights.length} weights`);
  }
  const sum = new Float32Array(deltas[0].length);
  let totalWeight = 0;
  for (let k = 0; k < deltas.length; k++) {
    accumulateWeighted(sum, deltas[k], weights[k]);
    totalWeight += weights[k];
  }
  return meanInto(sum, sum, totalWeight);
}

/**
 * The coordinator's running FedAvg sum for one round, fed one update at a time.
 *
 * add() copies the delta into one of `deltasPerPass` staging slots (the caller may reuse or
 * drop its array at once); when every slot is full they are folded into the sum in one pass
 * (accumulateWeightedBatch's math, on WebAssembly SIMD where available), and meanInto() folds
 * whatever is still staged. Memory is (1 + deltasPerPass) × parameters, whatever the number of
 * clients, allocated once: call reset() to reuse it for the next round.
 */
export class FedAvgAccumulator {
  readonly deltasPerPass: number;
  private readonly sum: Float32Array;
  private readonly slots: Float32Array[];
  private readonly stagedWeights: number[] = [];
  private readonly kernel: SimdAccumulateKernel | null;
  /** Bytes from one region (sum or slot) to the next: paramCount floats, padded to a whole kernel step. */
  private readonly stride: number;
  private weightSoFar = 0;
  private deltasSoFar = 0;

  /** `simd: false` forces the plain JavaScript loop (same results, for tests and comparison). */
  constructor(readonly paramCount: number, options: { deltasPerPass?: number; simd?: boolean } = {}) {
    const deltasPerPass = options.deltasPerPass ?? 4;
    if (!Number.isInteger(paramCount) || paramCount < 1) throw new RangeError(`parameter count must be an integer >= 1, got ${paramCount}`);
    if (!Number.isInteger(deltasPerPass) || deltasPerPass < 1 || deltasPerPass > 4) {
      throw new RangeError(`deltas per pass must be 1 to 4, got ${deltasPerPass}`);
    }
    this.deltasPerPass = deltasPerPass;
    // One buffer: the sum, then the staging slots. Padding each region to 16 bytes lets the
    // kernel run without a scalar tail; the padding stays 0 (deltas are copied into the first
    // paramCount values only, and 0 + w·0 = 0), so it never shows in the mean.
    this.stride = Math.ceil((paramCount * 4) / SIMD_STEP_BYTES) * SIMD_STEP_BYTES;
    const bytes = this.stride * (1 + deltasPerPass);
    // The memory is never grown, so views of memory.buffer stay valid for the accumulator's life.
    const memory = options.simd !== false && typeof WebAssembly === 'object' ? new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) }) : null;
    this.kernel = memory ? loadSimdAccumulateKernel(memory) : null;
    const buffer = memory ? memory.buffer : new ArrayBuffer(bytes);
    this.sum = new Float32Array(buffer, 0, paramCount);
    this.slots = Array.from({ length: deltasPerPass }, (_, j) => new Float32Array(buffer, (j + 1) * this.stride, paramCount));
  }

  /** True when the WebAssembly SIMD kernel does the sums. */
  get simd(): boolean {
    return this.kernel !== null;
  }

  /** Σ weights added since the last reset. */
  get totalWeight(): number {
    return this.weightSoFar;
  }

  /** Number of deltas added since the last reset. */
  get count(): number {
    return this.deltasSoFar;
  }

  /** Adds weight · delta to the running sum (staged until the slots are full or the mean is taken). */
  add(delta: Float32Array, weight: number): void {
    if (delta.length !== this.paramCount) {
      throw new RangeError(`delta has ${delta.length} values, running sum has ${this.paramCount}`);
    }
    if (!(weight >= 0) || !Number.isFinite(weight)) throw new RangeError(`weight must be a finite number >= 0, got ${weight}`);
    this.slots[this.stagedWeights.length].set(delta);
    this.stagedWeights.push(weight);
    this.weightSoFar += weight;
    this.deltasSoFar++;
    if (this.stagedWeights.length === this.deltasPerPass) this.flush();
  }

  /** out = (Σ wᵢ·Δᵢ) / Σ wᵢ over every delta added since the last reset. Returns `out`. */
  meanInto(out: Float32Array): Float32Array {
    this.flush();
    return meanInto(out, this.sum, this.weightSoFar); // the module-level function above
  }

  /** Forgets every delta: sum 0, nothing staged. The memory is kept for the next round. */
  reset(): void {
    this.stagedWeights.length = 0;
    this.sum.fill(0);
    this.weightSoFar = 0;
    this.deltasSoFar = 0;
  }

  /** Folds the staged deltas into the sum, in the order they were added. */
  private flush(): void {
    const staged = this.stagedWeights.length;
    if (staged === 0) return;
    if (this.kernel) {
      const slotOffsets = Array.from({ length: staged }, (_, j) => (j + 1) * this.stride);
      this.kernel.accumulate(0, this.stride, slotOffsets, this.stagedWeights);
    } else {
      accumulateWeightedBatch(this.sum, this.slots.slice(0, staged), this.stagedWeights);
    }
    this.stagedWeights.length = 0;
  }
}

/**
 * FedAvg as an aggregation rule (rules.ts): each update streams into the accumulator, so a round
 * holds O(parameters) memory whatever the number of tabs.
 */
export class FedAvgRule implements AggregationRule {
  readonly title = 'FedAvg';
  readonly holdsAllUpdates = false;
  private readonly accumulator: FedAvgAccumulator;

  constructor(paramCount: number) {
    this.accumulator = new FedAvgAccumulator(paramCount);
  }

  get count(): number {
    return this.accumulator.count;
  }

  begin(): void {
    this.accumulator.reset();
  }

  add(update: ClientUpdate): void {
    this.accumulator.add(update.delta, update.weight);
  }

  finish(out: Float32Array): AggregateOutcome {
    if (this.accumulator.count === 0) throw new AggregationError('FedAvg needs at least one update');
    if (!(this.accumulator.totalWeight > 0)) throw new AggregationError('FedAvg: the updates carry no weight (0 examples)');
    this.accumulator.meanInto(out);
    return { accepted: this.accumulator.count, totalWeight: this.accumulator.totalWeight, discarded: [], downweighted: [] };
  }
}

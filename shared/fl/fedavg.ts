// FedAvg (McMahan et al. 2017): the global model moves by the mean of the client
// deltas, each weighted by how many examples the client trained on, so a tab with
// 600 digits counts six times as much as a tab with 100.
//
// The coordinator streams: it keeps one running sum (O(parameters) memory, reused
// across rounds), calls accumulateWeighted as each update arrives, and meanInto once
// the round closes. weightedMean is the same math in one call, for tests and simulations.

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

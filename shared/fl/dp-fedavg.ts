// The DP-FedAvg estimator (McMahan, Ramage, Talwar, Zhang 2018, "Learning Differentially Private
// Recurrent Language Models", the fixed-denominator estimator f̃_f):
//
//     Δ̄ = ( Σ_{i ∈ sample} w_i · clip(Δ_i, C)  +  N(0, (z·C)² I) ) / W,    W = q · Σ_{k ∈ population} w_k
//
// Adjacency is add/remove-one: two runs differ by one tab's whole participation (every round).
// Each w_i ≤ 1 and ‖clip(Δ_i, C)‖ ≤ C, so adding or removing one tab moves the sum by at most C
// in L2: the sensitivity of the sum is C, and N(0, (z·C)²) on the sum is the Gaussian mechanism
// with multiplier z. W is fixed before the round (it depends on the population, not on who was
// sampled or answered), so dividing by it is post-processing. Dividing by the sampled total Σ w_i
// instead would be data-dependent, which is why the earlier "indicative" caveat is gone.
// (Replace-one adjacency would double the sensitivity to 2C; Flock states add/remove-one.)

/** A tab's weight under DP: its examples over the cap, at most 1; uniform (1) without a cap. */
export function dpClientWeight(numExamples: number, weightCap: number): number {
  if (!(numExamples >= 0)) throw new RangeError(`examples must be >= 0, got ${numExamples}`);
  return weightCap > 0 ? Math.min(numExamples, weightCap) / weightCap : 1;
}

/** W = q · (the population's total weight): what the sum is divided by, whoever turns up. */
export function expectedTotalWeight(samplingRate: number, populationWeight: number): number {
  if (!(samplingRate > 0 && samplingRate <= 1)) throw new RangeError(`sampling rate must be in (0, 1], got ${samplingRate}`);
  if (!(populationWeight > 0)) throw new RangeError(`the population's total weight must be > 0, got ${populationWeight}`);
  return samplingRate * populationWeight;
}

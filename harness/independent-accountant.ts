// An accountant written apart from shared/fl/accountant.ts, for tests that check the ε the
// coordinator shows against what it released. Another method for the same quantity: the sampled
// Gaussian's moment A_α = E_{x~N(0,σ²)}[(1 − q + q·e^{(2x−1)/(2σ²)})^α] (Mironov, Talwar & Zhang
// 2019) by its closed form at integer orders,
//   A_α = Σ_{k=0..α} C(α, k) (1 − q)^{α−k} q^k exp((k² − k) / (2σ²)),
// and by plain Simpson quadrature at fractional ones (the product uses series), on a denser grid of
// orders than the product's; then the same RDP → (ε, δ) conversion (Balle et al. 2020, Thm 21).
// The product's grid loses at most 0.11 % of ε (accountant.ts), so the two agree to about that.

export interface Steps {
  samplingRate: number;
  noiseMultiplier: number;
  rounds: number;
}

const INTEGER_ORDERS = Array.from({ length: 255 }, (_, i) => i + 2); // 2 … 256
const FRACTIONAL_ORDERS = Array.from({ length: 380 }, (_, i) => 1.01 + i * 0.025).filter((a) => !Number.isInteger(a)); // 1.01 … 10.5

function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

/** log A_α of one step, α an integer ≥ 2. */
function logMoment(q: number, sigma: number, alpha: number): number {
  let logBinomial = 0; // log C(α, 0)
  let total = -Infinity;
  for (let k = 0; k <= alpha; k++) {
    if (k > 0) logBinomial += Math.log(alpha - k + 1) - Math.log(k);
    const logWeight = (alpha - k === 0 ? 0 : (alpha - k) * Math.log1p(-q)) + (k === 0 ? 0 : k * Math.log(q));
    if (logWeight === -Infinity || Number.isNaN(logWeight)) continue; // q = 1: only k = α remains
    total = logAddExp(total, logBinomial + logWeight + (k * k - k) / (2 * sigma * sigma));
  }
  return total;
}

/** log A_α of one step at any order α > 1, by Simpson's rule on a grid that holds the integrand's mass. */
function logMomentByQuadrature(q: number, sigma: number, alpha: number): number {
  // In log space: log φ(x) + α·log(1 − q + q·e^{(2x−1)/(2σ²)}); its mass lies within [−40σ, α + 40σ].
  const logIntegrand = (x: number) => {
    const t = (2 * x - 1) / (2 * sigma * sigma);
    const mixture = q === 1 ? t : logAddExp(Math.log1p(-q), Math.log(q) + t);
    return -(x * x) / (2 * sigma * sigma) - Math.log(sigma * Math.sqrt(2 * Math.PI)) + alpha * mixture;
  };
  const lo = -40 * sigma;
  const hi = alpha + 40 * sigma;
  const n = 4_000; // even
  const h = (hi - lo) / n;
  let peak = -Infinity;
  for (let i = 0; i <= n; i++) peak = Math.max(peak, logIntegrand(lo + i * h));
  let sum = 0;
  for (let i = 0; i <= n; i++) sum += (i === 0 || i === n ? 1 : i % 2 === 1 ? 4 : 2) * Math.exp(logIntegrand(lo + i * h) - peak);
  return peak + Math.log((sum * h) / 3);
}

/** ε at δ of the composition of these steps, the best over integer orders 2 … 256 and fractional ones 1.01 … 10.5. */
export function independentEpsilon(steps: readonly Steps[], delta: number): number {
  let best = Infinity;
  for (const alpha of [...INTEGER_ORDERS, ...FRACTIONAL_ORDERS]) {
    let rdp = 0;
    for (const { samplingRate, noiseMultiplier, rounds } of steps) {
      if (!(rounds > 0 && samplingRate > 0)) continue;
      const moment = Number.isInteger(alpha) ? logMoment(samplingRate, noiseMultiplier, alpha) : logMomentByQuadrature(samplingRate, noiseMultiplier, alpha);
      rdp += (rounds * moment) / (alpha - 1);
    }
    const epsilon = rdp + Math.log1p(-1 / alpha) - (Math.log(delta) + Math.log(alpha)) / (alpha - 1);
    best = Math.min(best, epsilon);
  }
  return Math.max(0, best);
}

/** The multiplier of two Gaussian mechanisms released together (multipliers z₁, z₂): (z₁⁻² + z₂⁻²)^−½. */
export const combinedMultiplier = (z1: number, z2: number): number => (z1 ** -2 + z2 ** -2) ** -0.5;

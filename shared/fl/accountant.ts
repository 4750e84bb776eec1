// Privacy accounting: how much ε a run of DP federated averaging has spent, by the Rényi DP
// (RDP) analysis of the sampled Gaussian mechanism (SGM): each round every client takes part
// with probability q (Poisson sampling), the clipped sum gets Gaussian noise of std z × C.
// This is the analysis of Mironov, Talwar & Zhang 2019, "Rényi Differential Privacy of the
// Sampled Gaussian Mechanism" (arXiv:1908.10530), which Opacus and TensorFlow Privacy use.
//
// One step is (α, ρ(α))-RDP with ρ(α) = log(A_α)/(α − 1), where, with μ0 = N(0, z²),
// μ1 = N(1, z²) and μ = (1 − q)μ0 + qμ1 (the paper shows D_α(μ‖μ0) is the larger direction):
//   A_α = E_{x~μ0}[(μ(x)/μ0(x))^α] = E_{x~μ0}[(1 − q + q·r(x))^α],  r(x) = e^{(2x − 1)/(2z²)}.
// RDP composes by adding up per order, so T identical steps are (α, T·ρ(α))-RDP, and
// (ε, δ) is the best conversion over a grid of orders.
//
// The amplification by q < 1 holds only if every client really is in each round independently
// with probability q, whoever answers (room.ts samples so); q = 1 charges the plain Gaussian mechanism.

/** δ used when none is given: well below 1/(number of clients) for any realistic room. */
export const DEFAULT_DP_DELTA = 1e-5;

/** How (α, ρ)-RDP becomes (ε, δ)-DP; see `epsilonAtOrder`. */
export type RdpConversion = 'balle2020' | 'mironov2017';

/** A run of `rounds` identical steps: Poisson sampling rate q, noise multiplier z. */
export interface PrivacySpend {
  samplingRate: number;
  noiseMultiplier: number;
  rounds: number;
}

/** ε and the RDP order that gave it; order is NaN when no order bounds anything (ε = 0: nothing spent; ε = ∞: no noise). */
export interface EpsilonResult {
  epsilon: number;
  order: number;
}

const range = (from: number, to: number, step: number): number[] =>
  Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, k) => from + k * step);

/**
 * Rényi orders α tried for every ε. Near its optimum ε(α) ≈ c + aβ + L/β with β = α − 1, so
 * what a grid costs depends on the ratio r of neighbouring β: an optimum halfway (in log β)
 * between two grid points is missed by √(aL)·(r^¼ − r^−¼)², at most (ln r)²/8 of ε. Every step
 * below keeps r ≤ 1.1 (≤ 0.11% of ε, the test checks it) except under α = 1.1, where the
 * optimum lies only for ε ≳ ln(1/δ)/0.1 ≈ 115 (δ = 1e-5), far past any useful budget:
 *   1.01 … 1.19 by 0.01   (so that even such ε are not overstated, as a grid from 1.1 would)
 *   1.2 … 1.98 by 0.02, 2 … 10.9 by 0.1, 11 … 64 by 1
 *   68 … 128 by 4, 136 … 256 by 8, 272 … 512 by 16, 544 … 1024 by 32
 * The top end serves small ε: the optimum order is roughly 1 + 2·ln(1/δ)/ε, so 1024 covers
 * ε down to ≈ 0.02 at δ = 1e-5. Orders are written as integers over 100 or 10 so they print
 * as the decimals they stand for (1.1, not 1.1000000000000003).
 */
export const RDP_ORDERS: readonly number[] = Object.freeze([
  ...range(101, 119, 1).map((k) => k / 100),
  ...range(120, 198, 2).map((k) => k / 100),
  ...range(20, 109, 1).map((k) => k / 10),
  ...range(11, 64, 1),
  ...range(68, 128, 4),
  ...range(136, 256, 8),
  ...range(272, 512, 16),
  ...range(544, 1024, 32),
]);

// ---- validation: at the edge of this module, with messages that say what is allowed ----

// typeof first: a ledger restored from a checkpoint is JSON, and '0.5' >= 0 is true.
function checkSamplingRate(q: number): void {
  if (typeof q !== 'number' || !(q >= 0 && q <= 1)) throw new RangeError(`sampling rate q must be in [0, 1] (the probability that a client takes part in a round), got ${q}`);
}

function checkNoiseMultiplier(z: number): void {
  if (typeof z !== 'number' || !(z >= 0 && z < Infinity)) throw new RangeError(`noise multiplier z must be finite and >= 0 (noise std in units of the clip norm), got ${z}`);
}

function checkRounds(rounds: number): void {
  if (!(Number.isSafeInteger(rounds) && rounds >= 0)) throw new RangeError(`rounds must be an integer >= 0, got ${rounds}`);
}

function checkDelta(delta: number): void {
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), e.g. 1e-5 (well below 1/number of clients), got ${delta}`);
}

/** Throws RangeError unless q ∈ [0, 1], z ≥ 0 finite and rounds an integer ≥ 0 (for other modules that take spends in). */
export function checkPrivacySpend(spend: PrivacySpend): void {
  checkSamplingRate(spend.samplingRate);
  checkNoiseMultiplier(spend.noiseMultiplier);
  checkRounds(spend.rounds);
}

function checkConversion(conversion: string): void {
  if (conversion !== 'balle2020' && conversion !== 'mironov2017') {
    throw new RangeError(`conversion must be 'balle2020' or 'mironov2017', got '${conversion}'`);
  }
}

// ---- log-space arithmetic ----

/** log(e^a + e^b) without overflow. */
function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/** log(e^a − e^b) for a > b; log1p when e^{b−a} is small, or log(1 − 1e-17) would round to 0 or −1.1e-16. */
function logSubExp(a: number, b: number): number {
  if (b === -Infinity) return a;
  if (!(a > b)) throw new Error(`accountant: log-space subtraction went negative (${a} − ${b}); this is a bug, please report q and z`);
  return a + (b - a < -Math.LN2 ? Math.log1p(-Math.exp(b - a)) : Math.log(-Math.expm1(b - a)));
}

/** log(e^x − 1) for x > 0: past x = 40, e^−x is below the rounding of x. */
function logExpm1(x: number): number {
  return x > 40 ? x : Math.log(Math.expm1(x));
}

/** log(1 + e^x). */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

// ---- log Φ, needed far into the tail where Φ itself underflows (Φ(−38) < 1e-308) ----

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * e^{x²}·erfc(x) for x ≥ 0, to ~1e-14 relative (checked against mpmath's 30-digit erfc from −30 to 1000).
 * Below 2: erf(x) = (2/√π)·e^{−x²}·Σ 2ⁿx^{2n+1}/(2n+1)!!, a series of positive terms, so
 * e^{x²}·erfc(x) = e^{x²} − (2/√π)·Σ…; the subtraction costs at most log10(e⁴/0.26) ≈ 2.3 digits.
 * From 2: the even part of Laplace's continued fraction (A&S 7.1.14),
 * e^{x²}·erfc(x) = (2x/√π) / (2x²+1 − 1·2/(2x²+5 − 3·4/(2x²+9 − …))), by Lentz's method; it
 * needs fewer terms the larger x is (28 at x = 2, 5 at x = 10).
 */
function erfcx(x: number): number {
  if (x < 2) {
    const twoX2 = 2 * x * x;
    let term = x;
    let sum = x;
    for (let n = 1; term > sum * 1e-17; n++) {
      term *= twoX2 / (2 * n + 1);
      sum += term;
    }
    return Math.exp(x * x) - TWO_OVER_SQRT_PI * sum;
  }
  const twoX2 = 2 * x * x;
  let f = twoX2 + 1;
  let c = f;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = -(2 * n - 1) * (2 * n);
    const b = twoX2 + 4 * n + 1;
    d = 1 / (b + a * d);
    c = b + a / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (TWO_OVER_SQRT_PI * x) / f;
}

/**
 * log Φ(t), Φ the standard normal CDF, for any real t: Φ(t) = erfc(−t/√2)/2. Far left it would
 * underflow, so it goes through e^{x²}·erfc(x); right of 0 it is log(1 − tiny), taken by log1p so
 * that the tiny part keeps its digits (log(2 − tiny) − log 2 would round it away, and with it
 * most of a small-q RDP).
 */
function logNormalCdf(t: number): number {
  const x = -t / Math.SQRT2;
  if (x >= 0) return -x * x + Math.log(erfcx(x) / 2);
  return Math.log1p(-Math.exp(-x * x) * erfcx(-x) / 2); // Φ(t) = 1 − Φ(−t)
}

// ---- log A_α ----

/**
 * log(A_α − 1) for integer α ≥ 2, 0 < q < 1, z > 0. Expanding (1 − q + q·r)^α by the binomial
 * theorem and E_μ0[r^i] = e^{(i² − i)/(2z²)} gives A_α = Σ_i C(α,i)(1 − q)^{α−i} q^i e^{(i² − i)/(2z²)}.
 * Since the same sum without the exponentials is 1, A_α − 1 = Σ_{i≥2} C(α,i)(1 − q)^{α−i} q^i
 * (e^{(i² − i)/(2z²)} − 1): all terms positive, summed in log space, and the tiny RDP of small q
 * keeps all its digits instead of drowning in log(1 + tiny).
 */
function logAMinusOneInteger(q: number, z: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoZ2 = 2 * z * z;
  let logBinomial = Math.log(alpha); // log C(α, 1)
  let sum = -Infinity;
  for (let i = 2; i <= alpha; i++) {
    logBinomial += Math.log((alpha - i + 1) / i);
    const exponent = (i * i - i) / twoZ2;
    if (exponent === 0) continue; // z so large that e^{…} − 1 rounds to 0
    sum = logAddExp(sum, logBinomial + i * logQ + (alpha - i) * log1mQ + logExpm1(exponent));
  }
  return sum;
}

/** Terms of the alternating tail summed by Cohen–Villegas–Zagier: error ≤ 2/(3 + √8)^22 ≈ 3e-17 of the tail. */
const ALTERNATING_TERMS = 22;
const CVZ_D = (() => {
  const d = (3 + Math.sqrt(8)) ** ALTERNATING_TERMS;
  return (d + 1 / d) / 2;
})();

/**
 * log A_α for fractional α > 1, 0 < q < 1, z > 0: the two-series expansion of Mironov et al.
 * 2019 (TF Privacy's `_compute_log_a_frac`). The binomial series of (1 − q + q·r)^α
 * converges where s = q·r/(1 − q) < 1, i.e. for x < x0 = z²·ln(1/q − 1) + 1/2, so the integral is
 * split at x0 and the other side is expanded in powers of 1/s:
 *   A_α = Σ_i C(α,i) q^i (1−q)^{α−i} e^{(i²−i)/(2z²)} Φ((x0 − i)/z)          (x < x0)
 *       + Σ_i C(α,i) q^{α−i} (1−q)^i e^{(j²−j)/(2z²)} Φ((j − x0)/z),  j = α − i  (x ≥ x0),
 * with Φ the standard normal CDF (the Gaussian integrals over each half-line).
 *
 * Stopping rule. C(α,i) > 0 up to i = ⌈α⌉; from n0 = ⌈α⌉ + 1 on it alternates in sign, and the
 * terms shrink only like i^−(α+2): summed one by one, TF Privacy needs thousands of them when z is
 * large or q near 1/2 (and stops at an absolute 1e-13). But the magnitudes there are moments of a
 * positive measure on [0, 1]: |C(α,i)| = (|sin πα|/π)·∫₀¹ t^{i−α−1}(1−t)^α dt, the first series'
 * integral is (1−q)^α·∫_{x<x0} s(x)^i dμ0 with s < 1, the second's the same with 1/s on x ≥ x0,
 * and products and sums of moment sequences are moment sequences. For exactly such alternating
 * sums the algorithm of Cohen, Rodriguez Villegas & Zagier 2000 ("Convergence acceleration of
 * alternating series", Algorithm 1 and Proposition 1) errs by at most 2/(3 + √8)^n of the first
 * term using n terms; n = 22 puts that below double rounding. So: ⌈α⌉ + 1 positive terms, then 22.
 */
function logAFractional(q: number, z: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoZ2 = 2 * z * z;
  const x0 = z * z * (log1mQ - logQ) + 0.5;
  /** log of the two series' i-th terms without the sign of C(α,i), given log |C(α,i)|. */
  const logTerm = (i: number, logAbsBinomial: number): number => {
    const j = alpha - i;
    const logS0 = i * logQ + j * log1mQ + (i * i - i) / twoZ2 + logNormalCdf((x0 - i) / z);
    const logS1 = j * logQ + i * log1mQ + (j * j - j) / twoZ2 + logNormalCdf((j - x0) / z);
    return logAbsBinomial + logAddExp(logS0, logS1);
  };
  const n0 = Math.ceil(alpha) + 1;
  let logAbsBinomial = 0; // log |C(α, 0)|
  let logPositive = -Infinity;
  for (let i = 0; i < n0; i++) {
    if (i > 0) logAbsBinomial += Math.log((alpha - i + 1) / i);
    logPositive = logAddExp(logPositive, logTerm(i, logAbsBinomial));
  }
  // The tail Σ_k (−1)^k m_k, m_k the magnitude of term n0 + k (the first, k = 0, is negative).
  // Scaled by m_0 so the weighted sum works in plain numbers; m_k ≤ m_0 since moments decrease.
  let logM0 = 0;
  let b = -1;
  let c = -CVZ_D;
  let sum = 0;
  for (let k = 0; k < ALTERNATING_TERMS; k++) {
    const i = n0 + k;
    logAbsBinomial += Math.log(Math.abs(alpha - i + 1) / i);
    const logM = logTerm(i, logAbsBinomial);
    if (k === 0) logM0 = logM;
    c = b - c;
    sum += c * Math.exp(logM - logM0);
    b = ((k + ALTERNATING_TERMS) * (k - ALTERNATING_TERMS) * b) / ((k + 0.5) * (k + 1));
  }
  return logSubExp(logPositive, logM0 + Math.log(sum / CVZ_D));
}

/** ρ(α) of one step, arguments already checked. */
function rdpOfStep(q: number, z: number, alpha: number): number {
  if (q === 0) return 0;
  if (z === 0) return Infinity;
  if (q === 1) return alpha / (2 * z * z); // the plain Gaussian mechanism
  if (Number.isInteger(alpha)) return softplus(logAMinusOneInteger(q, z, alpha)) / (alpha - 1);
  // A_α ≥ 1 (Rényi divergences are ≥ 0), but the series' first terms cancel to 1 + tiny: the
  // fractional orders are exact to ~1e-9 relative down to ρ ≈ 1e-12 and to ~1e-19 absolute below
  // (q = 1e-6, z = 50: ρ = 2e-16 ± 1e-19). Should rounding ever cross 0, 0 is the true bound.
  return Math.max(0, logAFractional(q, z, alpha)) / (alpha - 1);
}

/**
 * RDP ε of ONE step of the sampled Gaussian mechanism at order α > 1: Poisson sampling rate q,
 * noise multiplier z. q = 1 gives α/(2z²) exactly, q = 0 gives 0, z = 0 (with q > 0) gives ∞.
 */
export function sampledGaussianRdp(args: { samplingRate: number; noiseMultiplier: number; order: number }): number {
  const { samplingRate: q, noiseMultiplier: z, order } = args;
  checkSamplingRate(q);
  checkNoiseMultiplier(z);
  if (!(order > 1 && order < Infinity)) throw new RangeError(`RDP order α must be finite and > 1, got ${order}`);
  return rdpOfStep(q, z, order);
}

// The per-step RDP at all orders costs ~5 ms (half the binomial sums up to α = 1024, half the
// fractional series), and the same (q, z) comes back every round (the ledger) and in a plan.
// A memo of a pure function: results are the same with or without it.
const STEP_RDP_CACHE_SIZE = 256;
const stepRdpCache = new Map<string, Float64Array>();

function stepRdpAtOrders(q: number, z: number): Float64Array {
  const key = `${q} ${z}`;
  const cached = stepRdpCache.get(key);
  if (cached) {
    stepRdpCache.delete(key); // re-insert: Map order is the recency order
    stepRdpCache.set(key, cached);
    return cached;
  }
  const rdp = new Float64Array(RDP_ORDERS.length);
  for (let k = 0; k < RDP_ORDERS.length; k++) rdp[k] = rdpOfStep(q, z, RDP_ORDERS[k]);
  if (stepRdpCache.size >= STEP_RDP_CACHE_SIZE) stepRdpCache.delete(stepRdpCache.keys().next().value as string);
  stepRdpCache.set(key, rdp);
  return rdp;
}

/**
 * ε of (α, ρ)-RDP at δ.
 * balle2020: Balle, Barthe, Gaboardi, Hsu & Sato 2020, "Hypothesis testing interpretations and
 *   Rényi differential privacy", Theorem 21: ε = ρ + ln((α − 1)/α) − (ln δ + ln α)/(α − 1).
 *   What Opacus's get_privacy_spent uses; always below mironov2017.
 * mironov2017: Mironov 2017, "Rényi Differential Privacy", Proposition 3: ε = ρ + ln(1/δ)/(α − 1).
 * Both are upper bounds, so one below 0 means (0, δ)-DP: we report 0.
 */
function epsilonAtOrder(rdp: number, alpha: number, logDelta: number, conversion: RdpConversion): number {
  const epsilon =
    conversion === 'balle2020'
      ? rdp + Math.log1p(-1 / alpha) - (logDelta + Math.log(alpha)) / (alpha - 1)
      : rdp - logDelta / (alpha - 1);
  return Math.max(0, epsilon);
}

/** (ε, δ) of the composition of all spends (RDP adds up per order), minimised over RDP_ORDERS. */
export function epsilonSpent(args: { spends: readonly PrivacySpend[]; delta: number; conversion?: RdpConversion }): EpsilonResult {
  const { spends, delta, conversion = 'balle2020' } = args;
  checkDelta(delta);
  checkConversion(conversion);
  spends.forEach(checkPrivacySpend);
  const total = new Float64Array(RDP_ORDERS.length);
  let spentAnything = false;
  for (const { samplingRate: q, noiseMultiplier: z, rounds } of spends) {
    if (rounds === 0 || q === 0) continue; // exactly nothing spent (and 0 × ∞ would be NaN)
    spentAnything = true;
    const step = stepRdpAtOrders(q, z);
    for (let k = 0; k < total.length; k++) total[k] += rounds * step[k];
  }
  // The conversions charge ln(1/δ)/(α − 1) even for ρ = 0; a run that released nothing spent nothing.
  if (!spentAnything) return { epsilon: 0, order: NaN };
  const logDelta = Math.log(delta);
  let best: EpsilonResult = { epsilon: Infinity, order: NaN };
  for (let k = 0; k < total.length; k++) {
    const epsilon = epsilonAtOrder(total[k], RDP_ORDERS[k], logDelta, conversion);
    if (epsilon < best.epsilon) best = { epsilon, order: RDP_ORDERS[k] };
  }
  return best;
}

/** Largest noise multiplier tried: a budget that needs more noise than this is not a plan. */
const MAX_NOISE_MULTIPLIER = 1e3;
/** Smallest one: a budget that even this keeps (ε in the thousands) gets this, not a search towards 0. */
const MIN_NOISE_MULTIPLIER = 1e-6;
/** Bisection stops when the bracket is this narrow relative to its top: below the 1e-3 promised. */
const NOISE_RELATIVE_PRECISION = 5e-4;

/**
 * Smallest noise multiplier z whose ε after `rounds` steps at rate q stays ≤ targetEpsilon, by
 * bisection (like Opacus's get_noise_multiplier). The answer errs on the safe side: ε(z) ≤ target,
 * and ε(z·(1 − 5e-4)) > target. ε(z) falls as z grows (every order's RDP does), so bisection is sound.
 * Returns 0 when nothing is spent (q = 0 or rounds = 0); a budget that even z ≈ 1e-6 keeps (ε in
 * the thousands) gets that z, safe but not the smallest.
 * Throws RangeError if even z = 1000 spends more.
 */
export function noiseMultiplierFor(args: {
  samplingRate: number;
  targetEpsilon: number;
  rounds: number;
  delta: number;
  conversion?: RdpConversion;
}): number {
  const { samplingRate: q, targetEpsilon, rounds, delta, conversion = 'balle2020' } = args;
  checkSamplingRate(q);
  checkRounds(rounds);
  checkDelta(delta);
  checkConversion(conversion);
  if (!(targetEpsilon > 0 && targetEpsilon < Infinity)) throw new RangeError(`target ε must be finite and > 0, got ${targetEpsilon}`);
  if (q === 0 || rounds === 0) return 0;
  const epsilonOf = (z: number) => epsilonSpent({ spends: [{ samplingRate: q, noiseMultiplier: z, rounds }], delta, conversion }).epsilon;
  const fits = (z: number) => epsilonOf(z) <= targetEpsilon;
  if (!fits(MAX_NOISE_MULTIPLIER)) {
    throw new RangeError(
      `no noise multiplier up to ${MAX_NOISE_MULTIPLIER} keeps ε ≤ ${targetEpsilon} after ${rounds} rounds at sampling rate ${q} (δ = ${delta}): ` +
        `allow a larger ε or δ, or plan fewer rounds or a lower sampling rate`,
    );
  }
  // Bracket [low, high] with ε(low) > target ≥ ε(high), starting from z = 1 where most plans are.
  let high = 1;
  let low = 0.5;
  if (fits(high)) {
    while (fits(low)) {
      if (low <= MIN_NOISE_MULTIPLIER) return low;
      high = low;
      low /= 2;
    }
  } else {
    low = high;
    high = Math.min(2 * high, MAX_NOISE_MULTIPLIER);
    while (!fits(high)) {
      low = high;
      high = Math.min(2 * high, MAX_NOISE_MULTIPLIER);
    }
  }
  while (high - low > NOISE_RELATIVE_PRECISION * high) {
    const middle = Math.sqrt(low * high); // the bracket's ratio halves in log space each step
    if (fits(middle)) high = middle;
    else low = middle;
  }
  return high;
}

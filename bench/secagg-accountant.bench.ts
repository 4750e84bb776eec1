// Speed of the privacy accountant (shared/fl/accountant.ts) at the length of a long run: the
// coordinator asks for ε after every round, and a plan asks noiseMultiplierFor once.
//
// What costs is the per-step RDP at all 267 orders for one (q, z): the integer orders' binomial
// sums (up to 1024 terms at α = 1024) and the fractional orders' two series. ε after T rounds is
// then T × that vector, so 10,000 rounds cost what 1 round does. The accountant memoizes the
// vector per (q, z); "cold" rows use a fresh z every run so that memo never answers, the "memoized"
// row is what every round after the first costs the coordinator.
import { epsilonSpent, noiseMultiplierFor } from '../shared/fl/accountant.ts';
import { medianSeconds, type BenchRow } from './measure.ts';

const ROUNDS = 10_000;
const SAMPLING_RATE = 0.01;
const DELTA = 1e-5;
const EPSILON_TARGET_MS = 50;
const PLAN_TARGET_MS = 500;

export function accountant(): BenchRow[] {
  let run = 0;
  // z = 1.1 + 1e-9·run: a value no earlier run has seen, and ε no different in any digit that matters.
  const coldEpsilon = medianSeconds(() => {
    run++;
    epsilonSpent({ spends: [{ samplingRate: SAMPLING_RATE, noiseMultiplier: 1.1 + 1e-9 * run, rounds: ROUNDS }], delta: DELTA });
  });
  const memoized = medianSeconds(() => {
    epsilonSpent({ spends: [{ samplingRate: SAMPLING_RATE, noiseMultiplier: 1.1, rounds: ROUNDS }], delta: DELTA });
  });
  // The bisection tries the same z's for the same question, so each run asks at a fresh q instead.
  const plan = medianSeconds(
    () => {
      run++;
      noiseMultiplierFor({ samplingRate: SAMPLING_RATE * (1 + 1e-9 * run), targetEpsilon: 8, rounds: ROUNDS, delta: DELTA });
    },
    { warmupRuns: 1, timedRuns: 5 },
  );
  return [
    { name: 'accountant: ε after 10,000 rounds (q = 0.01, z = 1.1), cold', figure: coldEpsilon * 1000, unit: 'ms', target: EPSILON_TARGET_MS, targetIs: 'atMost' },
    { name: 'accountant: ε after 10,000 rounds, memoized (q, z)', figure: memoized * 1000, unit: 'ms' },
    { name: 'accountant: noiseMultiplierFor(q = 0.01, ε = 8, T = 10,000), cold', figure: plan * 1000, unit: 'ms', target: PLAN_TARGET_MS, targetIs: 'atMost' },
  ];
}

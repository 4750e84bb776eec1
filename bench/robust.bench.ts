// Speed of the Byzantine-robust rules (shared/fl/median.ts, trimmed-mean.ts, krum.ts) at the size
// a big round has: 100 tabs × 1,000,000 parameters. Each figure times what the coordinator does
// in a round, the strategy's add() of every update (a copy into the buffers it holds) and then
// finish(), and counts the delta bytes it took in: 100 · 1e6 · 4 bytes / seconds.
//
// The 100 deltas are distinct (400 MB, far beyond the caches, as a real round's would be), so the
// figures include reading every update from memory twice (once to copy it in, once to rank it).
// Reference rows are Flower's own rules (flwr/server/strategy/aggregate.py, NumPy) measured on
// this machine at the same size; they have no target.
//
// Where the time goes (2-core EPYC, one core used): copying 400 MB in takes ~0.07 s and reading it
// back ~0.09 s (memory, ~5 GB/s); the median's comparator network ~0.1 s on top. Multi-Krum is
// bound by arithmetic: 5,050 dot products of 1M values are 5 × 10⁹ multiply-adds, and WebAssembly
// SIMD without fused multiply-add does ~11–14 × 10⁹ a second on one core, so ~0.4 s before any
// copying; its 1.2 GB/s target needs a second core or FMA (relaxed SIMD, not on in Node 20).
import type { AggregationRule } from '../shared/fl/aggregation-rule.ts';
import { MedianRule } from '../shared/fl/median.ts';
import { TrimmedMeanRule } from '../shared/fl/trimmed-mean.ts';
import { KrumRule } from '../shared/fl/krum.ts';
import { benchVector, medianSeconds, type BenchRow } from './measure.ts';

const PARAMS = 1_000_000;
const CLIENTS = 100;
const BYTES_PER_ROUND = CLIENTS * PARAMS * 4;
const TIMING = { warmupRuns: 1, timedRuns: 3 };
const COORDINATE_WISE_TARGET_GB_PER_S = 1;
const MULTI_KRUM_TARGET_GB_PER_S = 1.2;

let deltas: Float32Array[] | null = null;
/** Built once for all the rows of this file: 100 × 4 MB with distinct seeds. */
function roundDeltas(): Float32Array[] {
  deltas ??= Array.from({ length: CLIENTS }, (_, k) => benchVector(PARAMS, 1000 + k, 0.01));
  return deltas;
}

/** GB/s of one round: add() of every delta, then finish(). */
function roundGbPerSecond(strategy: AggregationRule): number {
  const updates = roundDeltas().map((delta, k) => ({ clientId: `tab-${k}`, delta, weight: 50 + ((k * 37) % 600) }));
  const out = new Float32Array(PARAMS);
  const seconds = medianSeconds(() => {
    strategy.begin();
    for (const update of updates) strategy.add(update);
    strategy.finish(out);
  }, TIMING);
  return BYTES_PER_ROUND / seconds / 1e9;
}

// Flower's aggregate_median / aggregate_trimmed_mean / aggregate_krum, timed on this machine: references, no target.
const FLOWER_MEDIAN_GB_PER_S = 0.22; // measured 0.16–0.22
const FLOWER_TRIMMED_MEAN_GB_PER_S = 0.18; // measured 0.11–0.18
const FLOWER_MULTI_KRUM_GB_PER_S = 1.2; // measured up to 1.2

export function robustMedian(): BenchRow[] {
  return [
    { name: 'median: MedianRule, 100 × 1M', figure: roundGbPerSecond(new MedianRule(PARAMS)), unit: 'GB/s', target: COORDINATE_WISE_TARGET_GB_PER_S },
    { name: "median: Flower's aggregate_median (reference, measured 0.16–0.22)", figure: FLOWER_MEDIAN_GB_PER_S, unit: 'GB/s' },
  ];
}

export function robustTrimmedMean(): BenchRow[] {
  return [
    {
      name: 'trimmed mean β = 0.1: TrimmedMeanRule, 100 × 1M',
      figure: roundGbPerSecond(new TrimmedMeanRule(PARAMS, { trimFraction: 0.1 })),
      unit: 'GB/s',
      target: COORDINATE_WISE_TARGET_GB_PER_S,
    },
    { name: "trimmed mean: Flower's aggregate_trimmed_mean (reference, measured 0.11–0.18)", figure: FLOWER_TRIMMED_MEAN_GB_PER_S, unit: 'GB/s' },
  ];
}

export function robustKrum(): BenchRow[] {
  return [
    {
      name: 'Multi-Krum f = 10, m = n − f: KrumRule, 100 × 1M',
      figure: roundGbPerSecond(new KrumRule(PARAMS, { byzantineClients: 10, keep: 0 })),
      unit: 'GB/s',
      target: MULTI_KRUM_TARGET_GB_PER_S,
    },
    { name: 'Krum f = 10: KrumRule, 100 × 1M', figure: roundGbPerSecond(new KrumRule(PARAMS, { byzantineClients: 10 })), unit: 'GB/s' },
    { name: "Multi-Krum: Flower's aggregate_krum (reference, measured up to 1.2)", figure: FLOWER_MULTI_KRUM_GB_PER_S, unit: 'GB/s' },
  ];
}

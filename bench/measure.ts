// Timing helpers and the row type every benchmark returns. Benchmarks measure; nothing here
// asserts: a missed target is printed and recorded, not thrown.
import { performance } from 'node:perf_hooks';

/**
 * One line of the results table. `target` is a floor (figure >= target passes) unless `targetIs`
 * says 'atMost': then it is a ceiling, for latencies, overheads and counts of failures.
 */
export interface BenchRow {
  name: string;
  figure: number;
  unit: string;
  /** Omitted for reference rows (e.g. memcpy), which have nothing to pass. */
  target?: number;
  targetIs?: 'atLeast' | 'atMost';
}

/** null for reference rows. */
export function meetsTarget(row: BenchRow): boolean | null {
  if (row.target === undefined) return null;
  return row.targetIs === 'atMost' ? row.figure <= row.target : row.figure >= row.target;
}

export interface TimingOptions {
  /** Untimed runs first, so the JIT has compiled the hot loop before we time it. */
  warmupRuns?: number;
  /** Timed runs; the median is reported because one GC pause or scheduler hiccup only moves the mean. */
  timedRuns?: number;
  /** Untimed work before every run, e.g. restoring an input the run modifies in place. */
  beforeEach?: () => void;
}

/** Median wall-clock seconds of one call of `run`. */
export function medianSeconds(run: () => void, options: TimingOptions = {}): number {
  const { warmupRuns = 3, timedRuns = 11, beforeEach } = options;
  for (let i = 0; i < warmupRuns; i++) {
    beforeEach?.();
    run();
  }
  const seconds: number[] = [];
  for (let i = 0; i < timedRuns; i++) {
    beforeEach?.();
    const startMs = performance.now();
    run();
    seconds.push((performance.now() - startMs) / 1000);
  }
  seconds.sort((a, b) => a - b);
  return seconds[Math.floor(seconds.length / 2)];
}

/** Float32 values filled with N(0, scale²)-ish data from a tiny LCG: only the bench needs it, and it must not depend on the code under test. */
export function benchVector(length: number, seed: number, scale = 1): Float32Array {
  const v = new Float32Array(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    // Sum of 4 uniforms − 2, scaled to unit variance (4 · 1/12 = 1/3): close enough to Gaussian for timing.
    let sum = 0;
    for (let k = 0; k < 4; k++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      sum += state / 4294967296;
    }
    v[i] = (sum - 2) * Math.sqrt(3) * scale;
  }
  return v;
}

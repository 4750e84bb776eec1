// The real clock (shared/timers.ts has the interface; tests move harness/manual-timers.ts by hand).
import type { Timers } from '../shared/timers.ts';

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

// The clock code runs on: the real one (server/timers.ts), or one a test moves by hand
// (harness/manual-timers.ts). Shared code that keeps deadlines takes one of these, never the global.
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

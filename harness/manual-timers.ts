// A clock a test moves by hand, so state-machine tests are exact and instant.
import type { Timers } from '../shared/timers.ts';

export class ManualTimers implements Timers {
  time = 1_000;
  private pending = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { at: this.time + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Moves the clock forward, firing what falls due. */
  advance(ms: number): void {
    this.time += ms;
    for (const [id, timer] of [...this.pending]) {
      if (timer.at <= this.time) {
        this.pending.delete(id);
        timer.fn();
      }
    }
  }
}

/** Lets promise continuations and immediates queued so far run. */
export const flushAsync = () => new Promise<void>((resolve) => setImmediate(resolve));

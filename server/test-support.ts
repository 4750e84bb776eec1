// Helpers for server unit tests: a controllable clock and an evaluator whose
// answers the test chooses, so state-machine tests are exact and instant.
import type { ModelName } from '../shared/model-spec.ts';
import { modelSpec } from '../shared/model-spec.ts';
import type { Evaluator } from './round.ts';
import type { Timers } from './timers.ts';

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

/** Starts from all-zero weights; reports the accuracies it is given, one per evaluation. */
export class ScriptedEvaluator implements Evaluator {
  evaluated: Float32Array[] = [];
  constructor(private readonly accuracies: number[] = [], private readonly fail = false) {}

  initialWeights(model: ModelName): Float32Array {
    return new Float32Array(modelSpec(model).paramCount);
  }

  async evaluate(_model: ModelName, weights: Float32Array): Promise<{ accuracy: number; loss: number }> {
    if (this.fail) throw new Error('evaluator broke');
    this.evaluated.push(weights.slice());
    const accuracy = this.accuracies[this.evaluated.length - 1] ?? 0.5;
    return { accuracy, loss: 1 - accuracy };
  }
}

export const flushAsync = () => new Promise<void>((resolve) => setImmediate(resolve));

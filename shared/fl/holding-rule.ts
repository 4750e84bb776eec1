// What every rule that needs all of a round's updates at once (median, trimmed mean, Krum) does
// the same way: it copies each update into buffers it owns and reuses (HeldUpdates), and checks
// its output's size. The rule itself is its finish().
import { HeldUpdates } from './held-updates.ts';
import type { AggregateOutcome, AggregationRule, ClientUpdate } from './aggregation-rule.ts';

export abstract class HoldingRule implements AggregationRule {
  abstract readonly title: string;
  readonly holdsAllUpdates = true;
  protected readonly held: HeldUpdates;

  /** `simd: false` runs the plain-JS kernels (same results, for tests and comparison). */
  constructor(
    readonly paramCount: number,
    simd: boolean | undefined,
  ) {
    this.held = new HeldUpdates(paramCount, { wasm: simd !== false });
  }

  get count(): number {
    return this.held.count;
  }

  begin(): void {
    this.held.clear();
  }

  add(update: ClientUpdate): void {
    this.held.add(update);
  }

  abstract finish(out: Float32Array): AggregateOutcome;

  protected checkOutput(out: Float32Array): void {
    if (out.length !== this.paramCount) throw new RangeError(`output has ${out.length} values, the model has ${this.paramCount}`);
  }
}

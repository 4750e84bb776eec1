// FedAvg behind the strategy seam: streams each update into the SIMD accumulator, so a round
// holds O(parameters) memory whatever the number of tabs.
import { FedAvgAccumulator } from './fedavg.ts';
import { AggregationError, type AggregateOutcome, type AggregationRule, type ClientUpdate } from './aggregation-rule.ts';

export class FedAvgRule implements AggregationRule {
  readonly title = 'FedAvg';
  readonly holdsAllUpdates = false;
  private readonly accumulator: FedAvgAccumulator;

  constructor(paramCount: number) {
    this.accumulator = new FedAvgAccumulator(paramCount);
  }

  get count(): number {
    return this.accumulator.count;
  }

  begin(): void {
    this.accumulator.reset();
  }

  add(update: ClientUpdate): void {
    this.accumulator.add(update.delta, update.weight);
  }

  finish(out: Float32Array): AggregateOutcome {
    if (this.accumulator.count === 0) throw new AggregationError('FedAvg needs at least one update');
    if (!(this.accumulator.totalWeight > 0)) throw new AggregationError('FedAvg: the updates carry no weight (0 examples)');
    this.accumulator.meanInto(out);
    return { accepted: this.accumulator.count, totalWeight: this.accumulator.totalWeight, discarded: [], downweighted: [] };
  }
}

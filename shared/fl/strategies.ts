// Which aggregation rule a run uses: the settings name it, this builds it.
import { FedAvgStrategy } from './fedavg-strategy.ts';
import type { AggregationStrategy } from './strategy.ts';

export const AGGREGATION_RULES = ['fedavg', 'median', 'trimmed-mean', 'krum', 'multi-krum', 'norm-bound'] as const;
export type AggregationRule = (typeof AGGREGATION_RULES)[number];

export interface AggregationOptions {
  aggregation: AggregationRule;
  trimFraction: number;
  byzantineClients: number;
  multiKrumKeep: number;
  normBound: number;
  normBoundAction: 'drop' | 'rescale';
}

export function createAggregationStrategy(options: AggregationOptions, paramCount: number): AggregationStrategy {
  switch (options.aggregation) {
    case 'fedavg':
      return new FedAvgStrategy(paramCount);
    default:
      throw new RangeError(`aggregation ${options.aggregation} is not built yet`);
  }
}

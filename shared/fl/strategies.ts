// Which aggregation rule a run uses: the settings name it, this builds it.
import { FedAvgStrategy } from './fedavg-strategy.ts';
import { KrumStrategy } from './krum.ts';
import { MedianStrategy } from './median.ts';
import { NormBoundStrategy, type NormBoundAction } from './norm-bound.ts';
import type { AggregationStrategy } from './strategy.ts';
import { TrimmedMeanStrategy } from './trimmed-mean.ts';

export const AGGREGATION_RULES = ['fedavg', 'median', 'trimmed-mean', 'krum', 'multi-krum', 'norm-bound'] as const;
export type AggregationRule = (typeof AGGREGATION_RULES)[number];

export interface AggregationOptions {
  aggregation: AggregationRule;
  /** trimmed-mean: fraction β cut at each end of every coordinate, in [0, 0.5). */
  trimFraction: number;
  /** krum, multi-krum: attackers f to tolerate (a round needs at least 2f + 3 updates). */
  byzantineClients: number;
  /** multi-krum: updates averaged (0 = n − f). */
  multiKrumKeep: number;
  /** norm-bound: L2 bound on each update (> 0). */
  normBound: number;
  normBoundAction: NormBoundAction;
}

/** The strategy for `options.aggregation`; only the options that rule reads are checked (RangeError). */
export function createAggregationStrategy(options: AggregationOptions, paramCount: number): AggregationStrategy {
  switch (options.aggregation) {
    case 'fedavg':
      return new FedAvgStrategy(paramCount);
    case 'median':
      return new MedianStrategy(paramCount);
    case 'trimmed-mean':
      return new TrimmedMeanStrategy(paramCount, { trimFraction: options.trimFraction });
    case 'krum':
      return new KrumStrategy(paramCount, { byzantineClients: options.byzantineClients, keep: 1 });
    case 'multi-krum':
      return new KrumStrategy(paramCount, { byzantineClients: options.byzantineClients, keep: options.multiKrumKeep });
    case 'norm-bound':
      return new NormBoundStrategy(paramCount, { bound: options.normBound, action: options.normBoundAction });
    default: {
      const unknown: never = options.aggregation;
      throw new RangeError(`unknown aggregation rule ${String(unknown)}: use one of ${AGGREGATION_RULES.join(', ')}`);
    }
  }
}

// Which aggregation rule a run uses: the settings name it, this builds it.
import { FedAvgRule } from './fedavg.ts';
import { KrumRule } from './krum.ts';
import { MedianRule } from './median.ts';
import { NormBoundRule } from './norm-bound.ts';
import type { AggregationRule } from './aggregation-rule.ts';
import { TrimmedMeanRule } from './trimmed-mean.ts';

export const AGGREGATION_RULES = ['fedavg', 'median', 'trimmed-mean', 'krum', 'multi-krum', 'norm-bound'] as const;
export type AggregationRuleName = (typeof AGGREGATION_RULES)[number];

export interface AggregationOptions {
  aggregation: AggregationRuleName;
  /** trimmed-mean: fraction β cut at each end of every coordinate, in [0, 0.5). */
  trimFraction: number;
  /** krum, multi-krum: attackers f to tolerate (a round needs at least 2f + 3 updates). */
  byzantineClients: number;
  /** multi-krum: updates averaged (0 = n − f). */
  multiKrumKeep: number;
  /** norm-bound: L2 bound on each update (> 0). */
  normBound: number;
}

/** The strategy for `options.aggregation`; only the options that rule reads are checked (RangeError). */
export function createAggregationRule(options: AggregationOptions, paramCount: number): AggregationRule {
  switch (options.aggregation) {
    case 'fedavg':
      return new FedAvgRule(paramCount);
    case 'median':
      return new MedianRule(paramCount);
    case 'trimmed-mean':
      return new TrimmedMeanRule(paramCount, { trimFraction: options.trimFraction });
    case 'krum':
      return new KrumRule(paramCount, { byzantineClients: options.byzantineClients, keep: 1 });
    case 'multi-krum':
      return new KrumRule(paramCount, { byzantineClients: options.byzantineClients, keep: options.multiKrumKeep });
    case 'norm-bound':
      return new NormBoundRule(paramCount, options.normBound);
    default: {
      const unknown: never = options.aggregation;
      throw new RangeError(`unknown aggregation rule ${String(unknown)}: use one of ${AGGREGATION_RULES.join(', ')}`);
    }
  }
}

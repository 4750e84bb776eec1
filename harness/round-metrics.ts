// Helpers for the dashboard's unit tests: a finished round's metrics with neutral values
// (no privacy, no secure aggregation), which a test overrides with the fields it is about.
import type { RoundMetrics } from '../shared/protocol/records.ts';

export function roundMetrics(round: number, overrides: Partial<RoundMetrics> = {}): RoundMetrics {
  return {
    round, attempt: 1, accuracy: 0.9, loss: 0.3, accuracySource: 'test-set', federatedEvaluation: null, participants: 4, selected: 4, totalWeight: 4000,
    noiseStd: 0, clipNorm: null, unclippedFraction: null, privacy: null, localPrivacy: null, secureAggregation: null,
    durationMs: 4000, answered: [], late: [], dropped: [], aggregation: 'FedAvg', discarded: [], downweighted: [],
    bytesSent: 0, bytesReceived: 0,
    ...overrides,
  };
}

// Which strategy a run uses: the settings name it, this builds it. The base strategy around the
// aggregation rule, wrapped by central DP or by local DP (the settings let at most one of them on).
import type { Settings } from '../settings.ts';
import { createAggregationRule } from './rules.ts';
import { FederatedStrategy } from './federated-strategy.ts';
import { DpFedAvg } from './dp-fedavg.ts';
import { LocalDp } from './local-dp.ts';
import type { PrivacyLedger } from './privacy-ledger.ts';
import type { Rng } from './rng.ts';
import type { Strategy, StrategyState } from './strategy.ts';

export interface StrategyDeps {
  paramCount: number;
  /** The population's ledger: the privacy wrappers charge it. */
  ledger: PrivacyLedger;
  /** Unpredictable randomness for DP's sampling and noise (secure-random.ts). */
  secureRng: () => Rng;
  /** A resumed run's state (the clip norm adaptive clipping reached); null for a new run. */
  state: StrategyState | null;
}

export function createStrategy(s: Settings, { paramCount, ledger, secureRng, state }: StrategyDeps): Strategy {
  const central = s.noiseMultiplier > 0;
  const local = s.localNoiseMultiplier > 0;
  const base = new FederatedStrategy(
    createAggregationRule(s, paramCount),
    {
      seed: s.seed,
      fractionClients: s.fractionClients,
      minClientsPerRound: s.minClientsPerRound,
      maxClientsPerRound: s.maxClientsPerRound,
      clientWeightCap: s.clientWeightCap,
      // Under central DP the wrapper clips, and moves C; the base only sums what it is given.
      clipNorm: central ? 0 : s.clipNorm,
      tabsClip: local || s.secureAggregation,
      secureAggregation: s.secureAggregation,
      adaptiveClipping: s.adaptiveClipping && !central,
      clipQuantile: s.clipQuantile,
      clipLearningRate: s.clipLearningRate,
    },
    paramCount,
    central ? null : state,
  );
  if (central) {
    return new DpFedAvg(
      base,
      {
        noiseMultiplier: s.noiseMultiplier,
        samplingRate: s.samplingRate,
        population: s.population,
        delta: s.dpDelta,
        targetEpsilon: s.targetEpsilon,
        clientWeightCap: s.clientWeightCap,
        clipNorm: s.clipNorm,
        adaptiveClipping: s.adaptiveClipping,
        clipQuantile: s.clipQuantile,
        clipLearningRate: s.clipLearningRate,
        clipCountNoise: s.clipCountNoise,
        secureAggregation: s.secureAggregation,
        distributedNoise: s.distributedNoise,
      },
      ledger,
      paramCount,
      secureRng,
      state,
    );
  }
  if (local) return new LocalDp(base, { noiseMultiplier: s.localNoiseMultiplier, clipNorm: s.clipNorm, delta: s.dpDelta }, ledger);
  return base;
}

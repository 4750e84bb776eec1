// Every knob of a training run, in one validated object. The JSON schema below
// is used by the HTTP routes, the config loader and the dashboard alike; its descriptions
// and the defaults make the table in docs/settings.md (server/settings-docs.test.ts checks it).
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { MODEL_NAMES } from './model-spec.ts';
import { AGGREGATION_RULES } from './fl/rules.ts';
import { SERVER_OPTIMIZERS } from './fl/server-optimizer.ts';

export const PARTITIONS = ['iid', 'dirichlet', 'shards', 'quantity'] as const;
export type Partition = (typeof PARTITIONS)[number];

const int = (minimum: number, maximum: number, description: string) => Type.Integer({ minimum, maximum, description });
const num = (minimum: number, maximum: number, description: string) => Type.Number({ minimum, maximum, description });

export const SettingsSchema = Type.Object(
  {
    model: Type.Union(MODEL_NAMES.map((m) => Type.Literal(m)), {
      description: 'model to train: mlp (784-200-200-10, trains on every backend), cnn (2×conv+pool, dense) or mlp-large (784-1024-200-10, 1.01M parameters)',
    }),
    rounds: int(1, 10_000, 'rounds to run before stopping'),
    targetAccuracy: num(0, 1, 'stop once global test accuracy (with centralEvaluation off: the tabs\' federated accuracy) reaches this (1 = never stop early)'),
    fractionClients: num(0, 1, 'fraction of ready tabs selected each round'),
    minClientsPerRound: int(1, 10_000, 'fewest updates a round needs to aggregate; fewer and the round is retried'),
    maxClientsPerRound: int(1, 10_000, 'most tabs selected in one round'),
    minClientsToStart: int(1, 10_000, 'ready tabs needed before the first round opens'),
    localEpochs: int(1, 100, 'local epochs per round on each tab'),
    batchSize: int(1, 4096, 'local mini-batch size'),
    learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10, description: 'local SGD learning rate' }),
    proximalMu: num(0, 100, 'FedProx: each tab adds (μ/2)·‖w − w_global‖² to its local loss, pulling its weights toward the round\'s global model (0 = plain FedAvg; learningRate·μ must stay below 1)'),
    evalFraction: Type.Number({
      minimum: 0,
      exclusiveMaximum: 1,
      description: 'federated evaluation: fraction of its shard each tab holds out and never trains on (< 1); it evaluates every global model it receives on them and reports accuracy, loss and count (0 = off)',
    }),
    centralEvaluation: Type.Boolean({
      description: 'evaluate each global model on the coordinator\'s test set; off: the tabs\' federated evaluation is the round\'s accuracy and decides targetAccuracy (needs evalFraction > 0; not under central DP, where the published accuracy must not come from the tabs\' un-noised figures)',
    }),
    roundDeadlineMs: int(1_000, 3_600_000, 'a round closes after this long even if tabs are missing'),
    clipNorm: num(0, 1e6, 'L2 clip norm C of each delta (0 = no clipping)'),
    noiseMultiplier: num(0, 1e3, 'Gaussian noise std as a multiple of the sensitivity (needs clipNorm > 0)'),
    samplingRate: num(0, 1, 'DP (noiseMultiplier > 0): each ready tab takes part in a round independently with this probability q (Poisson sampling)'),
    population: int(0, 1_000_000, 'DP: tabs the guarantee is about, which sizes the fixed denominator (0 = the tabs that have joined the room)'),
    dpDelta: Type.Number({ exclusiveMinimum: 0, maximum: 0.1, description: 'DP: δ of the (ε, δ) guarantee' }),
    targetEpsilon: num(0, 1e4, 'DP: the run ends before a round would take the ε spent past this budget (0 = no budget; needs noiseMultiplier > 0)'),
    adaptiveClipping: Type.Boolean({ description: 'clipNorm is only the start: C follows the target quantile of the update norms (Andrew et al. 2021); not with local DP' }),
    clipQuantile: num(0, 1, 'adaptive clipping: the fraction of updates C should leave unclipped'),
    clipLearningRate: num(0, 10, 'adaptive clipping: step η of the geometric update C ← C·exp(−η(b − quantile))'),
    clipCountNoise: num(0, 1e6, 'adaptive clipping with DP: std σ_b of the noise on the count of unclipped updates (must exceed noiseMultiplier / 2)'),
    localNoiseMultiplier: num(0, 1e3, 'local DP: each tab clips its delta to clipNorm and adds noise of std z·clipNorm itself before sending (0 = off; excludes noiseMultiplier)'),
    secureAggregation: Type.Boolean({ description: 'the coordinator learns only the sum of each round\'s updates (pairwise masks, Bonawitz et al. 2017); needs clipNorm > 0 and aggregation fedavg' }),
    secAggThreshold: Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'secure aggregation: fraction t/n of the tabs that sent keys needed to unmask (t ≥ 2)' }),
    secAggStepMs: int(1_000, 600_000, 'secure aggregation: deadline of each key, share and unmask step'),
    distributedNoise: Type.Boolean({ description: 'secure aggregation with DP: each tab adds its share of the noise before masking, so no one sees a noise-free sum' }),
    clientWeightCap: int(0, 1e9, 'cap on one tab\'s FedAvg weight in examples (0 = no cap)'),
    aggregation: Type.Union(AGGREGATION_RULES.map((r) => Type.Literal(r)), {
      description: 'how updates are combined: fedavg, median, trimmed-mean, krum, multi-krum or norm-bound (noise needs fedavg or norm-bound)',
    }),
    trimFraction: Type.Number({ minimum: 0, exclusiveMaximum: 0.5, description: 'trimmed-mean: fraction β of values dropped at each end, per coordinate' }),
    byzantineClients: int(0, 1_000, 'krum / multi-krum: attackers f to tolerate (needs at least 2f + 3 updates)'),
    multiKrumKeep: int(0, 10_000, 'multi-krum: updates averaged (0 = n − f)'),
    normBound: Type.Number({ exclusiveMinimum: 0, maximum: 1e6, description: 'norm-bound: updates with a larger L2 norm are dropped (to scale them onto a bound instead, clip them: clipNorm)' }),
    maxUpdateNorm: Type.Number({ exclusiveMinimum: 0, maximum: 1e9, description: 'an update with a larger L2 norm is refused (guards the model against overflow)' }),
    serverOptimizer: Type.Union(SERVER_OPTIMIZERS.map((o) => Type.Literal(o)), {
      description: 'how each round\'s aggregate Δ moves the global model: none (x += Δ, plain FedAvg), fedavgm (server momentum), or adaptive fedadam, fedyogi, fedadagrad (Reddi et al. 2021)',
    }),
    serverLearningRate: Type.Number({
      exclusiveMinimum: 0,
      maximum: 10,
      description: 'server optimizer: step size η (not used by none); the adaptive ones move each value by about η a round, so try 0.01–0.1 with them',
    }),
    serverMomentum: Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'server optimizer: β₁ in [0, 1), fedavgm\'s momentum and the adaptive ones\' decay of the mean step m' }),
    serverBeta2: Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'fedadam, fedyogi: β₂ in [0, 1), the decay of the mean squared step v' }),
    serverTau: Type.Number({ exclusiveMinimum: 0, maximum: 10, description: 'adaptive server optimizers: τ > 0 in the step η·m / (√v + τ); the larger, the less adaptive' }),
    partition: Type.Union(PARTITIONS.map((p) => Type.Literal(p)), {
      description: 'how the training set is split into shards: iid (shuffled, equal sizes), dirichlet (uneven digit mix, dirichletAlpha), shards (about classesPerClient digits each) or quantity (power-law sizes, quantitySkew)',
    }),
    dirichletAlpha: Type.Number({
      exclusiveMinimum: 0,
      maximum: 1000,
      description: 'dirichlet partition: concentration α of each digit\'s spread over the shards, p ~ Dir(α); 0.1 gives each shard a few digits, 100 is close to iid',
    }),
    classesPerClient: int(1, 10, 'shards partition: label-sorted slices per shard, so each shard holds about this many digits (McMahan et al. 2017)'),
    quantitySkew: num(0, 10, 'quantity partition: exponent β of the shard sizes, size_k ∝ (k + 1)^−β (0 = equal sizes), digits iid within a shard; each shard keeps at least 32 examples where the data allows'),
    shards: int(0, 1_000, 'number of shards the 8,000 training digits are split into; tab k gets shard k mod shards. 0: one shard per tab, dealt when the run\'s first round opens, so every digit is in use whatever the number of tabs (tabs joining later share a shard)'),
    seed: int(0, 2 ** 31 - 1, 'seed for the split, the initial weights and, without DP, which tabs are selected; DP noise and DP sampling never use it (they come from the operating system\'s random source)'),
  },
  { additionalProperties: false },
);

export type Settings = Static<typeof SettingsSchema>;

export const DEFAULT_SETTINGS: Settings = {
  model: 'mlp',
  rounds: 20,
  targetAccuracy: 0.95,
  fractionClients: 1,
  minClientsPerRound: 1,
  maxClientsPerRound: 100,
  minClientsToStart: 1,
  localEpochs: 2,
  batchSize: 32,
  learningRate: 0.2,
  proximalMu: 0,
  evalFraction: 0.1,
  centralEvaluation: true,
  roundDeadlineMs: 60_000,
  clipNorm: 0,
  noiseMultiplier: 0,
  samplingRate: 1,
  population: 0,
  dpDelta: 1e-5,
  targetEpsilon: 0,
  adaptiveClipping: false,
  clipQuantile: 0.5,
  clipLearningRate: 0.2,
  clipCountNoise: 1,
  localNoiseMultiplier: 0,
  secureAggregation: false,
  secAggThreshold: 0.6,
  secAggStepMs: 15_000,
  distributedNoise: false,
  clientWeightCap: 0,
  aggregation: 'fedavg',
  trimFraction: 0.1,
  byzantineClients: 1,
  multiKrumKeep: 0,
  normBound: 10,
  maxUpdateNorm: 10_000,
  serverOptimizer: 'none',
  serverLearningRate: 1,
  serverMomentum: 0.9,
  serverBeta2: 0.99,
  serverTau: 1e-3,
  partition: 'iid',
  dirichletAlpha: 0.5,
  classesPerClient: 2,
  quantitySkew: 1,
  shards: 0,
  seed: 42,
};

/**
 * Whether tabs may tell the coordinator statistics of their data (label counts, training loss,
 * held-out evaluation). Not under local DP, where the coordinator is to see only noised updates,
 * nor under secure aggregation, where it is to see only the sum.
 */
export function tabsShareStatistics(s: Pick<Settings, 'localNoiseMultiplier' | 'secureAggregation'>): boolean {
  return !(s.localNoiseMultiplier > 0) && !s.secureAggregation;
}

export class SettingsError extends Error {
  override name = 'SettingsError';
}

/** Merges `partial` over `base` and validates the result; throws SettingsError listing every problem. */
export function resolveSettings(partial: unknown, base: Settings = DEFAULT_SETTINGS): Settings {
  if (typeof partial !== 'object' || partial === null || Array.isArray(partial)) {
    throw new SettingsError('settings must be an object');
  }
  const merged = { ...base, ...partial };
  const problems = [...Value.Errors(SettingsSchema, merged)].map((e) => {
    const key = e.path.replace(/^\//, '') || '(settings)';
    // String() for numbers: JSON.stringify shows NaN and Infinity as "null"
    const got = typeof e.value === 'number' ? String(e.value) : JSON.stringify(e.value);
    return `${key}: ${e.message}${e.path ? ` (got ${got})` : ''}`;
  });
  if (problems.length === 0) problems.push(...crossFieldProblems(merged as Settings));
  if (problems.length > 0) throw new SettingsError(`invalid settings: ${problems.join('; ')}`);
  return merged as Settings;
}

function crossFieldProblems(s: Settings): string[] {
  const problems: string[] = [];
  if (s.minClientsPerRound > s.maxClientsPerRound) {
    problems.push(`minClientsPerRound (${s.minClientsPerRound}) must not exceed maxClientsPerRound (${s.maxClientsPerRound})`);
  }
  if (s.noiseMultiplier > 0 && s.clipNorm === 0) {
    problems.push('noiseMultiplier > 0 needs clipNorm > 0: noise is calibrated to the clip norm');
  }
  if (s.noiseMultiplier > 0 && s.aggregation !== 'fedavg' && s.aggregation !== 'norm-bound') {
    // The noise is calibrated to one tab's bounded share of a weighted sum; a median or Krum has another sensitivity.
    problems.push(`noiseMultiplier > 0 works with aggregation fedavg or norm-bound, not ${s.aggregation}`);
  }
  if (s.localNoiseMultiplier > 0 && s.clipNorm === 0) {
    problems.push('localNoiseMultiplier > 0 needs clipNorm > 0: each tab calibrates its noise to the clip norm');
  }
  if (s.localNoiseMultiplier > 0 && s.noiseMultiplier > 0) {
    problems.push('localNoiseMultiplier and noiseMultiplier exclude each other: local noise leaves updates unbounded, so central noise calibrated to C would not hold');
  }
  if (s.localNoiseMultiplier > 0 && s.adaptiveClipping) {
    problems.push('adaptiveClipping does not work with local DP: the coordinator cannot tell a noised update\'s norm');
  }
  if (s.targetEpsilon > 0 && s.noiseMultiplier === 0) {
    problems.push('targetEpsilon > 0 needs noiseMultiplier > 0: without central noise no ε is spent or bounded');
  }
  if (s.adaptiveClipping && s.clipNorm === 0) problems.push('adaptiveClipping needs clipNorm > 0: the initial clip norm');
  if (s.adaptiveClipping && s.noiseMultiplier > 0 && !(2 * s.clipCountNoise > s.noiseMultiplier)) {
    // Andrew et al. 2021: z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2) is real only when 2σ_b > z.
    problems.push(`adaptiveClipping with noise needs clipCountNoise > noiseMultiplier / 2 (got ${s.clipCountNoise} and ${s.noiseMultiplier})`);
  }
  if (s.secureAggregation && s.clipNorm === 0) {
    problems.push('secureAggregation needs clipNorm > 0: the fixed-point encoding is sized so that clipped updates cannot wrap');
  }
  if (s.secureAggregation && s.aggregation !== 'fedavg') {
    problems.push(`secureAggregation works with aggregation fedavg, not ${s.aggregation}: the coordinator only ever sees the sum`);
  }
  if (s.learningRate * s.proximalMu >= 1) {
    // Each step pulls w toward the global model by a factor (1 − η·μ): at 1 or more it overshoots, at 2 it diverges.
    problems.push(`learningRate × proximalMu must be below 1 (got ${s.learningRate} × ${s.proximalMu}): FedProx's pull would overshoot the global model`);
  }
  if (!s.centralEvaluation && s.noiseMultiplier > 0) {
    // The tabs' own evaluation is not noised: publishing it as the round's accuracy, or stopping on it, would be an uncharged release.
    problems.push('noiseMultiplier > 0 needs centralEvaluation: under central DP the published accuracy must come from the test set, not from the tabs\' un-noised evaluation of their own data');
  }
  if (!s.centralEvaluation && s.evalFraction === 0) {
    problems.push('centralEvaluation off needs evalFraction > 0: without the test set, the tabs\' held-out examples are the only measure of the model');
  }
  if (s.distributedNoise && !(s.secureAggregation && s.noiseMultiplier > 0)) {
    problems.push('distributedNoise needs secureAggregation and noiseMultiplier > 0');
  }
  return problems;
}

// Names runs by what differed between them, in words a class understands: "IID" against
// "Dirichlet α=0.1", "FedAvg" against "FedProx μ=0.01", "DP z=1.1" against "no DP".
//
// A label is made of phrases. An aspect (the split, the algorithm, privacy, …) turns the few
// settings it covers into one phrase, and only the parameters that act under the run's other
// settings appear in it (dirichletAlpha only with partition: dirichlet), so two runs that differ
// only in a parameter neither uses read the same. An aspect is in the labels when its phrases
// differ between the runs. Any other setting that differs, and acts in the runs it differs in,
// adds a plain `name=value`. Settings that only change timing (roundDeadlineMs …) never count.
// Runs left with the same label are told apart by their number: "run 1", "IID (run 3)".
import type { ModelName } from './model-spec.ts';
import { SERVER_OPTIMIZER_NAMES } from './fl/server-optimizer.ts';
import type { AggregationRuleName } from './fl/rules.ts';
import type { Partition, Settings } from './settings.ts';

type Key = keyof Settings;

/** What a label is made from: a run's number and its settings (PastRun has both). */
export interface RunToLabel {
  run: number;
  settings: Settings;
}

/** The number the run after these gets: runs are numbered 1, 2, … in the order they start. */
export function nextRunNumber(runs: readonly { run: number }[]): number {
  return (runs.at(-1)?.run ?? 0) + 1;
}

interface Aspect {
  /** The settings this aspect's phrase speaks for; they are never repeated as name=value. */
  covers: readonly Key[];
  phrase(s: Settings): string;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 'es'}`;

const PARTITION_PHRASES: Record<Partition, (s: Settings) => string> = {
  iid: () => 'IID',
  dirichlet: (s) => `Dirichlet α=${s.dirichletAlpha}`,
  shards: (s) => `${plural(s.classesPerClient, 'class')} per tab`,
  quantity: (s) => `quantity skew β=${s.quantitySkew}`,
};

const RULE_PHRASES: Record<AggregationRuleName, (s: Settings) => string> = {
  fedavg: () => '',
  median: () => 'median',
  'trimmed-mean': (s) => `trimmed mean β=${s.trimFraction}`,
  krum: (s) => `Krum f=${s.byzantineClients}`,
  'multi-krum': (s) => `Multi-Krum f=${s.byzantineClients}${s.multiKrumKeep > 0 ? ` m=${s.multiKrumKeep}` : ''}`,
  'norm-bound': (s) => `norm bound ${s.normBound}`,
};

const MODEL_NAMES: Record<ModelName, string> = { mlp: 'MLP', 'mlp-large': 'large MLP', cnn: 'CNN' };

/** In the order their phrases appear in a label. */
const ASPECTS: readonly Aspect[] = [
  { covers: ['model'], phrase: (s) => MODEL_NAMES[s.model] },
  {
    covers: ['partition', 'dirichletAlpha', 'classesPerClient', 'quantitySkew'],
    phrase: (s) => PARTITION_PHRASES[s.partition](s),
  },
  {
    // What the tabs do (FedProx), how the coordinator steps (server optimizer), how it combines (the rule).
    covers: ['proximalMu', 'serverOptimizer', 'serverLearningRate', 'aggregation', 'trimFraction', 'byzantineClients', 'multiKrumKeep', 'normBound'],
    phrase: (s) => {
      const prox = s.proximalMu > 0 ? `FedProx μ=${s.proximalMu}` : '';
      const server = s.serverOptimizer === 'none' ? '' : `${SERVER_OPTIMIZER_NAMES[s.serverOptimizer]} η=${s.serverLearningRate}`;
      return [prox, server, RULE_PHRASES[s.aggregation](s)].filter((p) => p !== '').join(' + ') || 'FedAvg';
    },
  },
  {
    covers: ['noiseMultiplier', 'localNoiseMultiplier'],
    phrase: (s) => (s.noiseMultiplier > 0 ? `DP z=${s.noiseMultiplier}` : s.localNoiseMultiplier > 0 ? `local DP z=${s.localNoiseMultiplier}` : 'no DP'),
  },
  {
    covers: ['clipNorm', 'adaptiveClipping', 'clipQuantile'],
    phrase: (s) =>
      s.clipNorm === 0 ? 'no clipping' : s.adaptiveClipping ? `adaptive clipping from C=${s.clipNorm} to quantile ${s.clipQuantile}` : `clip C=${s.clipNorm}`,
  },
  {
    covers: ['secureAggregation', 'distributedNoise'],
    phrase: (s) => (!s.secureAggregation ? 'no secure aggregation' : s.distributedNoise ? 'secure aggregation + distributed noise' : 'secure aggregation'),
  },
];

/** Settings that change when things happen, not what is learned. */
const TIMING_ONLY: ReadonlySet<Key> = new Set<Key>(['roundDeadlineMs', 'secAggStepMs', 'minClientsToStart']);

const centralDp = (s: Settings) => s.noiseMultiplier > 0;
const adaptiveServer = (s: Settings) => s.serverOptimizer === 'fedadam' || s.serverOptimizer === 'fedyogi' || s.serverOptimizer === 'fedadagrad';

/** When a setting shown as name=value acts at all; the others act in every run. */
const ACTS_WHEN: Partial<Record<Key, (s: Settings) => boolean>> = {
  fractionClients: (s) => !centralDp(s), // with central DP tabs are Poisson-sampled at samplingRate
  maxClientsPerRound: (s) => !centralDp(s),
  samplingRate: centralDp,
  population: centralDp,
  targetEpsilon: centralDp,
  dpDelta: (s) => centralDp(s) && s.targetEpsilon > 0, // it moves ε, so only a budget makes it change the run
  clipLearningRate: (s) => s.adaptiveClipping,
  clipCountNoise: (s) => s.adaptiveClipping && centralDp(s),
  secAggThreshold: (s) => s.secureAggregation,
  serverMomentum: (s) => s.serverOptimizer !== 'none',
  serverBeta2: (s) => s.serverOptimizer === 'fedadam' || s.serverOptimizer === 'fedyogi',
  serverTau: adaptiveServer,
};

const COVERED: ReadonlySet<Key> = new Set(ASPECTS.flatMap((a) => a.covers));

function nameValue(key: Key, value: Settings[Key]): string {
  return `${key}=${typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value)}`;
}

/** One label per run, in the order given. */
export function labelRuns(runs: readonly RunToLabel[]): string[] {
  const phrases: string[][] = runs.map(() => []);
  const add = (perRun: (string | null)[]) => {
    const shown = perRun.filter((p): p is string => p !== null);
    if (new Set(shown).size < 2) return; // the same everywhere it acts: not a difference
    perRun.forEach((p, i) => p !== null && phrases[i].push(p));
  };
  for (const aspect of ASPECTS) add(runs.map((r) => aspect.phrase(r.settings)));
  const keys = runs.length > 0 ? (Object.keys(runs[0].settings) as Key[]) : [];
  for (const key of keys) {
    if (COVERED.has(key) || TIMING_ONLY.has(key)) continue;
    const acts = ACTS_WHEN[key] ?? (() => true);
    add(runs.map((r) => (acts(r.settings) ? nameValue(key, r.settings[key]) : null)));
  }

  const labels = phrases.map((p) => p.join(', '));
  const count = new Map<string, number>();
  for (const label of labels) count.set(label, (count.get(label) ?? 0) + 1);
  return labels.map((label, i) => {
    if (label === '') return `run ${runs[i].run}`;
    return count.get(label)! > 1 ? `${label} (run ${runs[i].run})` : label;
  });
}

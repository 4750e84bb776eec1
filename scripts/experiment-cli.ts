// The flags of `npm run experiment`: the experiment's own (--clients, --strategy, --target,
// --centralized, --workers, --alpha) and every setting of shared/settings.ts as --kebab-name.
// Each value is checked against its setting's schema here, so a mistake names its flag; the
// whole is then validated by resolveSettings (strategy-presets.ts experimentSettings).
import { decimal, parseFlags, UsageError } from './cli-flags.ts';
import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import { modelSpec } from '../shared/model-spec.ts';
import { SettingsSchema, type Settings } from '../shared/settings.ts';
import { experimentSettings, STRATEGIES, STRATEGY_PRESETS, type StrategyName } from '../harness/experiment/strategy-presets.ts';

export { UsageError };

export interface ExperimentArgs {
  kind: 'run';
  clients: number;
  strategy: StrategyName;
  target: number;
  centralized: boolean;
  workers: number | undefined;
  settings: Settings;
}

type SettingKey = keyof Settings;

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const SETTING_FLAGS = new Map<string, SettingKey>(Object.keys(SettingsSchema.properties).map((key) => [kebab(key), key as SettingKey]));
/** Settings a simulated experiment fixes itself, with what to do instead. */
const REFUSED_SETTINGS: Partial<Record<SettingKey, string>> = {
  shards: 'each client holds its own shard: set --clients',
  evalFraction: 'the simulated clients train on their whole shard and the coordinator evaluates on its test set',
  centralEvaluation: 'the simulated clients do no federated evaluation: the coordinator evaluates on its test set',
};
const ALIASES: Record<string, SettingKey> = { alpha: 'dirichletAlpha' };

export const USAGE = `usage: npm run experiment -- [--clients N] [--rounds R] [--partition iid|dirichlet|shards|quantity] [--alpha A]
         [--classes-per-client K] [--strategy ${STRATEGIES.join('|')}] [--local-epochs E] [--learning-rate LR]
         [--batch-size B] [--seed S] [--target T] [--centralized] [--workers W] [--<setting-name> VALUE …]

  --clients N        simulated clients, each with its own shard, socket and model (default 10)
  --strategy S       a preset of settings (default fedavg):
${STRATEGIES.map((s) => `                       ${s.padEnd(11)} ${describePreset(s)}`).join('\n')}
  --target T         roundsToTarget is the first round with test accuracy >= T (default 0.95); the run
                     still lasts all its rounds (--target-accuracy stops it early)
  --centralized      also train the centralized baseline: centralizedAccuracy and ratio in the JSON
  --workers W        worker threads hosting the clients (default: one per core, at most one per client)
  --alpha A          the same as --dirichlet-alpha
  --<setting-name>   any setting of docs/settings.md in kebab case, e.g. --proximal-mu 0.01,
                     --server-learning-rate 0.03, --fraction-clients 0.5; it overrides the preset
  --help             this text

Progress goes to stderr, one line per round; the last line on stdout is one JSON object.`;

function describePreset(strategy: StrategyName): string {
  const preset = STRATEGY_PRESETS[strategy];
  const shown = Object.entries(preset).filter(([key, value]) => !(key === 'proximalMu' && value === 0) && !(key === 'serverOptimizer' && value === 'none'));
  return shown.length === 0 ? 'plain FedAvg' : shown.map(([key, value]) => `${kebab(key)} ${String(value)}`).join(', ');
}

const OPTIONS = {
  clients: { type: 'string' },
  strategy: { type: 'string' },
  target: { type: 'string' },
  centralized: { type: 'boolean' },
  workers: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...Object.fromEntries([...Object.keys(ALIASES), ...SETTING_FLAGS.keys()].map((flag) => [flag, { type: 'string' as const }])),
} as const;


function integerFlag(flag: string, raw: string, min: number, max: number): number {
  const x = decimal(raw);
  if (!Number.isInteger(x) || x < min || x > max) throw new UsageError(`--${flag} must be an integer in [${min}, ${max}], got '${raw}'`);
  return x;
}

function numberFlag(flag: string, raw: string, min: number, max: number): number {
  const x = decimal(raw);
  if (!(x >= min && x <= max)) throw new UsageError(`--${flag} must be a number in [${min}, ${max}], got '${raw}'`);
  return x;
}

/** A setting's value from its flag, checked against that setting's own schema. */
function settingValue(flag: string, key: SettingKey, raw: string): unknown {
  const schema = SettingsSchema.properties[key] as TSchema & { type?: string; anyOf?: { const?: unknown }[] };
  const choices = schema.anyOf?.map((option) => option.const).filter((c) => c !== undefined);
  let value: unknown = raw;
  if (schema.type === 'number' || schema.type === 'integer') value = decimal(raw);
  else if (schema.type === 'boolean') value = raw === 'true' ? true : raw === 'false' ? false : raw;
  const error = Value.Errors(schema, value).First();
  if (error === undefined) return value;
  if (choices && choices.length > 0) throw new UsageError(`--${flag} must be one of ${choices.join(', ')}, got '${raw}'`);
  if (schema.type === 'boolean') throw new UsageError(`--${flag} must be true or false, got '${raw}'`);
  const what = schema.type === 'integer' ? 'an integer' : 'a number';
  // TypeBox says e.g. "Expected number to be greater than 0": keep the bound, name the flag.
  const bound = /^Expected \w+ to be (.+)$/.exec(error.message)?.[1];
  throw new UsageError(`--${flag} must be ${what}${bound ? ` ${bound}` : ''}, got '${raw}'`);
}

/** What the arguments ask for; throws UsageError (a flag's mistake) or SettingsError (settings that do not fit together). */
export function parseExperimentArgs(argv: string[]): ExperimentArgs | { kind: 'help' } {
  const values = parseFlags(argv, OPTIONS);
  if (values.help) return { kind: 'help' };

  const clients = values.clients === undefined ? 10 : integerFlag('clients', String(values.clients), 1, 1_000);
  const strategy = (values.strategy ?? 'fedavg') as StrategyName;
  if (!STRATEGIES.includes(strategy)) throw new UsageError(`--strategy must be one of ${STRATEGIES.join(', ')}, got '${strategy}'`);
  const target = values.target === undefined ? 0.95 : numberFlag('target', String(values.target), 0, 1);
  const workers = values.workers === undefined ? undefined : integerFlag('workers', String(values.workers), 1, 64);

  const overrides: Partial<Record<SettingKey, unknown>> = {};
  const flagOf = new Map<SettingKey, string>();
  for (const [flag, raw] of Object.entries(values)) {
    const key = ALIASES[flag] ?? SETTING_FLAGS.get(flag);
    if (key === undefined || raw === undefined) continue;
    const refused = REFUSED_SETTINGS[key];
    if (refused) throw new UsageError(`--${flag} is not an experiment flag: ${refused}`);
    const earlier = flagOf.get(key);
    if (earlier) throw new UsageError(`--${flag} and --${earlier} set the same setting: give one of them`);
    flagOf.set(key, flag);
    overrides[key] = settingValue(flag, key, String(raw));
  }
  const settings = experimentSettings(clients, strategy, overrides as Partial<Settings>);
  if (modelSpec(settings.model).hasConvolutions) {
    throw new UsageError(`--model ${settings.model}: the simulated clients train on tfjs wasm in Node, which cannot train convolutions; use mlp or mlp-large`);
  }
  for (const key of ['minClientsToStart', 'minClientsPerRound'] as const) {
    if (settings[key] > clients) throw new UsageError(`--${kebab(key)} ${settings[key]} is more than --clients ${clients}: the run would never start`);
  }
  return { kind: 'run', clients, strategy, target, centralized: values.centralized === true, workers, settings };
}

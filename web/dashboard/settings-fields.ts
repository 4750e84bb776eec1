// The settings form's fields, derived from SettingsSchema (so a new knob shows up in the
// form with its description, under "other"), and the parsing of what was typed into them.
// Pure: no DOM, tested in Node. Range checks are left to the coordinator, which validates
// with the same schema and answers with a message naming the field.
import { SettingsSchema, type Settings } from '../../shared/settings.ts';

export type SettingKey = keyof Settings;

export interface SettingField {
  key: SettingKey;
  label: string;
  description: string;
  group: string;
  /**
   * A choice between fixed values or an on/off switch (both a <select>; a switch offers 'on' and 'off'
   * and is sent as a boolean), or a number (an <input type=number>).
   */
  kind: 'choice' | 'boolean' | 'number';
  choices: string[];
  min?: number;
  max?: number;
  integer: boolean;
  /** The form shows value / scale: the deadline is typed in seconds, sent in ms. */
  scale: number;
  unit: string;
}

interface FieldLook {
  label: string;
  group: string;
  scale?: number;
  unit?: string;
}

const LOOKS: Record<SettingKey, FieldLook> = {
  rounds: { label: 'rounds', group: 'run' },
  targetAccuracy: { label: 'target accuracy', group: 'run', unit: '1 = off' },
  roundDeadlineMs: { label: 'round deadline', group: 'run', scale: 1000, unit: 's' },
  minClientsToStart: { label: 'tabs needed to start', group: 'run' },
  evalFraction: { label: 'held out per tab', group: 'run', unit: '0 = no federated evaluation' },
  centralEvaluation: { label: 'coordinator test set', group: 'run' },
  fractionClients: { label: 'fraction of tabs', group: 'tabs per round', unit: '0–1' },
  minClientsPerRound: { label: 'at least', group: 'tabs per round' },
  maxClientsPerRound: { label: 'at most', group: 'tabs per round' },
  model: { label: 'model', group: 'local training' },
  localEpochs: { label: 'local epochs', group: 'local training' },
  batchSize: { label: 'batch size', group: 'local training' },
  learningRate: { label: 'learning rate', group: 'local training' },
  proximalMu: { label: 'FedProx μ', group: 'local training', unit: '0 = off' },
  partition: { label: 'partition', group: 'data' },
  dirichletAlpha: { label: 'α (dirichlet)', group: 'data', unit: 'small = skewed' },
  classesPerClient: { label: 'digits per shard (shards)', group: 'data' },
  quantitySkew: { label: 'size skew β (quantity)', group: 'data', unit: '0 = equal' },
  shards: { label: 'shards', group: 'data' },
  seed: { label: 'seed', group: 'data' },
  clipNorm: { label: 'clip norm C', group: 'privacy', unit: '0 = off' },
  noiseMultiplier: { label: 'noise multiplier z', group: 'privacy', unit: '0 = off' },
  clientWeightCap: { label: 'weight cap', group: 'privacy', unit: '0 = off' },
  samplingRate: { label: 'sampling rate q', group: 'privacy', unit: '0–1' },
  population: { label: 'population', group: 'privacy', unit: '0 = tabs joined' },
  dpDelta: { label: 'δ', group: 'privacy' },
  targetEpsilon: { label: 'target ε', group: 'privacy', unit: '0 = no budget' },
  adaptiveClipping: { label: 'adaptive clipping', group: 'privacy' },
  clipQuantile: { label: 'clip quantile', group: 'privacy', unit: '0–1' },
  clipLearningRate: { label: 'clip step η', group: 'privacy' },
  clipCountNoise: { label: 'count noise σ_b', group: 'privacy' },
  localNoiseMultiplier: { label: 'local noise z', group: 'privacy', unit: '0 = off' },
  secureAggregation: { label: 'secure aggregation', group: 'secure aggregation' },
  secAggThreshold: { label: 'threshold t/n', group: 'secure aggregation', unit: '0–1' },
  secAggStepMs: { label: 'step deadline', group: 'secure aggregation', scale: 1000, unit: 's' },
  distributedNoise: { label: 'distributed noise', group: 'secure aggregation' },
  aggregation: { label: 'rule', group: 'aggregation' },
  trimFraction: { label: 'trim β (trimmed mean)', group: 'aggregation', unit: 'each end' },
  byzantineClients: { label: 'attackers f (Krum)', group: 'aggregation' },
  multiKrumKeep: { label: 'keep m (Multi-Krum)', group: 'aggregation', unit: '0 = n − f' },
  normBound: { label: 'norm bound', group: 'aggregation' },
  maxUpdateNorm: { label: 'largest update norm', group: 'aggregation' },
  serverOptimizer: { label: 'optimizer', group: 'server optimizer' },
  serverLearningRate: { label: 'server step η', group: 'server optimizer' },
  serverMomentum: { label: 'momentum β₁', group: 'server optimizer', unit: '0–1' },
  serverBeta2: { label: 'β₂ (Adam, Yogi)', group: 'server optimizer', unit: '0–1' },
  serverTau: { label: 'adaptivity τ', group: 'server optimizer' },
};

export const SETTING_GROUPS = ['run', 'tabs per round', 'local training', 'data', 'aggregation', 'server optimizer', 'privacy', 'secure aggregation', 'other'] as const;

/** What an on/off switch shows for true and false. */
const SWITCH_CHOICES = ['on', 'off'] as const;

interface SchemaProperty {
  description?: string;
  type?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  anyOf?: { const?: unknown }[];
}

export function settingFields(): SettingField[] {
  const properties = SettingsSchema.properties as unknown as Record<SettingKey, SchemaProperty>;
  const fields = (Object.keys(properties) as SettingKey[]).map((key): SettingField => {
    const property = properties[key];
    const look: FieldLook = LOOKS[key] ?? { label: key, group: 'other' };
    const isSwitch = property.type === 'boolean';
    const choices = isSwitch ? [...SWITCH_CHOICES] : (property.anyOf ?? []).map((option) => String(option.const));
    return {
      key,
      label: look.label,
      description: property.description ?? '',
      group: look.group,
      kind: isSwitch ? 'boolean' : choices.length > 0 ? 'choice' : 'number',
      choices,
      min: property.minimum ?? property.exclusiveMinimum,
      max: property.maximum,
      integer: property.type === 'integer',
      scale: look.scale ?? 1,
      unit: look.unit ?? '',
    };
  });
  const order = (f: SettingField) => SETTING_GROUPS.indexOf(f.group as (typeof SETTING_GROUPS)[number]);
  return fields.sort((a, b) => order(a) - order(b));
}

/** What a field shows for a setting's value. */
export function formValue(field: SettingField, value: Settings[SettingKey]): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return typeof value === 'number' ? String(value / field.scale) : String(value);
}

export type ParsedForm = { ok: true; changes: Partial<Settings> } | { ok: false; problems: string[] };

/** The settings that differ from `current`, from the form's text values (by key). */
export function changedSettings(fields: readonly SettingField[], values: Record<string, string>, current: Settings): ParsedForm {
  const changes: Record<string, string | number | boolean> = {};
  const problems: string[] = [];
  for (const field of fields) {
    const text = (values[field.key] ?? '').trim();
    let value: string | number | boolean;
    if (field.kind === 'choice') {
      value = text;
    } else if (field.kind === 'boolean') {
      if (text !== 'on' && text !== 'off') {
        problems.push(`${field.label}: choose on or off (got "${text}")`);
        continue;
      }
      value = text === 'on';
    } else {
      const typed = text === '' ? NaN : Number(text);
      if (!Number.isFinite(typed)) {
        problems.push(`${field.label}: enter a number${text === '' ? '' : ` (got "${text}")`}`);
        continue;
      }
      // Rounded after scaling, so 1.5 s is 1500 ms and not 1500.0000000000002.
      value = field.scale === 1 ? typed : Math.round(typed * field.scale);
    }
    if (value !== current[field.key]) changes[field.key] = value;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, changes: changes as Partial<Settings> };
}

// Every setting in force, one row each, labelled with the description the settings
// schema carries, so a new knob shows up here without touching the dashboard.
import { SettingsSchema, type Settings } from '../../shared/settings.ts';
import { formatCount, formatDurationMs, formatPercent, formatStat } from './format.ts';

export interface SettingRow {
  key: string;
  value: string;
  description: string;
}

type Formatters = { [K in keyof Settings]?: (value: Settings[K]) => string };

const FORMATTERS: Formatters = {
  targetAccuracy: (v) => (v >= 1 ? 'never stop early' : formatPercent(v, 1)),
  fractionClients: (v) => formatPercent(v, 0),
  roundDeadlineMs: formatDurationMs,
  clipNorm: (v) => (v === 0 ? 'off' : formatStat(v)),
  noiseMultiplier: (v) => (v === 0 ? 'off' : formatStat(v)),
  clientWeightCap: (v) => (v === 0 ? 'no cap' : `${formatCount(v)} examples`),
  learningRate: formatStat,
  seed: String,
};

function formatValue(key: string, value: unknown): string {
  const format = (FORMATTERS as Record<string, ((v: unknown) => string) | undefined>)[key];
  if (format) return format(value);
  if (typeof value === 'number') return Number.isInteger(value) ? formatCount(value) : formatStat(value);
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function settingRows(settings: Settings): SettingRow[] {
  const properties = SettingsSchema.properties as Record<string, { description?: string }>;
  return Object.entries(settings).map(([key, value]) => ({
    key,
    value: formatValue(key, value),
    description: properties[key]?.description ?? '',
  }));
}

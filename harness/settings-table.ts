// The table of run settings docs/settings.md shows, made from shared/settings.ts: each setting's
// description in SettingsSchema and its default in DEFAULT_SETTINGS, in the schema's order.
// server/settings-docs.test.ts checks the doc against it; scripts/write-settings-docs.ts writes it.
import { DEFAULT_SETTINGS, SettingsSchema, type Settings } from '../shared/settings.ts';

export const RUN_TABLE_HEADER = '| setting | default | meaning |';

/** The run settings table as docs/settings.md must show it, in the schema's order. */
export function runSettingsTable(): string {
  const rows = Object.entries(SettingsSchema.properties).map(([key, property]) => {
    const description = (property as { description?: string }).description?.trim() ?? '';
    if (description === '') throw new Error(`${key} has no description in SettingsSchema (shared/settings.ts): the docs table and the form need one`);
    const value = DEFAULT_SETTINGS[key as keyof Settings];
    return `| \`${key}\` | \`${JSON.stringify(value)}\` | ${description.replaceAll('|', '\\|')} |`;
  });
  return [RUN_TABLE_HEADER, '|---|---|---|', ...rows].join('\n');
}


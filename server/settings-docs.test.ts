// Keeps the settings table in docs/settings.md true: every setting listed, with its real default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SETTINGS } from '../shared/settings.ts';
import { ROOT_DIR } from './data-paths.ts';

test('docs/settings.md lists every setting with its default', () => {
  const readme = readFileSync(join(ROOT_DIR, 'docs', 'settings.md'), 'utf8');
  for (const [key, value] of Object.entries(DEFAULT_SETTINGS)) {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${key}\` |`));
    assert.ok(row, `docs/settings.md has no row for ${key}`);
    assert.ok(row.includes(`\`${JSON.stringify(value)}\``), `docs/settings.md row for ${key} should show default ${JSON.stringify(value)}: ${row}`);
  }
});

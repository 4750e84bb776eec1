// Keeps docs/settings.md true. Its table of run settings is made from shared/settings.ts (each
// setting's description in SettingsSchema and its default in DEFAULT_SETTINGS): the test compares
// the whole table and, when they differ, prints the table to paste. The coordinator's own options
// (server/config.ts) are checked row by row: every option listed once, with its real default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { RUN_TABLE_HEADER, runSettingsTable } from '../harness/settings-table.ts';
import { loadConfig, SERVER_KEYS } from './config.ts';
import { DEFAULT_LIMITS } from './limits/transport-limits.ts';
import { ROOT_DIR } from './data-paths.ts';

const DOC = 'docs/settings.md';
const OPTIONS_TABLE_HEADER = '| option | default | meaning |';

/** The lines of the table that starts at `header`, up to the first line that is not a table row. */
function tableAt(doc: string, header: string): string[] {
  const lines = doc.split('\n');
  const start = lines.indexOf(header);
  assert.notEqual(start, -1, `${DOC} has no table headed "${header}"`);
  const end = lines.findIndex((line, i) => i > start && !line.startsWith('|'));
  return lines.slice(start, end === -1 ? lines.length : end);
}

const doc = readFileSync(join(ROOT_DIR, DOC), 'utf8');

test(`${DOC}: the run settings table is the one made from SettingsSchema and DEFAULT_SETTINGS`, () => {
  const expected = runSettingsTable();
  const actual = tableAt(doc, RUN_TABLE_HEADER).join('\n');
  if (actual !== expected) {
    const actualRows = new Set(actual.split('\n'));
    const wrong = expected.split('\n').filter((row) => !actualRows.has(row));
    const stale = actual.split('\n').filter((row) => !expected.split('\n').includes(row));
    assert.fail(
      `${DOC}'s run settings table does not match shared/settings.ts.\n` +
        `rows the schema makes that ${DOC} lacks:\n${wrong.join('\n') || '(none: the order differs)'}\n` +
        `rows in ${DOC} the schema does not make (stale, or a setting that no longer exists):\n${stale.join('\n') || '(none)'}\n\n` +
        `Run \`npx tsx scripts/write-settings-docs.ts\` to write it, or replace the table in ${DOC} with:\n\n${expected}\n`,
    );
  }
});

test(`${DOC}: every coordinator option is listed once, with its real default and a description`, () => {
  const config = loadConfig([], {});
  const expectedDefaults: Record<string, string> = {
    host: `\`${config.host}\``,
    port: `\`${config.port}\``,
    roomCode: 'generated',
    adminToken: 'generated',
    dataDir: `\`${relative(ROOT_DIR, config.dataDir)}/\``,
    fresh: config.fresh ? 'on' : 'off',
    maxConnections: `\`${DEFAULT_LIMITS.maxConnections}\``,
    maxConnectionsPerAddress: `\`${DEFAULT_LIMITS.maxConnectionsPerAddress}\``,
    messagesPerSecond: `\`${DEFAULT_LIMITS.messagesPerSecond}\``,
    joinsPerMinute: `\`${DEFAULT_LIMITS.joinsPerMinute}\``,
  };
  assert.deepEqual(Object.keys(expectedDefaults).sort(), Object.keys(SERVER_KEYS).sort(), 'this test knows every option of server/config.ts');
  const rows = tableAt(doc, OPTIONS_TABLE_HEADER).slice(2);
  const listed = new Set<string>();
  for (const row of rows) {
    const cells = /^\| `([^`]+)` \| (.+?) \| (.*) \|$/.exec(row);
    assert.ok(cells, `${DOC}: a row should read | \`option\` | default | meaning |, got: ${row}`);
    const [, key, shownDefault, description] = cells;
    assert.ok(key in expectedDefaults, `${DOC} lists ${key}, which server/config.ts does not know`);
    assert.ok(!listed.has(key), `${DOC} lists ${key} twice`);
    listed.add(key);
    assert.equal(shownDefault, expectedDefaults[key as keyof typeof expectedDefaults], `${DOC}: the default of ${key}`);
    assert.notEqual(description.trim(), '', `${DOC}: ${key} has no description`);
  }
  assert.deepEqual([...listed].sort(), Object.keys(SERVER_KEYS).sort(), `${DOC} should list every coordinator option`);
});

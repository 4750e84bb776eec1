// Writes the run settings table of docs/settings.md from shared/settings.ts (harness/settings-table.ts),
// the table server/settings-docs.test.ts checks: `npx tsx scripts/write-settings-docs.ts`.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUN_TABLE_HEADER, runSettingsTable } from '../harness/settings-table.ts';
import { ROOT_DIR } from '../server/data-paths.ts';

const path = join(ROOT_DIR, 'docs', 'settings.md');
const lines = readFileSync(path, 'utf8').split('\n');
const start = lines.indexOf(RUN_TABLE_HEADER);
if (start < 0) throw new Error(`${path} has no table headed "${RUN_TABLE_HEADER}"`);
let end = start;
while (end < lines.length && lines[end].startsWith('|')) end++;
lines.splice(start, end - start, ...runSettingsTable().split('\n'));
writeFileSync(path, lines.join('\n'));
console.log(`wrote the run settings table of ${path}`);

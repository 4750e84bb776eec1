import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SETTINGS, SettingsSchema } from '../../shared/settings.ts';
import { settingRows } from './settings-view.ts';
import { formatCountdown, formatStat } from './format.ts';

test('every setting in the schema has a row with its description', () => {
  const rows = settingRows(DEFAULT_SETTINGS);
  assert.deepEqual(rows.map((r) => r.key).sort(), Object.keys(SettingsSchema.properties).sort());
  for (const row of rows) assert.notEqual(row.description, '', `${row.key} has no description`);
});

test('values read in the units a person thinks in', () => {
  const rows = settingRows({ ...DEFAULT_SETTINGS, roundDeadlineMs: 60_000, fractionClients: 0.25, targetAccuracy: 0.97, clipNorm: 0, clientWeightCap: 1500, seed: 20170217 });
  const value = (key: string) => rows.find((r) => r.key === key)?.value;
  assert.equal(value('roundDeadlineMs'), '60 s');
  assert.equal(value('fractionClients'), '25%');
  assert.equal(value('targetAccuracy'), '97.0%');
  assert.equal(value('clipNorm'), 'off');
  assert.equal(value('clientWeightCap'), '1,500 examples');
  assert.equal(value('seed'), '20170217');
  assert.equal(value('model'), 'mlp');
});

test('number formatting: countdowns round up, stats keep 4 significant digits', () => {
  assert.equal(formatCountdown(65_000), '1:05');
  assert.equal(formatCountdown(3_723_000), '1:02:03');
  assert.equal(formatCountdown(100), '0:01');
  assert.equal(formatCountdown(-5), '0:00');
  assert.equal(formatStat(0.30000000000000004), '0.3');
  assert.equal(formatStat(2.302585), '2.303');
  assert.equal(formatStat(1e-5), '1.00e-5');
});

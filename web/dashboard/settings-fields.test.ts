import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL_NAMES } from '../../shared/model-spec.ts';
import { DEFAULT_SETTINGS, SettingsSchema } from '../../shared/settings.ts';
import { changedSettings, formValue, settingFields } from './settings-fields.ts';

const fields = settingFields();
const field = (key: string) => fields.find((f) => f.key === key)!;
/** The form as it is first shown: every field filled from the settings. */
const filled = (settings = DEFAULT_SETTINGS) => Object.fromEntries(fields.map((f) => [f.key, formValue(f, settings[f.key])]));

test('every setting in the schema has a field with a label and its description', () => {
  assert.deepEqual(fields.map((f) => f.key).sort(), Object.keys(SettingsSchema.properties).sort());
  for (const f of fields) {
    assert.notEqual(f.description, '', `${f.key} has no description`);
    assert.notEqual(f.group, 'other', `${f.key} has no place in the form`);
  }
});

test('fields take their kind and range from the schema', () => {
  assert.deepEqual(field('model').choices, [...MODEL_NAMES]);
  assert.deepEqual(field('partition').choices, ['iid', 'dirichlet', 'shards', 'quantity']);
  assert.equal(field('rounds').kind, 'number');
  assert.equal(field('rounds').integer, true);
  assert.equal(field('rounds').min, 1);
  assert.equal(field('learningRate').integer, false);
  assert.equal(field('learningRate').max, 10);
});

test('the deadline is typed in seconds and sent in milliseconds', () => {
  assert.equal(formValue(field('roundDeadlineMs'), 60_000), '60');
  const result = changedSettings(fields, { ...filled(), roundDeadlineMs: '1.5' }, DEFAULT_SETTINGS);
  assert.deepEqual(result, { ok: true, changes: { roundDeadlineMs: 1500 } });
});

test('only what changed is sent', () => {
  assert.deepEqual(changedSettings(fields, filled(), DEFAULT_SETTINGS), { ok: true, changes: {} });
  const result = changedSettings(fields, { ...filled(), rounds: ' 5 ', model: 'cnn', learningRate: '0.05' }, DEFAULT_SETTINGS);
  assert.deepEqual(result, { ok: true, changes: { rounds: 5, model: 'cnn', learningRate: 0.05 } });
});

test('out-of-range numbers go to the coordinator, which says what is wrong with them', () => {
  const result = changedSettings(fields, { ...filled(), learningRate: '50', rounds: '0' }, DEFAULT_SETTINGS);
  assert.deepEqual(result, { ok: true, changes: { learningRate: 50, rounds: 0 } });
});

test('an empty or non-numeric field is reported by its label, nothing is sent', () => {
  const result = changedSettings(fields, { ...filled(), batchSize: '', seed: 'abc' }, DEFAULT_SETTINGS);
  assert.deepEqual(result, { ok: false, problems: ['batch size: enter a number', 'seed: enter a number (got "abc")'] });
});

test('DP settings sit under privacy, secure aggregation has its own group', () => {
  for (const key of ['samplingRate', 'population', 'dpDelta', 'targetEpsilon', 'adaptiveClipping', 'clipQuantile', 'clipLearningRate', 'clipCountNoise', 'localNoiseMultiplier']) {
    assert.equal(field(key).group, 'privacy', key);
  }
  for (const key of ['secureAggregation', 'secAggThreshold', 'secAggStepMs', 'distributedNoise']) {
    assert.equal(field(key).group, 'secure aggregation', key);
  }
});

test('a boolean setting is an on/off choice, sent back as a boolean', () => {
  assert.equal(field('secureAggregation').kind, 'boolean');
  assert.deepEqual(field('adaptiveClipping').choices, ['on', 'off']);
  assert.equal(formValue(field('adaptiveClipping'), false), 'off');
  assert.equal(formValue(field('adaptiveClipping'), true), 'on');
  const result = changedSettings(fields, { ...filled(), secureAggregation: 'on', distributedNoise: 'off' }, DEFAULT_SETTINGS);
  assert.deepEqual(result, { ok: true, changes: { secureAggregation: true } });
  const bad = changedSettings(fields, { ...filled(), adaptiveClipping: 'yes' }, DEFAULT_SETTINGS);
  assert.deepEqual(bad, { ok: false, problems: ['adaptive clipping: choose on or off (got "yes")'] });
});

test('the secure-aggregation step deadline is typed in seconds like the round deadline', () => {
  assert.equal(formValue(field('secAggStepMs'), 15_000), '15');
  assert.equal(field('secAggStepMs').unit, 's');
  const result = changedSettings(fields, { ...filled(), secAggStepMs: '20' }, DEFAULT_SETTINGS);
  assert.deepEqual(result, { ok: true, changes: { secAggStepMs: 20_000 } });
});

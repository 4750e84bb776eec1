import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SETTINGS, SettingsError, resolveSettings } from './settings.ts';

function rejection(partial: unknown): string {
  try {
    resolveSettings(partial);
  } catch (error) {
    assert.ok(error instanceof SettingsError, `expected a SettingsError, got ${error}`);
    return error.message;
  }
  assert.fail(`settings ${JSON.stringify(partial)} were accepted`);
}

test('the defaults are valid and resolve to themselves', () => {
  assert.deepEqual(resolveSettings({}), DEFAULT_SETTINGS);
});

test('a partial override keeps every other default', () => {
  const s = resolveSettings({ rounds: 5, clipNorm: 1, noiseMultiplier: 1.1 });
  assert.equal(s.rounds, 5);
  assert.equal(s.noiseMultiplier, 1.1);
  assert.equal(s.learningRate, DEFAULT_SETTINGS.learningRate);
});

test('rounds 0 is rejected, naming the field and the value', () => {
  assert.equal(rejection({ rounds: 0 }), 'invalid settings: rounds: Expected integer to be greater or equal to 1 (got 0)');
  assert.match(rejection({ rounds: 2.5 }), /rounds: Expected integer \(got 2.5\)/);
  assert.match(rejection({ rounds: '10' }), /rounds: Expected integer \(got "10"\)/);
  assert.match(rejection({ rounds: Number.NaN }), /rounds: Expected integer \(got NaN\)/);
});

test('fractionClients 1.5 is rejected', () => {
  assert.match(rejection({ fractionClients: 1.5 }), /^invalid settings: fractionClients: .*less or equal to 1 \(got 1.5\)$/);
});

test('learningRate 0 is rejected', () => {
  assert.match(rejection({ learningRate: 0 }), /^invalid settings: learningRate: .*greater than 0 \(got 0\)$/);
});

test("model 'resnet' is rejected", () => {
  assert.match(rejection({ model: 'resnet' }), /^invalid settings: model: .*\(got "resnet"\)$/);
});

test('an unknown key is rejected by name', () => {
  assert.match(rejection({ learningrate: 0.1 }), /^invalid settings: learningrate: Unexpected property/);
});

test('every problem is listed, not just the first', () => {
  const message = rejection({ rounds: 0, batchSize: 0 });
  assert.match(message, /rounds: /);
  assert.match(message, /batchSize: /);
});

test('minClientsPerRound above maxClientsPerRound is rejected', () => {
  assert.equal(
    rejection({ minClientsPerRound: 5, maxClientsPerRound: 3 }),
    'invalid settings: minClientsPerRound (5) must not exceed maxClientsPerRound (3)',
  );
});

test('noise without clipping is rejected', () => {
  assert.equal(
    rejection({ noiseMultiplier: 1 }),
    'invalid settings: noiseMultiplier > 0 needs clipNorm > 0: noise is calibrated to the clip norm',
  );
});

test('central DP judged by the tabs\' own un-noised evaluation is rejected: that accuracy would be an uncharged release', () => {
  assert.match(rejection({ clipNorm: 1, noiseMultiplier: 1, centralEvaluation: false, evalFraction: 0.2 }), /noiseMultiplier > 0 needs centralEvaluation/);
  assert.doesNotThrow(() => resolveSettings({ clipNorm: 1, noiseMultiplier: 1, evalFraction: 0.2 }));
});

test('a non-object is rejected', () => {
  for (const bad of [null, 5, 'rounds=3', [1, 2], undefined]) {
    assert.equal(rejection(bad), 'settings must be an object');
  }
});

test('a custom base is merged under the override', () => {
  const base = resolveSettings({ rounds: 3 });
  assert.equal(resolveSettings({ seed: 7 }, base).rounds, 3);
});

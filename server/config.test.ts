import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KindGuard, type TLiteral } from '@sinclair/typebox';
import { DEFAULT_SETTINGS, resolveSettings, SettingsSchema, type Settings } from '../shared/settings.ts';
import { envName, loadConfig } from './config.ts';

test('no flags and no env give the defaults on port 8080', () => {
  const config = loadConfig([], {});
  assert.deepEqual(config.settings, DEFAULT_SETTINGS);
  assert.equal(config.port, 8080);
  assert.equal(config.host, '0.0.0.0');
});

test('flags and FLOCK_* env vars set settings; flags win', () => {
  assert.equal(envName('roundDeadlineMs'), 'FLOCK_ROUND_DEADLINE_MS');
  const config = loadConfig(['--rounds', '5', '--model=cnn', '--port', '9000'], { FLOCK_ROUNDS: '7', FLOCK_CLIP_NORM: '1.5' });
  assert.equal(config.settings.rounds, 5);
  assert.equal(config.settings.model, 'cnn');
  assert.equal(config.settings.clipNorm, 1.5);
  assert.equal(config.port, 9000);
  assert.equal(loadConfig([], { PORT: '3000' }).port, 3000);
});

test('the admin token and room code are generated unless given; "none" opens the room', () => {
  const generated = loadConfig([], {});
  assert.match(generated.access.roomCode ?? '', /^[A-Z2-9]{6}$/);
  assert.ok(generated.access.adminToken.length >= 16);
  const given = loadConfig(['--roomCode', 'math7'], { FLOCK_ADMIN_TOKEN: 'teacher-secret' });
  assert.deepEqual(given.access, { adminToken: 'teacher-secret', roomCode: 'MATH7' });
  assert.equal(loadConfig(['--roomCode', 'none'], {}).access.roomCode, null);
  assert.throws(() => loadConfig(['--roomCode', 'a b'], {}), /roomCode: 3 to 12 letters/);
  assert.throws(() => loadConfig(['--adminToken', 'short'], {}), /at least 8 characters/);
});

test('bad config is refused with a message naming the setting', () => {
  assert.throws(() => loadConfig(['--rounds', 'ten'], {}), /rounds: expected a number, got "ten"/);
  assert.throws(() => loadConfig(['--rounds', '0'], {}), /rounds: Expected integer to be greater or equal to 1/);
  assert.throws(() => loadConfig(['--bogus', '1'], {}), /unknown setting --bogus/);
  assert.throws(() => loadConfig(['--rounds'], {}), /--rounds needs a value/);
  assert.throws(() => loadConfig(['--port', '70000'], {}), /port: expected an integer/);
  assert.throws(() => loadConfig(['--noise-multiplier'], {}), /needs a value|unknown setting/);
  assert.throws(() => loadConfig(['--noiseMultiplier', '1'], {}), /needs clipNorm > 0/);
});

test('the data dir, --fresh and the transport limits: kebab-case flags, env, defaults and bad values', () => {
  const defaults = loadConfig([], {});
  assert.match(defaults.dataDir, /\.flock-data$/);
  assert.equal(defaults.fresh, false);
  assert.equal(defaults.limits.maxConnectionsPerAddress, 64);
  const given = loadConfig(['--data-dir', '/tmp/run-7', '--fresh', '--max-connections-per-address', '5'], { FLOCK_MESSAGES_PER_SECOND: '9' });
  assert.equal(given.dataDir, '/tmp/run-7');
  assert.equal(given.fresh, true);
  assert.equal(given.limits.maxConnectionsPerAddress, 5);
  assert.equal(given.limits.messagesPerSecond, 9);
  assert.equal(loadConfig([], { FLOCK_DATA_DIR: '/srv/flock' }).dataDir, '/srv/flock');
  assert.throws(() => loadConfig(['--joins-per-minute', '0'], {}), /joinsPerMinute: expected an integer >= 1, got 0/);
  assert.throws(() => loadConfig(['--fresh=maybe'], {}), /fresh: expected true or false/);
  assert.deepEqual(loadConfig(['--roomCode', 'math7'], {}).generated, { adminToken: true, roomCode: false });
});

test('boolean settings are true or false, as a flag, a bare flag or an env var', () => {
  assert.equal(loadConfig(['--secure-aggregation', 'true', '--clip-norm', '1'], {}).settings.secureAggregation, true);
  assert.equal(loadConfig(['--secure-aggregation', '--clip-norm', '1'], {}).settings.secureAggregation, true, 'a bare flag means true');
  assert.equal(loadConfig(['--clip-norm', '1', '--secure-aggregation'], {}).settings.secureAggregation, true, 'also as the last flag');
  assert.equal(loadConfig(['--central-evaluation', 'false'], {}).settings.centralEvaluation, false);
  assert.equal(loadConfig(['--central-evaluation=false'], {}).settings.centralEvaluation, false);
  assert.equal(loadConfig([], { FLOCK_SECURE_AGGREGATION: 'true', FLOCK_CLIP_NORM: '1' }).settings.secureAggregation, true);
  assert.equal(loadConfig(['--fresh', 'true'], {}).fresh, true);
  assert.throws(() => loadConfig(['--secure-aggregation', 'yes'], {}), /^SettingsError: secureAggregation: expected true or false, got "yes"$/);
  assert.throws(() => loadConfig([], { FLOCK_CENTRAL_EVALUATION: '0' }), /^SettingsError: centralEvaluation: expected true or false, got "0"$/);
  assert.throws(() => loadConfig(['--rounds', 'true'], {}), /rounds: expected a number, got "true"/);
});

/** A valid value of `key` other than its default, read off the schema (bounds, literals, type). */
function nonDefaultValue(key: keyof Settings): Settings[keyof Settings] {
  const schema = SettingsSchema.properties[key];
  const current = DEFAULT_SETTINGS[key];
  if (KindGuard.IsBoolean(schema)) return !current;
  if (KindGuard.IsUnion(schema)) {
    const other = schema.anyOf.map((literal) => (literal as TLiteral).const).find((value) => value !== current);
    assert.ok(other !== undefined, `${key} has only one value`);
    return other as Settings[keyof Settings];
  }
  assert.ok(KindGuard.IsNumber(schema) || KindGuard.IsInteger(schema), `${key}: a schema kind this test does not know`);
  const value = current as number;
  const low = schema.minimum ?? schema.exclusiveMinimum!;
  const high = schema.maximum ?? schema.exclusiveMaximum!;
  if (KindGuard.IsInteger(schema)) return value + 1 <= high ? value + 1 : value - 1;
  // Halfway to a bound stays strictly inside it, exclusive or not.
  return value < high ? (value + high) / 2 : (low + value) / 2;
}

/** What a key needs beside it to pass resolveSettings' cross-field rules. */
const COMPANIONS: Partial<Record<keyof Settings, Partial<Settings>>> = {
  noiseMultiplier: { clipNorm: 1 },
  localNoiseMultiplier: { clipNorm: 1 },
  targetEpsilon: { clipNorm: 1, noiseMultiplier: 1 },
  adaptiveClipping: { clipNorm: 1 },
  secureAggregation: { clipNorm: 1 },
  distributedNoise: { clipNorm: 1, noiseMultiplier: 1, secureAggregation: true },
  proximalMu: { learningRate: 0.01 }, // learningRate × proximalMu < 1
};

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

test('every setting can be set both as a flag and as an environment variable', () => {
  const keys = Object.keys(SettingsSchema.properties) as (keyof Settings)[];
  assert.deepEqual(keys.sort(), Object.keys(DEFAULT_SETTINGS).sort());
  for (const key of keys) {
    const value = nonDefaultValue(key);
    const given = { ...COMPANIONS[key], [key]: value };
    const expected = resolveSettings(given);
    assert.notDeepEqual(expected[key], DEFAULT_SETTINGS[key], `${key}: the test value must differ from the default`);

    const flags = Object.entries(given).flatMap(([name, v]) => [`--${kebab(name)}`, String(v)]);
    assert.deepEqual(loadConfig(flags, {}).settings, expected, `${key} as ${flags.join(' ')}`);
    const env = Object.fromEntries(Object.entries(given).map(([name, v]) => [envName(name), String(v)]));
    assert.deepEqual(loadConfig([], env).settings, expected, `${key} as ${JSON.stringify(env)}`);
  }
});

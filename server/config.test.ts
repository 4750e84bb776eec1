import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SETTINGS } from '../shared/settings.ts';
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

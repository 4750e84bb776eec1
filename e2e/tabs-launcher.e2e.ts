// `npm run tabs` fills a room: N headless tabs join a running coordinator, and leave when it stops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ROOT_DIR } from '../server/data-paths.ts';
import { startCoordinator } from '../harness/coordinator.ts';

test('npm run tabs -- --count 3 joins three tabs to a running coordinator with a room code', { timeout: 180_000 }, async () => {
  const coordinator = await startCoordinator({}, { access: { roomCode: 'TABS42' } });
  const joinUrl = coordinator.state().joinUrls[0];
  assert.match(joinUrl, /\?room=TABS42$/);
  const child = spawn('npm', ['run', 'tabs', '--', '--count', '3', '--url', joinUrl, '--backend', 'wasm'], {
    cwd: ROOT_DIR,
    env: process.env,
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true, // its own process group, so the whole npm → tsx → chromium tree can be stopped
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  try {
    const state = await coordinator.waitFor('3 tabs from npm run tabs', (s) => s.clients.filter((c) => c.backend === 'wasm').length === 3, 150_000);
    assert.equal(state.clients.length, 3);
    assert.match(output, /opening 3 tab\(s\)/);
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  await coordinator.waitFor('the tabs to leave', (s) => s.clients.length === 0, 30_000);
  await coordinator.close();
});

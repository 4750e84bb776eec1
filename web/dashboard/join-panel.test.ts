import { test } from 'node:test';
import assert from 'node:assert/strict';
import { displayUrl, isLoopbackUrl, primaryJoinUrl } from './join-panel.ts';

test('the first join URL is shown (the coordinator lists LAN addresses first), else this origin', () => {
  assert.equal(primaryJoinUrl(['http://192.168.1.20:8080/?room=K7PQ', 'http://localhost:8080/?room=K7PQ'], 'http://localhost:8080'), 'http://192.168.1.20:8080/?room=K7PQ');
  assert.equal(primaryJoinUrl([], 'http://localhost:8080'), 'http://localhost:8080/');
});

test('loopback addresses are recognised: only this computer can open them', () => {
  assert.equal(isLoopbackUrl('http://localhost:8080/'), true);
  assert.equal(isLoopbackUrl('http://127.0.0.1:8080/?room=AB12'), true);
  assert.equal(isLoopbackUrl('http://[::1]:8080/'), true);
  assert.equal(isLoopbackUrl('http://10.0.0.7:8080/'), false);
});

test('the URL as people type it: no scheme', () => {
  assert.equal(displayUrl('http://192.168.1.20:8080/?room=K7PQ'), '192.168.1.20:8080/?room=K7PQ');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessError, generateRoomCode, requireAdmin, requireRoomCode } from './access.ts';

const access = { adminToken: 's3cret-token', roomCode: 'K7QX2M' };

test('the admin token is required and must match', () => {
  assert.throws(() => requireAdmin(access, undefined), (e: AccessError) => e.statusCode === 401 && /admin token required/.test(e.message));
  assert.throws(() => requireAdmin(access, 'Bearer nope'), (e: AccessError) => e.statusCode === 403 && /wrong admin token/.test(e.message));
  assert.throws(() => requireAdmin(access, 's3cret-token'), /admin token required/);
  assert.doesNotThrow(() => requireAdmin(access, 'Bearer s3cret-token'));
});

test('the room code is required when the room has one, case-insensitively', () => {
  assert.throws(() => requireRoomCode(access, undefined), (e: AccessError) => e.statusCode === 401);
  assert.throws(() => requireRoomCode(access, 'AAAAAA'), /wrong room code "AAAAAA"/);
  assert.doesNotThrow(() => requireRoomCode(access, 'k7qx2m'));
  assert.doesNotThrow(() => requireRoomCode({ ...access, roomCode: null }, undefined));
});

test('room codes are six unambiguous characters', () => {
  for (let i = 0; i < 50; i++) assert.match(generateRoomCode(), /^[A-HJ-NP-Z2-9]{6}$/);
});

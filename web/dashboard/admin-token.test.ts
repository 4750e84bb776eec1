import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitAdminFragment } from './admin-token.ts';

test('the token comes out of the fragment, the rest of the fragment stays', () => {
  assert.deepEqual(splitAdminFragment('#admin=3f9a2c'), { token: '3f9a2c', rest: '' });
  assert.deepEqual(splitAdminFragment('#admin=3f9a2c&tab=settings'), { token: '3f9a2c', rest: '#tab=settings' });
  assert.deepEqual(splitAdminFragment('#tab=settings'), { token: null, rest: '#tab=settings' });
  assert.deepEqual(splitAdminFragment(''), { token: null, rest: '' });
  assert.deepEqual(splitAdminFragment('#admin='), { token: null, rest: '' });
});

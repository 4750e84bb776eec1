import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advertFromWire, revealFromWire, SecAggWireError, sharesFromWire, sharesToWire } from './wire-codec.ts';
import { MAX_SECAGG_CLIENTS, PUBLIC_KEY_BYTES, REVEAL_RECORD_BYTES, SHARE_CIPHERTEXT_BYTES, SHARE_RECORD_BYTES } from './messages.ts';
import { advertiseAll } from '../../harness/secagg-round.ts';
import { parseInbound } from '../protocol/parse.ts';

const ids = ['tab-a', 'tab-b', 'tab-c'];
const wireError = (pattern: RegExp) => (e: unknown) => e instanceof SecAggWireError && pattern.test(e.message);

test('what real tabs send decodes to what they made; Node Buffers (what Socket.IO decodes binary to) too', async () => {
  const { tabs, roster } = await advertiseAll(ids);
  const tab = tabs.get('tab-a')!;
  const advert = tab.advertise();
  const keys = new Uint8Array(2 * PUBLIC_KEY_BYTES);
  keys.set(advert.cPublicKey, 0);
  keys.set(advert.sPublicKey, PUBLIC_KEY_BYTES);
  assert.deepEqual(advertFromWire({ round: 1, attempt: 1, keys: Buffer.from(keys) }), advert);
  const shares = await tab.shareKeys({ round: 1, attempt: 1, threshold: 2, clients: roster });
  const wire = sharesToWire(shares, ids);
  assert.equal(wire.shares.byteLength, 2 * SHARE_RECORD_BYTES);
  assert.deepEqual(sharesFromWire({ ...wire, shares: Buffer.from(wire.shares as Uint8Array) }, ids), shares);
});

test('refused by size and index before any cryptography: wrong key length, partial records, unknown roster index, too many records', () => {
  assert.throws(() => advertFromWire({ round: 1, attempt: 1, keys: new Uint8Array(129) }), wireError(/keys has 129 bytes, 130 expected/));
  assert.throws(() => sharesFromWire({ round: 1, attempt: 1, shares: new Uint8Array(SHARE_RECORD_BYTES - 1) }, ids), wireError(/not a whole number of 96-byte records/));
  const outOfRoster = new Uint8Array(SHARE_RECORD_BYTES);
  new DataView(outOfRoster.buffer).setUint16(0, 3);
  assert.throws(() => sharesFromWire({ round: 1, attempt: 1, shares: outOfRoster }, ids), wireError(/roster index 3 is out of range \(3 tabs\)/));
  assert.throws(() => sharesFromWire({ round: 1, attempt: 1, shares: new Uint8Array(4 * SHARE_RECORD_BYTES) }, ids), wireError(/4 records, at most 3 expected/));
  const badKind = new Uint8Array(REVEAL_RECORD_BYTES);
  badKind[0] = 2;
  assert.throws(() => revealFromWire({ round: 1, attempt: 1, shares: badKind }, ids), wireError(/kind 2, 0 or 1 expected/));
  assert.equal(SHARE_CIPHERTEXT_BYTES, 94);
});

test('the protocol table bounds each binary field before the codec sees it: a key of the wrong size, a roster-sized flood of shares, round 0', () => {
  const keys = new Uint8Array(2 * PUBLIC_KEY_BYTES);
  assert.deepEqual(parseInbound('secagg:keys', { round: 1, attempt: 1, keys }), { round: 1, attempt: 1, keys });
  assert.throws(() => parseInbound('secagg:keys', { round: 1, attempt: 1, keys: new Uint8Array(64) }), /keys/);
  assert.throws(() => parseInbound('secagg:keys', { round: 0, attempt: 1, keys }), /round/);
  assert.throws(() => parseInbound('secagg:keys', { round: 1, attempt: 1, keys: Array.from(keys) }), /keys must be binary/);
  assert.throws(() => parseInbound('secagg:keys', { round: 1, attempt: 1, keys, extra: 1 }), /too many fields/);
  const flood = new Uint8Array(MAX_SECAGG_CLIENTS * SHARE_RECORD_BYTES);
  assert.throws(() => parseInbound('secagg:shares', { round: 1, attempt: 1, shares: flood }), /shares has 96000 bytes, at most 95904/);
});

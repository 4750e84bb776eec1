import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import { EncryptedSharesSchema, KeyAdvertSchema, MAX_SECAGG_CLIENTS, RevealSchema, SHARE_CIPHERTEXT_BYTES } from './messages.ts';
import { advertiseAll, sharesFor } from '../../harness/secagg-round.ts';
import type { EncryptedShares } from './messages.ts';

test('what real tabs send passes its schema; Node Buffers (what Socket.IO decodes binary to) too', async () => {
  const ids = ['tab-a', 'tab-b', 'tab-c'];
  const { tabs, roster } = await advertiseAll(ids);
  const sent = new Map<string, EncryptedShares>();
  for (const [id, tab] of tabs) {
    const advert = tab.advertise();
    assert.ok(Value.Check(KeyAdvertSchema, advert));
    assert.ok(Value.Check(KeyAdvertSchema, { ...advert, cPublicKey: Buffer.from(advert.cPublicKey) }));
    sent.set(id, await tab.shareKeys({ round: 1, attempt: 1, threshold: 2, clients: roster }));
    assert.ok(Value.Check(EncryptedSharesSchema, sent.get(id)));
  }
  for (const [id, tab] of tabs) await tab.receiveShares({ round: 1, attempt: 1, shared: ids, shares: sharesFor(id, sent) });
  for (const tab of tabs.values()) await tab.maskInput(new Uint32Array(4));
  assert.ok(Value.Check(RevealSchema, tabs.get('tab-a')!.reveal({ round: 1, attempt: 1, survivors: ['tab-a', 'tab-b'] })));
});

test('refused before any cryptography: wrong key or ciphertext length, extra fields, bad ids, too many shares, round 0', () => {
  const key = new Uint8Array(65);
  assert.ok(Value.Check(KeyAdvertSchema, { round: 1, attempt: 1, cPublicKey: key, sPublicKey: key }));
  assert.ok(!Value.Check(KeyAdvertSchema, { round: 1, attempt: 1, cPublicKey: new Uint8Array(64), sPublicKey: key }));
  assert.ok(!Value.Check(KeyAdvertSchema, { round: 1, attempt: 1, cPublicKey: key, sPublicKey: key, extra: 1 }));
  assert.ok(!Value.Check(KeyAdvertSchema, { round: 0, attempt: 1, cPublicKey: key, sPublicKey: key }));
  assert.ok(!Value.Check(KeyAdvertSchema, { round: 1, attempt: 1, cPublicKey: Array.from(key), sPublicKey: key }));
  const share = (to: string, bytes = SHARE_CIPHERTEXT_BYTES) => ({ to, ciphertext: new Uint8Array(bytes) });
  assert.ok(Value.Check(EncryptedSharesSchema, { round: 1, attempt: 1, shares: [share('tab-b')] }));
  assert.ok(!Value.Check(EncryptedSharesSchema, { round: 1, attempt: 1, shares: [share('tab-b', 95)] }));
  assert.ok(!Value.Check(EncryptedSharesSchema, { round: 1, attempt: 1, shares: [share('tab b')] }));
  assert.ok(!Value.Check(EncryptedSharesSchema, { round: 1, attempt: 1, shares: Array.from({ length: MAX_SECAGG_CLIENTS }, (_, i) => share(`t${i}`)) }));
  assert.ok(!Value.Check(RevealSchema, { round: 1, attempt: 1, selfMaskShares: [{ of: 'tab-a', share: new Uint8Array(32) }], keyShares: [] }));
});

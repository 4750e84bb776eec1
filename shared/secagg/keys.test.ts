import { test } from 'node:test';
import assert from 'node:assert/strict';
import { p256 } from '@noble/curves/nist.js';
import { base64UrlToBytes, bytesToBase64Url } from '../base64url.ts';
import { exportPrivateScalar, generateKeyPair, importPrivateScalar, pairwiseMaskKey, selfMaskKey, shareEncryptionKey, sharesAdditionalData } from './keys.ts';
import { maskStream } from './masks.ts';
import { webCrypto } from './web-crypto.ts';

test('base64url agrees with Node\'s for every length 0 … 40, and refuses what is not base64url', () => {
  for (let n = 0; n <= 40; n++) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 97 + n * 13) & 0xff);
    const text = Buffer.from(bytes).toString('base64url');
    assert.equal(bytesToBase64Url(bytes), text);
    assert.deepEqual(base64UrlToBytes(text), bytes);
  }
  assert.throws(() => base64UrlToBytes('ab+c'), /unexpected character "\+"/);
  assert.throws(() => base64UrlToBytes('abcde'), RangeError);
});

test('the exported private scalar is 32 bytes whose public point is the advertised one; imported back it agrees on the same ECDH secret', async () => {
  const [a, b] = [await generateKeyPair(), await generateKeyPair()];
  const scalar = await exportPrivateScalar(a.privateKey);
  assert.equal(scalar.length, 32);
  assert.deepEqual(p256.getPublicKey(scalar, false), a.publicRaw);
  const subtle = webCrypto().subtle;
  const original = await subtle.deriveBits({ name: 'ECDH', public: b.publicKey }, a.privateKey, 256);
  const recovered = await subtle.deriveBits({ name: 'ECDH', public: b.publicKey }, await importPrivateScalar(scalar, a.publicRaw), 256);
  assert.deepEqual(new Uint8Array(recovered), new Uint8Array(original));
});

test('both ends of a pair derive the same mask; another attempt, round or pair derives another', async () => {
  const [u, v, w] = [await generateKeyPair(), await generateKeyPair(), await generateKeyPair()];
  const stream = async (round: number, attempt: number, own: string, peer: string, ownPair = u, peerPair = v) =>
    maskStream(await pairwiseMaskKey({ round, attempt }, own, peer, ownPair.privateKey, peerPair.publicKey), 16);
  const fromU = await stream(1, 1, 'tab-u', 'tab-v');
  assert.deepEqual(await stream(1, 1, 'tab-v', 'tab-u', v, u), fromU);
  assert.notDeepEqual(await stream(1, 2, 'tab-u', 'tab-v'), fromU);
  assert.notDeepEqual(await stream(2, 1, 'tab-u', 'tab-v'), fromU);
  assert.notDeepEqual(await stream(1, 1, 'tab-u', 'tab-w'), fromU); // same keys, ids of another pair
  assert.notDeepEqual(await stream(1, 1, 'tab-u', 'tab-w', u, w), fromU);
  // the self mask of one seed is bound to its owner and attempt too
  const seed = new Uint8Array(32).fill(7);
  const self = await maskStream(await selfMaskKey({ round: 1, attempt: 1 }, 'tab-u', seed), 16);
  assert.notDeepEqual(await maskStream(await selfMaskKey({ round: 1, attempt: 2 }, 'tab-u', seed), 16), self);
  assert.notDeepEqual(await maskStream(await selfMaskKey({ round: 1, attempt: 1 }, 'tab-v', seed), 16), self);
});

test('a share ciphertext of attempt 1 does not decrypt under the same keys in attempt 2, nor with the direction reversed', async () => {
  const [u, v] = [await generateKeyPair(), await generateKeyPair()];
  const subtle = webCrypto().subtle;
  const iv = new Uint8Array(12);
  const keyOf = (attempt: number) => shareEncryptionKey({ round: 1, attempt }, 'tab-u', 'tab-v', u.privateKey, v.publicKey);
  const additionalData = sharesAdditionalData({ round: 1, attempt: 1 }, 'tab-u', 'tab-v');
  const sealed = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv, additionalData }, await keyOf(1), new Uint8Array(66)));
  assert.equal(sealed.length, 66 + 16);
  const vSide = await shareEncryptionKey({ round: 1, attempt: 1 }, 'tab-v', 'tab-u', v.privateKey, u.publicKey);
  assert.deepEqual(new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv, additionalData }, vSide, sealed)), new Uint8Array(66));
  await assert.rejects(subtle.decrypt({ name: 'AES-GCM', iv, additionalData }, await keyOf(2), sealed));
  await assert.rejects(subtle.decrypt({ name: 'AES-GCM', iv, additionalData: sharesAdditionalData({ round: 1, attempt: 1 }, 'tab-v', 'tab-u') }, vSide, sealed));
});

// The keys of secure aggregation. A tab's two P-256 key pairs (c, s) are fresh for every attempt
// of every round, made by WebCrypto; the private scalar of s leaves WebCrypto only to be Shamir
// shared, and comes back into it only at the coordinator, reconstructed, for a tab that dropped.
//
// Every symmetric key comes out of HKDF-SHA256 whose `info` names what it is for: protocol
// version, round, attempt, purpose and the client ids it belongs to. So no key serves two purposes,
// two pairs or two attempts: a share ciphertext or a key advert replayed from another round or
// attempt, or moved to another pair, meets a different key and fails AES-GCM's authentication.
// A pair's ids go in sorted order, so both ends derive the same key.
import { asciiToBytes } from '@noble/curves/utils.js';
import { base64UrlToBytes, bytesToBase64Url } from '../base64url.ts';
import { PUBLIC_KEY_BYTES } from './messages.ts';
import { webCrypto, type WebCryptoKey } from './web-crypto.ts';
import type { SecAggAttempt } from './secagg-error.ts';

/** Changing anything a derivation depends on changes this, so old and new tabs never agree on a key. */
const PROTOCOL = 'flock-secagg-v1';
const ECDH_P256 = { name: 'ECDH', namedCurve: 'P-256' } as const;
const NO_SALT = new Uint8Array(0); // RFC 5869 §2.2: HashLen zeros; the inputs are already uniform or DH secrets

type Purpose = 'share-encryption' | 'pairwise-mask' | 'self-mask' | 'share-aad';

/**
 * Fields as bytes, each prefixed by its length, so that no two lists of fields encode alike
 * ("ab","c" vs "a","bc"). Client ids are ASCII (CLIENT_ID_PATTERN), numbers decimal.
 */
function context(attempt: SecAggAttempt, purpose: Purpose, ids: readonly string[]): Uint8Array {
  const fields = [PROTOCOL, String(attempt.round), String(attempt.attempt), purpose, ...ids].map((f) => asciiToBytes(f));
  const out = new Uint8Array(fields.reduce((n, f) => n + 1 + f.length, 0));
  let at = 0;
  for (const field of fields) {
    if (field.length > 255) throw new RangeError(`key-derivation field of ${field.length} bytes: at most 255`);
    out[at++] = field.length;
    out.set(field, at);
    at += field.length;
  }
  return out;
}

const sortedPair = (a: string, b: string) => (a < b ? [a, b] : [b, a]);

async function hkdfAesKey(secret: Uint8Array, info: Uint8Array, name: 'AES-GCM' | 'AES-CTR'): Promise<WebCryptoKey> {
  const subtle = webCrypto().subtle;
  const base = await subtle.importKey('raw', secret, 'HKDF', false, ['deriveKey']);
  return subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: NO_SALT, info }, base, { name, length: 256 }, false, name === 'AES-GCM' ? ['encrypt', 'decrypt'] : ['encrypt']);
}

async function agree(ownPrivate: WebCryptoKey, peerPublic: WebCryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await webCrypto().subtle.deriveBits({ name: 'ECDH', public: peerPublic }, ownPrivate, 256));
}

export interface EcdhKeyPair {
  publicKey: WebCryptoKey;
  privateKey: WebCryptoKey;
  /** 65 bytes, 0x04 ‖ x ‖ y: what the advert carries. */
  publicRaw: Uint8Array;
}

/** A fresh P-256 ECDH key pair; extractable, so that the private scalar can be exported for sharing. */
export async function generateKeyPair(): Promise<EcdhKeyPair> {
  const subtle = webCrypto().subtle;
  const { publicKey, privateKey } = await subtle.generateKey(ECDH_P256, true, ['deriveBits']);
  return { publicKey, privateKey, publicRaw: new Uint8Array(await subtle.exportKey('raw', publicKey)) };
}

/** The private scalar d of a P-256 key, 32 bytes big-endian (from its JWK `d`). */
export async function exportPrivateScalar(privateKey: WebCryptoKey): Promise<Uint8Array> {
  const { d } = await webCrypto().subtle.exportKey('jwk', privateKey);
  const scalar = d === undefined ? undefined : base64UrlToBytes(d);
  if (scalar?.length !== 32) throw new Error(`WebCrypto exported a P-256 private key without a 32-byte d (${scalar?.length ?? 'no'} bytes)`);
  return scalar;
}

/** A P-256 private key back into WebCrypto from its scalar and its public point (JWK d, x, y), for ECDH. */
export function importPrivateScalar(scalar: Uint8Array, publicRaw: Uint8Array): Promise<WebCryptoKey> {
  if (scalar.length !== 32 || publicRaw.length !== PUBLIC_KEY_BYTES) throw new RangeError('a P-256 private key needs a 32-byte scalar and a 65-byte public point');
  const jwk = { kty: 'EC', crv: 'P-256', d: bytesToBase64Url(scalar), x: bytesToBase64Url(publicRaw.subarray(1, 33)), y: bytesToBase64Url(publicRaw.subarray(33, 65)) } as const;
  return webCrypto().subtle.importKey('jwk', jwk, ECDH_P256, false, ['deriveBits']);
}

/** A P-256 public key from its 65-byte uncompressed encoding, for ECDH. */
export function importPublicKey(raw: Uint8Array): Promise<WebCryptoKey> {
  return webCrypto().subtle.importKey('raw', raw, ECDH_P256, true, []);
}

/** AES-256-GCM key of the pair {a, b} for the Shamir shares they send each other: ECDH of their c keys. */
export async function shareEncryptionKey(attempt: SecAggAttempt, a: string, b: string, ownPrivate: WebCryptoKey, peerPublic: WebCryptoKey): Promise<WebCryptoKey> {
  return hkdfAesKey(await agree(ownPrivate, peerPublic), context(attempt, 'share-encryption', sortedPair(a, b)), 'AES-GCM');
}

/** AES-256-CTR key of the pair {a, b}'s mask s_ab: ECDH of their s keys; both ends derive the same key. */
export async function pairwiseMaskKey(attempt: SecAggAttempt, a: string, b: string, ownPrivate: WebCryptoKey, peerPublic: WebCryptoKey): Promise<WebCryptoKey> {
  return hkdfAesKey(await agree(ownPrivate, peerPublic), context(attempt, 'pairwise-mask', sortedPair(a, b)), 'AES-CTR');
}

/** AES-256-CTR key of `clientId`'s own mask, from its 32-byte seed b. */
export function selfMaskKey(attempt: SecAggAttempt, clientId: string, seed: Uint8Array): Promise<WebCryptoKey> {
  return hkdfAesKey(seed, context(attempt, 'self-mask', [clientId]), 'AES-CTR');
}

/**
 * AES-GCM additional data of the shares `from` sends `to`. Directed, unlike the key: the pair's
 * key is the same both ways, so without it a ciphertext could be reflected back to its sender.
 */
export function sharesAdditionalData(attempt: SecAggAttempt, from: string, to: string): Uint8Array {
  return context(attempt, 'share-aad', [from, to]);
}

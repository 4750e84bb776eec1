// The masks themselves: a pseudorandom uint32 vector as long as the update, expanded from a key.
// The PRG is AES-256-CTR's keystream (WebCrypto's AES-CTR encryption of zeros), read as
// little-endian uint32s: a cryptographic PRG, as the masks must be. A vector masked with a weak
// generator, or one seeded with 32 bits, could be unmasked by anyone who finds its state.
// Every key masks one vector once (keys.ts binds it to the round and attempt), so the
// counter block can start at zero.
import { assertLittleEndian } from '../wire.ts';
import { webCrypto, type WebCryptoKey } from './web-crypto.ts';

assertLittleEndian('secure aggregation masks (the AES-CTR keystream read as uint32)');

const COUNTER_BLOCK = new Uint8Array(16);
/** 64 counter bits: 2⁶⁴ blocks, far beyond any vector; the 64 others are the zero nonce. */
const COUNTER_BITS = 64;

/** Zeros to encrypt: grown to the longest vector seen and shared, since encryption only reads it. */
let zeros = new Uint8Array(0);

/** The mask of `key` for a vector of `length` uint32s. */
export async function maskStream(key: WebCryptoKey, length: number): Promise<Uint32Array> {
  if (zeros.length < 4 * length) zeros = new Uint8Array(4 * length);
  const stream = await webCrypto().subtle.encrypt({ name: 'AES-CTR', counter: COUNTER_BLOCK, length: COUNTER_BITS }, key, zeros.subarray(0, 4 * length));
  return new Uint32Array(stream);
}

export interface SignedMask {
  key: WebCryptoKey;
  sign: 1 | -1;
}

/**
 * Streams expanded ahead of the one being added: WebCrypto encrypts off the main thread, so the
 * next stream is made while this one is added. Two ahead keeps both cores busy and holds at most
 * three streams (3 × 4P bytes) at a time.
 */
const STREAMS_AHEAD = 2;

/** target += Σ sign · mask(key), mod 2³² (a Uint32Array store wraps by itself). */
export async function addMasks(target: Uint32Array, masks: readonly SignedMask[]): Promise<void> {
  const pending: Promise<Uint32Array>[] = [];
  let started = 0;
  const startNext = () => {
    if (started === masks.length) return;
    const stream = maskStream(masks[started++].key, target.length);
    // Awaited in order below; until then a failure of a stream made ahead is not "unhandled".
    stream.catch(() => undefined);
    pending.push(stream);
  };
  for (let k = 0; k < STREAMS_AHEAD; k++) startNext();
  for (const { sign } of masks) {
    const mask = await pending.shift()!;
    startNext();
    if (sign === 1) for (let i = 0; i < target.length; i++) target[i] += mask[i];
    else for (let i = 0; i < target.length; i++) target[i] -= mask[i];
  }
}

/**
 * The sign with which `own` adds the mask it shares with `peer`: + for the smaller client id, −
 * for the larger (string order), so the pair's two masks cancel in the sum.
 */
export function pairwiseSign(own: string, peer: string): 1 | -1 {
  return own < peer ? 1 : -1;
}

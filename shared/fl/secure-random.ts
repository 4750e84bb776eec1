// Randomness nobody can predict, for what privacy rests on: the Gaussian noise of DP (central,
// distributed and local) and the Poisson sampling of tabs. A seeded generator (rng.ts) would let
// anyone who knows the seed subtract the noise again, or know who was sampled; and a 32-bit seed
// drawn at random could still be found by trying all 2³² of them against a published update.
// Its uniforms have 53 bits, so the Gaussian tails drawn from it are not cut short (rng.ts).
import { rngFromBits, type Rng } from './rng.ts';

/** The one WebCrypto call this file needs; every runtime Flock runs in (Node 20, page, worker) has it. */
interface RandomSource {
  getRandomValues(array: Uint32Array): Uint32Array;
}

// getRandomValues fills at most 65,536 bytes per call.
const WORDS_PER_REFILL = 16_384;

/** Uniform 32-bit words from the operating system's CSPRNG, fetched in blocks. */
export function createSecureRng(): Rng {
  const source = (globalThis as unknown as { crypto?: RandomSource }).crypto;
  if (!source || typeof source.getRandomValues !== 'function') {
    throw new Error('no cryptographic random source (globalThis.crypto.getRandomValues) in this runtime');
  }
  const words = new Uint32Array(WORDS_PER_REFILL);
  let next = words.length;
  return rngFromBits(() => {
    if (next === words.length) {
      source.getRandomValues(words);
      next = 0;
    }
    return words[next++];
  }, 53);
}

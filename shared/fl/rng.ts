// Seedable random source so shuffles, sampling and noise are reproducible in tests.
// sfc32: small, fast, passes PractRand well beyond what we draw.

export interface Rng {
  /** Uniform in [0, 1): on a grid of 2⁻³² (seeded), or 2⁻⁵³ (secure-random.ts, where tails matter). */
  next(): number;
  /** Uniform integer in [0, 2³²): 32 raw random bits, for samplers that need speed (ziggurat.ts). */
  uint32(): number;
  /** Standard normal N(0, 1) by Box–Muller (seeded partitions); DP noise draws through ziggurat.ts instead. */
  gaussian(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

export function createRng(seed: number): Rng {
  // The state words a, b, c, d live in an Int32Array, not in closure variables: V8's small
  // integers are 31-bit, so a 32-bit word in a variable the closure keeps reassigning is boxed
  // as a heap number on many updates. Same sequence either way; next() ~120 → ~350 M draws/s.
  const state = Int32Array.of(0x9e3779b9, 0x243f6a88, 0xb7e15162, seed >>> 0);
  const nextU32 = (): number => {
    const a = state[0], b = state[1], c = state[2], d = state[3];
    const t = (((a + b) | 0) + d) | 0;
    state[0] = b ^ (b >>> 9);
    state[1] = (c + (c << 3)) | 0;
    state[2] = (((c << 21) | (c >>> 11)) + t) | 0;
    state[3] = (d + 1) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 15; i++) nextU32(); // mix the seed in
  return rngFromBits(nextU32);
}

/**
 * An Rng over any source of uniform 32-bit words (a seeded generator, or the OS's: secure-random.ts).
 * `uniformBits` 53 builds each uniform from two words, so −log(u) reaches 36.7 instead of 22.2: what
 * a Gaussian tail drawn from it can reach (secure-random.ts uses it for DP noise).
 */
export function rngFromBits(nextU32: () => number, uniformBits: 32 | 53 = 32): Rng {
  let spare = NaN;
  const next = uniformBits === 53 ? () => (nextU32() * 2097152 + (nextU32() >>> 11)) / 9007199254740992 : () => nextU32() / 4294967296;
  return {
    next,
    uint32: nextU32,
    int: (n) => Math.floor(next() * n),
    gaussian() {
      // Box–Muller, polar form avoided to keep the draw count fixed; keeps the second value.
      if (!Number.isNaN(spare)) {
        const value = spare;
        spare = NaN;
        return value;
      }
      const u = 1 - next(); // (0, 1]: log(u) is finite
      const r = Math.sqrt(-2 * Math.log(u));
      const theta = 2 * Math.PI * next();
      spare = r * Math.sin(theta);
      return r * Math.cos(theta);
    },
  };
}

/** Fisher–Yates shuffle in place. */
export function shuffleInPlace<T>(items: T[] | Uint32Array, rng: Rng): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp as never;
  }
}

// Shamir's t-of-n secret sharing (1979) of 32-byte secrets: the secret is the constant term of a
// random polynomial of degree t − 1 over a prime field, share i is the polynomial at x = i. Any t
// shares fix the polynomial (Lagrange interpolation at 0); t − 1 shares are consistent with every
// secret alike, so they say nothing about it.
//
// The field is integers mod P = 2²⁵⁶ + 297, the smallest prime above 2²⁵⁶ (`openssl prime` agrees),
// so that every 32-byte string is a field element as it is: the secret needs no encoding, and a
// share is one field element, 33 bytes big-endian.
import { Field } from '@noble/curves/abstract/modular.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { randomBytes } from './web-crypto.ts';
import { SecAggError } from './secagg-error.ts';

const P = 2n ** 256n + 297n;
const Fp = Field(P);

export const SECRET_BYTES = 32;
/** Bytes of one share's value: a field element mod P > 2²⁵⁶. */
export const SHARE_BYTES = Fp.BYTES;

export interface Share {
  /** Where the polynomial was evaluated: 1, 2, … (never 0, which is the secret). */
  x: number;
  /** The polynomial's value there, SHARE_BYTES big-endian. */
  y: Uint8Array;
}

/**
 * A uniform field element: 257 random bits drawn until they are below P. Reducing mod P instead
 * would make small values twice as likely; a draw is refused with probability 297 / 2²⁵⁷.
 */
function randomFieldElement(): bigint {
  for (;;) {
    const bytes = randomBytes(SHARE_BYTES);
    bytes[0] &= 0x01;
    const value = bytesToNumberBE(bytes);
    if (value < P) return value;
  }
}

function checkThreshold(threshold: number, count: number): void {
  if (!Number.isInteger(threshold) || !Number.isInteger(count) || threshold < 1 || threshold > count) {
    throw new RangeError(`Shamir sharing needs 1 ≤ threshold ≤ count (integers), got threshold ${threshold} of ${count}`);
  }
}

/** `count` shares of `secret` (32 bytes), any `threshold` of which reconstruct it; x = 1 … count. */
export function shareSecret(secret: Uint8Array, threshold: number, count: number): Share[] {
  if (secret.length !== SECRET_BYTES) throw new RangeError(`Shamir sharing takes a ${SECRET_BYTES}-byte secret, got ${secret.length} bytes`);
  checkThreshold(threshold, count);
  // coefficients[0] is the secret; the other t − 1 are uniform, which is what hides it.
  const coefficients = [bytesToNumberBE(secret)];
  for (let k = 1; k < threshold; k++) coefficients.push(randomFieldElement());
  const shares: Share[] = [];
  for (let x = 1; x <= count; x++) {
    let y = 0n; // Horner: (((a_{t−1}) x + a_{t−2}) x + …) x + a_0
    for (let k = threshold - 1; k >= 0; k--) y = Fp.add(Fp.mul(y, BigInt(x)), coefficients[k]);
    shares.push({ x, y: Fp.toBytes(y) });
  }
  return shares;
}

/**
 * The values at `targets` of the one polynomial of degree < points.length through `points`
 * (Lagrange): Σ_i y_i · Π_{j≠i} (z − x_j) / (x_i − x_j). The denominators depend only on the x's
 * and are inverted together, once, so checking k more points costs O(k · t), not O(k · t²).
 */
function interpolate(points: { x: bigint; y: bigint }[], targets: bigint[]): bigint[] {
  const t = points.length;
  const denominators = points.map((pi, i) => {
    let d = 1n;
    for (let j = 0; j < t; j++) if (j !== i) d = Fp.mul(d, Fp.sub(pi.x, points[j].x));
    return d;
  });
  const weights = Fp.invertBatch(denominators).map((inverse, i) => Fp.mul(inverse, points[i].y));
  return targets.map((z) => {
    // prefix[i] = Π_{j<i} (z − x_j), suffix the same from the right: numerator i is their product.
    const factors = points.map((p) => Fp.sub(z, p.x));
    const prefix = new Array<bigint>(t + 1);
    prefix[0] = 1n;
    for (let i = 0; i < t; i++) prefix[i + 1] = Fp.mul(prefix[i], factors[i]);
    let value = 0n;
    let suffix = 1n;
    for (let i = t - 1; i >= 0; i--) {
      value = Fp.add(value, Fp.mul(weights[i], Fp.mul(prefix[i], suffix)));
      suffix = Fp.mul(suffix, factors[i]);
    }
    return value;
  });
}

/**
 * The secret behind `shares`, from the first `threshold` of them; every further share is checked
 * to lie on the same polynomial, so that one wrong share among more than `threshold` is caught
 * rather than silently changing the secret (with exactly `threshold` shares nothing can catch it).
 * Throws SecAggError with fewer than `threshold` shares, a repeated x, a value that is not a field
 * element, shares that disagree, or a result that does not fit 32 bytes.
 */
export function reconstructSecret(shares: readonly Share[], threshold: number): Uint8Array {
  if (!Number.isInteger(threshold) || threshold < 1) throw new RangeError(`threshold must be an integer ≥ 1, got ${threshold}`);
  if (shares.length < threshold) throw new SecAggError(`cannot reconstruct a secret from ${shares.length} shares: ${threshold} are needed`);
  const seen = new Set<number>();
  const points = shares.map(({ x, y }) => {
    if (!Number.isSafeInteger(x) || x < 1) throw new SecAggError(`share at x = ${x}: x must be a positive integer`);
    if (seen.has(x)) throw new SecAggError(`two shares at x = ${x}: each share must come from a different holder`);
    seen.add(x);
    if (y.length !== SHARE_BYTES) throw new SecAggError(`share at x = ${x} has ${y.length} bytes, ${SHARE_BYTES} expected`);
    const value = bytesToNumberBE(y);
    if (value >= P) throw new SecAggError(`share at x = ${x} is not a field element (≥ 2²⁵⁶ + 297)`);
    return { x: BigInt(x), y: value };
  });
  const base = points.slice(0, threshold);
  const extra = points.slice(threshold);
  const [secret, ...predicted] = interpolate(base, [0n, ...extra.map((p) => p.x)]);
  extra.forEach((p, k) => {
    if (predicted[k] !== p.y) throw new SecAggError(`share at x = ${p.x} disagrees with the first ${threshold}: some holder sent a wrong share`);
  });
  if (secret >= 2n ** 256n) throw new SecAggError('the shares reconstruct a value above 32 bytes: they are not shares of one 32-byte secret');
  return numberToBytesBE(secret, SECRET_BYTES);
}

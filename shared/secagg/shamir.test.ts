import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconstructSecret, SHARE_BYTES, shareSecret, type Share } from './shamir.ts';
import { SecAggError } from './secagg-error.ts';

const P = 2n ** 256n + 297n;
const SECRET = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
const value = (share: Share) => BigInt(`0x${Buffer.from(share.y).toString('hex')}`);

/** Every k-subset of 0 … n−1. */
function subsets(n: number, k: number): number[][] {
  if (k === 0) return [[]];
  if (n < k) return [];
  return [...subsets(n - 1, k - 1).map((s) => [...s, n - 1]), ...subsets(n - 1, k)];
}

test('3-of-5: shares at x = 1 … 5, 33 bytes each; every one of the 10 triples, and 4 or 5 shares, give the secret back', () => {
  const shares = shareSecret(SECRET, 3, 5);
  assert.deepEqual(shares.map((s) => s.x), [1, 2, 3, 4, 5]);
  for (const s of shares) assert.equal(s.y.length, SHARE_BYTES);
  assert.equal(SHARE_BYTES, 33);
  const triples = subsets(5, 3);
  assert.equal(triples.length, 10);
  for (const triple of triples) assert.deepEqual(reconstructSecret(triple.map((i) => shares[i]), 3), SECRET, `shares ${triple}`);
  for (const set of [...subsets(5, 4), [0, 1, 2, 3, 4], [4, 2, 0, 3]]) assert.deepEqual(reconstructSecret(set.map((i) => shares[i]), 3), SECRET);
});

test('t − 1 shares are refused; interpolated anyway (as if t were 2) they give another value', () => {
  const shares = shareSecret(SECRET, 3, 5);
  assert.throws(() => reconstructSecret(shares.slice(0, 2), 3), (e: unknown) => e instanceof SecAggError && e.message === 'cannot reconstruct a secret from 2 shares: 3 are needed');
  for (const pair of subsets(5, 2)) assert.notDeepEqual(reconstructSecret(pair.map((i) => shares[i]), 2), SECRET);
});

test('2-of-n shares lie on a line: y₃ = 2·y₂ − y₁ (mod p), and the line through them meets x = 0 at the secret', () => {
  const [s1, s2, s3] = shareSecret(SECRET, 2, 3);
  assert.equal(value(s3), (((2n * value(s2) - value(s1)) % P) + P) % P);
  const secret = (((2n * value(s1) - value(s2)) % P) + P) % P; // the line at x = 0
  assert.equal(secret, BigInt(`0x${Buffer.from(SECRET).toString('hex')}`));
});

test('threshold 1 gives the secret itself; threshold n needs every share', () => {
  for (const s of shareSecret(SECRET, 1, 4)) assert.equal(value(s), BigInt(`0x${Buffer.from(SECRET).toString('hex')}`));
  const shares = shareSecret(SECRET, 4, 4);
  assert.deepEqual(reconstructSecret(shares, 4), SECRET);
  assert.throws(() => reconstructSecret(shares.slice(1), 4), SecAggError);
});

test('the extremes of 32 bytes, all zeros and all 0xff, go through', () => {
  for (const secret of [new Uint8Array(32), new Uint8Array(32).fill(0xff)]) assert.deepEqual(reconstructSecret(shareSecret(secret, 3, 5).slice(2), 3), secret);
});

test('sharing is random: the same secret shared twice gives different shares (same secret back)', () => {
  const [a, b] = [shareSecret(SECRET, 3, 5), shareSecret(SECRET, 3, 5)];
  for (let i = 0; i < 5; i++) assert.notDeepEqual(a[i].y, b[i].y);
  assert.deepEqual(reconstructSecret([a[0], a[3], a[4]], 3), reconstructSecret([b[1], b[2], b[4]], 3));
});

test('refused: a repeated x, a value ≥ p, a wrong share among more than t, a value above 32 bytes', () => {
  const shares = shareSecret(SECRET, 3, 5);
  assert.throws(() => reconstructSecret([shares[0], shares[1], { ...shares[0] }], 3), /two shares at x = 1/);
  assert.throws(() => reconstructSecret([shares[0], shares[1], { x: 3, y: new Uint8Array(33).fill(0xff) }], 3), /share at x = 3 is not a field element/);
  const wrong = { x: 4, y: shares[3].y.map((b, i) => (i === 32 ? b ^ 1 : b)) };
  assert.throws(() => reconstructSecret([shares[0], shares[1], shares[2], wrong], 3), /share at x = 4 disagrees with the first 3/);
  // a constant polynomial p − 1: a field element, but 2²⁵⁶ + 296 does not fit 32 bytes
  const pMinusOne = Uint8Array.from(Buffer.from((P - 1n).toString(16).padStart(66, '0'), 'hex'));
  assert.throws(() => reconstructSecret([{ x: 1, y: pMinusOne }], 1), /reconstruct a value above 32 bytes/);
  assert.throws(() => shareSecret(new Uint8Array(31), 2, 3), RangeError);
  assert.throws(() => shareSecret(SECRET, 4, 3), RangeError);
});

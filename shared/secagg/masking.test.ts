// One masked vector on its own must look like uniform noise whatever the input: that is all the
// coordinator ever sees of one tab. The input here is a ramp, 1000 · i, whose statistics are as far
// from uniform as can be (top bits all 0, low 3 bits all 0, consecutive values 1000 apart), and each
// statistic is first shown to fail on the ramp itself, so the tests would catch masking skipped,
// a mask short of bits, or a mask that repeats. Limits are at p ≈ 10⁻⁶ for uniform data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advertiseAll, sharesFor } from '../../harness/secagg-round.ts';
import type { EncryptedShares } from './messages.ts';

const LENGTH = 65_536;
const RAMP = Uint32Array.from({ length: LENGTH }, (_, i) => 1000 * i);
// χ² limits at p = 10⁻⁶ (Wilson–Hilferty): 15 degrees of freedom → 57.4, 255 → 377.
const CHI2_LIMIT_16_BINS = 57.4;
const CHI2_LIMIT_256_BINS = 377;
/** |r| of two independent uniform vectors of 65,536 values has sd 1/256: 5 sd. */
const CORRELATION_LIMIT = 5 / Math.sqrt(LENGTH);

function chiSquare(values: Uint32Array, bin: (v: number) => number, bins: number): number {
  const counts = new Float64Array(bins);
  for (let i = 0; i < values.length; i++) counts[bin(values[i])]++;
  const expected = values.length / bins;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}
const topFourBits = (v: Uint32Array) => chiSquare(v, (x) => x >>> 28, 16);
const lowEightBits = (v: Uint32Array) => chiSquare(v, (x) => x & 0xff, 256);
/** Top bits of y[i+1] − y[i]: for the ramp always 1000, for a repeating mask too. */
const topBitsOfSteps = (v: Uint32Array) => topFourBits(Uint32Array.from({ length: v.length - 1 }, (_, i) => v[i + 1] - v[i]));

function correlation(a: Uint32Array, b: Uint32Array): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i] / n; mb += b[i] / n; }
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** tab-b's masked ramp in one attempt among three tabs (it adds one pairwise mask, subtracts the other). */
async function maskedRamp(attempt: number): Promise<Uint32Array> {
  const ids = ['tab-a', 'tab-b', 'tab-c'];
  const { tabs, roster } = await advertiseAll(ids, 1, attempt);
  const sent = new Map<string, EncryptedShares>();
  for (const [id, tab] of tabs) sent.set(id, await tab.shareKeys({ round: 1, attempt, threshold: 2, clients: roster }));
  for (const [id, tab] of tabs) await tab.receiveShares({ round: 1, attempt, shared: ids, shares: sharesFor(id, sent) });
  return tabs.get('tab-b')!.maskInput(RAMP);
}

test('the statistics fail on the unmasked ramp, far over their limits', () => {
  assert.ok(topFourBits(RAMP) > 100 * CHI2_LIMIT_16_BINS); // every value in the first of 16 bins
  assert.ok(lowEightBits(RAMP) > 100 * CHI2_LIMIT_256_BINS); // only multiples of 8
  assert.ok(topBitsOfSteps(RAMP) > 100 * CHI2_LIMIT_16_BINS);
  assert.equal(correlation(RAMP, RAMP), 1);
});

test('a masked ramp is uniform in its top and low bits, steps and all, and uncorrelated with the ramp', async () => {
  const masked = await maskedRamp(1);
  assert.ok(topFourBits(masked) < CHI2_LIMIT_16_BINS, `χ² of the top 4 bits ${topFourBits(masked)}`);
  assert.ok(lowEightBits(masked) < CHI2_LIMIT_256_BINS, `χ² of the low 8 bits ${lowEightBits(masked)}`);
  assert.ok(topBitsOfSteps(masked) < CHI2_LIMIT_16_BINS, `χ² of the steps' top 4 bits ${topBitsOfSteps(masked)}`);
  assert.ok(Math.abs(correlation(RAMP, masked)) < CORRELATION_LIMIT, `correlation ${correlation(RAMP, masked)}`);
});

test('the same input masked in two attempts: the two masked vectors differ by uniform noise (masks never repeat)', async () => {
  const [first, second] = [await maskedRamp(1), await maskedRamp(2)];
  const difference = first.map((y, i) => y - second[i]);
  assert.ok(topFourBits(difference) < CHI2_LIMIT_16_BINS, `χ² ${topFourBits(difference)}`);
  assert.ok(lowEightBits(difference) < CHI2_LIMIT_256_BINS, `χ² ${lowEightBits(difference)}`);
  assert.ok(Math.abs(correlation(first, second)) < CORRELATION_LIMIT, `correlation ${correlation(first, second)}`);
});

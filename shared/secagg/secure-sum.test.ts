import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../fl/rng.ts';
import { decodeFixedPoint, encodeFixedPoint, fixedPointScale } from './fixed-point.ts';
import { advertiseAll, runRound, sharesFor } from '../../harness/secagg-round.ts';
import { SecAggError } from './secagg-error.ts';
import { SecureSumUnmasker } from './unmasker.ts';
import type { EncryptedShares, RosterMessage } from './messages.ts';

const IDS = ['tab-a', 'tab-b', 'tab-c', 'tab-d', 'tab-e'];
const THRESHOLD = 3;
const PARAMS = 10_000;
const CLIP = 0.5;
const SCALE = fixedPointScale({ maxAbsSum: IDS.length * CLIP }); // 2.5 → 2²⁹

/** Five distinct plain updates in [−CLIP, CLIP], as float and as fixed point. */
function fiveUpdates() {
  const rng = createRng(2017);
  const floats = new Map(IDS.map((id) => [id, Float32Array.from({ length: PARAMS }, () => (rng.next() * 2 - 1) * CLIP)]));
  const fixed = new Map([...floats].map(([id, v]) => [id, encodeFixedPoint(v, SCALE, rng.next)]));
  return { floats, fixed };
}

/** Σ of the plain fixed-point vectors of `ids`, mod 2³²: what the unmasked sum must be, bit for bit. */
function plainSum(fixed: ReadonlyMap<string, Uint32Array>, ids: readonly string[]): Uint32Array {
  const sum = new Uint32Array(PARAMS);
  for (const id of ids) for (let i = 0; i < PARAMS; i++) sum[i] += fixed.get(id)![i];
  return sum;
}

test('scale for 5 tabs clipped to 0.5 is 2^29: 2.5 · 2^29 = 1.34e9 < 2^31 − 1000', () => {
  assert.equal(SCALE, 2 ** 29);
});

test('no dropouts: the unmasked sum of 5 tabs × 10,000 values is the plain sum, bit for bit', async () => {
  const { floats, fixed } = fiveUpdates();
  const result = await runRound({ threshold: THRESHOLD, inputs: fixed });
  assert.deepEqual(result.survivors, IDS);
  assert.deepEqual(result.recovered, []);
  assert.deepEqual(result.sum, plainSum(fixed, IDS));
  // and decoded it is the float sum to within 5 grid steps (one per term)
  const decoded = decodeFixedPoint(result.sum, SCALE);
  for (let i = 0; i < PARAMS; i++) {
    const exact = IDS.reduce((s, id) => s + floats.get(id)![i], 0);
    assert.ok(Math.abs(decoded[i] - exact) <= 5 / SCALE + Math.abs(exact) * 2 ** -24, `value ${i}: ${decoded[i]} vs ${exact}`);
  }
});

test('a tab that sent shares but no masked input (U2 \\ U3): its pairwise masks are removed with its reconstructed key', async () => {
  const { fixed } = fiveUpdates();
  const result = await runRound({ threshold: THRESHOLD, inputs: fixed, leaveBeforeMasking: ['tab-c'] });
  assert.deepEqual(result.survivors, ['tab-a', 'tab-b', 'tab-d', 'tab-e']);
  assert.deepEqual(result.recovered, ['tab-c']);
  assert.deepEqual(result.sum, plainSum(fixed, ['tab-a', 'tab-b', 'tab-d', 'tab-e']));
});

test('a tab that advertised but never sent shares (not in U2): nobody masks with it', async () => {
  const { fixed } = fiveUpdates();
  const result = await runRound({ threshold: THRESHOLD, inputs: fixed, leaveBeforeSharing: ['tab-b'] });
  assert.deepEqual(result.survivors, ['tab-a', 'tab-c', 'tab-d', 'tab-e']);
  assert.deepEqual(result.recovered, []);
  assert.deepEqual(result.sum, plainSum(fixed, ['tab-a', 'tab-c', 'tab-d', 'tab-e']));
});

test('a survivor that never answers the reveal: fine while t = 3 others do', async () => {
  const { fixed } = fiveUpdates();
  const result = await runRound({ threshold: THRESHOLD, inputs: fixed, silentAtReveal: ['tab-e'] });
  assert.deepEqual(result.revealedBy, ['tab-a', 'tab-b', 'tab-c', 'tab-d']);
  assert.deepEqual(result.sum, plainSum(fixed, IDS));
});

test('all three at once, 7 tabs, t = 4: one leaves before sharing, one before masking, one survivor is silent', async () => {
  const ids = ['tab-a', 'tab-b', 'tab-c', 'tab-d', 'tab-e', 'tab-f', 'tab-g'];
  const rng = createRng(7);
  const fixed = new Map(ids.map((id) => [id, encodeFixedPoint(Float32Array.from({ length: PARAMS }, () => rng.next() - 0.5), SCALE, rng.next)]));
  const result = await runRound({ threshold: 4, inputs: fixed, leaveBeforeSharing: ['tab-f'], leaveBeforeMasking: ['tab-b'], silentAtReveal: ['tab-e'] });
  assert.deepEqual(result.survivors, ['tab-a', 'tab-c', 'tab-d', 'tab-e', 'tab-g']);
  assert.deepEqual(result.recovered, ['tab-b']);
  assert.deepEqual(result.revealedBy, ['tab-a', 'tab-c', 'tab-d', 'tab-g']);
  assert.deepEqual(result.sum, plainSum(fixed, result.survivors));
});

test('fewer than t reveals: SecAggError, and no sum comes out', async () => {
  const { fixed } = fiveUpdates();
  await assert.rejects(
    runRound({ threshold: THRESHOLD, inputs: fixed, leaveBeforeMasking: ['tab-a', 'tab-b'], silentAtReveal: ['tab-c'] }),
    (error: unknown) => error instanceof SecAggError && error.message === 'round 1 attempt 1: only 2 of 3 needed tabs revealed their shares',
  );
});

test('fewer than t masked inputs: SecAggError when the survivors are named, before anyone reveals anything', async () => {
  const { fixed } = fiveUpdates();
  await assert.rejects(
    runRound({ threshold: THRESHOLD, inputs: fixed, leaveBeforeMasking: ['tab-a', 'tab-b', 'tab-c'] }),
    (error: unknown) => error instanceof SecAggError && error.message === 'round 1 attempt 1: only 2 of 3 needed tabs sent a masked input',
  );
});

test('fewer than t tabs sent shares: the unmasker refuses to start, and tabs refuse to go on', async () => {
  const { tabs, roster } = await advertiseAll(IDS.slice(0, 3), 4, 2);
  const rosterMessage: RosterMessage = { round: 4, attempt: 2, threshold: 3, clients: roster };
  const sent = new Map<string, EncryptedShares>();
  for (const id of ['tab-a', 'tab-b']) sent.set(id, await tabs.get(id)!.shareKeys(rosterMessage));
  assert.throws(
    () => new SecureSumUnmasker({ round: 4, attempt: 2, threshold: 3, roster, shared: ['tab-a', 'tab-b'], length: PARAMS }),
    (error: unknown) => error instanceof SecAggError && error.message === 'round 4 attempt 2: only 2 of 3 needed tabs sent their shares',
  );
  await assert.rejects(
    tabs.get('tab-a')!.receiveShares({ round: 4, attempt: 2, shared: ['tab-a', 'tab-b'], shares: sharesFor('tab-a', sent) }),
    /round 4 attempt 2: only 2 of 3 needed tabs sent their shares/,
  );
});

test('a wrong revealed share is caught: a key share that reconstructs another key, a self-mask share that disagrees', async () => {
  const { fixed } = fiveUpdates();
  const { tabs, roster } = await advertiseAll(IDS);
  const rosterMessage: RosterMessage = { round: 1, attempt: 1, threshold: THRESHOLD, clients: roster };
  const sent = new Map<string, EncryptedShares>();
  for (const [id, tab] of tabs) sent.set(id, await tab.shareKeys(rosterMessage));
  for (const [id, tab] of tabs) await tab.receiveShares({ round: 1, attempt: 1, shared: IDS, shares: sharesFor(id, sent) });
  const masked = new Map<string, Uint32Array>();
  for (const id of IDS.slice(0, 4)) masked.set(id, await tabs.get(id)!.maskInput(fixed.get(id)!));
  const reveals = new Map(IDS.slice(0, 4).map((id) => [id, tabs.get(id)!.reveal({ round: 1, attempt: 1, survivors: IDS.slice(0, 4) })]));

  const unmaskerWith = (liar: string, field: 'keyShares' | 'selfMaskShares', revealers: string[]) => {
    const unmasker = new SecureSumUnmasker({ round: 1, attempt: 1, threshold: THRESHOLD, roster, shared: IDS, length: PARAMS });
    for (const [id, y] of masked) unmasker.addMaskedInput(id, y);
    unmasker.unmaskRequest();
    for (const id of revealers) {
      const reveal = reveals.get(id)!;
      const forged = { ...reveal, [field]: reveal[field].map((s) => ({ of: s.of, share: id === liar ? s.share.map((b, i) => (i === 32 ? b ^ 1 : b)) : s.share })) };
      unmasker.addReveal(id, forged);
    }
    return unmasker;
  };
  // exactly t reveals: only the key check can catch it (s_sk_e must match e's advertised public key)
  await assert.rejects(unmaskerWith('tab-b', 'keyShares', ['tab-a', 'tab-b', 'tab-c']).unmask(), /the key reconstructed for tab-e is not the one it advertised/);
  // t + 1 reveals: the fourth share must lie on the polynomial of the first three
  await assert.rejects(unmaskerWith('tab-d', 'selfMaskShares', IDS.slice(0, 4)).unmask(), /disagrees with the first 3: some holder sent a wrong share/);
});

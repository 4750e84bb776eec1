import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SecAggParticipant } from './participant.ts';
import { advertiseAll, sharesFor } from '../../harness/secagg-round.ts';
import { MAX_SECAGG_CLIENTS, type EncryptedShares, type RosterEntry, type RosterMessage } from './messages.ts';
import { SecAggError } from './secagg-error.ts';

const IDS = ['tab-a', 'tab-b', 'tab-c', 'tab-d', 'tab-e'];

const isSecAggError = (pattern: RegExp) => (error: unknown) => error instanceof SecAggError && pattern.test(error.message);

/** Five tabs of round 1 attempt 1 through step 2, every tab in U2. */
async function sharedRound(round = 1, attempt = 1) {
  const { tabs, roster } = await advertiseAll(IDS, round, attempt);
  const rosterMessage: RosterMessage = { round, attempt, threshold: 3, clients: roster };
  const sent = new Map<string, EncryptedShares>();
  for (const [id, tab] of tabs) sent.set(id, await tab.shareKeys(rosterMessage));
  return { tabs, roster, rosterMessage, sent };
}

test('a tab sends one 94-byte ciphertext to each of the 4 others, and advertises two 65-byte points', async () => {
  const tab = await SecAggParticipant.create({ clientId: 'tab-a', round: 1, attempt: 1 });
  const advert = tab.advertise();
  assert.equal(advert.cPublicKey.length, 65);
  assert.equal(advert.sPublicKey.length, 65);
  assert.equal(advert.cPublicKey[0], 0x04);
  assert.notDeepEqual(advert.cPublicKey, advert.sPublicKey);
  const { sent } = await sharedRound();
  const shares = sent.get('tab-c')!.shares;
  assert.deepEqual(shares.map((s) => s.to), ['tab-a', 'tab-b', 'tab-d', 'tab-e']);
  for (const s of shares) assert.equal(s.ciphertext.length, 94);
});

test('a roster that swaps this tab\'s own key is refused: the coordinator would read what is sent to it', async () => {
  const impostor = (await SecAggParticipant.create({ clientId: 'tab-b', round: 1, attempt: 1 })).advertise();
  for (const key of ['cPublicKey', 'sPublicKey'] as const) {
    const { tabs, roster } = await advertiseAll(IDS);
    const clients = roster.map((e) => (e.clientId === 'tab-b' ? { ...e, [key]: impostor[key] } : e));
    await assert.rejects(tabs.get('tab-b')!.shareKeys({ round: 1, attempt: 1, threshold: 3, clients }), isSecAggError(/: the roster holds other keys for this tab \(tab-b\) than it advertised/));
  }
});

test('known limit, no PKI: a tab cannot tell that another tab\'s key was swapped (docs/privacy.md, what secure aggregation does not do)', async () => {
  const { tabs, roster } = await advertiseAll(IDS);
  const coordinatorsOwn = await SecAggParticipant.create({ clientId: 'tab-c', round: 1, attempt: 1 });
  const swapped = roster.map((e) => (e.clientId === 'tab-c' ? { ...e, cPublicKey: coordinatorsOwn.advertise().cPublicKey } : e));
  const sent = await tabs.get('tab-a')!.shareKeys({ round: 1, attempt: 1, threshold: 3, clients: swapped });
  assert.equal(sent.shares.length, 4);
});

test('roster checks: too small a threshold, unsorted, a repeated key, this tab missing, too many tabs', async () => {
  const { roster } = await advertiseAll(IDS);
  const tryRoster = async (threshold: number, clients: RosterEntry[], clientId = 'tab-a') => {
    const tab = await SecAggParticipant.create({ clientId, round: 1, attempt: 1 });
    const own = tab.advertise();
    const withOwn = clients.map((e) => (e.clientId === clientId ? { clientId, cPublicKey: own.cPublicKey, sPublicKey: own.sPublicKey } : e));
    return tab.shareKeys({ round: 1, attempt: 1, threshold, clients: withOwn });
  };
  // t must be more than half of 5, so at least 3
  await assert.rejects(tryRoster(2, roster), isSecAggError(/threshold 2 for a roster of 5 tabs; it must be an integer from 3/));
  await assert.rejects(tryRoster(6, roster), isSecAggError(/threshold 6 for a roster of 5 tabs/));
  await assert.rejects(tryRoster(3, [roster[1], roster[0], ...roster.slice(2)]), isSecAggError(/not sorted by clientId/));
  const copied = roster.map((e) => (e.clientId === 'tab-d' ? { ...e, sPublicKey: roster[2].sPublicKey } : e));
  await assert.rejects(tryRoster(3, copied), isSecAggError(/tab-d's key appears twice/));
  await assert.rejects(tryRoster(3, roster.slice(1), 'tab-z'), isSecAggError(/this tab \(tab-z\) is not in the roster/));
  const huge = Array.from({ length: MAX_SECAGG_CLIENTS + 1 }, (_, i) => ({ ...roster[0], clientId: `t${String(i).padStart(4, '0')}` }));
  await assert.rejects(tryRoster(700, huge), isSecAggError(/roster of 1001 tabs, at most 1000/));
  await assert.rejects(tryRoster(3, roster.map((e) => (e.clientId === 'tab-e' ? { ...e, cPublicKey: e.cPublicKey.map((b, i) => (i === 64 ? b ^ 1 : b)) } : e))), isSecAggError(/tab-e's key in the roster is not an uncompressed P-256 point/));
});

test('a roster or shares of another attempt are refused as stale', async () => {
  const { tabs, roster } = await advertiseAll(IDS, 3, 2);
  await assert.rejects(tabs.get('tab-a')!.shareKeys({ round: 3, attempt: 1, threshold: 3, clients: roster }), isSecAggError(/^round 3 attempt 2: got a roster for round 3 attempt 1: stale or replayed/));
});

test('an advert and shares replayed from attempt 1 into attempt 2 fail to decrypt, naming the sender', async () => {
  const first = await sharedRound(1, 1);
  const replayed = first.tabs.get('tab-b')!;
  // attempt 2: fresh tabs, except that the coordinator puts attempt 1's tab-b advert in the roster...
  const { tabs } = await advertiseAll(IDS, 1, 2);
  const clients = [...tabs].map(([clientId, tab]) => ({ clientId, ...(clientId === 'tab-b' ? replayed : tab).advertise() }));
  const roster: RosterMessage = { round: 1, attempt: 2, threshold: 3, clients: clients.map(({ clientId, cPublicKey, sPublicKey }) => ({ clientId, cPublicKey, sPublicKey })) };
  const sent = new Map<string, EncryptedShares>();
  for (const id of IDS.filter((id) => id !== 'tab-b')) sent.set(id, await tabs.get(id)!.shareKeys(roster));
  // ...and forwards tab-b's ciphertexts of attempt 1
  sent.set('tab-b', first.sent.get('tab-b')!);
  const shares = sharesFor('tab-a', sent);
  await assert.rejects(
    tabs.get('tab-a')!.receiveShares({ round: 1, attempt: 2, shared: IDS, shares }),
    isSecAggError(/^round 1 attempt 2: the shares from tab-b do not decrypt: tampered with, or made for another round, attempt or pair of tabs/),
  );
});

test('a tampered ciphertext, or one moved to another pair, is detected and its sender named', async () => {
  const { tabs, sent } = await sharedRound();
  const forTabA = sharesFor('tab-a', sent);
  const flip = (bytes: Uint8Array, at: number) => bytes.map((b, i) => (i === at ? b ^ 0x80 : b));
  for (const at of [0, 11, 12, 50, 93]) { // iv, first and middle of the shares, last byte of the tag
    const { tabs: again, sent: sentAgain } = await sharedRound();
    const shares = sharesFor('tab-a', sentAgain).map((s) => (s.from === 'tab-d' ? { ...s, ciphertext: flip(s.ciphertext, at) } : s));
    await assert.rejects(again.get('tab-a')!.receiveShares({ round: 1, attempt: 1, shared: IDS, shares }), isSecAggError(/the shares from tab-d do not decrypt/));
  }
  // tab-c's ciphertext for tab-b, handed to tab-a as if from tab-c
  const moved = forTabA.map((s) => (s.from === 'tab-c' ? { from: 'tab-c', ciphertext: sent.get('tab-c')!.shares.find((x) => x.to === 'tab-b')!.ciphertext } : s));
  await assert.rejects(tabs.get('tab-a')!.receiveShares({ round: 1, attempt: 1, shared: IDS, shares: moved }), isSecAggError(/the shares from tab-c do not decrypt/));
  // after a refusal the participant is done for this attempt
  await assert.rejects(tabs.get('tab-a')!.receiveShares({ round: 1, attempt: 1, shared: IDS, shares: forTabA }), isSecAggError(/already left the attempt/));
  // and the genuine shares still decrypt for the others
  await tabs.get('tab-b')!.receiveShares({ round: 1, attempt: 1, shared: IDS, shares: sharesFor('tab-b', sent) });
});

test('U2 must come with exactly one ciphertext from each of its other members', async () => {
  const { tabs, sent } = await sharedRound();
  const shares = sharesFor('tab-a', sent);
  await assert.rejects(tabs.get('tab-a')!.receiveShares({ round: 1, attempt: 1, shared: IDS, shares: shares.slice(1) }), isSecAggError(/U2 lists tab-b, but no shares from them came with it/));
  await assert.rejects(tabs.get('tab-b')!.receiveShares({ round: 1, attempt: 1, shared: IDS, shares: [...sharesFor('tab-b', sent), sharesFor('tab-b', sent)[0]] }), isSecAggError(/sent twice/));
  await assert.rejects(tabs.get('tab-c')!.receiveShares({ round: 1, attempt: 1, shared: ['tab-a', 'tab-b', 'tab-d'], shares: [] }), isSecAggError(/leaves this tab \(tab-c\) out/));
});

test('reveal: a share of b for each survivor, of s_sk for each tab that dropped after sharing, never both', async () => {
  const { tabs, sent } = await sharedRound();
  for (const [id, tab] of tabs) await tab.receiveShares({ round: 1, attempt: 1, shared: IDS, shares: sharesFor(id, sent) });
  const tabA = tabs.get('tab-a')!;
  await tabA.maskInput(new Uint32Array(8));
  await assert.rejects(tabA.maskInput(new Uint32Array(8)), isSecAggError(/cannot mask its input now/));
  const survivors = ['tab-a', 'tab-b', 'tab-d'];
  const reveal = tabA.reveal({ round: 1, attempt: 1, survivors });
  assert.deepEqual(reveal.selfMaskShares.map((s) => s.of), survivors);
  assert.deepEqual(reveal.keyShares.map((s) => s.of), ['tab-c', 'tab-e']);
  for (const s of [...reveal.selfMaskShares, ...reveal.keyShares]) assert.equal(s.share.length, 33);
  // the same question again (a resend) gets the same answer...
  assert.equal(tabA.reveal({ round: 1, attempt: 1, survivors }), reveal);
  // ...another one is refused: with tab-d "dropped" it would now give its s_sk share too
  assert.throws(() => tabA.reveal({ round: 1, attempt: 1, survivors: ['tab-a', 'tab-b', 'tab-c'] }), isSecAggError(/asked to reveal a second time with another set of survivors: refusing/));
});

test('reveal refuses U3 that is not in U2, too small, or leaves this tab out; and a tab that never masked', async () => {
  const { tabs, sent } = await advertiseAll(IDS).then(async ({ tabs, roster }) => {
    const sentShares = new Map<string, EncryptedShares>();
    for (const [id, tab] of tabs) if (id !== 'tab-e') sentShares.set(id, await tab.shareKeys({ round: 1, attempt: 1, threshold: 3, clients: roster }));
    return { tabs, sent: sentShares };
  });
  const shared = ['tab-a', 'tab-b', 'tab-c', 'tab-d'];
  for (const id of shared) await tabs.get(id)!.receiveShares({ round: 1, attempt: 1, shared, shares: sharesFor(id, sent) });
  assert.throws(() => tabs.get('tab-d')!.reveal({ round: 1, attempt: 1, survivors: shared }), isSecAggError(/cannot reveal its shares now/));
  for (const id of shared) await tabs.get(id)!.maskInput(new Uint32Array(4));
  assert.throws(() => tabs.get('tab-a')!.reveal({ round: 1, attempt: 1, survivors: ['tab-a', 'tab-b', 'tab-e'] }), isSecAggError(/U3 \(the survivors\) lists tab-e, which is not among the 4 before it/));
  assert.throws(() => tabs.get('tab-b')!.reveal({ round: 1, attempt: 1, survivors: ['tab-a', 'tab-b'] }), isSecAggError(/only 2 of 3 needed tabs sent a masked input/));
  assert.throws(() => tabs.get('tab-c')!.reveal({ round: 1, attempt: 1, survivors: ['tab-a', 'tab-b', 'tab-d'] }), isSecAggError(/leaves this tab \(tab-c\) out/));
});

test('steps in the wrong order are refused', async () => {
  const tab = await SecAggParticipant.create({ clientId: 'tab-a', round: 1, attempt: 1 });
  await assert.rejects(tab.maskInput(new Uint32Array(4)), isSecAggError(/^round 1 attempt 1: cannot mask its input now: that step follows "received", and this tab is at "advertised"/));
  await assert.rejects(tab.receiveShares({ round: 1, attempt: 1, shared: [], shares: [] }), isSecAggError(/cannot receive shares now/));
});

test('a second roster while the first is still being shared is refused, not shared twice', async () => {
  const { tabs, roster } = await advertiseAll(IDS);
  const message = { round: 1, attempt: 1, threshold: 3, clients: roster };
  const first = tabs.get('tab-a')!.shareKeys(message);
  await assert.rejects(tabs.get('tab-a')!.shareKeys(message), isSecAggError(/cannot share its keys while it is still busy to share its keys: one message at a time/));
  assert.equal((await first).shares.length, 4);
});

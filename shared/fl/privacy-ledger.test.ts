import { test } from 'node:test';
import assert from 'node:assert/strict';
import { epsilonSpent } from './accountant.ts';
import { PrivacyLedger } from './privacy-ledger.ts';

const DELTA = 1e-5;

test('a new ledger has spent nothing: 0 rounds, ε = 0, order NaN, no tab charged', () => {
  const ledger = new PrivacyLedger();
  assert.equal(ledger.rounds, 0);
  assert.deepEqual(ledger.epsilon(DELTA), { epsilon: 0, order: NaN });
  assert.equal(ledger.worstTab(DELTA), null);
});

test('spend merges equal steps into the last spend, and only into the last', () => {
  const ledger = new PrivacyLedger();
  for (let k = 0; k < 3; k++) ledger.spend(0.01, 1.1);
  ledger.spend(0.02, 1.1);
  ledger.spend(0.02, 1.1);
  ledger.spend(0.01, 1.1);
  assert.equal(ledger.rounds, 6);
  assert.deepEqual(ledger.state().spends, [
    { samplingRate: 0.01, noiseMultiplier: 1.1, rounds: 3 },
    { samplingRate: 0.02, noiseMultiplier: 1.1, rounds: 2 },
    { samplingRate: 0.01, noiseMultiplier: 1.1, rounds: 1 },
  ]);
  assert.deepEqual(ledger.epsilon(DELTA), epsilonSpent({ spends: ledger.state().spends, delta: DELTA }));
});

test('1000 steps at q = 0.01, z = 1.1 are one spend of 1000 rounds, with that spend\'s ε at the δ asked for', () => {
  const ledger = new PrivacyLedger();
  for (let k = 0; k < 1000; k++) ledger.spend(0.01, 1.1);
  assert.deepEqual(ledger.state().spends, [{ samplingRate: 0.01, noiseMultiplier: 1.1, rounds: 1000 }]);
  const expected = epsilonSpent({ spends: [{ samplingRate: 0.01, noiseMultiplier: 1.1, rounds: 1000 }], delta: DELTA });
  assert.deepEqual(ledger.epsilon(DELTA), expected);
  assert.ok(expected.epsilon > 1 && expected.epsilon < 3, `ε ${expected.epsilon}`); // 1.71, at order 9.6
  assert.ok(ledger.epsilon(1e-7).epsilon > expected.epsilon, 'a smaller δ costs more ε from the same spends');
});

test('epsilonAfterNext is what spending would report, and spends nothing', () => {
  const ledger = new PrivacyLedger({ spends: [{ samplingRate: 0.05, noiseMultiplier: 0.9, rounds: 40 }], local: {}, resets: [] });
  const before = ledger.epsilon(DELTA);
  for (const [q, z] of [[0.05, 0.9], [0.05, 1.5]]) {
    const next = ledger.epsilonAfterNext(q, z, DELTA);
    assert.deepEqual(ledger.epsilon(DELTA), before);
    assert.equal(ledger.rounds, 40);
    assert.ok(next.epsilon > before.epsilon);
    const spent = new PrivacyLedger(ledger.state());
    spent.spend(q, z);
    assert.deepEqual(spent.epsilon(DELTA), next);
  }
});

test('local DP: every noised update is one Gaussian step of that tab alone; the worst tab is the one that sent most', () => {
  const ledger = new PrivacyLedger();
  for (let k = 0; k < 5; k++) ledger.chargeUpload('tab-a', 0.5);
  for (let k = 0; k < 2; k++) ledger.chargeUpload('tab-b', 0.5);
  const worst = ledger.worstTab(DELTA)!;
  assert.equal(worst.clientId, 'tab-a');
  assert.equal(worst.uploads, 5);
  assert.equal(worst.epsilon, epsilonSpent({ spends: [{ samplingRate: 1, noiseMultiplier: 0.5, rounds: 5 }], delta: DELTA }).epsilon);
  assert.equal(ledger.rounds, 0, 'local charges are no central rounds');
});

test('state() round-trips through JSON into identical figures, and is a copy', () => {
  const ledger = new PrivacyLedger();
  for (let k = 0; k < 25; k++) ledger.spend(0.1, 1.3);
  ledger.spend(0.2, 2);
  ledger.chargeUpload('tab-a', 1);
  const restored = new PrivacyLedger(JSON.parse(JSON.stringify(ledger.state())));
  assert.deepEqual(restored.epsilon(DELTA), ledger.epsilon(DELTA));
  assert.deepEqual(restored.worstTab(DELTA), ledger.worstTab(DELTA));
  assert.equal(restored.rounds, 26);

  const snapshot = ledger.state();
  snapshot.spends[0].rounds = 1;
  snapshot.spends.push({ samplingRate: 1, noiseMultiplier: 0.1, rounds: 99 });
  ledger.spend(0.2, 2);
  assert.equal(ledger.rounds, 27);
  assert.equal(snapshot.spends[1].rounds, 1);
});

test('a reset forgets the spends and keeps a record of what it forgot', () => {
  const ledger = new PrivacyLedger();
  for (let k = 0; k < 7; k++) ledger.spend(0.5, 1.1);
  ledger.chargeUpload('tab-a', 1);
  ledger.chargeUpload('tab-b', 1);
  assert.deepEqual(ledger.reset(1234), { at: 1234, rounds: 7, uploads: 2 });
  assert.equal(ledger.rounds, 0);
  assert.equal(ledger.worstTab(DELTA), null);
  assert.deepEqual(new PrivacyLedger(ledger.state()).resets, [{ at: 1234, rounds: 7, uploads: 2 }]);
});

test('bad state and bad steps are refused, saying which spend and what is allowed', () => {
  assert.throws(
    () => new PrivacyLedger({ spends: [{ samplingRate: 0.1, noiseMultiplier: 1, rounds: 2 }, { samplingRate: 0.1, noiseMultiplier: 1, rounds: 1.5 }], local: {}, resets: [] }),
    /privacy ledger state: spends\[1\]: rounds must be an integer >= 0, got 1.5/,
  );
  assert.throws(() => new PrivacyLedger({ spends: [{ samplingRate: '0.1', noiseMultiplier: 1, rounds: 2 }], local: {}, resets: [] } as never), /spends\[0\]: sampling rate q must be in \[0, 1\]/);
  assert.throws(() => new PrivacyLedger({ spends: [], local: { 'tab-a': [{ samplingRate: 1, noiseMultiplier: -1, rounds: 1 }] }, resets: [] }), /local\.tab-a\[0\]: noise multiplier/);
  assert.throws(() => new PrivacyLedger({ spends: [], local: {}, resets: [{ at: 'x' }] } as never), /resets\[0\] must be/);
  assert.throws(() => new PrivacyLedger(null as never), /privacy ledger state must be \{ spends/);
  assert.throws(() => new PrivacyLedger({ spends: [] } as never), /privacy ledger state must be \{ spends/);
  const ledger = new PrivacyLedger();
  assert.throws(() => ledger.spend(1.2, 1), /sampling rate q must be in \[0, 1\]/);
  assert.throws(() => ledger.epsilonAfterNext(0.1, -1, DELTA), /noise multiplier z must be finite and >= 0/);
  assert.throws(() => ledger.epsilon(0), /delta must be in \(0, 1\)/);
  assert.equal(ledger.rounds, 0);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { epsilonSpent } from './accountant.ts';
import { PrivacyLedger } from './privacy-ledger.ts';

test('a new ledger has spent nothing: 0 rounds, ε = 0, order NaN', () => {
  const ledger = new PrivacyLedger({ delta: 1e-5, spends: [] });
  assert.equal(ledger.rounds, 0);
  assert.deepEqual(ledger.epsilon(), { epsilon: 0, order: NaN });
});

test('spend merges equal steps into the last spend, and only into the last', () => {
  const ledger = new PrivacyLedger({ delta: 1e-5, spends: [] });
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
  assert.deepEqual(ledger.epsilon(), epsilonSpent(ledger.state()));
});

test('1000 steps at q = 0.01, z = 1.1 are one spend of 1000 rounds, with that spend\'s ε', () => {
  const ledger = new PrivacyLedger({ delta: 1e-5, spends: [] });
  for (let k = 0; k < 1000; k++) ledger.spend(0.01, 1.1);
  assert.deepEqual(ledger.state().spends, [{ samplingRate: 0.01, noiseMultiplier: 1.1, rounds: 1000 }]);
  const expected = epsilonSpent({ spends: [{ samplingRate: 0.01, noiseMultiplier: 1.1, rounds: 1000 }], delta: 1e-5 });
  assert.deepEqual(ledger.epsilon(), expected);
  assert.ok(expected.epsilon > 1 && expected.epsilon < 3, `ε ${expected.epsilon}`); // 1.71, at order 9.6
});

test('epsilonAfterNext is what spending would report, and spends nothing', () => {
  const ledger = new PrivacyLedger({ delta: 1e-5, spends: [{ samplingRate: 0.05, noiseMultiplier: 0.9, rounds: 40 }] });
  const before = ledger.epsilon();
  for (const [q, z] of [[0.05, 0.9], [0.05, 1.5]]) {
    const next = ledger.epsilonAfterNext(q, z);
    assert.deepEqual(ledger.epsilon(), before);
    assert.equal(ledger.rounds, 40);
    assert.ok(next.epsilon > before.epsilon);
    const spent = new PrivacyLedger(ledger.state());
    spent.spend(q, z);
    assert.deepEqual(spent.epsilon(), next);
  }
});

test('state() round-trips through JSON into an identical ε, and is a copy', () => {
  const ledger = new PrivacyLedger({ delta: 1e-6, spends: [] });
  for (let k = 0; k < 25; k++) ledger.spend(0.1, 1.3);
  ledger.spend(0.2, 2);
  const restored = new PrivacyLedger(JSON.parse(JSON.stringify(ledger.state())));
  assert.deepEqual(restored.epsilon(), ledger.epsilon());
  assert.equal(restored.rounds, 26);

  const snapshot = ledger.state();
  snapshot.spends[0].rounds = 1;
  snapshot.spends.push({ samplingRate: 1, noiseMultiplier: 0.1, rounds: 99 });
  ledger.spend(0.2, 2);
  assert.equal(ledger.rounds, 27);
  assert.equal(snapshot.spends[1].rounds, 1);

  const input = { delta: 1e-5, spends: [{ samplingRate: 0.1, noiseMultiplier: 1, rounds: 5 }] };
  const fromInput = new PrivacyLedger(input);
  input.spends[0].rounds = 500;
  assert.equal(fromInput.rounds, 5);
});

test('bad state and bad steps are refused, saying which spend and what is allowed', () => {
  assert.throws(() => new PrivacyLedger({ delta: 0, spends: [] }), /delta must be in \(0, 1\)/);
  assert.throws(
    () => new PrivacyLedger({ delta: 1e-5, spends: [{ samplingRate: 0.1, noiseMultiplier: 1, rounds: 2 }, { samplingRate: 0.1, noiseMultiplier: 1, rounds: 1.5 }] }),
    /privacy ledger state: spends\[1\]: rounds must be an integer >= 0, got 1.5/,
  );
  assert.throws(() => new PrivacyLedger({ delta: 1e-5, spends: [{ samplingRate: '0.1', noiseMultiplier: 1, rounds: 2 }] } as never), /spends\[0\]: sampling rate q must be in \[0, 1\]/);
  assert.throws(() => new PrivacyLedger(null as never), /privacy ledger state must be \{ delta, spends/);
  assert.throws(() => new PrivacyLedger({ delta: 1e-5 } as never), /privacy ledger state must be \{ delta, spends/);
  const ledger = new PrivacyLedger({ delta: 1e-5, spends: [] });
  assert.throws(() => ledger.spend(1.2, 1), /sampling rate q must be in \[0, 1\]/);
  assert.throws(() => ledger.epsilonAfterNext(0.1, -1), /noise multiplier z must be finite and >= 0/);
  assert.equal(ledger.rounds, 0);
});

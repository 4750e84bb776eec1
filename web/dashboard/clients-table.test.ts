import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attackerSummary, describeAttack } from './clients-table.ts';

test('an honest tab shows a dash; an attacker its attack and what it sends', () => {
  assert.deepEqual(describeAttack('none'), { attacker: false, text: '—', title: 'honest: sends its honest update' });
  const flip = describeAttack('sign-flip');
  assert.equal(flip.attacker, true);
  assert.equal(flip.text, 'sign flip ×10');
  assert.match(flip.title, /^simulated attacker: sends −10 × its honest update/);
  assert.equal(describeAttack('gaussian').text, 'gaussian noise ×10');
  assert.equal(describeAttack('label-flip').attacker, true);
});

test('the attacker count: nothing when all are honest, then 1 attacker, 2 attackers', () => {
  assert.equal(attackerSummary([{ attack: 'none' }, { attack: 'none' }]), '');
  assert.equal(attackerSummary([]), '');
  assert.equal(attackerSummary([{ attack: 'scale' }, { attack: 'none' }]), '1 attacker');
  assert.equal(attackerSummary([{ attack: 'scale' }, { attack: 'label-flip' }, { attack: 'none' }]), '2 attackers');
});

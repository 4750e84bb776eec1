import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roundOutcome, setAsideText, tabHeaderTitle, timelineTabs } from './round-timeline.ts';

const round = (answered: string[], late: string[] = [], dropped: string[] = [], discarded: string[] = [], downweighted: string[] = []) => ({
  answered,
  late,
  dropped,
  discarded,
  downweighted,
});

test('a column for every connected tab, then for tabs only the history remembers', () => {
  const history = [round(['a', 'gone'], ['b']), round(['a'], [], ['left'])];
  const tabs = timelineTabs(history, [{ clientId: 'b' }, { clientId: 'a' }, { clientId: 'new' }]);
  assert.deepEqual(tabs, ['b', 'a', 'new', 'gone', 'left']);
});

test('each tab\'s outcome in a round', () => {
  const m = round(['a'], ['b'], ['c']);
  assert.equal(roundOutcome(m, 'a'), 'answered');
  assert.equal(roundOutcome(m, 'b'), 'late');
  assert.equal(roundOutcome(m, 'c'), 'dropped');
  assert.equal(roundOutcome(m, 'd'), 'none');
});

test('an answer the rule discarded or down-weighted shows what the rule did, not ✓', () => {
  const m = round(['a', 'evil', 'odd'], [], [], ['evil'], ['odd']);
  assert.equal(roundOutcome(m, 'a'), 'answered');
  assert.equal(roundOutcome(m, 'evil'), 'discarded');
  assert.equal(roundOutcome(m, 'odd'), 'downweighted');
});

test('set aside: the short ids the columns show, discarded first; a dash when every update counted in full', () => {
  assert.equal(setAsideText({ discarded: ['3f2a9b1c', '9b1c0000'], downweighted: ['7d0e1234'] }), 'discarded 3f2a, 9b1c · down-weighted 7d0e');
  assert.equal(setAsideText({ discarded: [], downweighted: ['7d0e1234'] }), 'down-weighted 7d0e');
  assert.equal(setAsideText({ discarded: ['3f2a9b1c'], downweighted: [] }), 'discarded 3f2a');
  assert.equal(setAsideText({ discarded: [], downweighted: [] }), '—');
});

test('a tab column\'s tooltip names its attack only while it attacks', () => {
  assert.equal(tabHeaderTitle('3f2a9b1c', 'sign-flip'), '3f2a9b1c · attacker now: sign flip ×10');
  assert.equal(tabHeaderTitle('3f2a9b1c', 'none'), '3f2a9b1c');
  assert.equal(tabHeaderTitle('3f2a9b1c', undefined), '3f2a9b1c', 'a tab that has left');
});

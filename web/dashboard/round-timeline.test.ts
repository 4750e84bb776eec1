import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roundOutcome, timelineTabs } from './round-timeline.ts';

const round = (answered: string[], late: string[] = [], dropped: string[] = []) => ({ answered, late, dropped });

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

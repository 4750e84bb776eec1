// settings.shards 0: the split follows the tabs of the run, one shard each, so every training
// digit is in use whatever the number of tabs; tabs that joined under another split are told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDataset } from '../shared/dataset-format.ts';
import type { RoundStart } from '../shared/protocol/messages.ts';
import { resolveSettings, type Settings } from '../shared/settings.ts';
import { Coordinator } from './coordinator.ts';
import { loadMnist } from './dataset.ts';
import { ManualTimers } from '../harness/manual-timers.ts';
import { ScriptedEvaluator } from '../harness/scripted-evaluator.ts';

const mnist = loadMnist();

function newCoordinator(settings: Partial<Settings>): Coordinator {
  return new Coordinator({
    settings: resolveSettings(settings),
    mnist,
    evaluator: new ScriptedEvaluator(),
    access: { adminToken: 'admin', roomCode: null },
    baseUrls: [],
    log: () => {},
    timers: new ManualTimers(),
  });
}

function coordinatorWithTabs(count: number) {
  const coordinator = newCoordinator({ shards: 0, minClientsToStart: count });
  const starts: RoundStart[] = [];
  coordinator.on('roundStart', (_ids, start) => starts.push(start));
  const joins = Array.from({ length: count }, (_, i) => coordinator.join(`conn-${i}`, {}));
  for (const [i, reply] of joins.entries()) {
    coordinator.ready(`conn-${i}`, { backend: 'cpu', backendReason: 'test', numExamples: decodeDataset(coordinator.shardData(reply.shard.index)!).count });
  }
  return { coordinator, joins, starts };
}

function shardLabels(coordinator: Coordinator, index: number): Uint8Array {
  return decodeDataset(coordinator.shardData(index)!).labels;
}

for (const tabs of [3, 5]) {
  test(`auto split, ${tabs} tabs: the first round deals one shard per tab and every training digit is in one of them`, () => {
    const { coordinator, joins, starts } = coordinatorWithTabs(tabs);
    assert.deepEqual(joins.map((j) => j.shard.count), new Array(tabs).fill(8), 'before the run: 8 shards');
    coordinator.start();
    assert.equal(starts.length, 1);
    const { partition, version } = coordinator.split();
    assert.equal(partition.shards, tabs);
    assert.equal(starts[0].dataVersion, version);
    assert.notEqual(version, joins[0].shard.dataVersion, 'the round start names a new split, so the tabs fetch theirs');
    const sizes = Array.from({ length: tabs }, (_, i) => shardLabels(coordinator, i).length);
    assert.equal(sizes.reduce((a, b) => a + b, 0), mnist.train.count);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `iid shards are equal: ${sizes}`);
    assert.equal(coordinator.shardData(tabs), null, 'no shard beyond the tabs');
    // A tab joining again (as a stale one does) gets its dealt shard, a distinct one each.
    const again = joins.map((j, i) => coordinator.join(`conn-${i}`, { resumeToken: j.resumeToken }).shard);
    assert.deepEqual(new Set(again.map((s) => s.index)).size, tabs);
    assert.ok(again.every((s) => s.count === tabs && s.dataVersion === version));
  });
}

test('auto split: the next run with the same tabs keeps the split (no refetch); one tab fewer deals again', () => {
  const { coordinator, starts } = coordinatorWithTabs(4);
  coordinator.start();
  const first = coordinator.split().version;
  coordinator.stop();
  coordinator.start();
  assert.equal(starts.at(-1)!.dataVersion, first, 'nobody moved: same split, same name');
  coordinator.stop();
  coordinator.disconnect('conn-1');
  coordinator.changeSettings({ minClientsToStart: 3 });
  coordinator.start();
  const { partition, version } = coordinator.split();
  assert.equal(partition.shards, 3);
  assert.notEqual(version, first);
  assert.equal(starts.at(-1)!.dataVersion, version);
});

test('a fixed shard count never deals: shard k mod shards, as before', () => {
  const coordinator = newCoordinator({ shards: 2 });
  const shards = [0, 1, 2].map((i) => coordinator.join(`c${i}`, {}).shard);
  assert.deepEqual(shards.map((s) => s.index), [0, 1, 0]);
  assert.ok(shards.every((s) => s.count === 2 && !s.dataVersion.includes('-')));
  // Tabs hold out evalFraction of their shard: another fraction is another split, so they fetch and split again.
  coordinator.changeSettings({ evalFraction: 0.2 });
  const refetched = coordinator.join('c0', {}).shard;
  assert.equal(refetched.evalFraction, 0.2);
  assert.notEqual(refetched.dataVersion, shards[0].dataVersion);
});

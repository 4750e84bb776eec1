import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PastRun } from '../../shared/protocol/records.ts';
import { DEFAULT_SETTINGS, type Settings } from '../../shared/settings.ts';
import { comparedRuns, RUN_COLORS } from './runs-compared.ts';
import { roundMetrics } from '../../harness/round-metrics.ts';

function pastRun(run: number, settings: Partial<Settings>, accuracies: number[], ended: PastRun['ended'] = 'done'): PastRun {
  return {
    run, settings: { ...DEFAULT_SETTINGS, ...settings }, ended, message: '', startedAt: 0, endedAt: 0,
    rounds: accuracies.map((accuracy, i) => ({ round: i + 1, accuracy, loss: 1 - accuracy })),
  };
}

const idle = { phase: 'idle', settings: DEFAULT_SETTINGS, history: [] } as const;

test('no finished run with a round: nothing to draw, the card stays hidden', () => {
  assert.deepEqual(comparedRuns([], idle), []);
  assert.deepEqual(comparedRuns([pastRun(1, {}, [], 'stopped')], idle), [], 'stopped before its first round ended');
  // A run in progress alone is the accuracy chart's business.
  assert.deepEqual(comparedRuns([], { phase: 'training', settings: DEFAULT_SETTINGS, history: [roundMetrics(1)] }), []);
});

test('each finished run is a line of its accuracy per round, labelled by what differed', () => {
  const runs = comparedRuns([pastRun(1, {}, [0.5, 0.8]), pastRun(2, { partition: 'dirichlet', dirichletAlpha: 0.1 }, [0.3, 0.6, 0.7], 'stopped')], idle);
  assert.deepEqual(runs, [
    { run: 1, label: 'IID', color: RUN_COLORS[0], live: false, points: [{ x: 1, y: 0.5 }, { x: 2, y: 0.8 }] },
    { run: 2, label: 'Dirichlet α=0.1 · stopped', color: RUN_COLORS[1], live: false, points: [{ x: 1, y: 0.3 }, { x: 2, y: 0.6 }, { x: 3, y: 0.7 }] },
  ]);
});

test('the run in progress joins, live, once it has a round; after it ends it is one of the past runs, not drawn twice', () => {
  const past = [pastRun(1, {}, [0.5, 0.8])];
  const dp = { ...DEFAULT_SETTINGS, clipNorm: 1, noiseMultiplier: 1.1 };
  assert.equal(comparedRuns(past, { phase: 'training', settings: dp, history: [] }).length, 1, 'no round yet: nothing to add');
  const live = comparedRuns(past, { phase: 'training', settings: dp, history: [roundMetrics(1, { accuracy: 0.4 })] });
  assert.deepEqual(live.map((r) => [r.run, r.label, r.live, r.points]), [
    [1, 'no DP, no clipping', false, [{ x: 1, y: 0.5 }, { x: 2, y: 0.8 }]],
    [2, 'DP z=1.1, clip C=1 · live', true, [{ x: 1, y: 0.4 }]],
  ]);
  // Done: the coordinator has appended it to pastRuns; the history it still shows is the same run.
  const done = comparedRuns([...past, pastRun(2, dp, [0.4])], { phase: 'done', settings: dp, history: [roundMetrics(1, { accuracy: 0.4 })] });
  assert.deepEqual(done.map((r) => [r.run, r.live]), [[1, false], [2, false]]);
});

test('a run keeps its colour when older runs are dropped: the colour follows its number', () => {
  const before = comparedRuns([pastRun(5, {}, [0.5]), pastRun(6, { seed: 1 }, [0.6])], idle);
  const after = comparedRuns([pastRun(6, { seed: 1 }, [0.6]), pastRun(7, { seed: 2 }, [0.7])], idle);
  assert.equal(before[1].color, after[0].color);
  assert.equal(after[0].color, RUN_COLORS[5]);
  assert.equal(comparedRuns([pastRun(13, {}, [0.5])], idle)[0].color, RUN_COLORS[0], 'the palette wraps after 12');
  assert.deepEqual(after.map((r) => r.label), ['seed=1', 'seed=2']);
});

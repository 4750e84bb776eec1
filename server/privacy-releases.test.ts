// Every release path of DP runs, walked on one room and one data directory, and the ε the
// coordinator shows checked against an independent computation for what was released:
//   run 1, central DP, plain updates: rounds that sample nobody, one tab, all; a selected tab that
//          never answers (the round is released at its deadline, never retried);
//   run 2, the same population with secure aggregation and distributed noise: masked rounds, a
//          lone sampled tab (plain), a secure attempt that fails (noise only, never redrawn);
//   run 3, a crash just after a release, before the checkpoint; the restarted coordinator redoes
//          the round: two releases, two charges;
//   run 4, local DP: a round retried for too few answers; every noised update is charged.
// The releases are counted by what went out (a new global model in a round start, or at a run's
// end), not by what the coordinator says it charged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { MODEL_SPECS } from '../shared/model-spec.ts';
import { decodeWeights } from '../shared/wire.ts';
import { createRng } from '../shared/fl/rng.ts';
import type { RoundStart } from '../shared/protocol/messages.ts';
import type { Settings } from '../shared/settings.ts';
import { independentEpsilon } from '../harness/independent-accountant.ts';
import { coordinatorOnDisk, type CoordinatorFixture } from '../harness/coordinator-fixture.ts';
import { secureTabs, until } from '../harness/secure-tabs.ts';
import { LEDGER_FILE } from './ledger-file.ts';

const P = MODEL_SPECS.mlp.paramCount;
const DELTA = 1e-5;
const Q = 0.5;
const Z = 1.1;
const CENTRAL: Partial<Settings> = { clipNorm: 1, noiseMultiplier: Z, samplingRate: Q, dpDelta: DELTA, minClientsToStart: 3, minClientsPerRound: 1, roundDeadlineMs: 10_000, secAggStepMs: 5_000, targetAccuracy: 1 };
const small = (seed: number) => {
  const rng = createRng(seed);
  return Float32Array.from({ length: P }, () => (rng.next() - 0.5) * 1e-3);
};
/** A model, as its values: a round start's weights (wire format) and the coordinator's global model compare equal. */
const fingerprint = (model: RoundStart['weights'] | Float32Array) => {
  const values = model instanceof Float32Array ? model : decodeWeights(MODEL_SPECS.mlp, model);
  return createHash('sha256').update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)).digest('hex');
};

/** Counts the releases of one coordinator: every new global model that goes out (`known`: models seen before). */
function releases(t: CoordinatorFixture, known: Iterable<string>) {
  const seen = new Set<string>(known);
  let count = 0;
  const see = (model: RoundStart['weights'] | Float32Array) => {
    const key = fingerprint(model);
    if (!seen.has(key)) {
      seen.add(key);
      count++;
    }
  };
  t.coordinator.on('roundStart', (_ids, start) => see(start.weights));
  return { see, count: () => count, seen };
}

/** Answers every round start the way `answer` says (false: that tab stays silent), moving the clock past deadlines, until the run ends. */
/** `from`: the index in t.starts of the run's first round start (those before are earlier runs'). */
async function drive(
  t: CoordinatorFixture,
  from: number,
  answer: (id: string, start: RoundStart) => boolean,
  { secure, beforeAnswering }: { secure?: ReturnType<typeof secureTabs>; beforeAnswering?: (start: RoundStart) => Promise<unknown> } = {},
): Promise<void> {
  let handled = from;
  const moved = () => t.starts.length > handled || !t.coordinator.running;
  for (let step = 0; step < 400 && t.coordinator.running; step++) {
    await t.settle();
    const pending = t.starts.slice(handled);
    handled = t.starts.length;
    for (const { ids, start } of pending) {
      await beforeAnswering?.(start);
      for (const id of ids) {
        if (!answer(id, start)) continue;
        const delta = small(start.round * 10 + id.charCodeAt(0));
        if (!start.config.secureAggregation) {
          t.send(id, { round: start.round, numExamples: 100 }, delta);
          continue;
        }
        const session = () => secure!.sessions.get(id);
        await until(`${id}'s secure session`, () => session()?.round === start.round && session()?.attempt === start.attempt);
        // It waits for its forwarded shares; an attempt that fails before them never sends them.
        session()!.submit(delta, true, 0, createRng(start.round)).catch(() => {});
      }
      // The masked steps run on their own; a silent tab's step ends at its deadline.
      if (start.config.secureAggregation) await until('the secure round to close', moved, 3_000).catch(() => {});
    }
    await t.settle();
    if (t.coordinator.phase === 'training' && !moved()) {
      t.timers.advance(10_000); // the round's deadline (and the secure steps')
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

test('every release of DP runs is charged once, across runs, secure aggregation, a crash and local DP; the ε shown is the independent computation\'s', { timeout: 240_000 }, async (context) => {
  const dir = await mkdtemp(join(tmpdir(), 'flock-releases-'));
  const crashDir = `${dir}-crash`;
  context.after(() => Promise.all([rm(dir, { recursive: true, force: true, maxRetries: 10 }), rm(crashDir, { recursive: true, force: true, maxRetries: 10 })]));

  // ── run 1: central DP, plain updates ──
  const sampling = createRng(20261207); // one generator for the whole run: who is sampled differs from round to round
  const t = await coordinatorOnDisk(dir, { ...CENTRAL, rounds: 10 }, undefined, { secureRng: () => sampling });
  const tokens = Object.fromEntries(['a', 'b', 'c'].map((id) => [id, t.addTab(id)]));
  const seen = releases(t, [fingerprint(t.coordinator.global)]);
  let from = t.starts.length;
  t.coordinator.start();
  await drive(t, from, (id) => id !== 'c'); // c never answers: its rounds close at the deadline with what came
  seen.see(t.coordinator.global); // the last round's model, at the run's end
  const run1 = t.coordinator.history;
  assert.equal(t.coordinator.phase, 'done', t.coordinator.runState().message);
  assert.equal(run1.length, 10);
  assert.ok(t.starts.every(({ start }) => start.attempt === 1), 'no round of a DP run is retried');
  const sizes = new Set(t.starts.map(({ ids }) => ids.length));
  assert.ok(sizes.has(0) && sizes.has(1), `the samples included an empty one and a lone tab: sizes ${[...sizes]}`);
  assert.equal(seen.count(), 10);
  assert.equal(t.coordinator.ledger.ledger.rounds, 10);

  // ── run 2: the same population, secure aggregation with distributed noise ──
  t.coordinator.changeSettings({ secureAggregation: true, distributedNoise: true, rounds: 6 });
  const silent: string[] = [];
  // The first masked round of two that holds b: b sends no keys, the attempt fails, and it releases noise only.
  t.coordinator.on('roundStart', (ids, start) => {
    silent.length = 0;
    if (start.config.secureAggregation && ids.length === 2 && ids.includes('conn-b') && !t.logs.some((l) => /secure aggregation failed/.test(l))) silent.push('b');
  });
  const secure = secureTabs(t, { silent });
  from = t.starts.length;
  t.coordinator.start();
  assert.equal(t.coordinator.runState().privacyBudget?.roundsSpent, 10, 'the second run starts from what the first spent');
  await drive(t, from, () => true, { secure });
  assert.ok(t.logs.some((l) => /secure aggregation failed .*: the round releases noise only/.test(l)), 'a secure attempt failed, and was released as noise');
  seen.see(t.coordinator.global);
  assert.equal(t.coordinator.phase, 'done', t.coordinator.runState().message);
  assert.equal(t.coordinator.history.length, 6);
  assert.ok(secure.starts.filter((s) => s.round <= 6).every((s) => s.attempt === 1), 'nothing was redrawn');
  assert.ok(secure.starts.some((s) => s.config.secureAggregation) && secure.starts.some((s) => !s.config.secureAggregation && s.round > 0), 'masked rounds and lone plain ones');
  assert.deepEqual(secure.errors, []);
  assert.equal(seen.count(), 16);
  assert.equal(t.coordinator.ledger.ledger.rounds, 16);

  // ── run 3: a crash just after round 3's release, before its checkpoint ──
  t.coordinator.changeSettings({ secureAggregation: false, distributedNoise: false, rounds: 5 });
  let crashed = false;
  let releasesAtCrash = 0;
  t.coordinator.on('roundStart', (_ids, start) => {
    if (start.round !== 4 || crashed) return;
    crashed = true;
    releasesAtCrash = seen.count(); // 19: the first 16, and rounds 1–3 of run 3 (this start carries round 3's model)
    cpSync(dir, crashDir, { recursive: true }); // what the disk holds at the instant the model of round 3 went out
    const onDisk = JSON.parse(readFileSync(join(crashDir, LEDGER_FILE), 'utf8')).ledger.spends.reduce((n: number, s: { rounds: number }) => n + s.rounds, 0);
    assert.equal(onDisk, 19, 'round 3 of run 3 was charged on disk before its model went out');
  });
  from = t.starts.length;
  t.coordinator.start();
  // Each round's checkpoint is on disk before the next round is answered, so the crash finds run 3's.
  await drive(t, from, (id, start) => start.round < 4 && id !== 'c', { beforeAnswering: () => t.coordinator.saveCheckpoint() }); // what this process does after the copy is another world's
  assert.ok(crashed);
  assert.equal(releasesAtCrash, 19);

  const resampling = createRng(7);
  const resumed = await coordinatorOnDisk(crashDir, {}, undefined, { secureRng: () => resampling });
  await resumed.coordinator.resume();
  const after = releases(resumed, seen.seen);
  for (const id of ['a', 'b', 'c']) resumed.rejoin(id, tokens[id]);
  await drive(resumed, 0, (id) => id !== 'c');
  after.see(resumed.coordinator.global);
  assert.equal(resumed.coordinator.phase, 'done', resumed.coordinator.runState().message);
  const centralReleases = releasesAtCrash + after.count();
  assert.ok(centralReleases > 19 + 2, `the restarted run redid the rounds its checkpoint did not hold: ${centralReleases} releases`);
  assert.equal(resumed.coordinator.ledger.ledger.rounds, centralReleases, 'one charge per release, the lost one included');
  const shown = resumed.coordinator.runState().privacyBudget!.epsilon;
  const independent = independentEpsilon([{ samplingRate: Q, noiseMultiplier: Z, rounds: centralReleases }], DELTA);
  assert.ok(Math.abs(shown / independent - 1) < 0.002, `ε shown ${shown}, independent ${independent} for ${centralReleases} releases`);

  // ── run 4: local DP; round 1 is retried for too few answers, and both tabs' second uploads count ──
  resumed.coordinator.changeSettings({ noiseMultiplier: 0, samplingRate: 1, localNoiseMultiplier: 2, minClientsPerRound: 3, rounds: 2 });
  const uploads: Record<string, number> = { a: 0, b: 0, c: 0 };
  from = resumed.starts.length;
  resumed.coordinator.start();
  assert.equal(resumed.starts.at(-1)!.start.config.shareStatistics, false, 'under local DP tabs send no statistics of their data');
  await drive(resumed, from, (id, start) => {
    if (start.round === 1 && start.attempt === 1 && id === 'c') return false; // c misses the first attempt: a retry follows
    uploads[id]++;
    return true;
  });
  assert.equal(resumed.coordinator.phase, 'done', resumed.coordinator.runState().message);
  assert.ok(resumed.starts.some(({ start }) => start.attempt === 2), 'round 1 was retried');
  const worst = resumed.coordinator.runState().privacyLedger.worstTab!;
  const most = Math.max(...Object.values(uploads));
  assert.equal(worst.uploads, most, `every noised upload is charged: sent ${JSON.stringify(uploads)}`);
  const localIndependent = independentEpsilon([{ samplingRate: 1, noiseMultiplier: 2 / 2, rounds: most }], DELTA);
  assert.ok(Math.abs(worst.epsilon / localIndependent - 1) < 0.002, `local ε ${worst.epsilon}, independent ${localIndependent}`);
  assert.deepEqual([...resumed.bugs, ...t.bugs], []);
});

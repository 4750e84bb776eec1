// Headless participants (harness/headless-participant.ts: the participant loop every tab runs, with
// a synthetic trainer) against a real coordinator on a loopback port: the same protocol, sockets and
// validation as browser tabs, plainly and through secure aggregation, and a global model that must
// come out as the FedAvg a person can compute by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODEL_SPECS } from '../../shared/model-spec.ts';
import { secureInputScale } from '../../shared/secagg/secure-input.ts';
import { resolveSettings, type Settings } from '../../shared/settings.ts';
import { decodeWeights } from '../../shared/wire.ts';
import { HeadlessParticipant } from '../../harness/headless-participant.ts';
import { buildApp, type FlockApp } from '../app.ts';
import { ScriptedEvaluator } from '../../harness/scripted-evaluator.ts';

const spec = MODEL_SPECS.mlp;
const ADMIN_TOKEN = 'test-admin-token';
const ROOM_CODE = 'LOAD20';

async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(condition(), `gave up waiting for ${what}`);
}

function assertAllClose(values: Float32Array, expected: number, tolerance: number, what: string): void {
  assert.equal(values.length, spec.paramCount, what);
  for (let i = 0; i < values.length; i++) {
    if (Math.abs(values[i] - expected) > tolerance) assert.fail(`${what}: value ${i} is ${values[i]}, expected ${expected} ± ${tolerance}`);
  }
}

/**
 * A coordinator on a loopback port with `tabs` participants; participant k claims k + 1 examples
 * and sends deltaOf(k) in every value. Runs 2 rounds, then checks every update was accepted.
 */
async function runTwoRounds(tabs: number, settings: Partial<Settings>, deltaOf: (k: number) => number, check: (flock: FlockApp, evaluator: ScriptedEvaluator, url: string) => Promise<void>) {
  const evaluator = new ScriptedEvaluator(); // all-zero initial weights
  const flock = await buildApp({
    settings: resolveSettings({ model: 'mlp', rounds: 2, targetAccuracy: 1, minClientsToStart: tabs, minClientsPerRound: tabs, ...settings }),
    access: { adminToken: ADMIN_TOKEN, roomCode: ROOM_CODE },
    distDir: mkdtempSync(join(tmpdir(), 'flock-dist-')),
    evaluator,
  });
  await flock.app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(flock.app.server.address() as { port: number }).port}`;
  const participants = Array.from(
    { length: tabs },
    (_, k) => new HeadlessParticipant({ url, roomCode: ROOM_CODE, numExamples: k + 1, deltaFor: () => new Float32Array(spec.paramCount).fill(deltaOf(k)) }),
  );
  try {
    await Promise.all(participants.map((p) => p.join()));
    await until('every participant to be ready', () => flock.coordinator.room.readyClients().length === tabs);
    const started = await flock.app.inject({ method: 'POST', url: '/api/run/start', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(started.statusCode, 200, started.body);
    await until('the run to finish', () => !flock.coordinator.running);
    await until('the last acknowledgements', () => participants.every((p) => p.rounds.length >= 2));
    assert.equal(flock.coordinator.phase, 'done', flock.coordinator.runState().message);
    for (const [k, p] of participants.entries()) {
      assert.deepEqual(
        p.rounds.map((r) => [r.round, r.ack]),
        [
          [1, { accepted: true }],
          [2, { accepted: true }],
        ],
        `participant ${k}`,
      );
      assert.deepEqual(p.errors, [], `participant ${k}`);
      assert.equal(p.disconnectReason, null, `participant ${k}`);
    }
    await check(flock, evaluator, url);
  } finally {
    for (const p of participants) p.close();
    await flock.app.close();
  }
}

const globalAt = async (url: string) => decodeWeights(spec, Buffer.from(await (await fetch(`${url}/api/weights`)).arrayBuffer()));

test('20 headless participants run 2 rounds; the global model is the weighted mean of what they sent', { timeout: 120_000 }, async () => {
  const TABS = 20;
  await runTwoRounds(TABS, {}, (k) => k, async (flock, evaluator, url) => {
    assert.deepEqual(
      flock.coordinator.history.map((m) => [m.round, m.participants, m.totalWeight, m.late.length, m.dropped.length]),
      [
        [1, TABS, 210, 0, 0], // Σ(k+1) for k = 0…19 = 210
        [2, TABS, 210, 0, 0],
      ],
    );
    // Each round moves every value by Σ(k+1)·k / Σ(k+1) = (Σk² + Σk) / 210 = (2470 + 190) / 210 = 38/3.
    assertAllClose(evaluator.evaluated[0], 38 / 3, 1e-5 * 38 / 3, 'after round 1');
    assertAllClose(await globalAt(url), 76 / 3, 1e-5 * 76 / 3, 'after round 2');
  });
});

test('4 headless participants run 2 rounds under secure aggregation; the global model is the weighted mean of what they sent', { timeout: 120_000 }, async () => {
  const TABS = 4;
  const clipNorm = 10;
  // 0.004·(k + 1) in every value: norm ≤ 0.016·√199,210 ≈ 7.1, inside the clip norm.
  await runTwoRounds(TABS, { secureAggregation: true, clipNorm }, (k) => 0.004 * (k + 1), async (flock, evaluator, url) => {
    for (const m of flock.coordinator.history) {
      const record = m.secureAggregation!;
      assert.deepEqual(record, { threshold: record.threshold, advertised: TABS, shared: TABS, masked: TABS, revealed: TABS, recovered: 0, distributedNoise: false }, `round ${m.round}`);
    }
    // Weights relative to the largest claim (4): w_k = (k + 1)/4. Each round moves every value by
    // Σ w_k·0.004(k + 1) / Σ w_k = 0.004·Σ(k + 1)² / Σ(k + 1) = 0.004 · 30/10 = 0.012. Fixed point:
    // each of a round's 4 terms is rounded to 1/scale (2⁻²⁵ ≈ 3e-8 here, against 0.012); then the model is float32.
    const perRound = TABS / secureInputScale({ tabs: TABS, clipNorm, noiseStdPerTab: 0 }) + 1e-9;
    assertAllClose(evaluator.evaluated[0], 0.012, perRound, 'after round 1');
    assertAllClose(await globalAt(url), 0.024, 2 * perRound, 'after round 2');
  });
});

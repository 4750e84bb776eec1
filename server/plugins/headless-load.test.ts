// 20 headless participants (harness/headless-participant.ts) against a real coordinator on a
// loopback port: the same protocol, sockets and validation as browser tabs, and a global model
// that must come out as the FedAvg a person can compute by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODEL_SPECS } from '../../shared/model-spec.ts';
import { resolveSettings } from '../../shared/settings.ts';
import { decodeWeights } from '../../shared/wire.ts';
import { HeadlessParticipant } from '../../harness/headless-participant.ts';
import { buildApp } from '../app.ts';
import { ScriptedEvaluator } from '../../harness/scripted-evaluator.ts';

const spec = MODEL_SPECS.mlp;
const TABS = 20;
const ADMIN_TOKEN = 'test-admin-token';

async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(condition(), `gave up waiting for ${what}`);
}

function assertAllClose(values: Float32Array, expected: number, what: string): void {
  assert.equal(values.length, spec.paramCount, what);
  for (let i = 0; i < values.length; i++) {
    if (Math.abs(values[i] - expected) > 1e-5 * expected) assert.fail(`${what}: value ${i} is ${values[i]}, expected ${expected}`);
  }
}

test('20 headless participants run 2 rounds; the global model is the weighted mean of what they sent', { timeout: 120_000 }, async () => {
  const evaluator = new ScriptedEvaluator(); // all-zero initial weights
  const flock = await buildApp({
    settings: resolveSettings({ model: 'mlp', rounds: 2, targetAccuracy: 1, minClientsToStart: TABS, minClientsPerRound: TABS }),
    access: { adminToken: ADMIN_TOKEN, roomCode: 'LOAD20' },
    distDir: mkdtempSync(join(tmpdir(), 'flock-dist-')),
    evaluator,
  });
  await flock.app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(flock.app.server.address() as { port: number }).port}`;
  // Participant k sends k in every value and claims k + 1 examples.
  const participants = Array.from(
    { length: TABS },
    (_, k) => new HeadlessParticipant({ url, roomCode: 'LOAD20', numExamples: k + 1, deltaFor: () => new Float32Array(spec.paramCount).fill(k) }),
  );
  try {
    await Promise.all(participants.map((p) => p.join()));
    await until('every participant to be ready', () => flock.coordinator.room.readyClients().length === TABS);
    const started = await flock.app.inject({ method: 'POST', url: '/api/run/start', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(started.statusCode, 200, started.body);
    await until('the run to finish', () => !flock.coordinator.running);
    await until('the last acknowledgements', () => participants.every((p) => p.rounds.length >= 2));

    const { phase, history } = flock.coordinator;
    const message = flock.coordinator.runState().message;
    assert.equal(phase, 'done', message);
    assert.deepEqual(
      history.map((m) => [m.round, m.participants, m.totalWeight, m.late.length, m.dropped.length]),
      [
        [1, TABS, 210, 0, 0], // Σ(k+1) for k = 0…19 = 210
        [2, TABS, 210, 0, 0],
      ],
    );
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
    // Each round moves every value by Σ(k+1)·k / Σ(k+1) = (Σk² + Σk) / 210 = (2470 + 190) / 210 = 38/3.
    assertAllClose(evaluator.evaluated[0], 38 / 3, 'after round 1');
    const global = decodeWeights(spec, Buffer.from(await (await fetch(`${url}/api/weights`)).arrayBuffer()));
    assertAllClose(global, 76 / 3, 'after round 2');
  } finally {
    for (const p of participants) p.close();
    await flock.app.close();
  }
});

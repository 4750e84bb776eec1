// Headless participants (the participant loop with a synthetic trainer) through secure
// aggregation with a real coordinator on a loopback port: keys, shares, masked updates and reveals
// over real sockets, and a global model that must come out as the weighted mean of what they sent,
// to the fixed-point encoding's rounding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL_SPECS } from '../shared/model-spec.ts';
import { secureInputScale } from '../shared/secagg/secure-input.ts';
import { decodeWeights } from '../shared/wire.ts';
import { HeadlessParticipant } from './headless-participant.ts';
import { startLoopbackCoordinator } from './loopback-coordinator.ts';

const spec = MODEL_SPECS.mlp;
const TABS = 4;
const CLIP_NORM = 10;
const ADMIN_TOKEN = 'test-admin-token';

async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(condition(), `gave up waiting for ${what}`);
}

test(`${TABS} headless participants complete 2 rounds under secure aggregation; the global model is the weighted mean of what they sent`, { timeout: 120_000 }, async () => {
  const coordinator = await startLoopbackCoordinator({
    settings: { model: 'mlp', rounds: 2, targetAccuracy: 1, minClientsToStart: TABS, minClientsPerRound: TABS, secureAggregation: true, clipNorm: CLIP_NORM },
    access: { adminToken: ADMIN_TOKEN, roomCode: null },
  });
  const { flock } = coordinator;
  // Participant k sends 0.004·(k + 1) in every value (norm ≤ 0.016·√199,210 ≈ 7.1: inside the clip norm) and claims k + 1 examples.
  const participants = Array.from(
    { length: TABS },
    (_, k) => new HeadlessParticipant({ url: coordinator.url, numExamples: k + 1, deltaFor: () => new Float32Array(spec.paramCount).fill(0.004 * (k + 1)) }),
  );
  try {
    const replies = await Promise.all(participants.map((p) => p.join()));
    assert.ok(replies.every((r) => r.shareStatistics === false), 'secure aggregation: the tabs keep their statistics');
    await until('every participant to be ready', () => flock.coordinator.room.readyClients().length === TABS);
    const started = await flock.app.inject({ method: 'POST', url: '/api/run/start', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(started.statusCode, 200, started.body);
    await until('the run to finish', () => !flock.coordinator.rounds.running);
    await until('the last acknowledgements', () => participants.every((p) => p.rounds.length >= 2));

    const { phase, history, message } = flock.coordinator.rounds;
    assert.equal(phase, 'done', message);
    for (const m of history) {
      assert.deepEqual(m.secureAggregation, { threshold: m.secureAggregation!.threshold, advertised: TABS, shared: TABS, masked: TABS, revealed: TABS, recovered: 0, distributedNoise: false }, `round ${m.round}`);
    }
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
    }
    // Weights relative to the largest claim (4): w_k = (k + 1)/4. Each round moves every value by
    // Σ w_k·0.004(k + 1) / Σ w_k = 0.004·Σ(k + 1)² / Σ(k + 1) = 0.004 · 30/10 = 0.012, from all-zero weights.
    // Fixed point: each of the 4 terms of a round is rounded to 1/scale; then the model is float32.
    const perRound = TABS / secureInputScale({ tabs: TABS, clipNorm: CLIP_NORM, noiseStdPerTab: 0 });
    const tolerance = 2 * perRound + 1e-8;
    const global = decodeWeights(spec, await coordinator.globalBytes());
    const worst = global.reduce((off, v) => Math.max(off, Math.abs(v - 0.024)), 0);
    assert.ok(worst < tolerance, `after 2 rounds the global model is off the weighted mean 0.024 by ${worst} (tolerance ${tolerance})`);
  } finally {
    for (const p of participants) p.close();
    await coordinator.close();
  }
});

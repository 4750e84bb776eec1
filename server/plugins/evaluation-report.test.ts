// Federated evaluation over real sockets: a tab that holds out examples gets round 2's start,
// reports on the model in it (round 1's) with participant:evaluation, gets the final model in
// round:evaluate and reports on it too; reports that do not belong are answered with flock:error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL_SPECS } from '../../shared/model-spec.ts';
import type { EvaluationRequest, RoundStart } from '../../shared/protocol/messages.ts';
import { decodeWeights, encodeWeights } from '../../shared/wire.ts';
import { startLoopbackCoordinator, type LoopbackCoordinator, type TabSocket } from '../../harness/loopback-coordinator.ts';

const spec = MODEL_SPECS.mlp;
let loopback: LoopbackCoordinator;

before(async () => {
  loopback = await startLoopbackCoordinator({
    settings: { minClientsToStart: 1, minClientsPerRound: 1, rounds: 2, roundDeadlineMs: 60_000, shards: 8 },
    access: { adminToken: 'test-admin-token', roomCode: null },
  });
});

after(() => loopback.close());

const next = <T>(socket: TabSocket, event: 'round:start' | 'round:evaluate' | 'flock:error') =>
  new Promise<T>((resolve) => (socket as unknown as { once(e: string, f: (value: T) => void): void }).once(event, resolve));

async function until(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('participant:evaluation fills in the round of the model it reports on; bad reports get flock:error; the final model comes in round:evaluate', async () => {
  const { coordinator } = loopback.flock;
  const tab = await loopback.openSocket();
  const loose = tab as unknown as { emit(event: string, payload: unknown): void };
  const reply = await tab.emitWithAck('participant:join', {});
  assert.ok(!('error' in reply), JSON.stringify(reply));
  assert.equal(reply.shard.evalFraction, 0.1, 'the tab learns what fraction to hold out');
  tab.emit('participant:ready', { backend: 'wasm', backendReason: 'test', numExamples: 900, heldOutExamples: 100 });
  await until('the ready report', () => coordinator.room.readyClients().length === 1);
  assert.equal(coordinator.runState().clients[0].heldOutExamples, 100);

  const first = next<RoundStart>(tab, 'round:start');
  coordinator.start();
  assert.equal((await first).round, 1);
  const second = next<RoundStart>(tab, 'round:start');
  const delta = encodeWeights(spec, new Float32Array(spec.paramCount).fill(0.5));
  assert.deepEqual(await tab.emitWithAck('participant:update', { round: 1, numExamples: 900, loss: 1, delta }), { accepted: true });
  assert.equal((await second).round, 2);

  const refusals: [unknown, RegExp][] = [
    [{ round: 1, accuracy: 0.9, loss: 0.3, count: 101 }, /counts 101 examples, the tab reported 100 held out when it got ready/],
    [{ round: 1, accuracy: 1.5, loss: 0.3, count: 100 }, /malformed evaluation report: accuracy/],
    // Finite but extreme: 1e308 × 100 examples would overflow the weighted sum to Infinity.
    [{ round: 1, accuracy: 0.9, loss: 1e308, count: 100 }, /malformed evaluation report: loss/],
    [{ round: 2, accuracy: 0.9, loss: 0.3, count: 100 }, /the last model this tab was sent is round 1's/],
    [{ round: 1, accuracy: 0.9, loss: 0.3, count: 100, delta: new Uint8Array(8) }, /malformed evaluation report/],
  ];
  for (const [report, expected] of refusals) {
    const error = next<string>(tab, 'flock:error');
    loose.emit('participant:evaluation', report);
    assert.match(await error, expected);
  }
  await until('round 1 in the history', () => coordinator.history.length === 1);
  assert.equal(coordinator.history[0].federatedEvaluation, null, 'no refused report counted');

  tab.emit('participant:evaluation', { round: 1, accuracy: 0.87, loss: 0.4, count: 100 });
  await until('the report', () => coordinator.history[0].federatedEvaluation !== null);
  assert.deepEqual(coordinator.runState().history[0].federatedEvaluation, { accuracy: 0.87, loss: 0.4, count: 100, tabs: 1 });
  const duplicate = next<string>(tab, 'flock:error');
  tab.emit('participant:evaluation', { round: 1, accuracy: 0.1, loss: 0.4, count: 100 });
  assert.match(await duplicate, /already reported on round 1's model/);

  const final = next<EvaluationRequest>(tab, 'round:evaluate');
  assert.deepEqual(await tab.emitWithAck('participant:update', { round: 2, numExamples: 900, loss: 1, delta }), { accepted: true });
  const request = await final;
  assert.equal(request.round, 2);
  assert.equal(request.model, 'mlp');
  assert.deepEqual(decodeWeights(spec, request.weights), new Float32Array(spec.paramCount).fill(1), 'the final global model, as binary');
  tab.emit('participant:evaluation', { round: 2, accuracy: 0.91, loss: 0.3, count: 100 });
  await until('the final report', () => coordinator.history[1]?.federatedEvaluation !== null && coordinator.history.length === 2);
  assert.equal(coordinator.history[1].federatedEvaluation?.accuracy, 0.91);
  assert.equal(coordinator.phase, 'done');
  assert.ok(!loopback.logLines.some((line) => line.level >= 50), 'nothing logged as a bug');
});

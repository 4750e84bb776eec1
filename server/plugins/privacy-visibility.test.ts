// What the coordinator publishes under DP, over real sockets and HTTP: who took part in a round is
// the admin's alone (the accountant's amplification by sampling assumes nobody else learns it);
// the population's ledger carries over from run to run, refuses a start it cannot afford, and is
// forgotten only by an explicit admin action, which is logged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL_SPECS } from '../../shared/model-spec.ts';
import type { RoundMetrics, RunState } from '../../shared/protocol/records.ts';
import { encodeWeights } from '../../shared/wire.ts';
import { startLoopbackCoordinator, type TabSocket } from '../../harness/loopback-coordinator.ts';

const ADMIN = 'visibility-admin-token';
const spec = MODEL_SPECS.mlp;
const admin = { authorization: `Bearer ${ADMIN}` };

async function readyTab(socket: TabSocket): Promise<string> {
  const reply = await socket.timeout(5_000).emitWithAck('participant:join', {});
  if ('error' in reply) throw new Error(reply.error);
  socket.emit('participant:ready', { backend: 'wasm', backendReason: 'test', numExamples: 100, labelCounts: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10] });
  return reply.clientId;
}

const nextState = (socket: TabSocket, ready: (state: RunState) => boolean) =>
  new Promise<RunState>((resolve) => {
    const check = (state: RunState) => {
      if (!ready(state)) return;
      socket.off('state', check);
      resolve(state);
    };
    socket.on('state', check);
  });

test('under central DP who took part is shown to the admin only; everyone sees the counts and ε', async (context) => {
  const loopback = await startLoopbackCoordinator({
    settings: { clipNorm: 1, noiseMultiplier: 1.1, samplingRate: 1, rounds: 2, minClientsToStart: 2, minClientsPerRound: 1, targetAccuracy: 1 },
    access: { adminToken: ADMIN, roomCode: null },
  });
  context.after(() => loopback.close());
  const tabs = [await loopback.openSocket(), await loopback.openSocket()];
  const ids = await Promise.all(tabs.map(readyTab));
  const publicBoard = await loopback.openSocket();
  const adminBoard = await loopback.openSocket();
  publicBoard.emit('dashboard:join', {});
  adminBoard.emit('dashboard:join', { adminToken: ADMIN });
  const doneToTab = new Promise<RoundMetrics>((resolve) => tabs[0].once('round:done', resolve));
  const publicAfterRound1 = nextState(publicBoard, (s) => s.history.length >= 1);
  const adminAfterRound1 = nextState(adminBoard, (s) => s.history.length >= 1);
  const started = new Promise((resolve) => tabs[0].once('round:start', resolve));
  assert.equal((await loopback.flock.app.inject({ method: 'POST', url: '/api/run/start', headers: admin })).statusCode, 200);
  await started;
  for (const tab of tabs) {
    const ack = await tab.timeout(5_000).emitWithAck('participant:update', { round: 1, numExamples: 100, loss: 0.5, delta: encodeWeights(spec, new Float32Array(spec.paramCount)) });
    assert.deepEqual(ack, { accepted: true });
  }
  const [pub, adm, done] = await Promise.all([publicAfterRound1, adminAfterRound1, doneToTab]);

  assert.equal(pub.participationHidden, true);
  assert.deepEqual(pub.history[0].answered, [], 'the public history lists no tab');
  assert.equal(pub.history[0].participants, 2, 'the counts stay');
  assert.ok(pub.clients.every((c) => c.labelCounts === null && c.lastUpdateAt === null && c.bytesReceived === null && (c.status === 'idle' || c.status === 'joining')), 'no per-tab trace of who sent what');
  assert.ok(pub.privacyBudget && pub.privacyBudget.epsilon > 0, 'ε is public');
  assert.deepEqual([...adm.history[0].answered].sort(), [...ids].sort(), 'the admin sees who answered');
  assert.equal(adm.participationHidden, false);
  assert.deepEqual(done.answered, [], 'the round record every tab receives lists no tab either');

  const status = async (headers = {}) => JSON.parse((await loopback.flock.app.inject({ method: 'GET', url: '/api/status', headers })).body) as RunState;
  assert.deepEqual((await status()).history[0].answered, []);
  assert.deepEqual([...(await status(admin)).history[0].answered].sort(), [...ids].sort());
  const history = async (headers = {}) => JSON.parse((await loopback.flock.app.inject({ method: 'GET', url: '/api/history', headers })).body) as RoundMetrics[];
  assert.deepEqual((await history())[0].answered, []);
  assert.equal((await history(admin))[0].answered.length, 2);
  assert.equal((await status({ authorization: 'Bearer wrong' })).participationHidden, true, 'a wrong token sees the public view');
});

test('the ledger is the population\'s: a second run spends on from the first, a start it cannot afford is refused, and only an explicit admin reset forgets it', async (context) => {
  const loopback = await startLoopbackCoordinator({
    settings: { clipNorm: 1, noiseMultiplier: 4, samplingRate: 1, rounds: 1, minClientsToStart: 1, minClientsPerRound: 1, targetEpsilon: 1.6, targetAccuracy: 1 }, // ε 1.01, 1.48, 1.85 after 1, 2, 3 rounds
    access: { adminToken: ADMIN, roomCode: null },
  });
  context.after(() => loopback.close());
  const tab = await loopback.openSocket();
  await readyTab(tab);
  const post = (url: string, body?: Record<string, unknown>) => loopback.flock.app.inject({ method: 'POST', url, headers: admin, ...(body === undefined ? {} : { payload: body }) });
  const runOnce = async () => {
    const started = new Promise((resolve) => tab.once('round:start', resolve));
    assert.equal((await post('/api/run/start')).statusCode, 200);
    await started;
    await tab.timeout(5_000).emitWithAck('participant:update', { round: 1, numExamples: 100, delta: encodeWeights(spec, new Float32Array(spec.paramCount)) });
    while (loopback.flock.coordinator.running) await new Promise((resolve) => setTimeout(resolve, 10));
    return loopback.flock.coordinator.history.at(-1)!.privacy!;
  };
  const first = await runOnce();
  assert.equal(first.roundsSpent, 1);
  const second = await runOnce();
  assert.equal(second.roundsSpent, 2, 'the second run charges on from the first');
  assert.ok(second.epsilon > first.epsilon);
  const refused = await post('/api/run/start');
  assert.equal(refused.statusCode, 409);
  assert.match(JSON.parse(refused.body).error, /cannot start: privacy budget reached: the first round would take the population's ε from [\d.]+ to [\d.]+, over the target 1.6 .* after 2 rounds over all runs; .*reset the privacy ledger/);

  assert.equal((await loopback.flock.app.inject({ method: 'POST', url: '/api/privacy/ledger/reset', payload: { forget: 'what the tabs have spent' } })).statusCode, 401, 'the admin only');
  assert.equal((await post('/api/privacy/ledger/reset', { forget: true })).statusCode, 400, 'and only with its words');
  assert.equal((await post('/api/privacy/ledger/reset', { forget: 'what the tabs have spent' })).statusCode, 200);
  assert.ok(loopback.logLines.some((l) => /privacy ledger reset by the admin: forgot 2 central rounds/.test(l.msg)), 'the reset is logged, with what it forgot');
  assert.deepEqual(
    loopback.flock.coordinator.runState().privacyLedger.resets.map((r) => [r.rounds, r.uploads]),
    [[2, 0]],
    'and kept in the ledger',
  );
  assert.equal((await runOnce()).roundsSpent, 1);
});

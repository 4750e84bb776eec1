// The defects hostile testing found, each tried again the way an attacker did: over real
// sockets, against a real coordinator on loopback.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL_SPECS } from '../../shared/model-spec.ts';
import type { JoinReply, UpdateAck } from '../../shared/protocol/messages.ts';
import { encodeWeights } from '../../shared/wire.ts';
import type { FlockApp } from '../app.ts';
import { startLoopbackCoordinator, type LoopbackCoordinator, type LogLine, type TabSocket } from '../../harness/loopback-coordinator.ts';

type LooseSocket = { emitWithAck(event: string, ...args: unknown[]): Promise<unknown> };
const spec = MODEL_SPECS.mlp;
const ROOM = 'K7QX2M';
const ADMIN = 'test-admin-token';
let loopback: LoopbackCoordinator;
let flock: FlockApp;
let url: string;
let logLines: LogLine[];

before(async () => {
  loopback = await startLoopbackCoordinator({
    settings: { minClientsToStart: 2, minClientsPerRound: 1, rounds: 50, roundDeadlineMs: 60_000 },
    access: { adminToken: ADMIN, roomCode: ROOM },
  });
  ({ flock, url, logLines } = loopback);
});

after(() => loopback.close());

const openTab = () => loopback.openSocket();

async function joinRoom(socket: TabSocket, request: Record<string, unknown> = {}): Promise<JoinReply> {
  const reply = (await socket.emitWithAck('participant:join', { roomCode: ROOM, ...request })) as JoinReply | { error: string };
  if ('error' in reply) throw new Error(reply.error);
  return reply;
}

const ready = (socket: TabSocket, numExamples = 1000) =>
  socket.emit('participant:ready', { backend: 'wasm', backendReason: 'test', numExamples });
const globalBytes = () => loopback.globalBytes();
const status = async () => (await fetch(`${url}/api/status`)).json();
const settle = () => new Promise((resolve) => setTimeout(resolve, 150));
const sendUpdate = (socket: TabSocket, update: unknown) =>
  (socket as unknown as LooseSocket).emitWithAck('participant:update', update) as Promise<UpdateAck>;

function stopAndReset(): void {
  if (flock.coordinator.running) flock.coordinator.stop();
  flock.coordinator.reset();
}

test('a 2 MB binary join from a socket with no room code is refused by its shape, without walking it', async () => {
  const socket = await openTab();
  const rssBefore = process.memoryUsage().rss;
  const reply = (await (socket as unknown as LooseSocket).emitWithAck('participant:join', new Uint8Array(2 * 1024 * 1024).fill(7))) as { error: string };
  assert.match(reply.error, /^malformed join: expected an object, got binary \(2097152 bytes\)$/);
  const grewMb = (process.memoryUsage().rss - rssBefore) / 1e6;
  // Walking 2M keys grew RSS by ~340 MB; the shape check allocates nothing beyond the socket's own buffer.
  assert.ok(grewMb < 100, `RSS grew by ${grewMb.toFixed(0)} MB`);
  const health = await fetch(`${url}/api/health`);
  assert.equal(health.status, 200);
});

test('a finite but huge update is refused: the global model stays bit-identical and finite', async () => {
  stopAndReset();
  const [honest, attacker] = [await openTab(), await openTab()];
  await joinRoom(honest);
  await joinRoom(attacker);
  ready(honest);
  ready(attacker, 10_000_000);
  await settle();
  flock.coordinator.start();
  assert.equal(flock.coordinator.phase, 'training');
  const before = await globalBytes();
  const huge = encodeWeights(spec, new Float32Array(spec.paramCount).fill(1e38));
  const ack = await sendUpdate(attacker, { round: 1, numExamples: 10_000_000, loss: 1, delta: huge });
  assert.equal(ack.accepted, false);
  assert.match((ack as { error: string }).error, /L2 norm .* is over the limit 10000 \(maxUpdateNorm/);
  assert.deepEqual(await globalBytes(), before);
  attacker.disconnect(); // the round need not wait for it
  const done = new Promise((resolve) => honest.once('round:done', resolve));
  const good = new Float32Array(spec.paramCount).fill(0.001);
  assert.deepEqual(await sendUpdate(honest, { round: 1, numExamples: 1000, loss: 1, delta: encodeWeights(spec, good) }), { accepted: true });
  await done;
  const global = flock.coordinator.global;
  assert.ok(global.every(Number.isFinite), 'every value of the global model is finite');
  // round 1 aggregated the honest update alone: initial (all zero in this test) + 0.001
  assert.equal(global[0], Math.fround(0.001));
  stopAndReset();
});

test('public ids give no power: /api/status lists no secret, and joining with a listed id does not take over the tab', async () => {
  stopAndReset();
  const real = await openTab();
  const mine = await joinRoom(real);
  ready(real);
  await settle();
  const listed = JSON.stringify(await status());
  assert.ok(listed.includes(mine.clientId), 'the public id is listed');
  assert.ok(!listed.includes(mine.resumeToken), 'the resume token is not');
  assert.notEqual(mine.resumeToken, mine.clientId);

  const thief = await openTab();
  const forged = (await (thief as unknown as LooseSocket).emitWithAck('participant:join', { roomCode: ROOM, clientId: mine.clientId })) as { error?: string };
  assert.match(forged.error ?? '', /malformed join/, 'a client id is not a way in');
  const guessed = await joinRoom(thief, { resumeToken: `${mine.clientId}${mine.clientId}` });
  assert.notEqual(guessed.clientId, mine.clientId, 'an unknown token makes a new tab');
  thief.disconnect();
  await settle();
  const view = (await status()).clients.find((c: { clientId: string }) => c.clientId === mine.clientId);
  assert.ok(view, 'the real tab is still listed after the other socket left');
  assert.equal(view.connected, true);
});

test('a socket that joins twice leaves no phantom tab behind when it closes', async () => {
  stopAndReset();
  const before = (await status()).clients.length;
  const socket = await openTab();
  await joinRoom(socket);
  ready(socket);
  await joinRoom(socket); // a second identity on the same socket: the first one leaves
  ready(socket);
  await settle();
  assert.equal((await status()).clients.length, before + 1, 'one socket, one tab');
  socket.disconnect();
  await settle();
  assert.equal((await status()).clients.length, before, 'nobody left behind to be selected');
});

test('refusals are logged briefly at info, without a stack; nothing is logged at error', async () => {
  logLines.length = 0;
  const socket = await openTab();
  await (socket as unknown as LooseSocket).emitWithAck('participant:join', { roomCode: 'WRONG1' });
  await fetch(`${url}/api/run/start`, { method: 'POST', headers: { authorization: 'Bearer wrong-token-123' } });
  await fetch(`${url}/api/settings`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: '{"rounds": "ten"}' });
  await fetch(`${url}/api/settings`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: `{"rounds": ${'1'.repeat(2_000_000)}}` });
  await settle();
  const refusals = logLines.filter((l) => l.msg.startsWith('refused:'));
  assert.ok(refusals.length >= 4, `refusals logged: ${JSON.stringify(logLines.map((l) => l.msg))}`);
  for (const line of refusals) {
    assert.equal(line.level, 30, `info level: ${line.msg}`);
    assert.equal(line.err, undefined, `no stack: ${line.msg}`);
  }
  assert.deepEqual(logLines.filter((l) => l.level >= 50), []);
});

test('a ready report\'s label counts must be a short list of counts that add up to its examples', async () => {
  const socket = await openTab();
  await joinRoom(socket);
  const errors: string[] = [];
  socket.on('flock:error', (message) => errors.push(message));
  const report = { backend: 'wasm', backendReason: 'test', numExamples: 10 };
  const loose = socket as unknown as { emit(event: string, ...args: unknown[]): void };
  loose.emit('participant:ready', { ...report, labelCounts: [5, 4] });
  loose.emit('participant:ready', { ...report, labelCounts: new Array(17).fill(0) });
  loose.emit('participant:ready', { ...report, labelCounts: [{ a: 1 }] });
  loose.emit('participant:ready', { ...report, labelCounts: [5, -5, 10] });
  await settle();
  assert.equal(errors.length, 4, errors.join('\n'));
  assert.match(errors[0], /label counts add up to 9, not its 10 examples/);
  assert.match(errors[1], /labelCounts has more than 10 entries/);
  assert.match(errors[2], /malformed ready report: labelCounts\/0/);
  assert.match(errors[3], /malformed ready report: labelCounts\/1/);
  loose.emit('participant:ready', { ...report, labelCounts: [5, 5] });
  await settle();
  assert.equal(errors.length, 4, 'counts that add up are taken');
  const view = flock.coordinator.runState().clients.find((c) => c.labelCounts !== null);
  assert.deepEqual(view?.labelCounts, [5, 5]);
  socket.disconnect();
});

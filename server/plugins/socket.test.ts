// Message validation over real sockets: a real coordinator on a loopback port,
// socket.io-client as the tab, and the global weights checked after every bad message.
import type { BinaryValue } from '../../shared/protocol/binary.ts';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as connect } from 'socket.io-client';
import { MODEL_SPECS } from '../../shared/model-spec.ts';
import type { JoinReply, UpdateAck } from '../../shared/protocol/messages.ts';
import { resolveSettings } from '../../shared/settings.ts';
import { encodeWeights } from '../../shared/wire.ts';
import { buildApp, type FlockApp } from '../app.ts';
import { ScriptedEvaluator } from '../../harness/scripted-evaluator.ts';
import { startLoopbackCoordinator, type LoopbackCoordinator, type TabSocket } from '../../harness/loopback-coordinator.ts';

const spec = MODEL_SPECS.mlp;
let loopback: LoopbackCoordinator;
let flock: FlockApp;
let url: string;

before(async () => {
  loopback = await startLoopbackCoordinator({
    settings: { minClientsToStart: 1, minClientsPerRound: 1, rounds: 50, roundDeadlineMs: 60_000 },
    access: { adminToken: 'test-admin-token', roomCode: null },
  });
  ({ flock, url } = loopback);
});

after(() => loopback.close());

const openTab = () => loopback.openSocket();

async function joinReady(socket: TabSocket, numExamples = 1000): Promise<JoinReply> {
  const reply = await socket.emitWithAck('participant:join', {});
  if ('error' in reply) throw new Error(reply.error);
  socket.emit('participant:ready', { backend: 'wasm', backendReason: 'test', numExamples });
  return reply;
}

const nextError = (socket: TabSocket) => new Promise<string>((resolve) => socket.once('flock:error', resolve));
const globalBytes = () => loopback.globalBytes();

async function sendUpdate(socket: TabSocket, update: unknown): Promise<UpdateAck> {
  return (socket as unknown as { emitWithAck(e: string, u: unknown): Promise<UpdateAck> }).emitWithAck('participant:update', update);
}

function withShape(shape: number[]): ArrayBuffer {
  const shapes = spec.tensorShapes.map((s, i) => (i === 0 ? shape : s));
  const fake = { ...spec, tensorShapes: shapes, paramCount: shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0) };
  return encodeWeights(fake, new Float32Array(fake.paramCount));
}

function withValueAt(index: number, value: number): ArrayBuffer {
  const values = new Float32Array(spec.paramCount);
  values[index] = value;
  return encodeWeights(spec, values);
}

test('an update from a socket that never joined is rejected as an unknown client', async () => {
  const stranger = await openTab();
  const error = nextError(stranger);
  const ack = await sendUpdate(stranger, { round: 1, numExamples: 10, loss: 1, delta: encodeWeights(spec, new Float32Array(spec.paramCount)) });
  assert.deepEqual(ack, { accepted: false, error: 'unknown client: send participant:join first' });
  assert.equal(await error, 'unknown client: send participant:join first');
});

test('a malformed join is answered with an error', async () => {
  const tab = await openTab();
  const reply = await (tab as unknown as { emitWithAck(e: string, u: unknown): Promise<{ error: string }> }).emitWithAck(
    'participant:join',
    { clientId: '../../etc/passwd' },
  );
  assert.match(reply.error, /malformed join: clientId/);
});

test('bad updates are rejected with a clear error and the global model is unchanged', async () => {
  const tab = await openTab();
  const { clientId } = await joinReady(tab);
  await new Promise((r) => setTimeout(r, 50));
  flock.coordinator.start();
  assert.equal(flock.coordinator.phase, 'training');
  assert.ok(flock.coordinator.runState().selected.includes(clientId));
  const before = await globalBytes();
  const zeros = () => encodeWeights(spec, new Float32Array(spec.paramCount));
  const cases: [string, unknown, RegExp][] = [
    ['wrong round', { round: 7, numExamples: 10, loss: 1, delta: zeros() }, /round 1 is open/],
    ['wrong shape', { round: 1, numExamples: 10, loss: 1, delta: withShape([784, 100]) }, /tensor 0: 784×200 expected, got 784×100/],
    ['NaN', { round: 1, numExamples: 10, loss: 1, delta: withValueAt(5, NaN) }, /value 5 .* is NaN/],
    ['Infinity', { round: 1, numExamples: 10, loss: 1, delta: withValueAt(199_000, -Infinity) }, /value 199000 .* is -Infinity/],
    ['oversized', { round: 1, numExamples: 10, loss: 1, delta: new ArrayBuffer(spec.paramCount * 4 + 4096) }, /over the \d+-byte limit/],
    ['truncated', { round: 1, numExamples: 10, loss: 1, delta: zeros().slice(0, 1000) }, /body is \d+ bytes/],
    ['JSON numbers instead of binary', { round: 1, numExamples: 10, loss: 1, delta: [1, 2, 3] }, /malformed update: delta must be binary, got an array/],
    ['NaN loss (arrives as null)', { round: 1, numExamples: 10, loss: NaN, delta: zeros() }, /malformed update: loss/],
    ['extra field', { round: 1, numExamples: 10, loss: 1, delta: zeros(), pixels: [1, 2] }, /malformed update/],
    ['too many examples', { round: 1, numExamples: 5000, loss: 1, delta: zeros() }, /claims 5000 examples/],
    ['not an object', 'hello', /malformed update/],
  ];
  for (const [name, message, expected] of cases) {
    const error = nextError(tab);
    const ack = await sendUpdate(tab, message);
    assert.equal(ack.accepted, false, name);
    assert.match((ack as { error: string }).error, expected, name);
    assert.match(await error, expected, `${name}: flock:error`);
  }
  assert.deepEqual(await globalBytes(), before, 'global model untouched');
  assert.equal(flock.coordinator.phase, 'training');

  const good = new Float32Array(spec.paramCount).fill(0.25);
  const roundDone = new Promise((resolve) => tab.once('round:done', resolve));
  assert.deepEqual(await sendUpdate(tab, { round: 1, numExamples: 1000, loss: 1, delta: encodeWeights(spec, good) }), { accepted: true });
  await roundDone;
  assert.notDeepEqual(await globalBytes(), before, 'a good update moves the model');
  flock.coordinator.stop();
});

test('a tab that reconnects with its resume token keeps its identity and shard', async () => {
  const first = await openTab();
  const reply = await joinReady(first);
  await new Promise((r) => setTimeout(r, 100)); // the ready report lands: a tab that never got ready is forgotten when it leaves
  first.disconnect();
  const again = await openTab();
  const rejoined = await again.emitWithAck('participant:join', { resumeToken: reply.resumeToken });
  assert.ok(!('error' in rejoined));
  assert.equal(rejoined.clientId, reply.clientId);
  assert.equal(rejoined.shard.index, reply.shard.index);
});

test('a room with a code refuses tabs without it or with a wrong one', async () => {
  const locked = await buildApp({
    settings: resolveSettings({}),
    access: { adminToken: 'test-admin-token', roomCode: 'K7QX2M' },
    distDir: mkdtempSync(join(tmpdir(), 'flock-dist-')),
    evaluator: new ScriptedEvaluator(),
  });
  await locked.app.listen({ host: '127.0.0.1', port: 0 });
  const socket: TabSocket = connect(`http://127.0.0.1:${(locked.app.server.address() as { port: number }).port}`, {
    transports: ['websocket'],
    reconnection: false,
  });
  try {
    const none = await socket.emitWithAck('participant:join', {});
    assert.match((none as { error: string }).error, /this room needs a code/);
    const wrong = await socket.emitWithAck('participant:join', { roomCode: 'ZZZZZZ' });
    assert.match((wrong as { error: string }).error, /wrong room code "ZZZZZZ"/);
    assert.equal(locked.coordinator.runState().clients.length, 0);
    const right = await socket.emitWithAck('participant:join', { roomCode: 'k7qx2m' });
    assert.ok('clientId' in right);
    assert.equal(locked.coordinator.runState().joinUrls[0].endsWith('/?room=K7QX2M'), true);
  } finally {
    socket.disconnect();
    await locked.app.close();
  }
});

test('traffic is counted per tab and per round: the update and the weights cross the wire once, with little overhead', async () => {
  loopback.disconnectAll(); // only this tab takes part
  await new Promise((resolve) => setTimeout(resolve, 100));
  flock.coordinator.reset();
  const tab = await openTab();
  const { clientId } = await joinReady(tab, 500);
  const start = new Promise<{ weights: BinaryValue }>((resolve) => tab.once('round:start', resolve));
  flock.coordinator.start();
  const { weights } = await start;
  const done = new Promise((resolve) => tab.once('round:done', resolve));
  await sendUpdate(tab, { round: 1, numExamples: 500, loss: 1, delta: encodeWeights(spec, new Float32Array(spec.paramCount)) });
  await done;
  const metrics = flock.coordinator.history.at(-1)!;
  const raw = 4 * spec.paramCount;
  assert.equal(weights.byteLength, encodeWeights(spec, new Float32Array(spec.paramCount)).byteLength);
  assert.ok(metrics.bytesReceived >= raw && metrics.bytesReceived <= raw * 1.02, `received ${metrics.bytesReceived}`);
  assert.ok(metrics.bytesSent >= raw && metrics.bytesSent <= raw * 1.02 * 2, `sent ${metrics.bytesSent}`);
  assert.deepEqual(metrics.answered, [clientId]);
  const view = flock.coordinator.runState().clients.find((c) => c.clientId === clientId)!;
  assert.ok(view.bytesReceived !== null && view.bytesReceived >= raw);
  assert.ok(view.lastUpdateAt !== null);
  flock.coordinator.stop();
});

// Secure aggregation's messages from hostile tabs, over real sockets: every malformed or
// out-of-step message is refused with a message that says why, nothing moves the round on, and
// the global model stays bit-identical.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JoinReply, RoundStart } from '../../shared/protocol/messages.ts';
import type { RosterWire } from '../../shared/protocol/messages.ts';
import { MODEL_SPECS } from '../../shared/model-spec.ts';
import { encodedByteLength } from '../../shared/wire.ts';
import { startLoopbackCoordinator, type LoopbackCoordinator, type TabSocket } from '../../harness/loopback-coordinator.ts';

let loopback: LoopbackCoordinator;

before(async () => {
  loopback = await startLoopbackCoordinator({
    settings: { minClientsToStart: 2, minClientsPerRound: 2, rounds: 1, secureAggregation: true, clipNorm: 1, secAggStepMs: 60_000 },
    access: { adminToken: 'admin', roomCode: null },
  });
});
after(() => loopback.close());

async function readyTab(): Promise<{ socket: TabSocket; starts: RoundStart[]; errors: string[]; rosters: RosterWire[] }> {
  const socket = await loopback.openSocket();
  const starts: RoundStart[] = [];
  const errors: string[] = [];
  const rosters: RosterWire[] = [];
  socket.on('round:start', (start) => starts.push(start));
  socket.on('flock:error', (message) => errors.push(message));
  socket.on('secagg:roster', (roster) => rosters.push(roster));
  const reply = (await socket.emitWithAck('participant:join', {})) as JoinReply;
  assert.ok(reply.clientId);
  socket.emit('participant:ready', { backend: 'wasm', backendReason: 'test', numExamples: 1000 });
  return { socket, starts, errors, rosters };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 150));
type Loose = { emit(event: string, ...args: unknown[]): void };

test('malformed and out-of-step secure-aggregation messages are refused, clearly, and change nothing', async () => {
  const a = await readyTab();
  const b = await readyTab();
  loopback.flock.coordinator.start();
  await settle();
  assert.equal(a.starts.length, 1);
  assert.equal(a.starts[0].config.secureAggregation, true);
  const before = await loopback.globalBytes();
  const send = (event: string, payload: unknown) => (a.socket as unknown as Loose).emit(event, payload);

  send('secagg:keys', { round: 1, attempt: 1, keys: new Uint8Array(129) });
  send('secagg:keys', { round: 1, attempt: 1, keys: 'not binary' });
  send('secagg:keys', { round: 7, attempt: 1, keys: new Uint8Array(130) });
  send('secagg:shares', { round: 1, attempt: 1, shares: new Uint8Array(96) });
  send('secagg:reveal', { round: 1, attempt: 1, shares: new Uint8Array(36), extra: 1 });
  send('secagg:masked-update', { round: 1, attempt: 1, loss: 0.5, masked: new Uint8Array(encodedByteLength(MODEL_SPECS.mlp) + 1024) });
  await settle();
  const expected = [
    /keys has 129 bytes, 130 expected/,
    /malformed secure aggregation keys: keys must be binary/,
    /keys for round 7 attempt 1 refused: round 1 attempt 1 is open/,
    /shares refused: the keys step is open, not shares/,
    /malformed secure aggregation reveal: too many fields/,
    /masked update rejected: \d+ bytes, 796848 expected for mlp/,
  ];
  assert.equal(a.errors.length, expected.length, a.errors.join('\n'));
  expected.forEach((pattern, i) => assert.match(a.errors[i], pattern));
  // An all-zero key is no P-256 point: left out of the roster, with b alone the round cannot go on.
  send('secagg:keys', { round: 1, attempt: 1, keys: new Uint8Array(130) });
  await settle();
  assert.equal(a.rosters.length, 0, 'one advert is not a roster');
  assert.equal(loopback.flock.coordinator.phase, 'training');
  assert.ok((await loopback.globalBytes()).equals(before), 'the global model is bit-identical');
  assert.deepEqual(b.errors, []);
});

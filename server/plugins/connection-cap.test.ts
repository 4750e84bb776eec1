// A stranger on a tab's address cannot lock the tab out: the per-address connection cap and the
// joins-per-minute limit let a tab that shows it joined before (its token's hash in the handshake's
// URL, its token in the join) through, while the stranger's connections and joins are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io as connect, type Socket } from 'socket.io-client';
import { resumeTokenHash, TOKEN_HASH_PARAM } from '../../shared/resume-token.ts';
import { startLoopbackCoordinator } from '../../harness/loopback-coordinator.ts';

const LIMITS = { maxConnections: 100, maxConnectionsPerAddress: 4, messagesPerSecond: 50, joinsPerMinute: 3 };

function open(url: string, query: Record<string, string> = {}): Promise<{ socket: Socket | null; refusal: string | null }> {
  const socket = connect(url, { transports: ['websocket'], forceNew: true, reconnection: false, query });
  return new Promise((resolve) => {
    socket.once('connect', () => resolve({ socket, refusal: null }));
    socket.once('connect_error', (error) => resolve({ socket: null, refusal: error.message }));
  });
}

const join = async (socket: Socket, resumeToken?: string) =>
  (await socket.timeout(5_000).emitWithAck('participant:join', resumeToken ? { resumeToken } : {})) as { clientId: string; resumeToken: string } | { error: string };

test('a known tab gets through its address\'s connection cap and join limit; a stranger on the same address does not', async (context) => {
  const loopback = await startLoopbackCoordinator({ settings: {}, access: { adminToken: 'cap-admin-token', roomCode: null }, limits: LIMITS });
  const sockets: Socket[] = [];
  context.after(async () => {
    for (const s of sockets) s.disconnect();
    await loopback.close();
  });
  const first = (await open(loopback.url)).socket!;
  const reply = await join(first);
  assert.ok('clientId' in reply);
  first.emit('participant:ready', { backend: 'cpu', backendReason: 'test', numExamples: 10 });
  await new Promise((resolve) => setTimeout(resolve, 50));
  first.disconnect(); // the tab's network blips

  // A stranger on the same address takes every connection the cap allows, and joins as often as the limit lets it.
  for (let i = 0; i < LIMITS.maxConnectionsPerAddress; i++) {
    const { socket, refusal } = await open(loopback.url);
    assert.equal(refusal, null);
    sockets.push(socket!);
  }
  for (let i = 0; i < LIMITS.joinsPerMinute - 1; i++) assert.ok('clientId' in (await join(sockets[i])));
  // Over websocket a refused handshake is only "websocket error"; a polling handshake shows the reason.
  const handshake = async (query = '') => (await fetch(`${loopback.url}/socket.io/?EIO=4&transport=polling${query}`)).text();
  assert.notEqual((await open(loopback.url)).refusal, null);
  assert.match(await handshake(), /too many connections from .* \(limit 4\); close some tabs/);
  assert.match(await handshake(`&${TOKEN_HASH_PARAM}=${resumeTokenHash('forged-token-of-sixteen-chars')}`), /too many connections/, 'an unknown hash is no proof');

  const back = await open(loopback.url, { [TOKEN_HASH_PARAM]: resumeTokenHash(reply.resumeToken) });
  assert.equal(back.refusal, null, 'the tab comes back through the cap');
  sockets.push(back.socket!);
  const again = await join(back.socket!, reply.resumeToken);
  assert.ok('clientId' in again && again.clientId === reply.clientId, 'as itself');
  assert.match(JSON.stringify(await join(sockets[LIMITS.joinsPerMinute - 1])), /too many joins from/, 'the stranger is at its join limit');
  const twice = await join(back.socket!, reply.resumeToken);
  assert.ok('clientId' in twice, 'the tab is not: its token is the proof');
});

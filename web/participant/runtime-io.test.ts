// The Socket.IO transport of the participant loop against a bare Socket.IO server on a loopback
// port: the resume token rides in the handshake's auth, acknowledgements come back, the
// coordinator's messages reach the listener, and the server closing the session is reported as such.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import type { TransportListener } from '../../shared/participant/transport.ts';
import { SocketTransport } from './runtime-io.ts';

test('the socket transport sends the auth at every handshake, gets acknowledgements, and hands on what the server sends', { timeout: 20_000 }, async () => {
  const http = createServer();
  const io = new Server(http);
  const handshakes: unknown[] = [];
  io.on('connection', (socket) => {
    handshakes.push(socket.handshake.auth);
    socket.on('participant:join', (request: unknown, ack: (reply: unknown) => void) => ack({ echo: request }));
    socket.on('participant:ready', () => {
      socket.emit('flock:error', 'hello from the coordinator');
      socket.disconnect(true); // the server closes the session
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  const events: string[] = [];
  let connected!: () => void;
  const isConnected = new Promise<void>((resolve) => (connected = resolve));
  let disconnected!: (reason: string) => void;
  const isDisconnected = new Promise<string>((resolve) => (disconnected = resolve));
  const listener: TransportListener = {
    connected: () => connected(),
    disconnected: (reason) => disconnected(reason),
    connectFailed: (message) => events.push(`connect failed: ${message}`),
    reconnecting: () => events.push('reconnecting'),
    message: (name, payload) => events.push(`${name}: ${String(payload)}`),
  };
  const transport = new SocketTransport(url, { reconnect: false });
  let token = 'token-of-this-tab-01';
  transport.open(listener, () => ({ resumeToken: token }));
  try {
    await isConnected;
    assert.equal(transport.connected, true);
    assert.deepEqual(handshakes, [{ resumeToken: 'token-of-this-tab-01' }]);
    assert.deepEqual(await transport.request('participant:join', { resumeToken: token }, 5_000), { echo: { resumeToken: token } });
    transport.send('participant:ready', { backend: 'cpu', backendReason: 'test', numExamples: 1 });
    assert.equal(await isDisconnected, 'io server disconnect');
    assert.deepEqual(events, ['flock:error: hello from the coordinator']);

    token = 'token-of-this-tab-02';
    const back = new Promise<void>((resolve) => (connected = resolve));
    transport.reconnect();
    await back;
    assert.deepEqual(handshakes[1], { resumeToken: 'token-of-this-tab-02' }, 'the auth is asked again at the next handshake');
    await assert.rejects(transport.request('participant:update', { round: 1, numExamples: 1, delta: new ArrayBuffer(0) }, 200), /timed out/);
  } finally {
    transport.close();
    io.close();
  }
});

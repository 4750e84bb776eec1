// For transport tests: a real coordinator (buildApp, with a scripted evaluator) listening on a
// loopback port, its log lines captured, and real socket.io-client tabs connecting to it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../shared/protocol/messages.ts';
import { resolveSettings, type Settings } from '../shared/settings.ts';
import type { Access } from '../server/access.ts';
import { buildApp, type FlockApp } from '../server/app.ts';
import type { TransportLimits } from '../server/limits/transport-limits.ts';
import { ScriptedEvaluator } from './scripted-evaluator.ts';

export type TabSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface LogLine {
  level: number;
  msg: string;
  err?: { stack?: string };
}

export interface LoopbackCoordinator {
  flock: FlockApp;
  url: string;
  port: number;
  /** Every line the coordinator logged (pino JSON, parsed). */
  logLines: LogLine[];
  /** A new websocket connection (not multiplexed), no reconnection: a drop stays a drop. */
  openSocket(): Promise<TabSocket>;
  globalBytes(): Promise<Buffer>;
  /** How many of the sockets it opened are still connected. */
  connectedSockets(): number;
  /** Disconnects every socket opened so far. */
  disconnectAll(): void;
  /** Disconnects every socket it opened, then closes the coordinator. */
  close(): Promise<void>;
}

export async function startLoopbackCoordinator(options: { settings: Partial<Settings>; access: Access; limits?: TransportLimits }): Promise<LoopbackCoordinator> {
  const logLines: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  const flock = await buildApp({
    settings: resolveSettings(options.settings),
    access: options.access,
    limits: options.limits,
    distDir: mkdtempSync(join(tmpdir(), 'flock-dist-')),
    evaluator: new ScriptedEvaluator(),
    logger: { level: 'info', stream },
  });
  await flock.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (flock.app.server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  const sockets: TabSocket[] = [];
  const disconnectAll = () => {
    for (const socket of sockets) socket.disconnect();
  };
  return {
    flock,
    url,
    port,
    logLines,
    async openSocket() {
      const socket: TabSocket = connect(url, { transports: ['websocket'], reconnection: false, forceNew: true });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      return socket;
    },
    globalBytes: async () => Buffer.from(await (await fetch(`${url}/api/weights`)).arrayBuffer()),
    connectedSockets: () => sockets.filter((socket) => socket.connected).length,
    disconnectAll,
    async close() {
      if (flock.coordinator.running) flock.coordinator.stop(); // no round timer outlives the test
      disconnectAll();
      await flock.app.close();
    },
  };
}

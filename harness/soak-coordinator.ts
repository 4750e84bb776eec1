// The coordinator of the churn soak (e2e/churn-soak.e2e.ts), in a process of its own so that
// its heap is measured apart from the participants' and with gc exposed:
//
//   node --expose-gc --import tsx harness/soak-coordinator.ts '<SoakCoordinatorConfig as JSON>'
//
// The same buildApp as `npm start`, with the real evaluator. It reports to the parent over the
// IPC channel: where it listens, a memory sample after a forced GC at the end of every round,
// every log line, and any unhandled rejection. Asked to close, it closes the app (its log lines
// still reported), says so, and exits; it also exits when the parent goes away.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { resolveSettings, type Settings } from '../shared/settings.ts';
import { buildApp } from '../server/app.ts';
import type { TransportLimits } from '../server/limits/transport-limits.ts';
import { E2E_ACCESS } from './coordinator.ts';

export interface SoakCoordinatorConfig {
  settings: Partial<Settings>;
  limits: TransportLimits;
}

export interface MemorySample {
  /** The round just completed; 0: before the run started. */
  round: number;
  heapUsedBytes: number;
  rssBytes: number;
  /** Memory outside the JS heap held by JS objects: typed arrays, Buffers, the WASM backend's memory. */
  externalBytes: number;
  /** The part of externalBytes in ArrayBuffers (weights, deltas, socket buffers). */
  arrayBuffersBytes: number;
  tabsConnected: number;
}

/** What the soak coordinator tells its parent. */
export type SoakReport =
  | { kind: 'listening'; url: string }
  | { kind: 'memory'; sample: MemorySample }
  /** One pino line; `level` is pino's number (30 info, 40 warn, 50 error, 60 fatal). */
  | { kind: 'log'; level: number; line: string }
  | { kind: 'unhandledRejection'; reason: string }
  /** The app has closed: nothing more will be reported, and the process exits. */
  | { kind: 'closed' };

/** What the parent can ask. */
export type SoakRequest = { kind: 'close' };

// Once the parent has gone, nobody listens: sending would throw.
const report = (message: SoakReport, sent?: () => void) => (process.connected ? process.send!(message, undefined, undefined, sent) : sent?.());

async function main(): Promise<void> {
  if (!process.send) throw new Error('soak-coordinator reports over IPC: start it with an ipc channel (child_process.fork or stdio "ipc")');
  const collectGarbage = globalThis.gc;
  if (!collectGarbage) throw new Error('soak-coordinator measures the heap after a forced GC: start node with --expose-gc');
  const config = JSON.parse(process.argv[2] ?? '') as SoakCoordinatorConfig;

  process.on('unhandledRejection', (reason) => report({ kind: 'unhandledRejection', reason: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason) }));
  const logLines = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') report({ kind: 'log', level: (JSON.parse(line) as { level: number }).level, line });
      }
      done();
    },
  });

  const { app, coordinator } = await buildApp({
    settings: resolveSettings(config.settings),
    access: E2E_ACCESS,
    distDir: mkdtempSync(join(tmpdir(), 'flock-soak-dist-')), // no pages needed: the participants are headless
    limits: config.limits,
    logger: { level: 'info', stream: logLines },
  });
  const sampleMemory = (round: number) => {
    collectGarbage();
    const { heapUsed, rss, external, arrayBuffers } = process.memoryUsage();
    const tabsConnected = coordinator.room.connectedClients().length;
    report({ kind: 'memory', sample: { round, heapUsedBytes: heapUsed, rssBytes: rss, externalBytes: external, arrayBuffersBytes: arrayBuffers, tabsConnected } });
  };
  // After the round's bookkeeping (checkpoint hook, the next round opening), not in the middle of it.
  coordinator.on('roundDone', (metrics) => setImmediate(() => sampleMemory(metrics.round)));

  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  sampleMemory(0);
  report({ kind: 'listening', url: `http://127.0.0.1:${port}` });
  process.on('message', (request: SoakRequest) => {
    if (request.kind !== 'close') return;
    void app.close().then(() => report({ kind: 'closed' }, () => process.exit(0)));
  });
  process.once('disconnect', () => void app.close().then(() => process.exit(0)));
}

main().catch((error: unknown) => {
  console.error('soak-coordinator: could not start:', error);
  process.exit(1);
});

// The tabs of one room: who joined, which shard each holds, what each reported.
// A tab keeps its record (and shard) across reconnects by sending its clientId again.
import { randomUUID } from 'node:crypto';
import type { BackendName, ClientStatus, ClientView, ReadyReport } from '../shared/protocol.ts';
import { createRng, shuffleInPlace } from '../shared/fl/rng.ts';

export interface ClientRecord {
  clientId: string;
  shard: number;
  connected: boolean;
  backend: BackendName | null;
  backendReason: string;
  numExamples: number;
  status: ClientStatus;
  lastLoss: number | null;
  lastUpdateAt: number | null;
  bytesSent: number;
  bytesReceived: number;
}

export class Room {
  private readonly clients = new Map<string, ClientRecord>();
  private joins = 0;

  /** Registers a tab (or reconnects a known one) and returns its record. */
  join(clientId: string | undefined, shards: number): ClientRecord {
    const known = clientId ? this.clients.get(clientId) : undefined;
    if (known) {
      known.connected = true;
      known.status = known.backend ? 'idle' : 'joining';
      return known;
    }
    const record: ClientRecord = {
      clientId: clientId ?? randomUUID(),
      shard: this.joins++ % shards,
      connected: true,
      backend: null,
      backendReason: '',
      numExamples: 0,
      status: 'joining',
      lastLoss: null,
      lastUpdateAt: null,
      bytesSent: 0,
      bytesReceived: 0,
    };
    this.clients.set(record.clientId, record);
    return record;
  }

  get(clientId: string): ClientRecord | undefined {
    return this.clients.get(clientId);
  }

  markReady(clientId: string, report: ReadyReport): void {
    const client = this.require(clientId);
    client.backend = report.backend;
    client.backendReason = report.backendReason;
    client.numExamples = report.numExamples;
    if (client.status === 'joining') client.status = 'idle';
  }

  disconnect(clientId: string): void {
    const client = this.clients.get(clientId);
    if (!client) return;
    client.connected = false;
    if (client.status === 'training' || client.status === 'uploading') client.status = 'dropped';
  }

  recordTraffic(clientId: string, bytesSent: number, bytesReceived: number): void {
    const client = this.clients.get(clientId);
    if (!client) return;
    client.bytesSent += bytesSent;
    client.bytesReceived += bytesReceived;
  }

  /** Connected tabs that finished loading data and picking a backend. */
  readyClients(): ClientRecord[] {
    return [...this.clients.values()].filter((c) => c.connected && c.backend !== null);
  }

  /** Seeded sample of `count` ready tabs. */
  sample(count: number, seed: number): ClientRecord[] {
    const ready = this.readyClients().sort((a, b) => (a.clientId < b.clientId ? -1 : 1));
    shuffleInPlace(ready, createRng(seed));
    return ready.slice(0, count);
  }

  setStatus(clientIds: Iterable<string>, status: ClientStatus): void {
    for (const id of clientIds) {
      const client = this.clients.get(id);
      if (client) client.status = status;
    }
  }

  view(): ClientView[] {
    return [...this.clients.values()]
      .filter((c) => c.connected)
      .map((c) => ({ ...c }));
  }

  private require(clientId: string): ClientRecord {
    const client = this.clients.get(clientId);
    if (!client) throw new Error(`unknown client ${clientId}: join first`);
    return client;
  }
}

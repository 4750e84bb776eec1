// The tabs of one room: who joined, which shard each holds, what each reported.
// A tab has two ids: a public one (shown on the dashboard and in /api/status) and a secret
// resume token, given only to the tab at its first join, that it sends again to reconnect as
// itself and keep its shard. Knowing a public id gives no power over a tab. The room stores a
// hash of each token, so neither a leaked checkpoint nor the state API can hand one out.
import { randomBytes } from 'node:crypto';
import { resumeTokenHash } from '../shared/resume-token.ts';
import { Type, type Static } from '@sinclair/typebox';
import { ATTACK_MODES, literals, MAX_EXAMPLES_PER_TAB, type AttackMode, type BackendName } from '../shared/protocol/records.ts';
import type { ReadyReport } from '../shared/protocol/messages.ts';
import { dataVersion, type PartitionSettings } from '../shared/partition.ts';

export interface ClientRecord {
  /** Public id. */
  clientId: string;
  shard: number;
  /** The transport connection this tab is on now; null while it is away. */
  connectionId: string | null;
  backend: BackendName | null;
  backendReason: string;
  numExamples: number;
  attack: AttackMode;
  labelCounts: number[] | null;
  /** Examples it holds out for federated evaluation, as its ready report said: the most an evaluation report may count. */
  heldOutExamples: number;
  lastLoss: number | null;
  lastUpdateAt: number | null;
  bytesSent: number;
  bytesReceived: number;
}

/** What a checkpoint keeps of a tab, so that it can come back with its token after a restart. */
export const SavedClientSchema = Type.Object(
  {
    clientId: Type.String({ minLength: 1, maxLength: 64 }),
    /** SHA-256 of its resume token, base64url. */
    tokenHash: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
    shard: Type.Integer({ minimum: 0 }),
    numExamples: Type.Integer({ minimum: 0, maximum: MAX_EXAMPLES_PER_TAB }),
    attack: literals(ATTACK_MODES),
  },
  { additionalProperties: false },
);
export type SavedClient = Static<typeof SavedClientSchema>;

/** What a checkpoint keeps of the room; the schema is what a checkpoint is read back with (run-checkpoints.ts). */
export const SavedRoomSchema = Type.Object(
  {
    joins: Type.Integer({ minimum: 0 }),
    /** The auto split's shard count and deal number (see dealShards); absent in checkpoints made before it. */
    dealt: Type.Optional(Type.Integer({ minimum: 1 })),
    deals: Type.Optional(Type.Integer({ minimum: 0 })),
    clients: Type.Array(SavedClientSchema),
  },
  { additionalProperties: false },
);
export type SavedRoom = Static<typeof SavedRoomSchema>;

export interface JoinResult {
  client: ClientRecord;
  /** Given to the tab on every join: the same one it sent, or a new one at its first join. */
  resumeToken: string;
  /** A connection that held this identity before (a stale socket of the same tab), to close. */
  replacedConnection: string | null;
  /** An identity this connection held before it joined again as another one, now gone. */
  leftClient: string | null;
}

/** The split tabs hold now: what the shards are cut from, and its name (ShardInfo.dataVersion). */
export interface Split {
  partition: PartitionSettings;
  version: string;
}

/** settings.shards 0 (auto): shards of the split before the run's first round deals one per tab. */
const AUTO_SHARDS_BEFORE_DEAL = 8;

const newToken = () => randomBytes(24).toString('base64url');
const randomPublicId = () => randomBytes(6).toString('hex');

export class Room {
  private readonly clients = new Map<string, ClientRecord>();
  private readonly byTokenHash = new Map<string, ClientRecord>();
  private readonly tokenHashOf = new Map<string, string>();
  private readonly byConnection = new Map<string, ClientRecord>();
  private joins = 0;
  /** Auto split (settings.shards 0): shards the last deal made, and deals so far (a deal renames the split). */
  private dealt = AUTO_SHARDS_BEFORE_DEAL;
  private deals = 0;

  /** `newPublicId`: tests pass readable ids; the default is random. */
  constructor(private readonly newPublicId: () => string = randomPublicId) {}

  /**
   * Registers a tab on `connectionId`: the identity behind `resumeToken` when it is known,
   * otherwise a new one. A connection holds at most one identity: joining again as another
   * one leaves the first.
   */
  join(connectionId: string, resumeToken: string | undefined, settings: Pick<PartitionSettings, 'shards'>): JoinResult {
    const shards = this.shardCount(settings);
    const previous = this.byConnection.get(connectionId);
    const known = resumeToken ? this.byTokenHash.get(resumeTokenHash(resumeToken)) : undefined;
    let leftClient: string | null = null;
    if (previous && previous !== known) {
      this.leave(previous);
      leftClient = previous.clientId;
    }
    if (known) {
      known.shard %= shards; // the shard count may have fallen since it joined
      const replacedConnection = known.connectionId !== connectionId ? known.connectionId : null;
      if (replacedConnection) this.byConnection.delete(replacedConnection);
      this.attach(known, connectionId);
      return { client: known, resumeToken: resumeToken!, replacedConnection, leftClient };
    }
    const token = newToken();
    const record: ClientRecord = {
      clientId: this.uniquePublicId(),
      shard: this.joins++ % shards,
      connectionId: null,
      backend: null,
      backendReason: '',
      numExamples: 0,
      attack: 'none',
      labelCounts: null,
      heldOutExamples: 0,
      lastLoss: null,
      lastUpdateAt: null,
      bytesSent: 0,
      bytesReceived: 0,
    };
    this.remember(record, resumeTokenHash(token));
    this.attach(record, connectionId);
    return { client: record, resumeToken: token, replacedConnection: null, leftClient };
  }

  /** settings.shards, or with 0 (auto) as many as the last deal made. */
  shardCount(settings: Pick<PartitionSettings, 'shards'>): number {
    return settings.shards > 0 ? settings.shards : this.dealt;
  }

  /** The split the shards are cut from. An auto split's name changes at every deal that moved a tab. */
  split(settings: PartitionSettings): Split {
    const partition = { ...settings, shards: this.shardCount(settings) };
    return { partition, version: settings.shards > 0 ? dataVersion(partition) : `${dataVersion(partition)}-${this.deals}` };
  }

  /**
   * Auto split: one shard per ready tab, in the order they joined, so every training example is
   * in use whatever the number of tabs. Tabs that are not ready keep their index, wrapped; a
   * tab that joins later shares a shard (joins mod shards). A deal that moves nobody keeps the split's name.
   */
  dealShards(): void {
    const ready = this.readyClients(); // Map order: the order they joined
    if (ready.length === 0) return;
    const moved = ready.length !== this.dealt || ready.some((client, i) => client.shard !== i);
    if (!moved) return;
    ready.forEach((client, i) => (client.shard = i));
    this.dealt = ready.length;
    this.deals++;
    for (const client of this.clients.values()) client.shard %= this.dealt;
  }

  /** Whether a tab with this token hash has joined (and may come back): what a handshake's URL carries. */
  knowsTokenHash(tokenHash: string): boolean {
    return this.byTokenHash.has(tokenHash);
  }

  /** Whether this is a known tab's resume token. */
  knowsToken(resumeToken: string): boolean {
    return this.byTokenHash.has(resumeTokenHash(resumeToken));
  }

  get(clientId: string): ClientRecord | undefined {
    return this.clients.get(clientId);
  }

  /** The tab on this connection, if it joined. */
  onConnection(connectionId: string): ClientRecord | undefined {
    return this.byConnection.get(connectionId);
  }

  isConnected(clientId: string): boolean {
    return this.clients.get(clientId)?.connectionId != null;
  }

  markReady(clientId: string, report: ReadyReport): void {
    const client = this.require(clientId);
    client.backend = report.backend;
    client.backendReason = report.backendReason;
    client.numExamples = report.numExamples;
    if (report.attack) client.attack = report.attack;
    client.labelCounts = report.labelCounts ?? null;
    client.heldOutExamples = report.heldOutExamples ?? 0;
  }

  /**
   * The connection closed; returns the tab that was on it, if it still was. A tab that never
   * reported ready is forgotten: it holds no data worth coming back for, and strangers who only
   * join must not grow the room.
   */
  disconnect(connectionId: string): ClientRecord | undefined {
    const client = this.byConnection.get(connectionId);
    if (client) this.leave(client);
    return client;
  }

  recordTraffic(clientId: string, bytesSent: number, bytesReceived: number): void {
    const client = this.clients.get(clientId);
    if (!client) return;
    client.bytesSent += bytesSent;
    client.bytesReceived += bytesReceived;
  }

  /** Connected tabs that finished loading data and picking a backend. */
  readyClients(): ClientRecord[] {
    return [...this.clients.values()].filter((c) => c.connectionId !== null && c.backend !== null);
  }

  connectedClients(): ClientRecord[] {
    return [...this.clients.values()].filter((c) => c.connectionId !== null);
  }

  /** Every tab that joined with data, away ones too: the population a DP guarantee speaks of by default. */
  members(): ClientRecord[] {
    return [...this.clients.values()].filter((c) => c.numExamples > 0);
  }

  /** Tabs and their shards, for a checkpoint (token hashes, never tokens). */
  save(): SavedRoom {
    const clients = [...this.clients.values()].map((c) => ({
      clientId: c.clientId,
      tokenHash: this.tokenHashOf.get(c.clientId)!,
      shard: c.shard,
      numExamples: c.numExamples,
      attack: c.attack,
    }));
    return { joins: this.joins, dealt: this.dealt, deals: this.deals, clients };
  }

  /** Brings back the tabs of a checkpoint (checked against SavedRoomSchema), all away until they reconnect with their tokens. */
  restore(saved: SavedRoom): void {
    for (const { tokenHash, ...c } of saved.clients) {
      if (this.clients.has(c.clientId)) continue;
      const away = { connectionId: null, backend: null, backendReason: '', labelCounts: null, heldOutExamples: 0, lastLoss: null, lastUpdateAt: null, bytesSent: 0, bytesReceived: 0 };
      this.remember({ ...c, ...away }, tokenHash);
    }
    this.joins = Math.max(this.joins, saved.joins);
    if (saved.dealt !== undefined) this.dealt = saved.dealt;
    if (saved.deals !== undefined) this.deals = saved.deals;
  }

  private remember(record: ClientRecord, tokenHash: string): void {
    this.clients.set(record.clientId, record);
    this.byTokenHash.set(tokenHash, record);
    this.tokenHashOf.set(record.clientId, tokenHash);
  }

  private attach(client: ClientRecord, connectionId: string): void {
    client.connectionId = connectionId;
    this.byConnection.set(connectionId, client);
  }

  private leave(client: ClientRecord): void {
    this.detach(client);
    if (client.backend === null && client.numExamples === 0) this.forget(client);
  }

  private forget(client: ClientRecord): void {
    this.clients.delete(client.clientId);
    const tokenHash = this.tokenHashOf.get(client.clientId);
    if (tokenHash) this.byTokenHash.delete(tokenHash);
    this.tokenHashOf.delete(client.clientId);
  }

  private detach(client: ClientRecord): void {
    if (client.connectionId) this.byConnection.delete(client.connectionId);
    client.connectionId = null;
  }

  private uniquePublicId(): string {
    let id = this.newPublicId();
    while (this.clients.has(id)) id = this.newPublicId();
    return id;
  }

  private require(clientId: string): ClientRecord {
    const client = this.clients.get(clientId);
    if (!client) throw new Error(`unknown client ${clientId}: join first`);
    return client;
  }
}

// Typed Socket.IO event maps shared by the coordinator, the participant page and
// the dashboard. Weights always travel as binary (ArrayBuffer), never as JSON numbers.
import { Type, type Static } from '@sinclair/typebox';
import type { ModelName } from './model-spec.ts';
import type { Settings } from './settings.ts';

export const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/**
 * Attack simulation, for teaching and testing robust aggregation (shared/fl/attacks.ts):
 * sign-flip sends −10 × its delta, scale sends 10 ×, gaussian sends noise of 10 × its delta's
 * scale, label-flip trains on labels 9 − y. 'none' is an honest tab.
 */
export const ATTACK_MODES = ['none', 'sign-flip', 'scale', 'gaussian', 'label-flip'] as const;
export type AttackMode = (typeof ATTACK_MODES)[number];

/** Most examples one tab may claim: its FedAvg weight is bounded by this. */
export const MAX_EXAMPLES_PER_TAB = 10_000_000;

export type Phase = 'idle' | 'waiting' | 'selecting' | 'training' | 'aggregating' | 'evaluating' | 'done' | 'stopped';

/**
 * joining: loading its shard and picking a backend · idle: ready, not in a round ·
 * training / uploading: in the current round · submitted: its update was accepted ·
 * late: missed the last round's deadline · dropped: left in the middle of a round.
 */
export type ClientStatus = 'joining' | 'idle' | 'training' | 'uploading' | 'submitted' | 'late' | 'dropped';

export interface ShardInfo {
  index: number;
  count: number;
  /** Where the tab fetches its shard (binary, see shared/dataset-format.ts). */
  url: string;
}

// Messages a tab sends: one TypeBox schema each is both the wire check (server/message-validation.ts)
// and the TypeScript type, so the two cannot disagree.
export const JoinRequestSchema = Type.Object(
  {
    /** The secret this tab was given at its first join: sent again on reconnect to keep its identity and shard. */
    resumeToken: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' })),
    /** The room's code (from the join URL's ?room= or typed in); required when the room has one. */
    roomCode: Type.Optional(Type.String({ maxLength: 32 })),
  },
  { additionalProperties: false },
);
export type JoinRequest = Static<typeof JoinRequestSchema>;

export interface JoinReply {
  /** Public id: what the dashboard and /api/status show. Knowing it gives no power over the tab. */
  clientId: string;
  /** Secret: only this tab holds it; it proves the tab's identity on reconnect. Never shown publicly. */
  resumeToken: string;
  shard: ShardInfo;
  model: ModelName;
}

export const ReadyReportSchema = Type.Object(
  {
    backend: Type.Union(BACKENDS.map((b) => Type.Literal(b))),
    /** Why this backend: "measured fastest: wasm 2,400 ex/s, webgl 1,700 ex/s…" or "forced by ?backend=". */
    backendReason: Type.String({ maxLength: 1000 }),
    numExamples: Type.Integer({ minimum: 1, maximum: MAX_EXAMPLES_PER_TAB }),
    /** From the page's ?attack= parameter; the dashboard can change it later (admin only). */
    attack: Type.Optional(Type.Union(ATTACK_MODES.map((m) => Type.Literal(m)))),
  },
  { additionalProperties: false },
);
export type ReadyReport = Static<typeof ReadyReportSchema>;

export interface RoundConfig {
  localEpochs: number;
  batchSize: number;
  learningRate: number;
  deadlineMs: number;
}

export interface RoundStart {
  round: number;
  attempt: number;
  model: ModelName;
  /** Global weights, shared/wire.ts format. */
  weights: ArrayBuffer;
  config: RoundConfig;
}

export const TrainingProgressSchema = Type.Object(
  {
    round: Type.Integer({ minimum: 1 }),
    epoch: Type.Integer({ minimum: 0, maximum: 10_000 }),
    loss: Type.Number(),
    /** True once training is over and the delta is being sent. */
    uploading: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type TrainingProgress = Static<typeof TrainingProgressSchema>;

/** An update's metadata; `delta` (local − global, shared/wire.ts format) is checked by the wire decoder. */
export const UpdateMessageSchema = Type.Object(
  {
    round: Type.Integer({ minimum: 1 }),
    numExamples: Type.Integer({ minimum: 1, maximum: MAX_EXAMPLES_PER_TAB }),
    /** Mean local training loss of the last epoch. */
    loss: Type.Number(),
    delta: Type.Unknown(),
  },
  { additionalProperties: false },
);
export type UpdateMessage = Omit<Static<typeof UpdateMessageSchema>, 'delta'> & { delta: ArrayBuffer };

export const AttackRequestSchema = Type.Object(
  { mode: Type.Union(ATTACK_MODES.map((m) => Type.Literal(m))) },
  { additionalProperties: false },
);

export type UpdateAck = { accepted: true } | { accepted: false; error: string };

export interface RoundMetrics {
  round: number;
  attempt: number;
  accuracy: number;
  loss: number;
  participants: number;
  selected: number;
  /** Total FedAvg weight (examples, after the cap). */
  totalWeight: number;
  /** Std of the Gaussian noise added to the mean delta (0 without DP). */
  noiseStd: number;
  /** (ε, δ) spent so far; null without noise. */
  epsilon: number | null;
  delta: number | null;
  durationMs: number;
  /** Who answered in time, who missed the deadline, who left mid-round (clientIds). */
  answered: string[];
  late: string[];
  dropped: string[];
  /** The aggregation rule, e.g. "median"; and whose updates it left out or counted for less. */
  aggregation: string;
  discarded: string[];
  downweighted: string[];
  /** Bytes on the wire this round (all tabs): weights sent out, updates received. */
  bytesSent: number;
  bytesReceived: number;
}

export interface ClientView {
  /** Public id; the tab's secret resume token is never shown. */
  clientId: string;
  shard: number;
  backend: BackendName | null;
  backendReason: string;
  numExamples: number;
  status: ClientStatus;
  lastLoss: number | null;
  connected: boolean;
  /** Server time (ms) of its last accepted update. */
  lastUpdateAt: number | null;
  /** Bytes on the wire to and from this tab since it joined. */
  bytesSent: number;
  bytesReceived: number;
  /** Simulated attack this tab runs ('none': honest). */
  attack: AttackMode;
}

export interface RunState {
  phase: Phase;
  round: number;
  attempt: number;
  selected: string[];
  answered: string[];
  deadlineAt: number | null;
  message: string;
  settings: Settings;
  modelTitle: string;
  paramCount: number;
  clients: ClientView[];
  history: RoundMetrics[];
  /** Server clock when this state was made: countdowns use deadlineAt − serverNow. */
  serverNow: number;
  /** URLs a participant can open (LAN addresses first when there are any), with the room code in them. */
  joinUrls: string[];
  /** Short code needed to join; null when the room is open. */
  roomCode: string | null;
}

export interface ServerToClientEvents {
  'round:start': (start: RoundStart) => void;
  'round:done': (metrics: RoundMetrics) => void;
  /** Sent to the dashboard on every change. */
  'state': (state: RunState) => void;
  /** A problem with something this socket sent; also logged on the coordinator. */
  'flock:error': (message: string) => void;
  /** The admin switched this tab into (or out of) an attacker; applies from its next round. */
  'participant:attack': (mode: AttackMode) => void;
}

export interface ClientToServerEvents {
  'participant:join': (request: JoinRequest, ack: (reply: JoinReply | { error: string }) => void) => void;
  'participant:ready': (report: ReadyReport) => void;
  'participant:progress': (progress: TrainingProgress) => void;
  'participant:update': (update: UpdateMessage, ack: (result: UpdateAck) => void) => void;
  'dashboard:join': () => void;
}

/** Largest non-binary message the coordinator accepts (checked before parsing); weights are checked separately. */
export const MAX_METADATA_BYTES = 4096;

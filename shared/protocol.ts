// Typed Socket.IO event maps shared by the coordinator, the participant page and
// the dashboard. Weights always travel as binary (ArrayBuffer), never as JSON numbers.
import type { ModelName } from './model-spec.ts';
import type { Settings } from './settings.ts';

export const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

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

export interface JoinRequest {
  /** Sent again on reconnect so the tab keeps its identity and shard. */
  clientId?: string;
  /** The room's code (from the join URL's ?room= or typed in); required when the room has one. */
  roomCode?: string;
}

export interface JoinReply {
  clientId: string;
  shard: ShardInfo;
  model: ModelName;
}

export interface ReadyReport {
  backend: BackendName;
  /** Why this backend: "measured fastest: wasm 2,400 ex/s, webgl 1,700 ex/s…" or "forced by ?backend=". */
  backendReason: string;
  numExamples: number;
}

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

export interface TrainingProgress {
  round: number;
  epoch: number;
  loss: number;
  /** True once training is over and the delta is being sent. */
  uploading?: boolean;
}

export interface UpdateMessage {
  round: number;
  numExamples: number;
  /** Mean local training loss of the last epoch. */
  loss: number;
  /** local − global, shared/wire.ts format. */
  delta: ArrayBuffer;
}

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
  /** Bytes on the wire this round (all tabs): weights sent out, updates received. */
  bytesSent: number;
  bytesReceived: number;
}

export interface ClientView {
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
}

export interface ClientToServerEvents {
  'participant:join': (request: JoinRequest, ack: (reply: JoinReply | { error: string }) => void) => void;
  'participant:ready': (report: ReadyReport) => void;
  'participant:progress': (progress: TrainingProgress) => void;
  'participant:update': (update: UpdateMessage, ack: (result: UpdateAck) => void) => void;
  'dashboard:join': () => void;
}

/** Largest non-binary message the coordinator accepts; weights are checked separately. */
export const MAX_METADATA_BYTES = 4096;

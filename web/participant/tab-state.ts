// What this tab knows about itself, in one place: the view renders it, and e2e
// tests read a frozen copy of it as window.flock.
import type { ModelName } from '../../shared/model-spec.ts';
import type { LocalPrivatization } from '../../shared/fl/local-dp.ts';
import type { AttackMode, BackendName } from '../../shared/protocol/records.ts';
import type { ProbeResult } from '../worker-protocol.ts';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

export type TabStatus =
  | 'starting'
  | 'joining'
  | 'loading data'
  | 'choosing backend'
  | 'waiting for a round'
  | 'training'
  | 'uploading'
  | 'update accepted'
  | 'update rejected'
  | 'error';

export interface TabState {
  connection: ConnectionState;
  clientId: string | null;
  model: ModelName | null;
  shardIndex: number | null;
  shardCount: number | null;
  /** Examples it trains on (the shard less the held-out ones, plus drawings). */
  numExamples: number;
  /** Examples held out for federated evaluation (shared/held-out.ts), never trained on. */
  heldOutExamples: number;
  /** Its last federated evaluation: the global model of `round` on its held-out examples. */
  heldOutEvaluation: { round: number; accuracy: number; loss: number; count: number } | null;
  backend: BackendName | null;
  backendReason: string;
  /** One row per backend measured (or skipped), in the order they were tried. */
  probe: ProbeResult[];
  status: TabStatus;
  /** The round this tab trained last or is training; 0 before its first. */
  round: number;
  /** Local training speed of the last round, examples per second. */
  examplesPerSec: number | null;
  updatesAccepted: number;
  updatesRejected: number;
  lastError: string | null;
  /** Global test accuracy from the last round:done. */
  lastAccuracy: number | null;
  /** tf.memory().numTensors in the worker after the last round (flat across rounds). */
  numTensors: number | null;
  /** Digits drawn on this page and added to the local data. */
  drawnExamples: number;
  /**
   * Attack simulation (shared/fl/attacks.ts): 'none' for an honest tab. Set by ?attack= and
   * then by the dashboard; each round trains with the mode in force when it starts.
   */
  attack: AttackMode;
  /** Examples per label in this tab's data (its shard and what was drawn); null before the shard loaded. */
  labelCounts: number[] | null;
  /** What this tab did to its last update before sending it: clipping, local noise (null: neither). */
  privatized: LocalPrivatization | null;
  /** The last round's update went through secure aggregation: how many tabs its masks paired it with. */
  secureAggregation: { round: number; peers: number } | null;
}

/** window.flock: read-only, a fresh frozen copy on every read. */
export type FlockTestHook = Readonly<TabState & { connected: boolean }>;

declare global {
  interface Window {
    readonly flock: FlockTestHook;
    /**
     * The last update as this tab computed it (clipped, before any masking), kept on the page
     * only, for e2e tests to check what the coordinator made of it. Never sent anywhere as is
     * when secure aggregation is on.
     */
    flockLastUpdate?: { round: number; delta: Float32Array };
  }
}

export function createTabState(): TabState {
  const state: TabState = {
    connection: 'connecting',
    clientId: null,
    model: null,
    shardIndex: null,
    shardCount: null,
    numExamples: 0,
    heldOutExamples: 0,
    heldOutEvaluation: null,
    backend: null,
    backendReason: '',
    probe: [],
    status: 'starting',
    round: 0,
    examplesPerSec: null,
    updatesAccepted: 0,
    updatesRejected: 0,
    lastError: null,
    lastAccuracy: null,
    numTensors: null,
    drawnExamples: 0,
    attack: 'none',
    privatized: null,
    secureAggregation: null,
    labelCounts: null,
  };
  Object.defineProperty(window, 'flock', {
    get: (): FlockTestHook =>
      Object.freeze({ ...state, connected: state.connection === 'connected', probe: state.probe.map((p) => Object.freeze({ ...p })) }),
  });
  return state;
}

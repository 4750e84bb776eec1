// What a participant knows about itself, in one place: the loop (participant.ts) keeps it, hosts
// show it (the page's view, window.flock) or read it (the Node participants, tests).
import type { TabEvaluation } from '../fl/federated-evaluation.ts';
import type { LocalPrivatization } from '../fl/local-dp.ts';
import type { ModelName } from '../model-spec.ts';
import type { AttackMode, BackendName } from '../protocol/records.ts';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

export type ParticipantStatus =
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

export interface ParticipantState {
  connection: ConnectionState;
  status: ParticipantStatus;
  clientId: string | null;
  model: ModelName | null;
  shardIndex: number | null;
  shardCount: number | null;
  /** From the join reply: false under local DP or secure aggregation, and then no statistics of its data leave the tab. */
  shareStatistics: boolean;
  /** Examples it trains on (the shard less the held-out ones, plus any added). */
  numExamples: number;
  /** Examples held out for federated evaluation, never trained on. */
  heldOutExamples: number;
  /** Examples per label of what it trains on; null before the shard is loaded (or without real data). */
  labelCounts: number[] | null;
  /** Its last federated evaluation: the global model of `round` on its held-out examples (shown even when not reported). */
  heldOutEvaluation: ({ round: number } & TabEvaluation) | null;
  backend: BackendName | null;
  backendReason: string;
  /** The round it trained last or is training; 0 before its first. */
  round: number;
  /** Local training speed of the last round. */
  examplesPerSec: number | null;
  updatesAccepted: number;
  updatesRejected: number;
  lastError: string | null;
  /** Global test accuracy from the last round:done. */
  lastAccuracy: number | null;
  /** tfjs's live tensors after the last round (flat across rounds); null without tfjs. */
  numTensors: number | null;
  /** Attack simulation: each round trains with the mode in force when it starts. */
  attack: AttackMode;
  /** What it did to its last update before sending it: clipping, local noise (null: neither). */
  privatized: LocalPrivatization | null;
  /** Its last update went through secure aggregation: how many tabs its masks paired it with. */
  secureAggregation: { round: number; peers: number } | null;
}

export function initialParticipantState(attack: AttackMode = 'none'): ParticipantState {
  return {
    connection: 'connecting',
    status: 'starting',
    clientId: null,
    model: null,
    shardIndex: null,
    shardCount: null,
    shareStatistics: false, // until the join reply says otherwise
    numExamples: 0,
    heldOutExamples: 0,
    labelCounts: null,
    heldOutEvaluation: null,
    backend: null,
    backendReason: '',
    round: 0,
    examplesPerSec: null,
    updatesAccepted: 0,
    updatesRejected: 0,
    lastError: null,
    lastAccuracy: null,
    numTensors: null,
    attack,
    privatized: null,
    secureAggregation: null,
  };
}

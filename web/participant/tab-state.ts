// What this tab knows about itself, in one place; the view renders it and
// e2e tests read it as window.flock.
import type { BackendName } from '../../shared/protocol.ts';
import type { ProbeResult } from '../worker-protocol.ts';

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
  connected: boolean;
  clientId: string | null;
  shardIndex: number | null;
  numExamples: number;
  backend: BackendName | null;
  backendReason: string;
  probe: ProbeResult[];
  status: TabStatus;
  round: number;
  updatesAccepted: number;
  updatesRejected: number;
  lastError: string | null;
  lastAccuracy: number | null;
  /** tf.memory().numTensors in the worker after the last round (flat across rounds). */
  numTensors: number | null;
  /** Digits drawn on this page and added to the local data. */
  drawnExamples: number;
}

declare global {
  interface Window {
    flock: TabState;
  }
}

export function createTabState(): TabState {
  const state: TabState = {
    connected: false,
    clientId: null,
    shardIndex: null,
    numExamples: 0,
    backend: null,
    backendReason: '',
    probe: [],
    status: 'starting',
    round: 0,
    updatesAccepted: 0,
    updatesRejected: 0,
    lastError: null,
    lastAccuracy: null,
    numTensors: null,
    drawnExamples: 0,
  };
  window.flock = state;
  return state;
}

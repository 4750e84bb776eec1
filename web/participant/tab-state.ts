// What this tab knows about itself, in one place: the participant loop's state (kept in the
// training worker and sent after every change) and what only the page has. The view renders it,
// and e2e tests read a frozen copy of it as window.flock.
import { initialParticipantState, type ParticipantState } from '../../shared/participant/state.ts';
import type { AttackMode } from '../../shared/protocol/records.ts';
import type { ProbeResult } from '../worker-protocol.ts';

export type { ConnectionState, ParticipantStatus as TabStatus } from '../../shared/participant/state.ts';

export interface TabState extends ParticipantState {
  /** One row per backend measured (or skipped), in the order they were tried. */
  probe: ProbeResult[];
  /** Digits drawn on this page and added to the local data. */
  drawnExamples: number;
}

/** window.flock: read-only, a fresh frozen copy on every read. */
export type FlockTestHook = Readonly<TabState & { connected: boolean }>;

declare global {
  interface Window {
    readonly flock: FlockTestHook;
  }
}

export function createTabState(attack: AttackMode): TabState {
  const state: TabState = { ...initialParticipantState(attack), probe: [], drawnExamples: 0 };
  Object.defineProperty(window, 'flock', {
    get: (): FlockTestHook =>
      Object.freeze({ ...state, connected: state.connection === 'connected', probe: state.probe.map((p) => Object.freeze({ ...p })) }),
  });
  return state;
}

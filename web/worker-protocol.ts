// Typed messages between the participant page and its training worker (trainer.worker.ts), which
// hosts the participant loop: the coordinator's connection, the model and the examples all live
// there, so weights and deltas never cross postMessage. The page keeps what only it has: the DOM,
// sessionStorage (the resume token), localStorage (the measured backend), the room-code form.
import type { ModelName } from '../shared/model-spec.ts';
import type { LocalProgress } from '../shared/participant/trainer.ts';
import type { ParticipantState } from '../shared/participant/state.ts';
import type { AttackMode, BackendName } from '../shared/protocol/records.ts';

export interface ProbeResult {
  backend: BackendName;
  /** Training throughput measured on the task's model; null when the backend was skipped. */
  examplesPerSec: number | null;
  /** Why it was skipped or how it was measured. */
  note: string;
}

export interface BackendChoice {
  backend: BackendName;
  reason: string;
  probe: ProbeResult[];
}

export type ToWorker =
  | {
      type: 'start';
      /** The coordinator (the page's origin). */
      url: string;
      /** From the join link's ?room=. */
      roomCode: string | null;
      /** From sessionStorage: this tab's identity, if it joined before. */
      resumeToken: string | null;
      /** From ?attack= (already checked): the mode of the first rounds. */
      attack: AttackMode;
      /** From ?backend=…: use this one, no probing. */
      forcedBackend: BackendName | null;
      /** Earlier probes' choices on this device (from localStorage), by model. */
      cachedChoices: Partial<Record<ModelName, BackendChoice>>;
    }
  /** What the person typed into the room-code form the worker asked for. */
  | { type: 'room-code'; code: string }
  /** Digits drawn on the page: joined to the local data, used from the next round on. */
  | { type: 'add-examples'; pixels: ArrayBuffer; labels: ArrayBuffer };

export type FromWorker =
  /** The loop's state and the backend probe's rows, after every change. */
  | { type: 'state'; state: ParticipantState; probe: ProbeResult[] }
  /** A loss read-back during training (the loss chart). */
  | { type: 'progress'; progress: LocalProgress }
  | { type: 'ask-room-code'; message: string }
  /** The coordinator gave this tab its identity: the page keeps it in sessionStorage. */
  | { type: 'resume-token'; token: string }
  /** A backend measured (not forced) for a model: the page keeps it in localStorage. */
  | { type: 'backend-chosen'; model: ModelName; choice: BackendChoice }
  | { type: 'examples-added'; numExamples: number }
  | { type: 'examples-refused'; message: string }
  /** A round's result is out: the global model changed. */
  | { type: 'round-done' };

// What a checkpoint of the run holds, and turning it back into typed values: the round state
// machine's snapshot, the room's tabs (token hashes, never tokens) and the global model.
// The file format and its atomic writes are checkpoint-store.ts's business.
import type { Phase, RoundMetrics } from '../shared/protocol.ts';
import { resolveSettings } from '../shared/settings.ts';
import { CheckpointStore } from './checkpoint-store.ts';
import type { SavedClient } from './room.ts';
import type { RunSnapshot } from './round.ts';

/** Bumped when the meta's shape changes; an older checkpoint is then refused with a clear message. */
const RUN_CHECKPOINT_VERSION = 2; // 2: the privacy ledger and clip norm, and the per-round privacy records
const PHASES: readonly Phase[] = ['idle', 'waiting', 'selecting', 'training', 'aggregating', 'evaluating', 'done', 'stopped'];

export interface RunCheckpoint {
  run: RunSnapshot;
  room: { joins: number; clients: SavedClient[] };
  global: Float32Array;
}

interface RunMeta {
  version: number;
  run: RunSnapshot;
  room: RunCheckpoint['room'];
}

export class RunCheckpoints {
  private readonly store: CheckpointStore;

  constructor(dir: string, log: (level: 'info' | 'warn', message: string) => void) {
    this.store = new CheckpointStore({ dir, keep: 3, log });
  }

  /** Copies the model at once: the run may move on before the write is done. */
  save(checkpoint: RunCheckpoint): Promise<unknown> {
    const meta: RunMeta = { version: RUN_CHECKPOINT_VERSION, run: checkpoint.run, room: checkpoint.room };
    return this.store.save({ meta: JSON.parse(JSON.stringify(meta)), arrays: { global: checkpoint.global.slice() } });
  }

  async load(): Promise<(RunCheckpoint & { path: string }) | null> {
    const latest = await this.store.loadLatest();
    if (!latest) return null;
    const meta = latest.checkpoint.meta as Partial<RunMeta>;
    const global = latest.checkpoint.arrays.global;
    if (meta?.version !== RUN_CHECKPOINT_VERSION || !global) {
      throw new Error(`${latest.path} is a checkpoint of another Flock version (${String(meta?.version)}); start with --fresh`);
    }
    const { run, room } = meta as RunMeta;
    if (!PHASES.includes(run.phase) || !Number.isInteger(run.completedRounds) || !Array.isArray(run.history) || !Array.isArray(room?.clients)) {
      throw new Error(`${latest.path} has an unexpected run state; start with --fresh`);
    }
    return {
      path: latest.path,
      global,
      room,
      run: { ...run, settings: resolveSettings(run.settings), history: run.history as RoundMetrics[] },
    };
  }

  clear(): Promise<void> {
    return this.store.clear();
  }
}

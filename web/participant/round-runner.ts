// One federated round on this tab: decode the global weights, train in the worker,
// send local − global, show the coordinator's answer. A newer round cancels an older
// one; a round:start resent after a reconnect does not start the same round twice.
import { modelSpec } from '../../shared/model-spec.ts';
import type { RoundStart, UpdateAck } from '../../shared/protocol.ts';
import { decodeWeights, encodeWeights } from '../../shared/wire.ts';
import type { Connection } from './connection.ts';
import type { TabState } from './tab-state.ts';
import type { TrainerClient, TrainingJob } from './trainer-client.ts';

const UPLOAD_ACK_TIMEOUT_MS = 60_000;

export interface RoundRunnerDeps {
  state: TabState;
  show(): void;
  connection: Connection;
  /** The worker for the joined model, or null while it is being prepared. */
  trainer(): TrainerClient | null;
}

/** The round this tab is training or uploading. */
interface CurrentRound {
  round: number;
  global: Float32Array;
  job: TrainingJob;
}

export class RoundRunner {
  private current: CurrentRound | null = null;

  constructor(private readonly deps: RoundRunnerDeps) {}

  async run(start: RoundStart): Promise<void> {
    const { state, show, connection } = this.deps;
    const trainer = this.deps.trainer();
    if (!trainer) return; // not ready: the coordinator resends the round once this tab reports ready
    if (trainer.model !== start.model) {
      state.lastError = `the coordinator now trains ${start.model}, this tab was set up for ${trainer.model}: joining again`;
      show();
      connection.rejoin();
      return;
    }
    const spec = modelSpec(start.model);
    let global: Float32Array;
    try {
      global = decodeWeights(spec, start.weights);
    } catch (error) {
      return this.fail(null, `round ${start.round}: the global weights are unusable: ${(error as Error).message}`);
    }
    // Resent after a reconnect: already on it. (Same number, other weights: the coordinator restarted.)
    if (this.current?.round === start.round && sameValues(this.current.global, global)) return;
    this.current?.job.cancel();

    const { localEpochs, batchSize, learningRate } = start.config;
    // The mode in force now: a switch from the dashboard during this round applies from the next.
    const job = trainer.train({ round: start.round, weights: global, epochs: localEpochs, batchSize, learningRate, attack: state.attack });
    const current: CurrentRound = { round: start.round, global, job };
    this.current = current;
    state.round = start.round;
    state.status = 'training';
    show();

    let result;
    try {
      result = await job.result;
    } catch (error) {
      return this.fail(current, `round ${start.round}: training failed: ${(error as Error).message}`);
    }
    if (result === 'cancelled' || this.current !== current) return;
    state.numTensors = result.numTensors;
    state.examplesPerSec = result.examplesPerSec;
    state.status = 'uploading';
    show();

    // After a disconnect, wait for the re-join: an update sent before it would reach an unknown socket.
    await connection.whenJoined();
    if (this.current !== current) return;
    connection.socket.emit('participant:progress', { round: start.round, epoch: localEpochs, loss: result.loss, uploading: true });
    const delta = encodeWeights(spec, new Float32Array(result.delta));
    let ack: UpdateAck;
    try {
      ack = await connection.socket
        .timeout(UPLOAD_ACK_TIMEOUT_MS)
        .emitWithAck('participant:update', { round: start.round, numExamples: result.numExamples, loss: result.loss, delta });
    } catch {
      return this.fail(current, `round ${start.round}: no answer to the upload within ${UPLOAD_ACK_TIMEOUT_MS / 1000} s (connection lost?)`);
    }
    // Count the answer even if the next round has started: the coordinator opens it
    // before it acknowledges the update that completed this one.
    if (ack.accepted) state.updatesAccepted++;
    else {
      state.updatesRejected++;
      state.lastError = ack.error;
    }
    if (this.current === current) {
      this.current = null;
      state.status = ack.accepted ? 'update accepted' : 'update rejected';
    }
    show();
  }

  /** Shows a failure; the status turns to error only if `failed` is what this tab is doing (null: idle). */
  private fail(failed: CurrentRound | null, message: string): void {
    const { state, show } = this.deps;
    state.lastError = message;
    if (this.current === failed) {
      this.current = null;
      state.status = 'error';
    }
    show();
  }
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

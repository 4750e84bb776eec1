// One federated round on this tab: decode the global weights, evaluate them on the held-out
// examples and report (federated evaluation: they are round r − 1's model), train in the worker,
// send local − global, show the coordinator's answer. A newer round cancels an older one; a
// round:start resent after a reconnect does not start the same round twice, nor evaluate twice.
import { modelSpec } from '../../shared/model-spec.ts';
import type { EvaluationRequest, RoundStart, UpdateAck } from '../../shared/protocol/messages.ts';
import { decodeWeights, encodeWeights } from '../../shared/wire.ts';
import { createSecureRng } from '../../shared/fl/secure-random.ts';
import { SecureUploadSession } from '../../shared/secagg/upload-session.ts';
import type { ForwardWire, RosterWire, UnmaskWire } from '../../shared/protocol/messages.ts';
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
  /** The split this tab's shard came from (ShardInfo.dataVersion), or null before it joined. */
  dataVersion(): string | null;
}

/** The round this tab is training or uploading. */
interface CurrentRound {
  round: number;
  attempt: number;
  global: Float32Array;
  job: TrainingJob;
  /** Secure aggregation's session for this attempt (its keys are made while the tab trains). */
  secure: Promise<SecureUploadSession> | null;
}

export class RoundRunner {
  private current: CurrentRound | null = null;
  /** The latest secure-aggregation session: it outlives the upload, since the reveal comes after the ack. */
  private secure: { round: number; session: Promise<SecureUploadSession> } | null = null;
  /** The global model this tab evaluated last: a round start resent or retried with it is not evaluated again. */
  private evaluated: { round: number; global: Float32Array } | null = null;

  constructor(private readonly deps: RoundRunnerDeps) {}

  async run(start: RoundStart): Promise<void> {
    const { state, show, connection } = this.deps;
    const trainer = this.deps.trainer();
    if (!trainer) return; // not ready: the coordinator resends the round once this tab reports ready
    if (trainer.model !== start.model || this.deps.dataVersion() !== start.dataVersion) {
      // The coordinator resends the round once this tab is ready again with the right model and shard
      // (a new split is no error: the tab just shows it is loading data again).
      if (trainer.model !== start.model) {
        state.lastError = `the coordinator now trains ${start.model}, this tab was set up for ${trainer.model}: joining again`;
      }
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
    // A retry of the round is a new attempt: with secure aggregation it needs fresh keys, so it starts over.
    if (this.current?.round === start.round && this.current.attempt === start.attempt && sameValues(this.current.global, global)) return;
    this.current?.job.cancel();
    // Asked before the training: the worker evaluates first, so the report goes out long before the update.
    this.evaluate(trainer, start.round - 1, global);

    const { localEpochs, batchSize, learningRate, proximalMu, clipNorm, localNoiseMultiplier } = start.config;
    // The mode in force now: a switch from the dashboard during this round applies from the next.
    const job = trainer.train({
      round: start.round,
      weights: global,
      epochs: localEpochs,
      batchSize,
      learningRate,
      proximalMu,
      attack: state.attack,
      clipNorm,
      localNoiseMultiplier,
    });
    const current: CurrentRound = { round: start.round, attempt: start.attempt, global, job, secure: start.config.secureAggregation ? this.openSecureSession(start) : null };
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
    state.privatized = result.privatized;
    window.flockLastUpdate = { round: start.round, delta: new Float32Array(result.delta.slice(0)) };
    state.status = 'uploading';
    show();

    // After a disconnect, wait for the re-join: an update sent before it would reach an unknown socket.
    await connection.whenJoined();
    if (this.current !== current) return;
    connection.socket.emit('participant:progress', { round: start.round, epoch: localEpochs, loss: result.loss, uploading: true });
    let ack: UpdateAck;
    try {
      if (current.secure) {
        const session = await current.secure;
        const withinClipNorm = result.privatized !== null && result.privatized.normBefore <= clipNorm;
        ack = await session.submit(new Float32Array(result.delta), withinClipNorm, result.loss, createSecureRng());
        state.secureAggregation = { round: start.round, peers: session.peers };
      } else {
        const delta = encodeWeights(spec, new Float32Array(result.delta));
        ack = await connection.socket
          .timeout(UPLOAD_ACK_TIMEOUT_MS)
          .emitWithAck('participant:update', { round: start.round, numExamples: result.numExamples, loss: result.loss, delta });
      }
    } catch (error) {
      const why = error instanceof Error && error.name !== 'Error' ? error.message : `no answer to the upload within ${UPLOAD_ACK_TIMEOUT_MS / 1000} s (connection lost?)`;
      return this.fail(current, `round ${start.round}: ${why}`);
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

  /** The run's final model (round:evaluate): evaluated and reported like the model in a round start. */
  evaluateFinal(request: EvaluationRequest): void {
    const trainer = this.deps.trainer();
    if (!trainer || trainer.model !== request.model || this.deps.dataVersion() !== request.dataVersion) return; // held out from another split
    let global: Float32Array;
    try {
      global = decodeWeights(modelSpec(request.model), request.weights);
    } catch (error) {
      return this.showError(`round ${request.round}: the final model is unusable: ${(error as Error).message}`);
    }
    this.evaluate(trainer, request.round, global);
  }

  /** Evaluates `global` (round `round`'s model) on the held-out examples in the worker and reports it, once per model. */
  private evaluate(trainer: TrainerClient, round: number, global: Float32Array): void {
    const { state, show, connection } = this.deps;
    if (round < 1 || state.heldOutExamples === 0) return; // round 1 starts from the initial model: nothing to report on
    if (this.evaluated?.round === round && sameValues(this.evaluated.global, global)) return;
    this.evaluated = { round, global };
    trainer.evaluate(round, global).then(
      async ({ accuracy, loss, count }) => {
        state.heldOutEvaluation = { round, accuracy, loss, count };
        show();
        await connection.whenJoined();
        connection.socket.emit('participant:evaluation', { round, accuracy, loss, count });
      },
      (error: unknown) => {
        if (this.evaluated?.round === round) this.evaluated = null; // a resent start may try again
        this.showError(`round ${round}: evaluating the global model on the held-out examples failed: ${(error as Error).message}`);
      },
    );
  }

  // Secure aggregation's messages from the coordinator go to the session of their attempt.
  onRoster(wire: RosterWire): void {
    this.withSession(wire, (session) => session.onRoster(wire));
  }

  onForwardedShares(wire: ForwardWire): void {
    this.withSession(wire, (session) => session.onForward(wire));
  }

  onUnmask(wire: UnmaskWire): void {
    this.withSession(wire, async (session) => session.onUnmask(wire));
  }

  private withSession(message: { round: number; attempt: number }, step: (session: SecureUploadSession) => Promise<void>): void {
    const secure = this.secure;
    if (!secure) return; // not in a secure round: nothing to answer
    secure.session
      .then(async (session) => {
        if (session.belongsTo(message)) await step(session);
      })
      .catch((error: unknown) => {
        const current = this.current?.round === secure.round ? this.current : null;
        this.fail(current, `round ${secure.round}: secure aggregation: ${(error as Error).message}`);
      });
  }

  private openSecureSession(start: RoundStart): Promise<SecureUploadSession> {
    const { connection, state } = this.deps;
    const socket = connection.socket;
    const session = SecureUploadSession.open({
      clientId: state.clientId ?? '',
      round: start.round,
      attempt: start.attempt,
      transport: {
        sendKeys: (wire) => socket.emit('secagg:keys', wire),
        sendShares: (wire) => socket.emit('secagg:shares', wire),
        sendMasked: (wire) => socket.timeout(UPLOAD_ACK_TIMEOUT_MS).emitWithAck('secagg:masked-update', wire),
        sendReveal: (wire) => socket.emit('secagg:reveal', wire),
      },
    });
    // Kept before advertising: the roster that answers the keys must find the session.
    const advertised = session.then((s) => {
      s.advertise();
      return s;
    });
    this.secure = { round: start.round, session: advertised };
    return advertised;
  }

  /** Shows a problem that leaves what this tab is doing (training, waiting) as it is. */
  private showError(message: string): void {
    this.deps.state.lastError = message;
    this.deps.show();
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

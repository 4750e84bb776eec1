// One federated round on a participant: decode the global weights, evaluate them on the held-out
// examples (federated evaluation: they are round r − 1's model), train through the host's Trainer,
// send local − global plainly or through secure aggregation, count the coordinator's answer. A
// newer attempt cancels an older one; a round:start resent after a reconnect is not trained twice,
// nor evaluated twice. Where the round's config says shareStatistics is false, no loss and no
// evaluation report leave the tab.
import { modelSpec, type ModelName } from '../model-spec.ts';
import type { Rng } from '../fl/rng.ts';
import type { EvaluationRequest, ForwardWire, RosterWire, RoundStart, UnmaskWire, UpdateAck } from '../protocol/messages.ts';
import { parseReply } from '../protocol/parse.ts';
import { SecureUploadSession } from '../secagg/upload-session.ts';
import { decodeWeights, encodeWeights } from '../wire.ts';
import type { CoordinatorConnection } from './connection.ts';
import type { ParticipantEvents } from './participant.ts';
import type { ParticipantState } from './state.ts';
import type { Trainer, TrainingRun } from './trainer.ts';
import type { Clock } from './transport.ts';

export const UPLOAD_ACK_TIMEOUT_MS = 60_000;
/** Progress reports go out at most this often (volatile: a late one is worth nothing). */
export const PROGRESS_EVERY_MS = 500;

/** The trainer of the joined model and split. */
export interface ReadySession {
  model: ModelName;
  dataVersion: string;
  trainer: Trainer;
}

export interface RoundRunnerDeps {
  state: ParticipantState;
  changed(): void;
  connection: CoordinatorConnection;
  /** The trainer for the joined model and split, or null while it is being prepared. */
  session(): ReadySession | null;
  events: ParticipantEvents;
  clock: Clock;
  /** Secure aggregation's stochastic rounding (shared/fl/secure-random.ts in every host). */
  secureRng(): Rng;
}

/** The attempt this participant is training or uploading. */
interface CurrentRound {
  round: number;
  attempt: number;
  global: Float32Array;
  run: TrainingRun;
  /** Secure aggregation's session for this attempt (its keys are made while it trains). */
  secure: Promise<SecureUploadSession> | null;
}

export class RoundRunner {
  private current: CurrentRound | null = null;
  /** The latest secure-aggregation session: it outlives the upload, since the reveal comes after the ack. */
  private secure: { round: number; session: Promise<SecureUploadSession> } | null = null;
  /** The global model evaluated last: a round start resent or retried with it is not evaluated again. */
  private evaluated: { round: number; global: Float32Array } | null = null;
  private lastProgressAt = -Infinity;

  constructor(private readonly deps: RoundRunnerDeps) {}

  async run(start: RoundStart): Promise<void> {
    const { state, changed, connection, events } = this.deps;
    const session = this.deps.session();
    if (!session) return; // not ready: the coordinator resends the round once this tab reports ready
    if (session.model !== start.model || session.dataVersion !== start.dataVersion) {
      // The coordinator resends the round once this tab is ready again with the right model and shard
      // (a new split is no error: the tab just shows it is loading data again).
      if (session.model !== start.model) {
        state.lastError = `the coordinator now trains ${start.model}, this tab was set up for ${session.model}: joining again`;
      }
      changed();
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
    const { localEpochs, batchSize, learningRate, proximalMu, clipNorm, localNoiseMultiplier, shareStatistics, secureAggregation } = start.config;
    // What the schema cannot say: both need the clip norm that the noise and the fixed-point encoding are sized by.
    if ((localNoiseMultiplier > 0 || secureAggregation) && !(clipNorm > 0)) {
      return this.fail(null, `round ${start.round}: ${secureAggregation ? 'secure aggregation' : 'local noise'} without a clip norm: unusable privacy settings; not training`);
    }
    // Resent after a reconnect: already on it. (Same number, other weights: the coordinator restarted.)
    // A retry of the round is a new attempt: with secure aggregation it needs fresh keys, so it starts over.
    if (this.current?.round === start.round && this.current.attempt === start.attempt && sameValues(this.current.global, global)) return;
    this.cancel();
    const { trainer } = session;
    // Asked before the training: the trainer evaluates first, so the report goes out long before the update.
    this.evaluate(trainer, start.round - 1, global, shareStatistics);

    const startedAt = this.deps.clock.now();
    // The attack mode in force now: a switch from the dashboard during this round applies from the next.
    const run = trainer.train(
      { round: start.round, global, epochs: localEpochs, batchSize, learningRate, proximalMu, attack: state.attack, clipNorm, localNoiseMultiplier },
      (progress) => {
        events.progress?.(progress);
        this.reportProgress({ round: start.round, epoch: progress.epoch, ...(shareStatistics ? { loss: progress.loss } : {}) });
      },
    );
    const current: CurrentRound = { round: start.round, attempt: start.attempt, global, run, secure: secureAggregation ? this.openSecureSession(start) : null };
    this.current = current;
    state.round = start.round;
    state.status = 'training';
    changed();

    let result;
    try {
      result = await run.result;
    } catch (error) {
      return this.fail(current, `round ${start.round}: training failed: ${(error as Error).message}`);
    }
    if (result === 'cancelled' || this.current !== current) return;
    const trained = { loss: result.loss, examplesPerSec: result.examplesPerSec, trainingMs: this.deps.clock.now() - startedAt };
    state.numTensors = result.numTensors;
    state.examplesPerSec = result.examplesPerSec;
    state.privatized = result.privatized;
    state.status = 'uploading';
    events.trained?.(start.round, result.delta);
    changed();

    // After a disconnect, wait for the re-join: an update sent before it would reach an unknown socket.
    await connection.whenJoined();
    if (this.current !== current) return;
    const loss = shareStatistics ? { loss: result.loss } : {};
    connection.transport.send('participant:progress', { round: start.round, epoch: localEpochs, ...loss, uploading: true });
    events.uploading?.(start);
    let ack: UpdateAck;
    try {
      if (current.secure) {
        const secure = await current.secure;
        const withinClipNorm = result.privatized !== null && result.privatized.normBefore <= clipNorm;
        ack = await secure.submit(result.delta, withinClipNorm, shareStatistics ? result.loss : undefined, this.deps.secureRng());
        state.secureAggregation = { round: start.round, peers: secure.peers };
      } else {
        const delta = encodeWeights(spec, result.delta);
        const reply = await connection.transport.request('participant:update', { round: start.round, numExamples: result.numExamples, ...loss, delta }, UPLOAD_ACK_TIMEOUT_MS);
        ack = parseReply('participant:update', reply);
      }
    } catch (error) {
      const why = error instanceof Error && error.name !== 'Error' ? error.message : `no acknowledgement for the update: ${(error as Error).message}`;
      events.answered?.({ round: start.round, attempt: start.attempt, ack: { accepted: false, error: why }, trained });
      return this.fail(current, `round ${start.round}: ${why}`);
    }
    // Count the answer even if the next round has started: the coordinator opens it
    // before it acknowledges the update that completed this one.
    if (ack.accepted) state.updatesAccepted++;
    else {
      state.updatesRejected++;
      state.lastError = ack.error;
      events.problem?.(ack.error);
    }
    if (this.current === current) {
      this.current = null;
      state.status = ack.accepted ? 'update accepted' : 'update rejected';
    }
    events.answered?.({ round: start.round, attempt: start.attempt, ack, trained });
    changed();
  }

  /** Stops the attempt under way, if any (a newer one, another model, closing). */
  cancel(): void {
    this.current?.run.cancel();
    this.current = null;
  }

  /** The run's final model (round:evaluate): evaluated and reported like the model in a round start. */
  evaluateFinal(request: EvaluationRequest, shareStatistics: boolean): void {
    const session = this.deps.session();
    if (!session || session.model !== request.model || session.dataVersion !== request.dataVersion) return; // held out from another split
    let global: Float32Array;
    try {
      global = decodeWeights(modelSpec(request.model), request.weights);
    } catch (error) {
      return this.showError(`round ${request.round}: the final model is unusable: ${(error as Error).message}`);
    }
    this.evaluate(session.trainer, request.round, global, shareStatistics);
  }

  /** Evaluates `global` (round `round`'s model) on the held-out examples, once per model; reports it only where statistics may leave. */
  private evaluate(trainer: Trainer, round: number, global: Float32Array, shareStatistics: boolean): void {
    const { state, changed, connection } = this.deps;
    if (round < 1 || trainer.readiness().heldOutExamples === 0) return; // round 1 starts from the initial model: nothing to report on
    if (this.evaluated?.round === round && sameValues(this.evaluated.global, global)) return;
    this.evaluated = { round, global };
    trainer.evaluate(global).then(
      async ({ accuracy, loss, count }) => {
        state.heldOutEvaluation = { round, accuracy, loss, count };
        changed();
        if (!shareStatistics) return; // shown on this tab only
        await connection.whenJoined();
        connection.transport.send('participant:evaluation', { round, accuracy, loss, count });
      },
      (error: unknown) => {
        if (this.evaluated?.round === round) this.evaluated = null; // a resent start may try again
        this.showError(`round ${round}: evaluating the global model on the held-out examples failed: ${(error as Error).message}`);
      },
    );
  }

  private reportProgress(progress: { round: number; epoch: number; loss?: number }): void {
    const now = this.deps.clock.now();
    if (now - this.lastProgressAt < PROGRESS_EVERY_MS) return;
    this.lastProgressAt = now;
    this.deps.connection.transport.send('participant:progress', progress, { volatile: true });
  }

  // Secure aggregation's messages from the coordinator go to the session of their attempt.
  onRoster(wire: RosterWire): void {
    this.withSession(wire, (session) => session.onRoster(wire));
  }

  onForward(wire: ForwardWire): void {
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
    const { transport } = this.deps.connection;
    const session = SecureUploadSession.open({
      clientId: this.deps.state.clientId ?? '',
      round: start.round,
      attempt: start.attempt,
      transport: {
        sendKeys: (wire) => transport.send('secagg:keys', wire),
        sendShares: (wire) => transport.send('secagg:shares', wire),
        sendMasked: async (wire) => parseReply('secagg:masked-update', await transport.request('secagg:masked-update', wire, UPLOAD_ACK_TIMEOUT_MS)),
        sendReveal: (wire) => transport.send('secagg:reveal', wire),
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
    this.deps.events.problem?.(message);
    this.deps.changed();
  }

  /** Shows a failure; the status turns to error only if `failed` is what this tab is doing (null: idle). */
  private fail(failed: CurrentRound | null, message: string): void {
    const { state, changed, events } = this.deps;
    state.lastError = message;
    events.problem?.(message);
    if (this.current === failed) {
      this.current = null;
      state.status = 'error';
    }
    changed();
  }
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

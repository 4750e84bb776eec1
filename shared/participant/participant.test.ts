// The participant loop against a fake transport, a fake clock and a fake trainer: every message it
// sends is recorded, every answer the test's stand-in for the coordinator gives is explicit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../fl/rng.ts';
import { modelSpec, type ModelName } from '../model-spec.ts';
import type { JoinReply, RoundConfig, RoundStart } from '../protocol/messages.ts';
import { SecAggParticipant } from '../secagg/participant.ts';
import { buildRoster } from '../secagg/roster.ts';
import { decodeSecureSum, encodeSecureInput, secureInputScale } from '../secagg/secure-input.ts';
import { SECURE_INPUT_EXTRA_VALUES, type RosterMessage } from '../secagg/messages.ts';
import { SecureSumUnmasker } from '../secagg/unmasker.ts';
import { advertFromWire, forwardToWire, maskedFromWire, revealFromWire, rosterToWire, sharesFromWire } from '../secagg/wire-codec.ts';
import { decodeWeights, encodeWeights } from '../wire.ts';
import { SERVER_CLOSED_RETRY_MS } from './connection.ts';
import { Participant } from './participant.ts';
import type { LocalProgress, Trainer, TrainerSetup, TrainingJob, TrainedUpdate } from './trainer.ts';
import type { AckedName, Clock, ParticipantTransport, TransportListener } from './transport.ts';

const MODEL: ModelName = 'cnn'; // 5,994 parameters: fast to encode and mask
const P = modelSpec(MODEL).paramCount;

interface Sent {
  name: string;
  payload: Record<string, unknown>;
  volatile: boolean;
}

interface Request extends Sent {
  answer(reply: unknown): void;
  fail(error: Error): void;
}

class FakeTransport implements ParticipantTransport {
  reconnects = true;
  connected = false;
  reconnectCalls = 0;
  /** Every message, requests included, in order. */
  readonly sent: Sent[] = [];
  private readonly open_: Request[] = [];
  private listener: TransportListener | null = null;
  auth: () => Record<string, string> = () => ({});

  open(listener: TransportListener, auth: () => Record<string, string>): void {
    this.listener = listener;
    this.auth = auth;
  }
  reconnect(): void {
    this.reconnectCalls++;
  }
  close(): void {
    this.connected = false;
  }
  send(name: string, payload: unknown, options?: { volatile?: boolean }): void {
    this.sent.push({ name, payload: payload as Record<string, unknown>, volatile: options?.volatile ?? false });
  }
  request<K extends AckedName>(name: K, payload: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const request: Request = {
        name,
        payload: payload as Record<string, unknown>,
        volatile: false,
        answer: (reply) => {
          this.open_.splice(this.open_.indexOf(request), 1);
          resolve(reply);
        },
        fail: (error) => {
          this.open_.splice(this.open_.indexOf(request), 1);
          reject(error);
        },
      };
      this.sent.push(request);
      this.open_.push(request);
    });
  }

  // The coordinator's side.
  connect(): void {
    this.connected = true;
    this.listener!.connected();
  }
  drop(reason: string): void {
    this.connected = false;
    for (const request of [...this.open_]) request.fail(new Error('socket has been disconnected'));
    this.listener!.disconnected(reason);
  }
  deliver(name: string, payload: unknown): void {
    this.listener!.message(name, payload);
  }
  /** The one unanswered request of this name. */
  pending(name: string): Request {
    const found = this.open_.filter((r) => r.name === name);
    assert.equal(found.length, 1, `${found.length} unanswered ${name} requests`);
    return found[0];
  }
  named(name: string): Sent[] {
    return this.sent.filter((m) => m.name === name);
  }
}

class FakeClock implements Clock {
  private time = 0;
  private timers: { at: number; run: () => void }[] = [];
  now(): number {
    return this.time;
  }
  after(ms: number, run: () => void): () => void {
    const timer = { at: this.time + ms, run };
    this.timers.push(timer);
    return () => (this.timers = this.timers.filter((t) => t !== timer));
  }
  advance(ms: number): void {
    this.time += ms;
    const due = this.timers.filter((t) => t.at <= this.time);
    this.timers = this.timers.filter((t) => t.at > this.time);
    for (const t of due) t.run();
  }
}

interface Job {
  job: TrainingJob;
  onProgress(progress: LocalProgress): void;
  cancelled: boolean;
  finish(delta?: Float32Array): void;
}

class FakeTrainer implements Trainer {
  readonly jobs: Job[] = [];
  readonly evaluated: Float32Array[] = [];
  disposed = false;
  constructor(readonly setup: TrainerSetup) {}
  readiness() {
    return { backend: 'cpu' as const, backendReason: 'fake', numExamples: 90, heldOutExamples: 10, labelCounts: [9, 9, 9, 9, 9, 9, 9, 9, 9, 9], numTensors: null };
  }
  train(job: TrainingJob, onProgress: (progress: LocalProgress) => void) {
    let resolve!: (value: TrainedUpdate | 'cancelled') => void;
    const result = new Promise<TrainedUpdate | 'cancelled'>((r) => (resolve = r));
    const entry: Job = {
      job,
      onProgress,
      cancelled: false,
      finish: (delta = new Float32Array(P).fill(0.01)) => {
        const norm = Math.hypot(...delta);
        resolve({ delta, numExamples: 90, loss: 0.7, examplesPerSec: 1000, privatized: job.clipNorm > 0 ? { normBefore: norm, clippedTo: Math.min(norm, job.clipNorm), noiseStd: 0 } : null, numTensors: null });
      },
    };
    this.jobs.push(entry);
    return {
      result,
      cancel: () => {
        entry.cancelled = true;
        resolve('cancelled');
      },
    };
  }
  async evaluate(global: Float32Array) {
    this.evaluated.push(global);
    return { accuracy: 0.5, loss: 1.25, count: 10 };
  }
  dispose(): void {
    this.disposed = true;
  }
}

/** Lets every pending promise chain run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Waits for WebCrypto, whose work runs off the event loop. */
async function eventually(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), `gave up waiting for ${what}`);
}

function joinReply(overrides: Partial<JoinReply> = {}): JoinReply {
  return {
    clientId: 'tab-1',
    resumeToken: 'token-of-tab-1-0001',
    shard: { index: 0, count: 2, url: '/api/shards/0', dataVersion: 'split-1', evalFraction: 0.1 },
    model: MODEL,
    shareStatistics: true,
    ...overrides,
  };
}

function roundStart(round: number, attempt: number, config: Partial<RoundConfig> = {}, overrides: Partial<RoundStart> = {}, value = 0): RoundStart {
  const model = overrides.model ?? MODEL;
  return {
    round,
    attempt,
    model,
    weights: encodeWeights(modelSpec(model), new Float32Array(modelSpec(model).paramCount).fill(value)),
    dataVersion: 'split-1',
    config: {
      localEpochs: 1,
      batchSize: 10,
      learningRate: 0.1,
      proximalMu: 0,
      deadlineMs: 60_000,
      clipNorm: 0,
      localNoiseMultiplier: 0,
      secureAggregation: false,
      shareStatistics: true,
      ...config,
    },
    ...overrides,
  };
}

function setup(options: { token?: string; askForRoomCode?: (message: string) => Promise<string> } = {}) {
  const transport = new FakeTransport();
  const clock = new FakeClock();
  const trainers: FakeTrainer[] = [];
  const store = { token: options.token ?? null, load: () => store.token, save: (token: string) => (store.token = token) };
  const problems: string[] = [];
  const participant = new Participant({
    transport,
    tokens: store,
    clock,
    secureRng: () => createRng(11),
    host: {
      startTrainer: async (trainerSetup) => {
        const trainer = new FakeTrainer(trainerSetup);
        trainers.push(trainer);
        return trainer;
      },
      askForRoomCode: options.askForRoomCode,
    },
    events: { problem: (message) => problems.push(message) },
  });
  participant.start();
  /** Connects and answers the join with `reply`. */
  const join = async (reply = joinReply()) => {
    if (!transport.connected) transport.connect();
    transport.pending('participant:join').answer(reply);
    await settle();
  };
  return { transport, clock, trainers, store, problems, participant, join };
}

test('joins with the resume token in the handshake and the join, asks for the room code when the room wants one, keeps the new token, reports ready', async () => {
  const asked: string[] = [];
  const t = setup({ token: 'token-from-last-visit', askForRoomCode: async (message) => (asked.push(message), 'ABC123') });
  assert.deepEqual(t.transport.auth(), { resumeToken: 'token-from-last-visit' });
  t.transport.connect();
  assert.deepEqual(t.transport.pending('participant:join').payload, { resumeToken: 'token-from-last-visit' });
  t.transport.pending('participant:join').answer({ error: 'this room needs a code: open the join link or type the code shown on the dashboard' });
  await settle();
  assert.deepEqual(asked, ['this room needs a code: open the join link or type the code shown on the dashboard']);
  assert.deepEqual(t.transport.pending('participant:join').payload, { resumeToken: 'token-from-last-visit', roomCode: 'ABC123' });
  await t.join(joinReply({ resumeToken: 'token-of-tab-1-0002' }));

  assert.equal(t.store.token, 'token-of-tab-1-0002');
  assert.deepEqual(t.transport.auth(), { resumeToken: 'token-of-tab-1-0002' }, 'the next handshake carries the new token');
  assert.equal(t.trainers.length, 1);
  assert.equal(t.trainers[0].setup.model, MODEL);
  assert.equal(t.trainers[0].setup.examples, null, 'this host fetches no shard');
  assert.deepEqual(t.transport.named('participant:ready').map((m) => m.payload), [
    { backend: 'cpu', backendReason: 'fake', numExamples: 90, heldOutExamples: 10, attack: 'none', labelCounts: [9, 9, 9, 9, 9, 9, 9, 9, 9, 9] },
  ]);
  assert.equal(t.participant.state.status, 'waiting for a round');
  assert.equal(t.participant.state.clientId, 'tab-1');
  assert.deepEqual(t.problems, []);
});

test('a resent round start is not trained (nor evaluated) twice; a newer attempt cancels the older', async () => {
  const t = setup();
  await t.join();
  const trainer = t.trainers[0];
  t.transport.deliver('round:start', roundStart(2, 1, {}, {}, 0.5));
  t.transport.deliver('round:start', roundStart(2, 1, {}, {}, 0.5)); // resent after a reconnect
  await settle();
  assert.equal(trainer.jobs.length, 1);
  assert.equal(trainer.evaluated.length, 1, "round 1's model evaluated once");
  assert.deepEqual(t.transport.named('participant:evaluation').map((m) => m.payload), [{ round: 1, accuracy: 0.5, loss: 1.25, count: 10 }]);
  assert.equal(t.participant.state.status, 'training');

  t.transport.deliver('round:start', roundStart(2, 2, {}, {}, 0.5)); // the round retried: a new attempt
  await settle();
  assert.equal(trainer.jobs.length, 2);
  assert.equal(trainer.jobs[0].cancelled, true, 'the older attempt is cancelled');
  assert.equal(trainer.evaluated.length, 1, 'the same model is not evaluated again');
  trainer.jobs[1].finish();
  await settle();
  const update = t.transport.pending('participant:update');
  assert.equal(update.payload.round, 2);
  assert.deepEqual(Array.from(decodeWeights(modelSpec(MODEL), update.payload.delta as ArrayBuffer).subarray(0, 3)), [0.01, 0.01, 0.01].map(Math.fround));
  update.answer({ accepted: true });
  await settle();
  assert.equal(t.participant.state.updatesAccepted, 1);
  assert.equal(t.participant.state.status, 'update accepted');
  assert.equal(t.transport.named('participant:update').length, 1, 'one update for the round');
});

test('a round of another model makes the tab join again and set up a new trainer', async () => {
  const t = setup();
  await t.join();
  t.transport.deliver('round:start', roundStart(1, 1, {}, { model: 'mlp' }));
  await settle();
  assert.equal(t.trainers[0].jobs.length, 0, 'nothing trained on the old model');
  assert.match(t.participant.state.lastError ?? '', /now trains mlp, this tab was set up for cnn: joining again/);
  assert.equal(t.transport.named('participant:join').length, 2, 'joined again');
  await t.join(joinReply({ model: 'mlp' }));
  assert.equal(t.trainers.length, 2);
  assert.equal(t.trainers[0].disposed, true);
  assert.equal(t.trainers[1].setup.model, 'mlp');
  t.transport.deliver('round:start', roundStart(1, 1, {}, { model: 'mlp' })); // the coordinator resends it at the ready report
  await settle();
  assert.equal(t.trainers[1].jobs.length, 1);
});

test('an upload after a reconnect waits for the rejoin; a closed session is retried after 2 s', async () => {
  const t = setup();
  await t.join();
  t.transport.deliver('round:start', roundStart(1, 1));
  await settle();
  t.transport.drop('io server disconnect'); // the coordinator restarted
  assert.equal(t.participant.state.connection, 'disconnected');
  t.trainers[0].jobs[0].finish();
  await settle();
  assert.equal(t.transport.named('participant:update').length, 0, 'not sent while disconnected');
  t.clock.advance(SERVER_CLOSED_RETRY_MS - 1);
  assert.equal(t.transport.reconnectCalls, 0);
  t.clock.advance(1);
  assert.equal(t.transport.reconnectCalls, 1, 'came back after 2 s');

  t.transport.connect();
  await settle();
  assert.equal(t.transport.named('participant:update').length, 0, 'not sent before the join is answered');
  await t.join();
  const names = t.transport.sent.map((m) => m.name);
  assert.deepEqual(names.slice(names.lastIndexOf('participant:join')), ['participant:join', 'participant:ready', 'participant:progress', 'participant:update']);
  assert.equal(t.trainers.length, 1, 'same model and shard: the trainer is kept');
});

for (const shareStatistics of [true, false]) {
  test(`shareStatistics ${shareStatistics}: label counts, losses and evaluation reports ${shareStatistics ? 'are' : 'are not'} sent`, async () => {
    const t = setup();
    await t.join(joinReply({ shareStatistics }));
    const config = { shareStatistics, clipNorm: 1, localNoiseMultiplier: shareStatistics ? 0 : 1 };
    t.transport.deliver('round:start', roundStart(3, 1, config, {}, 0.25));
    await settle();
    const job = t.trainers[0].jobs[0];
    job.onProgress({ round: 3, epoch: 1, epochs: 1, step: 4, stepsPerEpoch: 9, loss: 2.5 });
    t.clock.advance(100);
    job.onProgress({ round: 3, epoch: 1, epochs: 1, step: 8, stepsPerEpoch: 9, loss: 2.4 }); // within 500 ms of the last: not sent
    job.finish();
    await settle();
    t.transport.pending('participant:update').answer({ accepted: true });
    await settle();

    // The tab still evaluates and shows its own figure; it only keeps it to itself.
    assert.deepEqual(t.participant.state.heldOutEvaluation, { round: 2, accuracy: 0.5, loss: 1.25, count: 10 });
    const ready = t.transport.named('participant:ready')[0].payload;
    const progress = t.transport.named('participant:progress');
    const update = t.transport.named('participant:update')[0].payload;
    if (shareStatistics) {
      assert.deepEqual(ready.labelCounts, [9, 9, 9, 9, 9, 9, 9, 9, 9, 9]);
      assert.deepEqual(progress.map((m) => [m.payload, m.volatile]), [
        [{ round: 3, epoch: 1, loss: 2.5 }, true],
        [{ round: 3, epoch: 1, loss: 0.7, uploading: true }, false],
      ]);
      assert.equal(update.loss, 0.7);
      assert.deepEqual(t.transport.named('participant:evaluation').map((m) => m.payload), [{ round: 2, accuracy: 0.5, loss: 1.25, count: 10 }]);
    } else {
      assert.ok(!('labelCounts' in ready), 'no label counts in the ready report');
      assert.deepEqual(progress.map((m) => [m.payload, m.volatile]), [
        [{ round: 3, epoch: 1 }, true],
        [{ round: 3, epoch: 1, uploading: true }, false],
      ]);
      assert.ok(!('loss' in update), 'no loss in the update');
      assert.deepEqual(t.transport.named('participant:evaluation'), [], 'no evaluation report');
      assert.equal(t.participant.state.shareStatistics, false);
    }
    // The final model (round:evaluate) follows the join reply's rule.
    t.transport.deliver('round:evaluate', { round: 3, model: MODEL, dataVersion: 'split-1', weights: encodeWeights(modelSpec(MODEL), new Float32Array(P).fill(0.3)) });
    await settle();
    assert.equal(t.participant.state.heldOutEvaluation?.round, 3);
    assert.equal(t.transport.named('participant:evaluation').length, shareStatistics ? 2 : 0);
  });
}

test('an invalid round:start from the coordinator is refused without training; flock:error is shown, not fatal', async () => {
  const t = setup();
  await t.join();
  const { config, ...noConfig } = roundStart(1, 1);
  t.transport.deliver('round:start', noConfig);
  t.transport.deliver('round:start', { ...roundStart(1, 1), weights: 'not binary' });
  t.transport.deliver('round:start', roundStart(1, 1, { localEpochs: 0 }));
  t.transport.deliver('round:start', roundStart(1, 1, {}, { weights: encodeWeights(modelSpec('mlp'), new Float32Array(modelSpec('mlp').paramCount)) }));
  await settle();
  assert.equal(t.trainers[0].jobs.length, 0, 'nothing trained');
  assert.equal(t.problems.length, 4, t.problems.join('\n'));
  for (const problem of t.problems.slice(0, 3)) assert.match(problem, /ignored a round start from the coordinator that does not fit the protocol \(malformed round start: /);
  assert.match(t.problems[3], /round 1: the global weights are unusable/);
  assert.ok(config);

  t.transport.deliver('flock:error', 'update rejected: round 7 is not open');
  assert.equal(t.participant.state.lastError, 'update rejected: round 7 is not open');
  t.transport.deliver('round:start', roundStart(1, 1));
  await settle();
  assert.equal(t.trainers[0].jobs.length, 1, 'a valid round still trains');
});

test('participant:attack applies from the next round; an unknown mode is refused', async () => {
  const t = setup();
  await t.join();
  t.transport.deliver('participant:attack', 'sign-flip');
  t.transport.deliver('participant:attack', 'steal-everything');
  t.transport.deliver('round:start', roundStart(1, 1));
  await settle();
  assert.equal(t.trainers[0].jobs[0].job.attack, 'sign-flip');
  assert.equal(t.problems.length, 1);
  assert.match(t.problems[0], /attack mode/);
});

test('secure aggregation: keys at the round start, shares after the roster, the masked update after training and the forwarded shares, the reveal after the unmask request; the sum unmasks to the two updates', async () => {
  const t = setup();
  await t.join(joinReply({ shareStatistics: false }));
  const clipNorm = 1;
  t.transport.deliver('round:start', roundStart(1, 1, { secureAggregation: true, clipNorm, shareStatistics: false }));
  const secagg = () => t.transport.sent.filter((m) => m.name.startsWith('secagg:')).map((m) => m.name);
  await eventually('the keys', () => secagg().length > 0);
  assert.deepEqual(secagg(), ['secagg:keys']);

  // The other tab of the roster, and the coordinator's part, played here.
  const peer = await SecAggParticipant.create({ clientId: 'tab-2', round: 1, attempt: 1 });
  const { roster } = buildRoster(new Map([['tab-1', advertFromWire(t.transport.named('secagg:keys')[0].payload as never)], ['tab-2', peer.advertise()]]));
  const ids = roster.map((e) => e.clientId);
  const rosterMessage: RosterMessage = { round: 1, attempt: 1, threshold: 2, clients: roster };
  t.transport.deliver('secagg:roster', rosterToWire(rosterMessage));
  await eventually('the shares', () => secagg().length > 1);
  assert.deepEqual(secagg(), ['secagg:keys', 'secagg:shares']);
  const fromTab1 = sharesFromWire(t.transport.named('secagg:shares')[0].payload as never, ids);
  const fromPeer = await peer.shareKeys(rosterMessage);
  const shared = ['tab-1', 'tab-2'];
  await peer.receiveShares({ round: 1, attempt: 1, shared, shares: fromTab1.shares.map((s) => ({ from: 'tab-1', ciphertext: s.ciphertext })) });
  const encoding = { scale: secureInputScale({ tabs: 2, clipNorm, noiseStdPerTab: 0 }), weight: 1, noiseStd: 0, bitNoiseStd: 0 };
  t.transport.deliver('secagg:forward', forwardToWire({ round: 1, attempt: 1, shared, shares: fromPeer.shares.map((s) => ({ from: 'tab-2', ciphertext: s.ciphertext })) }, ids, encoding));
  await new Promise((resolve) => setTimeout(resolve, 200)); // time for the shares to be decrypted
  assert.deepEqual(secagg(), ['secagg:keys', 'secagg:shares'], 'no masked update before training is done');

  const ours = new Float32Array(P).fill(0.01);
  t.trainers[0].jobs[0].finish(ours);
  await eventually('the masked update', () => secagg().length > 2);
  assert.deepEqual(secagg(), ['secagg:keys', 'secagg:shares', 'secagg:masked-update']);
  assert.equal(t.transport.named('participant:update').length, 0, 'no plain update');
  const maskedWire = t.transport.pending('secagg:masked-update').payload;
  assert.ok(!('loss' in maskedWire), 'no loss where statistics stay on the tab');
  const unmasker = new SecureSumUnmasker({ round: 1, attempt: 1, threshold: 2, roster, shared, length: P + SECURE_INPUT_EXTRA_VALUES });
  unmasker.addMaskedInput('tab-1', maskedFromWire(maskedWire as never, P + SECURE_INPUT_EXTRA_VALUES));
  const theirs = new Float32Array(P).fill(-0.004);
  unmasker.addMaskedInput('tab-2', await peer.maskInput(encodeSecureInput(theirs, encoding, true, createRng(5))));
  t.transport.pending('secagg:masked-update').answer({ accepted: true });
  await settle();
  assert.equal(t.participant.state.updatesAccepted, 1);
  assert.deepEqual(t.participant.state.secureAggregation, { round: 1, peers: 1 });

  const request = unmasker.unmaskRequest();
  t.transport.deliver('secagg:unmask', request);
  await eventually('the reveal', () => secagg().length > 3);
  assert.deepEqual(secagg(), ['secagg:keys', 'secagg:shares', 'secagg:masked-update', 'secagg:reveal']);
  unmasker.addReveal('tab-1', revealFromWire(t.transport.named('secagg:reveal')[0].payload as never, ids));
  unmasker.addReveal('tab-2', peer.reveal(request));
  const sum = decodeSecureSum((await unmasker.unmask()).sum, encoding.scale);
  assert.equal(sum.totalWeight, 2);
  for (const i of [0, 1, P - 1]) assert.ok(Math.abs(sum.weightedSum[i] - 0.006) < 1e-6, `value ${i}: ${sum.weightedSum[i]}`);
  assert.deepEqual(t.problems, []);
});

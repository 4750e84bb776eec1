// The participant page's training Web Worker: hosts the participant loop (shared/participant/) with
// its Socket.IO connection, picks the tfjs backend by measuring, holds the tab's examples and model
// and trains them (participant/tfjs-trainer.ts). The global weights arrive here and the delta leaves
// from here: neither crosses postMessage. The page (participant/main.ts) shows the state it is sent
// and answers for what only a page has: sessionStorage, localStorage, the room-code form.
import { parseAttackMode } from '../shared/fl/attacks.ts';
import { createSecureRng } from '../shared/fl/secure-random.ts';
import type { ModelName } from '../shared/model-spec.ts';
import { Participant } from '../shared/participant/participant.ts';
import { oneAtATime, type TrainerSetup } from '../shared/participant/trainer.ts';
import type { BackendName } from '../shared/protocol/records.ts';
import { chooseBackend } from './backend-probe.ts';
import { SocketTransport, systemClock } from './participant/runtime-io.ts';
import { TfjsTrainer } from './participant/tfjs-trainer.ts';
import type { BackendChoice, FromWorker, ProbeResult, ToWorker } from './worker-protocol.ts';

type Start = Extract<ToWorker, { type: 'start' }>;

const scope = self as unknown as DedicatedWorkerGlobalScope & {
  /**
   * The last update as this tab computed it (clipped, before any masking), kept in the worker
   * only, for e2e tests to check what the coordinator made of it (harness/participant-page.ts).
   */
  flockLastUpdate?: { round: number; delta: Float32Array };
};

let participant: Participant | null = null;
/** The trainer of the current model and shard: drawn digits go to it. */
let trainer: TfjsTrainer | null = null;
let probe: ProbeResult[] = [];
/** Backend picks, trainer set-ups, evaluations, rounds and added examples: one at a time. */
const queue = oneAtATime();
let answerRoomCode: ((code: string) => void) | null = null;

function post(message: FromWorker): void {
  scope.postMessage(message);
}

scope.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case 'start':
      return start(message);
    case 'room-code':
      answerRoomCode?.(message.code);
      answerRoomCode = null;
      return;
    case 'add-examples':
      return void addExamples(new Uint8Array(message.pixels), new Uint8Array(message.labels));
  }
};

function start(message: Start): void {
  if (participant) throw new Error('the participant worker was started twice');
  const cached = new Map(Object.entries(message.cachedChoices) as [ModelName, BackendChoice][]);
  let resumeToken = message.resumeToken;
  const loop: Participant = new Participant({
    transport: new SocketTransport(message.url, { reconnect: true }),
    tokens: {
      load: () => resumeToken,
      save: (token) => {
        resumeToken = token;
        post({ type: 'resume-token', token });
      },
    },
    clock: systemClock,
    secureRng: createSecureRng,
    roomCode: message.roomCode ?? undefined,
    attack: parseAttackMode(message.attack), // checked again: the trainer must never be asked for a mode it does not know
    host: {
      fetchShard: async (url) => {
        const response = await fetch(new URL(url, message.url));
        if (!response.ok) throw new Error(`could not load ${url}: HTTP ${response.status}`);
        return new Uint8Array(await response.arrayBuffer());
      },
      startTrainer: (setup) => queue(() => startTrainer(setup, message.forcedBackend, cached)),
      askForRoomCode: (text) =>
        new Promise((resolve) => {
          answerRoomCode = resolve;
          post({ type: 'ask-room-code', message: text });
        }),
    },
    events: {
      changed: (state) => post({ type: 'state', state, probe }),
      progress: (progress) => post({ type: 'progress', progress }),
      trained: (round, delta) => {
        scope.flockLastUpdate = { round, delta: delta.slice() };
      },
      roundDone: () => post({ type: 'round-done' }),
    },
  });
  participant = loop;
  loop.start();
}

/** Measures (or takes the forced or remembered backend), then sets the model and examples up on it. */
async function startTrainer(setup: TrainerSetup, forced: BackendName | null, cached: Map<ModelName, BackendChoice>): Promise<TfjsTrainer> {
  if (!setup.examples) throw new Error('the page trains on its shard: no examples were loaded');
  const showProbe = () => {
    if (participant) post({ type: 'state', state: participant.state, probe });
  };
  probe = [];
  const remembered = forced ? null : (cached.get(setup.model) ?? null);
  const choice = await chooseBackend(setup.model, setup.examples.train, forced, remembered, (result) => {
    probe = [...probe.filter((p) => p.backend !== result.backend), result];
    showProbe();
  });
  probe = choice.probe;
  // A remembered choice comes back with the same probe rows: only a new measurement is kept.
  if (!forced && choice.probe !== remembered?.probe) {
    cached.set(setup.model, choice);
    post({ type: 'backend-chosen', model: setup.model, choice });
  }
  trainer = new TfjsTrainer({ model: setup.model, examples: setup.examples, backend: choice.backend, backendReason: choice.reason, queue });
  return trainer;
}

async function addExamples(pixels: Uint8Array, labels: Uint8Array): Promise<void> {
  if (!trainer || !participant) return post({ type: 'examples-refused', message: 'this tab is still getting ready' });
  try {
    const numExamples = await trainer.addExamples(pixels, labels);
    participant.reportReady(); // the coordinator weighs updates by example count: tell it the new total
    post({ type: 'examples-added', numExamples });
  } catch (error) {
    post({ type: 'examples-refused', message: error instanceof Error ? error.message : String(error) });
  }
}

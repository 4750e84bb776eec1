// The participant page: joins the room, loads this tab's shard, lets the worker
// pick a backend, then trains every round it is selected for and sends back the delta.
import { io, type Socket } from 'socket.io-client';
import { decodeDataset } from '../../shared/dataset-format.ts';
import { modelSpec, type ModelName } from '../../shared/model-spec.ts';
import { BACKENDS, type BackendName, type ClientToServerEvents, type JoinReply, type RoundStart, type ServerToClientEvents } from '../../shared/protocol.ts';
import { decodeWeights, encodeWeights } from '../../shared/wire.ts';
import { loadBackendChoice, saveBackendChoice } from './backend-cache.ts';
import { LossChart } from './loss-chart.ts';
import { createTabState } from './tab-state.ts';
import { TrainerClient } from './trainer-client.ts';
import { askForRoomCode, render } from './view.ts';

type FlockSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const PROGRESS_EVERY_MS = 500;
const CLIENT_ID_KEY = 'flock.clientId';

const params = new URLSearchParams(location.search);
const forcedBackend = parseBackend(params.get('backend'));
let roomCode = params.get('room') ?? undefined;

const state = createTabState();
const lossChart = new LossChart(document.getElementById('loss-chart') as HTMLCanvasElement);
const show = () => render(state);

let trainer: TrainerClient | null = null;
let loadedShard: { index: number; model: ModelName } | null = null;
let trainingRound = 0;

function parseBackend(value: string | null): BackendName | null {
  if (value === null) return null;
  if ((BACKENDS as readonly string[]).includes(value)) return value as BackendName;
  state.lastError = `?backend=${value} is not a backend; use one of ${BACKENDS.join(', ')}`;
  return null;
}

function fail(message: string): void {
  state.lastError = message;
  state.status = 'error';
  show();
}

const socket: FlockSocket = io({ transports: ['websocket', 'polling'] });

socket.on('connect', () => {
  state.connected = true;
  show();
  void join();
});
socket.on('disconnect', () => {
  state.connected = false;
  show();
});
socket.on('flock:error', (message) => {
  state.lastError = message;
  show();
});
socket.on('round:done', (metrics) => {
  state.lastAccuracy = metrics.accuracy;
  show();
});
socket.on('round:start', (start) => void runRound(start));

async function join(): Promise<void> {
  if (trainingRound === 0) state.status = 'joining';
  show();
  const reply = await socket.emitWithAck('participant:join', { clientId: sessionStorage.getItem(CLIENT_ID_KEY) ?? undefined, roomCode });
  if ('error' in reply) {
    if (/room needs a code|wrong room code/.test(reply.error)) {
      roomCode = await askForRoomCode(reply.error);
      return join();
    }
    return fail(reply.error);
  }
  state.lastError = null;
  state.clientId = reply.clientId;
  sessionStorage.setItem(CLIENT_ID_KEY, reply.clientId);
  try {
    await prepare(reply);
  } catch (error) {
    return fail((error as Error).message);
  }
  socket.emit('participant:ready', { backend: state.backend!, backendReason: state.backendReason, numExamples: state.numExamples });
  if (trainingRound === 0) state.status = 'waiting for a round';
  show();
}

/** Loads the shard and starts a worker for the model, unless this tab already has them. */
async function prepare(reply: Pick<JoinReply, 'shard' | 'model'>): Promise<void> {
  if (trainer && loadedShard?.index === reply.shard.index && loadedShard.model === reply.model) return;
  trainer?.terminate();
  trainer = null;
  state.status = 'loading data';
  state.shardIndex = reply.shard.index;
  show();
  const response = await fetch(reply.shard.url);
  if (!response.ok) throw new Error(`could not load shard ${reply.shard.index}: HTTP ${response.status}`);
  const shard = decodeDataset(new Uint8Array(await response.arrayBuffer()));
  state.status = 'choosing backend';
  state.probe = [];
  show();
  const client = new TrainerClient(reply.model, {
    onProbe: (result) => {
      state.probe = [...state.probe.filter((p) => p.backend !== result.backend), result];
      show();
    },
    onProgress: (progress) => reportProgress(progress.round, progress.epoch, progress.loss),
  });
  const ready = await client.init({ forcedBackend, cachedChoice: forcedBackend ? null : loadBackendChoice(reply.model), pixels: shard.pixels, labels: shard.labels });
  if (!forcedBackend) saveBackendChoice(reply.model, ready.choice);
  trainer = client;
  loadedShard = { index: reply.shard.index, model: reply.model };
  state.backend = ready.choice.backend;
  state.backendReason = ready.choice.reason;
  state.probe = ready.choice.probe;
  state.numExamples = ready.numExamples;
  state.numTensors = ready.numTensors;
}

let lastProgressAt = 0;
function reportProgress(round: number, epoch: number, loss: number): void {
  lossChart.add(`${round}·${epoch}`, loss);
  const now = performance.now();
  if (now - lastProgressAt >= PROGRESS_EVERY_MS) {
    lastProgressAt = now;
    socket.emit('participant:progress', { round, epoch, loss });
  }
}

async function runRound(start: RoundStart): Promise<void> {
  if (!trainer || loadedShard?.model !== start.model) {
    if (!loadedShard) return; // not ready yet: the coordinator only selects ready tabs
    await prepare({ shard: { index: loadedShard.index, count: 0, url: `/api/shards/${loadedShard.index}` }, model: start.model });
  }
  if (trainingRound > 0 && trainingRound < start.round) trainer!.cancel(trainingRound);
  let global: Float32Array;
  try {
    global = decodeWeights(modelSpec(start.model), start.weights);
  } catch (error) {
    return fail(`round ${start.round}: the global weights are unusable: ${(error as Error).message}`);
  }
  trainingRound = start.round;
  state.round = start.round;
  state.status = 'training';
  show();
  const { localEpochs, batchSize, learningRate } = start.config;
  let result;
  try {
    result = await trainer!.train({ round: start.round, weights: global, epochs: localEpochs, batchSize, learningRate });
  } catch (error) {
    return fail(`round ${start.round}: training failed: ${(error as Error).message}`);
  }
  if (result === 'cancelled' || trainingRound !== start.round) return;
  state.numTensors = result.numTensors;
  state.status = 'uploading';
  show();
  socket.emit('participant:progress', { round: start.round, epoch: localEpochs, loss: result.loss, uploading: true });
  const delta = encodeWeights(modelSpec(start.model), new Float32Array(result.delta));
  const ack = await socket.emitWithAck('participant:update', { round: start.round, numExamples: result.numExamples, loss: result.loss, delta });
  if (trainingRound !== start.round) return;
  trainingRound = 0;
  if (ack.accepted) {
    state.updatesAccepted++;
    state.status = 'update accepted';
  } else {
    state.updatesRejected++;
    state.status = 'update rejected';
    state.lastError = ack.error;
  }
  show();
}

show();

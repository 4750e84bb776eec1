// The participant page: joins the room, loads this tab's shard, lets the worker
// pick a backend, then trains every round it is selected for (round-runner.ts). A part of the
// shard (evalFraction) is held out: the tab evaluates each global model it gets on it and reports.
//
// ?attack=sign-flip (or scale, gaussian, label-flip) makes this tab a simulated attacker
// from its first round, to show what robust aggregation is for; the dashboard's admin can
// switch it later ('participant:attack').
import { decodeDataset } from '../../shared/dataset-format.ts';
import { holdOut } from '../../shared/held-out.ts';
import { labelHistogram } from '../../shared/partition.ts';
import { parseAttackMode } from '../../shared/fl/attacks.ts';
import { modelSpec, type ModelName } from '../../shared/model-spec.ts';
import { BACKENDS, type AttackMode, type BackendName } from '../../shared/protocol/records.ts';
import { type JoinReply, type ReadyReport } from '../../shared/protocol/messages.ts';
import { forgetBackendChoice, loadBackendChoice, saveBackendChoice } from './backend-cache.ts';
import { Connection } from './connection.ts';
import { LossChart } from './loss-chart.ts';
import { RoundRunner } from './round-runner.ts';
import { createTabState } from './tab-state.ts';
import { TrainerClient } from './trainer-client.ts';
import { askForRoomCode, onRemeasure, render } from './view.ts';
import { createDrawPanel } from './draw-panel.ts';
import { createTryIt } from '../digit-pad/try-it.ts';

const PROGRESS_EVERY_MS = 500;

const state = createTabState();
const show = () => render(state);
const lossChart = new LossChart(document.getElementById('loss-chart') as HTMLCanvasElement);

const params = new URLSearchParams(location.search);
const forcedBackend = parseBackend(params.get('backend'));
state.attack = parseAttackParam(params.get('attack'));

function parseBackend(value: string | null): BackendName | null {
  if (value === null) return null;
  if ((BACKENDS as readonly string[]).includes(value)) return value as BackendName;
  state.lastError = `?backend=${value} is not a backend; use one of ${BACKENDS.join(', ')}`;
  return null;
}

function parseAttackParam(value: string | null): AttackMode {
  try {
    return parseAttackMode(value);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    state.lastError = `?attack=${value}: ${error.message}. This tab trains honestly.`;
    return 'none';
  }
}

/** What the coordinator knows of this tab: sent once ready, and again when the example count changes. */
function readyReport(): ReadyReport {
  const labelCounts = state.labelCounts ?? undefined;
  return {
    backend: state.backend!,
    backendReason: state.backendReason,
    numExamples: state.numExamples,
    heldOutExamples: state.heldOutExamples,
    attack: state.attack,
    labelCounts,
  };
}

function fail(message: string): void {
  state.lastError = message;
  state.status = 'error';
  show();
}

/** The worker set up for one model and shard; replaced when the coordinator asks for others. */
interface Session {
  model: ModelName;
  shardIndex: number;
  /** The split the shard came from: a round of another split makes this tab join again and reload. */
  dataVersion: string;
  ready: Promise<TrainerClient>;
  trainer: TrainerClient | null;
}
let session: Session | null = null;

/** Loads the shard and starts a worker for the model, unless this tab already has (or is getting) them. */
async function prepare(reply: JoinReply): Promise<void> {
  const same = (s: Session) =>
    s.model === reply.model && s.shardIndex === reply.shard.index && s.dataVersion === reply.shard.dataVersion;
  if (!session || !same(session)) {
    session?.trainer?.terminate();
    const next: Session = {
      model: reply.model,
      shardIndex: reply.shard.index,
      dataVersion: reply.shard.dataVersion,
      ready: startTrainer(reply),
      trainer: null,
    };
    session = next;
    next.ready.then(
      (trainer) => (next.trainer = trainer),
      () => {
        if (session === next) session = null; // the next join tries again
      },
    );
  }
  await session.ready;
  connection.socket.emit('participant:ready', readyReport());
  if (state.status === 'error') state.lastError = null; // joined again after a failure: the old error is over
  if (state.status !== 'training' && state.status !== 'uploading') state.status = 'waiting for a round';
  show();
}

async function startTrainer(reply: JoinReply): Promise<TrainerClient> {
  state.model = reply.model;
  state.shardIndex = reply.shard.index;
  state.shardCount = reply.shard.count;
  state.status = 'loading data';
  state.backend = null;
  state.probe = [];
  show();
  const response = await fetch(reply.shard.url);
  if (!response.ok) throw new Error(`could not load shard ${reply.shard.index}: HTTP ${response.status}`);
  const shard = decodeDataset(new Uint8Array(await response.arrayBuffer()));
  const pixelsPerExample = modelSpec(reply.model).inputShape.reduce((a, b) => a * b, 1);
  if (shard.pixelsPerExample !== pixelsPerExample) {
    throw new Error(`shard ${reply.shard.index} has ${shard.pixelsPerExample} pixels per example, ${reply.model} needs ${pixelsPerExample}`);
  }
  // The held-out examples never reach training; their labels are not reported (only their count).
  const { train, heldOut } = holdOut(shard, reply.shard.evalFraction, reply.shard.index);
  state.labelCounts = labelHistogram(train.labels, Array.from(train.labels.keys()), modelSpec(reply.model).numClasses);
  state.heldOutEvaluation = null;
  state.status = 'choosing backend';
  show();
  const trainer = new TrainerClient(reply.model, {
    onProbe: (result) => {
      state.probe = [...state.probe.filter((p) => p.backend !== result.backend), result];
      show();
    },
    onProgress: (progress) => {
      lossChart.add(progress);
      reportProgress(progress.round, progress.epoch, progress.loss);
    },
  });
  try {
    const ready = await trainer.init({
      forcedBackend,
      cachedChoice: forcedBackend ? null : loadBackendChoice(reply.model),
      pixels: train.pixels,
      labels: train.labels,
      heldOutPixels: heldOut.pixels,
      heldOutLabels: heldOut.labels,
    });
    if (!forcedBackend) saveBackendChoice(reply.model, ready.choice);
    state.backend = ready.choice.backend;
    state.backendReason = ready.choice.reason;
    state.probe = ready.choice.probe;
    state.numExamples = ready.numExamples;
    state.heldOutExamples = ready.heldOutExamples;
    state.numTensors = ready.numTensors;
    return trainer;
  } catch (error) {
    trainer.terminate();
    throw error;
  }
}

let lastProgressAt = 0;
function reportProgress(round: number, epoch: number, loss: number): void {
  const now = performance.now();
  if (now - lastProgressAt < PROGRESS_EVERY_MS) return;
  lastProgressAt = now;
  // volatile: a progress report is worth nothing once it is late, so don't queue it while offline
  connection.socket.volatile.emit('participant:progress', { round, epoch, loss });
}

const connection = new Connection(
  {
    onConnectionChange(connectionState) {
      state.connection = connectionState;
      if (connectionState === 'connected' && state.status === 'starting') state.status = 'joining';
      show();
    },
    async onJoined(reply) {
      state.clientId = reply.clientId;
      show();
      await prepare(reply);
    },
    onJoinFailed: fail,
    askForRoomCode,
  },
  params.get('room') ?? undefined,
);

const rounds = new RoundRunner({
  state,
  show,
  connection,
  trainer: () => session?.trainer ?? null,
  dataVersion: () => session?.dataVersion ?? null,
});

connection.socket.on('round:start', (start) => void rounds.run(start));
connection.socket.on('round:evaluate', (request) => rounds.evaluateFinal(request));
connection.socket.on('secagg:roster', (wire) => rounds.onRoster(wire));
connection.socket.on('secagg:forward', (wire) => rounds.onForwardedShares(wire));
connection.socket.on('secagg:unmask', (wire) => rounds.onUnmask(wire));
const drawPanel = createDrawPanel(async (pixels, label) => {
  const trainer = session?.trainer;
  if (!trainer) throw new Error('this tab is still getting ready');
  state.numExamples = await trainer.addExamples(pixels, Uint8Array.of(label));
  state.drawnExamples++;
  if (state.labelCounts) state.labelCounts[label]++;
  // The coordinator weighs updates by example count: tell it about the new total.
  connection.socket.emit('participant:ready', readyReport());
  show();
});
const tryIt = createTryIt();
const tryItCard = document.createElement('div');
tryItCard.className = 'card';
tryItCard.innerHTML = '<h2>Try the global model</h2><p class="muted">Draw a digit: the model everyone is training says what it sees.</p>';
tryItCard.append(tryIt.element);
document.getElementById('draw-panels')!.append(drawPanel.element, tryItCard);

connection.socket.on('round:done', (metrics) => {
  state.lastAccuracy = metrics.accuracy;
  tryIt.refresh();
  show();
});
connection.socket.on('participant:attack', (mode) => {
  // Checked like ?attack=: the worker must never be asked for a mode it does not know.
  try {
    state.attack = parseAttackMode(mode);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    state.lastError = `the coordinator asked for an attack this page does not know (${error.message}); reload the page`;
  }
  show();
});
connection.socket.on('flock:error', (message) => {
  state.lastError = message;
  show();
});

onRemeasure(() => {
  if (state.model) forgetBackendChoice(state.model);
  location.reload();
});

show();

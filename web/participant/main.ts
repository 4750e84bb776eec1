// The participant page: starts the training worker, which hosts the participant loop (joins the
// room, loads this tab's shard, picks a backend, trains every round it is selected for: see
// ../trainer.worker.ts and shared/participant/), and shows what the worker reports. The page keeps
// what only it has: the resume token in sessionStorage, the measured backend in localStorage, the
// room-code form, the drawing pads and the charts.
//
// ?attack=sign-flip (or scale, gaussian, label-flip) makes this tab a simulated attacker
// from its first round, to show what robust aggregation is for; the dashboard's admin can
// switch it later ('participant:attack').
import { parseAttackMode } from '../../shared/fl/attacks.ts';
import { MODEL_NAMES, type ModelName } from '../../shared/model-spec.ts';
import { BACKENDS, type AttackMode, type BackendName } from '../../shared/protocol/records.ts';
import type { BackendChoice, FromWorker, ToWorker } from '../worker-protocol.ts';
import { forgetBackendChoice, loadBackendChoice, saveBackendChoice } from './backend-cache.ts';
import { LossChart } from './loss-chart.ts';
import { createTabState } from './tab-state.ts';
import { askForRoomCode, onRemeasure, render } from './view.ts';
import { createDrawPanel } from './draw-panel.ts';
import { createTryIt } from '../digit-pad/try-it.ts';

const RESUME_TOKEN_KEY = 'flock.resumeToken';

const params = new URLSearchParams(location.search);
/** Problems with this page's own URL: shown whenever the worker has nothing worse to say. */
const urlProblems: string[] = [];
const forcedBackend = parseBackend(params.get('backend'));
const state = createTabState(parseAttackParam(params.get('attack')));
state.lastError = urlProblems.join('; ') || null;
const show = () => render(state);
const lossChart = new LossChart(document.getElementById('loss-chart') as HTMLCanvasElement);

function parseBackend(value: string | null): BackendName | null {
  if (value === null) return null;
  if ((BACKENDS as readonly string[]).includes(value)) return value as BackendName;
  urlProblems.push(`?backend=${value} is not a backend; use one of ${BACKENDS.join(', ')}`);
  return null;
}

function parseAttackParam(value: string | null): AttackMode {
  try {
    return parseAttackMode(value);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    urlProblems.push(`?attack=${value}: ${error.message}. This tab trains honestly.`);
    return 'none';
  }
}

const worker = new Worker(new URL('../trainer.worker.ts', import.meta.url), { type: 'module' });
const post = (message: ToWorker, transfer: Transferable[] = []) => worker.postMessage(message, transfer);

/** Drawn digits on their way to the worker, answered in order. */
const pendingAdds: { resolve(): void; reject(error: Error): void }[] = [];

worker.onmessage = (event: MessageEvent<FromWorker>) => {
  const message = event.data;
  switch (message.type) {
    case 'state':
      Object.assign(state, message.state, { probe: message.probe });
      state.lastError = message.state.lastError ?? (urlProblems.join('; ') || null);
      break;
    case 'progress':
      lossChart.add(message.progress);
      return;
    case 'ask-room-code':
      void askForRoomCode(message.message).then((code) => post({ type: 'room-code', code }));
      return;
    case 'resume-token':
      sessionStorage.setItem(RESUME_TOKEN_KEY, message.token);
      return;
    case 'backend-chosen':
      saveBackendChoice(message.model, message.choice);
      return;
    case 'examples-added':
      state.drawnExamples++;
      pendingAdds.shift()?.resolve();
      break;
    case 'examples-refused':
      pendingAdds.shift()?.reject(new Error(message.message));
      return;
    case 'round-done':
      tryIt.refresh();
      return;
  }
  show();
};
worker.onerror = (event) => {
  state.lastError = `the training worker crashed (${event.message}): reload the page`;
  state.status = 'error';
  show();
};

const cachedChoices: Partial<Record<ModelName, BackendChoice>> = {};
if (!forcedBackend) {
  for (const model of MODEL_NAMES) {
    const choice = loadBackendChoice(model);
    if (choice) cachedChoices[model] = choice;
  }
}
post({
  type: 'start',
  url: location.origin,
  roomCode: params.get('room'),
  resumeToken: sessionStorage.getItem(RESUME_TOKEN_KEY),
  attack: state.attack,
  forcedBackend,
  cachedChoices,
});

const drawPanel = createDrawPanel(
  (pixels, label) =>
    new Promise<void>((resolve, reject) => {
      pendingAdds.push({ resolve, reject });
      const pixelBuffer = pixels.slice().buffer;
      const labelBuffer = Uint8Array.of(label).buffer;
      post({ type: 'add-examples', pixels: pixelBuffer, labels: labelBuffer }, [pixelBuffer, labelBuffer]);
    }),
);
const tryIt = createTryIt();
const tryItCard = document.createElement('div');
tryItCard.className = 'card';
tryItCard.innerHTML = '<h2>Try the global model</h2><p class="muted">Draw a digit: the model everyone is training says what it sees.</p>';
tryItCard.append(tryIt.element);
document.getElementById('draw-panels')!.append(drawPanel.element, tryItCard);

onRemeasure(() => {
  if (state.model) forgetBackendChoice(state.model);
  location.reload();
});

show();

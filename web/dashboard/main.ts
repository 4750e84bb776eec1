// The coordinator dashboard: joins the dashboards over Socket.IO (dashboard:join, with the admin
// token when it has one: the admin view shows who took part), draws every RunState it receives,
// and steers runs over HTTP with the admin token. All it shows derives from the last RunState (the coordinator's Run, server/run.ts, owns the truth).
//
// dashboard.html?projector shows only what a class looks at: the QR code and room code,
// the tab count, the round and the accuracy chart, in large type.
import { io, type Socket } from 'socket.io-client';
import type { AttackMode, RoundMetrics, RunState } from '../../shared/protocol/records.ts';
import type { ClientToServerEvents, ServerToClientEvents } from '../../shared/protocol/messages.ts';
import { createTryIt } from '../digit-pad/try-it.ts';
import { AdminRequestError, putClientAttack, resetPrivacyLedger, sendRunCommand, type RunCommand } from './admin-api.ts';
import { saveAdminToken, takeAdminToken } from './admin-token.ts';
import { attackerSummary, createClientsTable } from './clients-table.ts';
import { formatCount, formatPercent, formatStat } from '../format.ts';
import { historyKey as historyRowsKey, renderHistory } from './history-table.ts';
import { createJoinPanel, primaryJoinUrl } from './join-panel.ts';
import { createPrivacyCharts, type PrivacyChartData } from './privacy-charts.ts';
import { describePrivacy } from './privacy-view.ts';
import { createRoundCharts } from './round-charts.ts';
import { createRunsComparedChart, type ComparedRun } from './runs-compared.ts';
import { renderTimeline } from './round-timeline.ts';
import { describeRun } from './run-view.ts';
import { createSettingsForm } from './settings-form.ts';

/** What e2e tests read from the page: `window.flockDashboard`. */
export interface FlockDashboardHook {
  /** The last RunState received, null before the first. */
  state: RunState | null;
  /** RunStates received since the page loaded (lets a test wait for "a newer one"). */
  stateCount: number;
  connected: boolean;
  /** The last 'round:done' event's metrics. */
  lastRoundDone: RoundMetrics | null;
  /** The error message shown on the page, null when none is shown. */
  lastError: string | null;
  /** What the privacy charts plot: ε per round and its target line, C per round; null before the first RunState. */
  charts: PrivacyChartData | null;
  /** The lines of the runs-compared chart (label, colour, accuracy per round); null before the first RunState. */
  runsCompared: ComparedRun[] | null;
}

declare global {
  interface Window {
    flockDashboard: FlockDashboardHook;
  }
}

const TICK_MS = 250;

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`dashboard.html has no #${id}`);
  return element as T;
}

const view = {
  model: byId('model'),
  connection: byId('connection'),
  projectorToggle: byId<HTMLButtonElement>('projector-toggle'),
  phase: byId('phase'),
  roundText: byId('round-text'),
  countdown: byId('countdown'),
  progress: byId<HTMLProgressElement>('round-progress'),
  answered: byId('answered'),
  message: byId('message'),
  start: byId<HTMLButtonElement>('start'),
  stop: byId<HTMLButtonElement>('stop'),
  reset: byId<HTMLButtonElement>('reset'),
  error: byId('error'),
  adminStatusText: byId('admin-status-text'),
  adminChange: byId<HTMLButtonElement>('admin-change'),
  tokenForm: byId<HTMLFormElement>('token-form'),
  tokenInput: byId<HTMLInputElement>('token-input'),
  accuracy: byId('accuracy'),
  loss: byId('loss'),
  best: byId('best'),
  tabCount: byId('tab-count'),
  roundOf: byId('round-of'),
  readyCount: byId('ready-count'),
  clients: byId<HTMLTableSectionElement>('clients'),
  clientCount: byId('client-count'),
  attackerCount: byId('attacker-count'),
  clientsEmpty: byId('clients-empty'),
  timeline: byId<HTMLTableElement>('timeline'),
  timelineEmpty: byId('timeline-empty'),
  downloadModel: byId<HTMLButtonElement>('download-model'),
  modelJsonLink: byId<HTMLAnchorElement>('model-json-link'),
  weightsLink: byId<HTMLAnchorElement>('weights-link'),
  modelSnippet: byId('model-snippet'),
  privacyMode: byId('privacy-mode'),
  privacy: byId<HTMLDListElement>('privacy'),
  privacyWarning: byId('privacy-warning'),
  resetLedger: byId<HTMLButtonElement>('reset-ledger'),
  epsilonCard: byId('epsilon-card'),
  clipCard: byId('clip-card'),
  runsComparedCard: byId('runs-compared-card'),
  history: byId<HTMLTableSectionElement>('history'),
  historyEmpty: byId('history-empty'),
};

const hook: FlockDashboardHook = { state: null, stateCount: 0, connected: false, lastRoundDone: null, lastError: null, charts: null, runsCompared: null };
window.flockDashboard = hook;

let adminToken = takeAdminToken();
/** Coordinator clock minus this page's clock, from the last RunState (latency ignored: a countdown needs seconds). */
let serverClockOffsetMs = 0;
const serverNow = () => Date.now() + serverClockOffsetMs;

const charts = createRoundCharts(byId<HTMLCanvasElement>('accuracy-chart'), byId<HTMLCanvasElement>('loss-chart'));
const privacyCharts = createPrivacyCharts(byId<HTMLCanvasElement>('epsilon-chart'), byId<HTMLCanvasElement>('clip-chart'));
const runsCompared = createRunsComparedChart(byId<HTMLCanvasElement>('runs-compared-chart'));
const joinPanel = createJoinPanel({
  qr: byId('join-qr'),
  url: byId<HTMLAnchorElement>('join-url'),
  roomCode: byId('room-code'),
  note: byId('join-note'),
});
const tryIt = createTryIt();
byId('try-it').append(tryIt.element);
const settingsForm = createSettingsForm(byId<HTMLFormElement>('settings-form'), byId('settings-feedback'), {
  token: () => adminToken,
  onTokenRefused: askForToken,
});
const clientsTable = createClientsTable(view.clients, {
  canAdmin: () => adminToken !== null,
  setAttack: setClientAttack,
});

let commandInFlight = false;
let shownTimelineKey = '';
let shownHistoryKey = '';
let shownModelKey = '';

// ---- projector mode -------------------------------------------------------------------

function setProjector(on: boolean): void {
  document.body.classList.toggle('projector', on);
  charts.setLargeType(on);
  privacyCharts.setLargeType(on);
  runsCompared.setLargeType(on);
  view.projectorToggle.setAttribute('aria-pressed', String(on));
  view.projectorToggle.textContent = on ? 'Exit projector mode' : 'Projector mode';
  const url = new URL(location.href);
  if (on) url.searchParams.set('projector', '');
  else url.searchParams.delete('projector');
  // "?projector=" reads better as "?projector"
  history.replaceState(history.state, '', url.href.replace(/([?&]projector)=(?=&|#|$)/, '$1'));
}
setProjector(new URLSearchParams(location.search).has('projector'));
view.projectorToggle.addEventListener('click', () => setProjector(!document.body.classList.contains('projector')));
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && document.body.classList.contains('projector')) setProjector(false);
});

// ---- admin token ----------------------------------------------------------------------

function showAdminStatus(): void {
  view.adminStatusText.textContent =
    adminToken === null
      ? 'Viewing only: start, stop, reset, settings and attack simulation need the admin token.'
      : 'Admin token set for this tab.';
  view.adminChange.hidden = adminToken === null;
  if (adminToken === null) view.tokenForm.hidden = false;
  // The tabs table offers its attack selects only with a token.
  if (hook.state) clientsTable.show(hook.state, serverNow());
}

function askForToken(error: AdminRequestError): void {
  if (error.status === 403) {
    // A wrong token is of no further use: forget it, so a reload does not keep sending it.
    adminToken = null;
    saveAdminToken(null);
  }
  showAdminStatus();
  view.tokenForm.hidden = false;
  view.tokenInput.focus();
}

view.adminChange.addEventListener('click', () => {
  view.tokenForm.hidden = false;
  view.tokenInput.focus();
});
view.tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = view.tokenInput.value.trim();
  if (token === '') return;
  adminToken = token;
  saveAdminToken(token);
  joinAsDashboard(); // the view it may see changes with the token
  view.tokenInput.value = '';
  view.tokenForm.hidden = true;
  showError(null);
  showAdminStatus();
});
showAdminStatus();

// ---- rendering ------------------------------------------------------------------------

function showError(message: string | null): void {
  hook.lastError = message;
  view.error.hidden = message === null;
  view.error.textContent = message ?? '';
}

function renderStatus(state: RunState): void {
  const run = describeRun(state, serverNow());
  view.phase.textContent = run.phaseLabel;
  view.phase.dataset.phase = run.phase;
  view.roundText.textContent = run.roundText;
  view.countdown.textContent = run.countdownText;
  view.progress.value = run.progress;
  view.progress.title = `${state.history.length} of ${state.settings.rounds} rounds done`;
  view.answered.textContent = run.answeredText;
  view.message.textContent = state.message;
  view.roundOf.textContent = run.roundOfText;
  view.start.disabled = commandInFlight || !hook.connected || !run.canStart;
  view.stop.disabled = commandInFlight || !hook.connected || !run.canStop;
  view.reset.disabled = commandInFlight || !hook.connected || !run.canReset;
  document.title = `Flock · ${run.phaseLabel}${state.round > 0 ? ` · ${run.roundText.toLowerCase()}` : ''}`;
}

function fillList(list: HTMLDListElement, rows: { label: string; value: string; title: string }[]): void {
  list.replaceChildren(
    ...rows.flatMap(({ label, value, title }) => {
      const dt = document.createElement('dt');
      dt.textContent = label;
      dt.title = title;
      const dd = document.createElement('dd');
      dd.textContent = value;
      dd.title = title;
      return [dt, dd];
    }),
  );
}

function render(state: RunState): void {
  view.model.textContent = `${state.modelTitle} · ${formatCount(state.paramCount)} parameters`;
  renderStatus(state);
  joinPanel.show(state);

  const last = state.history[state.history.length - 1];
  view.accuracy.textContent = last ? formatPercent(last.accuracy, 1) : '—';
  view.loss.textContent = last ? formatStat(last.loss) : '—';
  view.best.textContent = last ? formatPercent(Math.max(...state.history.map((m) => m.accuracy)), 1) : '—';
  const connected = state.clients.filter((c) => c.connected);
  view.tabCount.textContent = String(connected.length);
  view.readyCount.textContent = `${connected.filter((c) => c.backend !== null).length} of ${connected.length}`;

  charts.show(state.history, state.settings.rounds, state.settings.targetAccuracy);
  hook.runsCompared = runsCompared.show(state.pastRuns, state);
  view.runsComparedCard.hidden = hook.runsCompared.length === 0;

  clientsTable.show(state, serverNow());
  view.clientCount.textContent = String(state.clients.length);
  view.attackerCount.textContent = attackerSummary(state.clients);
  view.attackerCount.hidden = view.attackerCount.textContent === '';
  view.clientsEmpty.hidden = state.clients.length > 0;

  const running = describeRun(state, serverNow()).running;
  const attacks = state.clients.map((c) => c.attack).join(',');
  const timelineKey = [state.history.length, last?.round, last?.attempt, state.round, state.selected.length, state.answered.length, state.clients.length, attacks, running].join('|');
  if (timelineKey !== shownTimelineKey) {
    shownTimelineKey = timelineKey;
    renderTimeline(view.timeline, state, running);
    const empty = view.timeline.tBodies[0].rows.length === 0;
    view.timeline.hidden = empty;
    view.timelineEmpty.hidden = !empty;
  }

  settingsForm.show(state.settings);
  const privacy = describePrivacy(state);
  view.privacyMode.textContent = privacy.mode;
  view.privacyMode.dataset.mode = privacy.mode;
  fillList(view.privacy, privacy.rows);
  view.privacyWarning.textContent = privacy.warning ?? '';
  view.privacyWarning.hidden = privacy.warning === null;
  view.resetLedger.hidden = adminToken === null || (state.privacyBudget === null && state.privacyLedger.worstTab === null);
  view.resetLedger.disabled = commandInFlight || !hook.connected || describeRun(state, serverNow()).running;
  const plotted = privacyCharts.show(state.settings, state.history, state.privacyBudget);
  hook.charts = plotted;
  view.epsilonCard.hidden = !plotted.epsilonShown;
  view.clipCard.hidden = !plotted.clipShown;

  const historyKey = `${historyRowsKey(state.history)}|${hook.lastRoundDone?.round}`;
  if (historyKey !== shownHistoryKey) {
    shownHistoryKey = historyKey;
    renderHistory(view.history, state.history, hook.lastRoundDone?.round ?? null);
  }
  view.historyEmpty.hidden = state.history.length > 0;

  // The global model changes when a round finishes, on reset and when the model or seed changes.
  const modelKey = `${state.history.length}|${last?.round}|${last?.attempt}|${state.settings.model}|${state.settings.seed}|${state.phase === 'idle'}`;
  if (modelKey !== shownModelKey) {
    if (shownModelKey !== '') tryIt.refresh();
    shownModelKey = modelKey;
  }
  // Where others reach this coordinator: the join URL's origin (a LAN address when there is one).
  const origin = new URL(primaryJoinUrl(state.joinUrls, location.origin)).origin;
  view.modelSnippet.textContent = `import * as tf from '@tensorflow/tfjs';\nconst model = await tf.loadLayersModel('${origin}/api/model/model.json');\nmodel.predict(tf.zeros([1, ${state.settings.model === 'cnn' ? '28, 28, 1' : '784'}])).print();`;
}

function setConnected(connected: boolean, detail: string): void {
  hook.connected = connected;
  view.connection.dataset.connected = String(connected);
  view.connection.textContent = detail;
  if (hook.state) renderStatus(hook.state);
}

// ---- commands -------------------------------------------------------------------------

/** Shows a refused or failed admin request; asks for the token when that is why. */
function showAdminError(error: unknown): void {
  if (!(error instanceof AdminRequestError)) throw error;
  showError(error.message);
  if (error.needsToken) askForToken(error);
}

async function runCommand(command: RunCommand): Promise<void> {
  commandInFlight = true;
  if (hook.state) renderStatus(hook.state);
  try {
    await sendRunCommand(command, adminToken);
    showError(null);
  } catch (error) {
    showAdminError(error);
  } finally {
    commandInFlight = false;
    if (hook.state) renderStatus(hook.state);
  }
}

async function setClientAttack(clientId: string, mode: AttackMode): Promise<void> {
  try {
    await putClientAttack(clientId, mode, adminToken);
    showError(null);
  } catch (error) {
    showAdminError(error);
  }
}

view.start.addEventListener('click', () => void runCommand('start'));
view.stop.addEventListener('click', () => void runCommand('stop'));
view.resetLedger.addEventListener('click', () => {
  const question =
    'Forget the privacy this room\'s tabs have spent?\n\nThe ε shown from then on leaves out everything spent before; ' +
    'the tabs that took part are not protected by it. The reset is logged and kept in the ledger.';
  if (!confirm(question)) return;
  commandInFlight = true;
  resetPrivacyLedger(adminToken)
    .then(() => showError(null))
    .catch((error: unknown) => (error instanceof AdminRequestError && error.needsToken ? askForToken(error) : showError((error as Error).message)))
    .finally(() => {
      commandInFlight = false;
      if (hook.state) render(hook.state);
    });
});

view.reset.addEventListener('click', () => {
  if (confirm('Reset the run? The global model starts again from fresh weights and the rounds so far are cleared.')) {
    void runCommand('reset');
  }
});

view.downloadModel.addEventListener('click', () => {
  // Two downloads from one click; the browser may ask once whether the page may download several files.
  view.modelJsonLink.click();
  view.weightsLink.click();
});

// ---- live updates ---------------------------------------------------------------------

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io();
/** With the admin token the coordinator sends the admin's view (under DP: who took part in each round). */
function joinAsDashboard(): void {
  socket.emit('dashboard:join', adminToken === null ? {} : { adminToken });
}

socket.on('connect', () => {
  setConnected(true, 'live');
  // Also after a reconnect: the coordinator may have restarted and forgotten this socket.
  joinAsDashboard();
});
socket.on('disconnect', (reason) => setConnected(false, `disconnected (${reason}); reconnecting…`));
socket.on('connect_error', (error) => setConnected(false, `coordinator unreachable (${error.message}); retrying…`));
socket.on('state', (state) => {
  serverClockOffsetMs = state.serverNow - Date.now();
  hook.state = state;
  hook.stateCount++;
  render(state);
});
socket.on('round:done', (metrics) => {
  hook.lastRoundDone = metrics;
});
socket.on('flock:error', (message) => showError(`coordinator: ${message}`));

setInterval(() => {
  if (hook.state === null) return;
  if (hook.state.deadlineAt !== null) renderStatus(hook.state);
  clientsTable.refreshAges(serverNow());
}, TICK_MS);

// The coordinator dashboard: joins the 'dashboards' room over Socket.IO, draws every
// RunState it receives, and starts/stops runs over HTTP. All it shows derives from
// the last RunState (the coordinator's round.ts owns the truth).
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, RoundMetrics, RunState, ServerToClientEvents } from '../../shared/protocol.ts';
import { renderClients } from './clients-table.ts';
import { formatCount, formatPercent, formatStat } from './format.ts';
import { renderHistory } from './history-table.ts';
import { describePrivacy } from './privacy-view.ts';
import { createRoundCharts } from './round-charts.ts';
import { RunCommandError, sendRunCommand, type RunCommand } from './run-commands.ts';
import { describeRun } from './run-view.ts';
import { settingRows } from './settings-view.ts';

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
}

declare global {
  interface Window {
    flockDashboard: FlockDashboardHook;
  }
}

const COUNTDOWN_TICK_MS = 250;

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`dashboard.html has no #${id}`);
  return element as T;
}

const view = {
  model: byId('model'),
  joinLink: byId<HTMLAnchorElement>('join-link'),
  connection: byId('connection'),
  phase: byId('phase'),
  roundText: byId('round-text'),
  countdown: byId('countdown'),
  progress: byId<HTMLProgressElement>('round-progress'),
  answered: byId('answered'),
  message: byId('message'),
  start: byId<HTMLButtonElement>('start'),
  stop: byId<HTMLButtonElement>('stop'),
  error: byId('error'),
  accuracy: byId('accuracy'),
  loss: byId('loss'),
  best: byId('best'),
  readyCount: byId('ready-count'),
  clients: byId<HTMLTableSectionElement>('clients'),
  clientCount: byId('client-count'),
  clientsEmpty: byId('clients-empty'),
  settings: byId<HTMLDListElement>('settings'),
  privacyMode: byId('privacy-mode'),
  privacy: byId<HTMLDListElement>('privacy'),
  history: byId<HTMLTableSectionElement>('history'),
  historyEmpty: byId('history-empty'),
};

const hook: FlockDashboardHook = { state: null, stateCount: 0, connected: false, lastRoundDone: null, lastError: null };
window.flockDashboard = hook;

const charts = createRoundCharts(byId<HTMLCanvasElement>('accuracy-chart'), byId<HTMLCanvasElement>('loss-chart'));
let commandInFlight = false;
let shownSettingsKey = '';
let shownHistoryKey = '';

const joinUrl = `${location.origin}/`;
view.joinLink.href = joinUrl;
view.joinLink.textContent = joinUrl;

function showError(message: string | null): void {
  hook.lastError = message;
  view.error.hidden = message === null;
  view.error.textContent = message ?? '';
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

function renderStatus(state: RunState): void {
  const run = describeRun(state, Date.now());
  view.phase.textContent = run.phaseLabel;
  view.phase.dataset.phase = run.phase;
  view.roundText.textContent = run.roundText;
  view.countdown.textContent = run.countdownText;
  view.progress.value = run.progress;
  view.progress.title = `${state.history.length} of ${state.settings.rounds} rounds done`;
  view.answered.textContent = run.answeredText;
  view.message.textContent = state.message;
  view.start.disabled = commandInFlight || !hook.connected || !run.canStart;
  view.stop.disabled = commandInFlight || !hook.connected || !run.canStop;
  document.title = `Flock · ${run.phaseLabel}${state.round > 0 ? ` · ${run.roundText.toLowerCase()}` : ''}`;
}

function render(state: RunState): void {
  view.model.textContent = `${state.modelTitle} · ${formatCount(state.paramCount)} parameters`;
  renderStatus(state);

  const last = state.history[state.history.length - 1];
  view.accuracy.textContent = last ? formatPercent(last.accuracy) : '—';
  view.loss.textContent = last ? formatStat(last.loss) : '—';
  view.best.textContent = last ? formatPercent(Math.max(...state.history.map((m) => m.accuracy))) : '—';
  const ready = state.clients.filter((c) => c.backend !== null).length;
  view.readyCount.textContent = `${ready} of ${state.clients.length}`;

  charts.show(state.history, state.settings.rounds, state.settings.targetAccuracy);

  renderClients(view.clients, state);
  view.clientCount.textContent = String(state.clients.length);
  view.clientsEmpty.hidden = state.clients.length > 0;

  const settingsKey = JSON.stringify(state.settings);
  if (settingsKey !== shownSettingsKey) {
    shownSettingsKey = settingsKey;
    fillList(view.settings, settingRows(state.settings).map((r) => ({ label: r.key, value: r.value, title: r.description })));
  }
  const privacy = describePrivacy(state.settings, state.history);
  view.privacyMode.textContent = privacy.mode;
  view.privacyMode.dataset.mode = privacy.mode;
  fillList(view.privacy, privacy.rows);

  const historyKey = `${state.history.length}|${last?.round}|${last?.attempt}|${hook.lastRoundDone?.round}`;
  if (historyKey !== shownHistoryKey) {
    shownHistoryKey = historyKey;
    renderHistory(view.history, state.history, hook.lastRoundDone?.round ?? null);
  }
  view.historyEmpty.hidden = state.history.length > 0;
}

function setConnected(connected: boolean, detail: string): void {
  hook.connected = connected;
  view.connection.dataset.connected = String(connected);
  view.connection.textContent = detail;
  if (hook.state) renderStatus(hook.state);
}

async function runCommand(command: RunCommand): Promise<void> {
  commandInFlight = true;
  if (hook.state) renderStatus(hook.state);
  try {
    await sendRunCommand(command);
    showError(null);
  } catch (error) {
    if (!(error instanceof RunCommandError)) throw error;
    showError(error.message);
  } finally {
    commandInFlight = false;
    if (hook.state) renderStatus(hook.state);
  }
}

view.start.addEventListener('click', () => void runCommand('start'));
view.stop.addEventListener('click', () => void runCommand('stop'));

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io();
socket.on('connect', () => {
  setConnected(true, 'live');
  // Also after a reconnect: the coordinator may have restarted and forgotten this socket.
  socket.emit('dashboard:join');
});
socket.on('disconnect', (reason) => setConnected(false, `disconnected (${reason}); reconnecting…`));
socket.on('connect_error', (error) => setConnected(false, `coordinator unreachable (${error.message}); retrying…`));
socket.on('state', (state) => {
  hook.state = state;
  hook.stateCount++;
  render(state);
});
socket.on('round:done', (metrics) => {
  hook.lastRoundDone = metrics;
});
socket.on('flock:error', (message) => showError(`coordinator: ${message}`));

setInterval(() => {
  if (hook.state?.deadlineAt != null) renderStatus(hook.state);
}, COUNTDOWN_TICK_MS);

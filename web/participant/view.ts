// Renders the tab's state into the page.
import type { ProbeResult } from '../worker-protocol.ts';
import type { TabState } from './tab-state.ts';

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`index.html has no #${id}`);
  return element as T;
}

const STATUS_TONE: Record<string, string> = {
  'update accepted': 'good',
  'update rejected': 'bad',
  error: 'bad',
  training: 'warn',
  uploading: 'warn',
};

function probeRow(result: ProbeResult, chosen: string | null): HTMLTableRowElement {
  const row = document.createElement('tr');
  row.dataset.backend = result.backend;
  const cells = [
    result.backend === chosen ? `${result.backend} ✓` : result.backend,
    result.examplesPerSec === null ? 'skipped' : Math.round(result.examplesPerSec).toLocaleString('en'),
    result.note,
  ];
  for (const text of cells) {
    const cell = document.createElement('td');
    cell.textContent = text;
    row.append(cell);
  }
  return row;
}

export function render(state: TabState): void {
  byId('connection').textContent = state.connected ? 'connected' : state.clientId ? 'reconnecting…' : 'connecting…';
  const status = byId('status');
  status.innerHTML = '';
  const badge = document.createElement('span');
  badge.className = `badge ${STATUS_TONE[state.status] ?? ''}`;
  badge.textContent = state.status;
  status.append(badge);
  byId('round').textContent = state.round > 0 ? String(state.round) : '—';
  byId('backend').textContent = state.backend ?? 'choosing…';
  byId('examples').textContent = state.numExamples
    ? `${state.numExamples.toLocaleString('en')}${state.drawnExamples ? ` (${state.drawnExamples} drawn)` : ''}`
    : '—';
  byId('accuracy').textContent = state.lastAccuracy === null ? '—' : `${(100 * state.lastAccuracy).toFixed(1)} %`;
  if (state.backendReason) byId('backend-reason').textContent = state.backendReason;
  byId('probe-rows').replaceChildren(...state.probe.map((result) => probeRow(result, state.backend)));
  const error = byId('error');
  error.hidden = state.lastError === null;
  error.textContent = state.lastError ?? '';
  byId('identity').textContent = state.clientId
    ? `tab ${state.clientId.slice(0, 8)} · shard ${state.shardIndex} · ${state.updatesAccepted} update(s) accepted, ${state.updatesRejected} rejected`
    : '';
}

/** Shows the room-code form; resolves with what the person typed. */
export function askForRoomCode(message: string): Promise<string> {
  const prompt = byId('room-prompt');
  prompt.hidden = false;
  prompt.querySelector('strong')!.textContent = message;
  return new Promise((resolve) => {
    byId<HTMLFormElement>('room-form').onsubmit = (event) => {
      event.preventDefault();
      const code = byId<HTMLInputElement>('room-input').value.trim().toUpperCase();
      if (!code) return;
      prompt.hidden = true;
      resolve(code);
    };
  });
}

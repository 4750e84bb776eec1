// Renders the tab's state into index.html. Everything shown comes from TabState.
import { ATTACK_LABELS, ATTACK_MEANINGS } from '../../shared/fl/attacks.ts';
import { formatCount, formatStat } from '../format.ts';
import type { ProbeResult } from '../worker-protocol.ts';
import type { ConnectionState, TabState, TabStatus } from './tab-state.ts';

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`index.html has no #${id}`);
  return element as T;
}

type Tone = 'good' | 'warn' | 'bad' | '';

const STATUS_TONE: Partial<Record<TabStatus, Tone>> = {
  'update accepted': 'good',
  'update rejected': 'bad',
  error: 'bad',
  training: 'warn',
  uploading: 'warn',
};

const CONNECTION_TONE: Record<ConnectionState, Tone> = {
  connecting: '',
  connected: 'good',
  reconnecting: 'warn',
  disconnected: 'bad',
};

function badge(text: string, tone: Tone): HTMLSpanElement {
  const element = document.createElement('span');
  element.className = `badge ${tone}`;
  element.textContent = text;
  return element;
}

function probeRow(result: ProbeResult, chosen: string | null): HTMLTableRowElement {
  const row = document.createElement('tr');
  row.dataset.backend = result.backend;
  row.dataset.testid = `probe-${result.backend}`;
  if (result.backend === chosen) row.className = 'chosen';
  const cells = [
    result.backend === chosen ? `${result.backend} ✓` : result.backend,
    result.examplesPerSec === null ? 'skipped' : formatCount(result.examplesPerSec),
    result.note,
  ];
  for (const text of cells) {
    const cell = document.createElement('td');
    cell.textContent = text;
    row.append(cell);
  }
  return row;
}

/** What this tab did for privacy to its last update, in a sentence; null when it did nothing. */
function privacyLine(state: TabState): string | null {
  const parts: string[] = [];
  const p = state.privatized;
  if (p) {
    parts.push(
      p.normBefore > p.clippedTo
        ? `Clipped its update from norm ${formatStat(p.normBefore)} to ${formatStat(p.clippedTo)}`
        : `Its update (norm ${formatStat(p.normBefore)}) was within the clip norm`,
    );
    if (p.noiseStd > 0) parts.push(`added Gaussian noise of std ${formatStat(p.noiseStd)} per value here (local DP)`);
  }
  const secure = state.secureAggregation;
  if (secure) parts.push(`masked it in round ${secure.round} with ${secure.peers} other tabs: the coordinator sees only the sum (secure aggregation)`);
  return parts.length > 0 ? `This tab: ${parts.join('; ')}.` : null;
}

export function render(state: TabState): void {
  byId('connection').replaceChildren(badge(state.connection, CONNECTION_TONE[state.connection]));
  byId('status').replaceChildren(badge(state.status, STATUS_TONE[state.status] ?? ''));
  byId('round').textContent = state.round > 0 ? String(state.round) : '—';
  byId('backend').textContent = state.backend ?? 'choosing…';
  byId('examples').textContent = state.numExamples
    ? `${state.numExamples.toLocaleString('en')}${state.drawnExamples ? ` (${state.drawnExamples} drawn)` : ''}${state.heldOutExamples ? ` + ${state.heldOutExamples.toLocaleString('en')} held out` : ''}`
    : '—';
  byId('accuracy').textContent = state.lastAccuracy === null ? '—' : `${(100 * state.lastAccuracy).toFixed(1)} %`;
  const own = state.heldOutEvaluation;
  byId('held-out-accuracy').textContent = own === null ? (state.heldOutExamples > 0 ? '—' : 'none held out') : `${(100 * own.accuracy).toFixed(1)} %`;
  byId('held-out-accuracy').title =
    own === null ? '' : `round ${own.round}'s global model on the ${own.count} examples this tab holds out and never trains on (loss ${formatStat(own.loss)})`;
  byId('updates').textContent = `${state.updatesAccepted}${state.updatesRejected ? ` (${state.updatesRejected} rejected)` : ''}`;
  byId('speed').textContent = state.examplesPerSec === null ? '—' : `${formatCount(state.examplesPerSec)} ex/s`;
  byId('backend-reason').textContent = state.backendReason || 'Measuring how fast each backend trains this model here…';
  byId('probe-rows').replaceChildren(...state.probe.map((result) => probeRow(result, state.backend)));
  byId('remeasure').hidden = state.backend === null || state.backendReason.startsWith('forced');
  const error = byId('error');
  error.hidden = state.lastError === null;
  error.textContent = state.lastError ?? '';
  // Hard to miss: a tab sending bad updates on purpose should never look like an honest one.
  byId('attack-line').hidden = state.attack === 'none';
  const attack = byId('attack-badge');
  attack.dataset.attack = state.attack;
  attack.textContent = `attacker: ${ATTACK_LABELS[state.attack]}`;
  byId('attack-meaning').textContent = `This tab ${ATTACK_MEANINGS[state.attack]}, to test robust aggregation.`;
  const privacy = privacyLine(state);
  byId('privacy-line').hidden = privacy === null;
  byId('privacy-line').textContent = privacy ?? '';
  byId('client-id').textContent = state.clientId ?? '—';
  byId('shard').textContent = state.shardIndex === null ? '—' : `${state.shardIndex + 1} of ${state.shardCount ?? '?'}`;
}

export function onRemeasure(handler: () => void): void {
  byId('remeasure').addEventListener('click', handler);
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

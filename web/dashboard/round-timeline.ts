// Who took part in each round: a row per round (newest first, the running round on top),
// a cell per tab (answered ✓, late, dropped, or not selected), and the bytes that round
// moved. A tab that has left keeps its column, so its past rounds stay visible.
import type { RoundMetrics, RunState } from '../../shared/protocol.ts';
import { formatBytes } from '../format.ts';

export type RoundOutcome = 'answered' | 'late' | 'dropped' | 'training' | 'none';

const OUTCOME_TEXT: Record<RoundOutcome, string> = { answered: '✓', late: 'late', dropped: 'dropped', training: '…', none: '' };
const OUTCOME_MEANING: Record<RoundOutcome, string> = {
  answered: 'answered in time',
  late: 'missed the deadline',
  dropped: 'left during the round',
  training: 'selected, still training',
  none: 'not selected',
};

/** Characters of the client id shown in a column header: enough to tell a class apart. */
const ID_CHARS = 4;

/** Every tab to give a column: the connected ones in table order, then those only history knows. */
export function timelineTabs(history: readonly Pick<RoundMetrics, 'answered' | 'late' | 'dropped'>[], clients: readonly { clientId: string }[]): string[] {
  const ids = new Set(clients.map((c) => c.clientId));
  for (const m of history) for (const id of [...m.answered, ...m.late, ...m.dropped]) ids.add(id);
  return [...ids];
}

export function roundOutcome(m: Pick<RoundMetrics, 'answered' | 'late' | 'dropped'>, clientId: string): RoundOutcome {
  if (m.answered.includes(clientId)) return 'answered';
  if (m.late.includes(clientId)) return 'late';
  if (m.dropped.includes(clientId)) return 'dropped';
  return 'none';
}

function liveOutcome(state: Pick<RunState, 'selected' | 'answered'>, clientId: string): RoundOutcome {
  if (state.answered.includes(clientId)) return 'answered';
  return state.selected.includes(clientId) ? 'training' : 'none';
}

function th(text: string, title = '', className = ''): HTMLTableCellElement {
  const cell = document.createElement('th');
  cell.scope = 'col';
  cell.textContent = text;
  if (title) cell.title = title;
  if (className) cell.className = className;
  return cell;
}

export function renderTimeline(table: HTMLTableElement, state: RunState, running: boolean): void {
  const tabs = timelineTabs(state.history, state.clients);
  const head = document.createElement('tr');
  head.append(
    th('round', '', 'num'),
    ...tabs.map((id) => th(id.slice(0, ID_CHARS), id, 'mono tab')),
    th('to tabs', 'bytes the coordinator sent this round (global weights)', 'num'),
    th('from tabs', 'bytes the coordinator received this round (updates)', 'num'),
  );

  const row = (label: string, outcomes: RoundOutcome[], sent: string, received: string, round: number) => {
    const tr = document.createElement('tr');
    tr.dataset.round = String(round);
    const first = tr.insertCell();
    first.className = 'num';
    first.textContent = label;
    outcomes.forEach((outcome, i) => {
      const td = tr.insertCell();
      td.className = `outcome outcome-${outcome}`;
      td.dataset.clientId = tabs[i];
      td.textContent = OUTCOME_TEXT[outcome];
      td.title = `${tabs[i].slice(0, 8)}: ${OUTCOME_MEANING[outcome]}`;
    });
    for (const text of [sent, received]) {
      const td = tr.insertCell();
      td.className = 'num';
      td.textContent = text;
    }
    return tr;
  };

  const rows: HTMLTableRowElement[] = [];
  const lastDone = state.history[state.history.length - 1]?.round ?? 0;
  if (running && state.selected.length > 0 && state.round > lastDone) {
    rows.push(row(`${state.round} (now)`, tabs.map((id) => liveOutcome(state, id)), '', '', state.round));
  }
  for (const m of [...state.history].reverse()) {
    const label = m.attempt > 1 ? `${m.round} (try ${m.attempt})` : String(m.round);
    rows.push(row(label, tabs.map((id) => roundOutcome(m, id)), formatBytes(m.bytesSent), formatBytes(m.bytesReceived), m.round));
  }
  const thead = table.tHead ?? table.createTHead();
  thead.replaceChildren(head);
  const tbody = table.tBodies[0] ?? table.createTBody();
  tbody.replaceChildren(...rows);
}

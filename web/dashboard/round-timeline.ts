// Who took part in each round: a row per round (newest first, the running round on top),
// a cell per tab (answered ✓, discarded or down-weighted by the aggregation rule, late,
// dropped, or not selected), the rule, and the bytes that round moved. A tab that has left
// keeps its column, so its past rounds stay visible; a tab attacking now has a red header.
import { ATTACK_LABELS } from '../../shared/fl/attacks.ts';
import type { AttackMode, RoundMetrics, RunState } from '../../shared/protocol/records.ts';
import { formatBytes } from '../format.ts';

export type RoundOutcome = 'answered' | 'discarded' | 'downweighted' | 'late' | 'dropped' | 'training' | 'none';

/** What one finished round says about who took part and what the rule did with their updates. */
export type RoundParticipation = Pick<RoundMetrics, 'answered' | 'late' | 'dropped' | 'discarded' | 'downweighted'>;

const OUTCOME_TEXT: Record<RoundOutcome, string> = {
  answered: '✓',
  discarded: '✗',
  downweighted: '↓',
  late: 'late',
  dropped: 'dropped',
  training: '…',
  none: '',
};
const OUTCOME_MEANING: Record<RoundOutcome, string> = {
  answered: 'answered in time',
  discarded: 'answered; the aggregation rule discarded its update',
  downweighted: 'answered; the aggregation rule gave its update less weight',
  late: 'missed the deadline',
  dropped: 'left during the round',
  training: 'selected, still training',
  none: 'not selected',
};

/** Characters of the client id shown in a column header: enough to tell a class apart. */
const ID_CHARS = 4;

/** Every tab to give a column: the connected ones in table order, then those only history knows. */
export function timelineTabs(history: readonly RoundParticipation[], clients: readonly { clientId: string }[]): string[] {
  const ids = new Set(clients.map((c) => c.clientId));
  for (const m of history) for (const id of [...m.answered, ...m.late, ...m.dropped, ...m.discarded, ...m.downweighted]) ids.add(id);
  return [...ids];
}

export function roundOutcome(m: RoundParticipation, clientId: string): RoundOutcome {
  // Discarded and down-weighted updates did arrive: say what the rule did rather than just ✓.
  if (m.discarded.includes(clientId)) return 'discarded';
  if (m.downweighted.includes(clientId)) return 'downweighted';
  if (m.answered.includes(clientId)) return 'answered';
  if (m.late.includes(clientId)) return 'late';
  if (m.dropped.includes(clientId)) return 'dropped';
  return 'none';
}

/** "discarded 3f2a, 9b1c · down-weighted 7d0e" in the timeline's short ids; "—" when the rule kept every update whole. */
export function setAsideText(m: Pick<RoundMetrics, 'discarded' | 'downweighted'>): string {
  const short = (ids: readonly string[]) => ids.map((id) => id.slice(0, ID_CHARS)).join(', ');
  const parts = [];
  if (m.discarded.length > 0) parts.push(`discarded ${short(m.discarded)}`);
  if (m.downweighted.length > 0) parts.push(`down-weighted ${short(m.downweighted)}`);
  return parts.length > 0 ? parts.join(' · ') : '—';
}

/** A tab column's header tooltip: its full id, and its attack when it is attacking now. */
export function tabHeaderTitle(clientId: string, attack: AttackMode | undefined): string {
  return attack === undefined || attack === 'none' ? clientId : `${clientId} · attacker now: ${ATTACK_LABELS[attack]}`;
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
  const attackOf = new Map(state.clients.map((c) => [c.clientId, c.attack]));
  const head = document.createElement('tr');
  head.append(
    th('round', '', 'num'),
    ...tabs.map((id) => {
      const attack = attackOf.get(id);
      return th(id.slice(0, ID_CHARS), tabHeaderTitle(id, attack), attack !== undefined && attack !== 'none' ? 'mono tab attacker' : 'mono tab');
    }),
    th('rule', 'how the coordinator combined the updates this round', ''),
    th('set aside', 'updates the rule discarded or gave less weight (tab ids as in the columns)', ''),
    th('to tabs', 'bytes the coordinator sent this round (global weights)', 'num'),
    th('from tabs', 'bytes the coordinator received this round (updates)', 'num'),
  );

  /** One round's row; the cells after the tabs' are plain text (empty for the running round). */
  const row = (round: number, label: string, outcomes: RoundOutcome[], after: { text: string; className: string }[]) => {
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
    for (const { text, className } of after) {
      const td = tr.insertCell();
      td.className = className;
      td.textContent = text;
    }
    return tr;
  };

  const rows: HTMLTableRowElement[] = [];
  const lastDone = state.history[state.history.length - 1]?.round ?? 0;
  if (running && state.selected.length > 0 && state.round > lastDone) {
    const blank = ['rule', 'set-aside mono', 'num', 'num'].map((className) => ({ text: '', className }));
    rows.push(row(state.round, `${state.round} (now)`, tabs.map((id) => liveOutcome(state, id)), blank));
  }
  for (const m of [...state.history].reverse()) {
    const label = m.attempt > 1 ? `${m.round} (try ${m.attempt})` : String(m.round);
    rows.push(
      row(m.round, label, tabs.map((id) => roundOutcome(m, id)), [
        { text: m.aggregation, className: 'rule' },
        { text: setAsideText(m), className: 'set-aside mono' },
        { text: formatBytes(m.bytesSent), className: 'num' },
        { text: formatBytes(m.bytesReceived), className: 'num' },
      ]),
    );
  }
  const thead = table.tHead ?? table.createTHead();
  thead.replaceChildren(head);
  const tbody = table.tBodies[0] ?? table.createTBody();
  tbody.replaceChildren(...rows);
}

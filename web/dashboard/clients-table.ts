// The table of connected tabs. Rebuilt from each RunState: with textContent only,
// since backend reasons come from the tabs and must never be parsed as HTML.
// "Last update" ages between states: refreshAges() rewrites just those cells every second.
// With the admin token, each row has a select for the tab's attack simulation; while one is
// open, new RunStates wait (a rebuilt row would close it under the pointer).
import { ATTACK_LABELS, ATTACK_MEANINGS, parseAttackMode } from '../../shared/fl/attacks.ts';
import { ATTACK_MODES, type AttackMode, type ClientStatus, type ClientView, type RunState } from '../../shared/protocol/records.ts';
import { formatAgo, formatBytes, formatCount, formatStat, shortClientId } from '../format.ts';
import { labelHistogram } from './label-histogram.ts';

/** What each status means, for the pill's tooltip. */
export const STATUS_MEANINGS: Record<ClientStatus, string> = {
  joining: 'loading its data and measuring backends',
  idle: 'ready, not in the current round',
  training: 'training on its local data for this round',
  uploading: 'sending its update',
  submitted: 'its update for this round was accepted',
  late: 'missed the last round\'s deadline',
  dropped: 'left in the middle of a round',
};

export interface AttackView {
  attacker: boolean;
  /** The attack column for a viewer: "sign flip ×10", or "—" for an honest tab. */
  text: string;
  /** Tooltip: what the tab sends. */
  title: string;
}

export function describeAttack(mode: AttackMode): AttackView {
  if (mode === 'none') return { attacker: false, text: '—', title: `honest: ${ATTACK_MEANINGS.none}` };
  return { attacker: true, text: ATTACK_LABELS[mode], title: `simulated attacker: ${ATTACK_MEANINGS[mode]}` };
}

/** "1 attacker", "3 attackers"; empty when every tab is honest. */
export function attackerSummary(clients: readonly Pick<ClientView, 'attack'>[]): string {
  const count = clients.filter((c) => c.attack !== 'none').length;
  return count === 0 ? '' : `${count} attacker${count === 1 ? '' : 's'}`;
}

export interface ClientsTableHooks {
  /** Whether to offer the per-tab attack select: the admin token is set. */
  canAdmin(): boolean;
  /** Asks the coordinator to switch the tab; resolves once it answered (errors are shown by the page). */
  setAttack(clientId: string, mode: AttackMode): Promise<void>;
}

export interface ClientsTable {
  show(state: RunState, serverNowMs: number): void;
  /** Rewrites the "last update" cells for the server time `serverNowMs`. */
  refreshAges(serverNowMs: number): void;
}

function cell(row: HTMLTableRowElement, text: string, className = ''): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function pill(text: string, className: string, title: string): HTMLSpanElement {
  const span = document.createElement('span');
  span.className = `dash-pill ${className}`;
  span.textContent = text;
  span.title = title;
  return span;
}

export function createClientsTable(tbody: HTMLTableSectionElement, hooks: ClientsTableHooks): ClientsTable {
  let last: { state: RunState; serverNowMs: number } | null = null;
  /** Modes asked for and not answered yet: shown (disabled) instead of the coordinator's. */
  const pending = new Map<string, AttackMode>();

  const choosing = () => document.activeElement instanceof HTMLSelectElement && tbody.contains(document.activeElement);

  function attackSelect(client: ClientView): HTMLSelectElement {
    const select = document.createElement('select');
    select.className = 'dash-attack-select';
    select.dataset.testid = `attack-select-${client.clientId}`;
    select.title = `${describeAttack(client.attack).title}; a change applies from the tab's next round`;
    for (const mode of ATTACK_MODES) select.add(new Option(ATTACK_LABELS[mode], mode));
    const shown = pending.get(client.clientId) ?? client.attack;
    select.value = shown;
    select.dataset.attack = shown;
    select.disabled = pending.has(client.clientId);
    select.addEventListener('change', () => {
      const mode = parseAttackMode(select.value);
      pending.set(client.clientId, mode);
      select.blur(); // lets the RunStates that waited while it was open through
      void hooks.setAttack(client.clientId, mode).finally(() => {
        pending.delete(client.clientId);
        redraw();
      });
    });
    return select;
  }

  function row(client: ClientView, admin: boolean): HTMLTableRowElement {
    const tr = document.createElement('tr');
    tr.dataset.clientId = client.clientId;
    tr.dataset.status = client.status;
    tr.dataset.attack = client.attack;
    const attack = describeAttack(client.attack);
    const id = cell(tr, shortClientId(client.clientId), 'mono');
    id.title = client.clientId;
    if (attack.attacker) id.append(' ', pill('attacker', 'attack-pill', attack.title));
    cell(tr, String(client.shard), 'num');
    const backend = cell(tr, client.backend ?? '—', 'mono');
    backend.title = client.backend === null ? 'not ready yet: still loading data or measuring backends' : client.backendReason;
    if (client.backend !== null && client.backendReason !== '') backend.classList.add('has-reason');
    cell(tr, client.numExamples > 0 ? formatCount(client.numExamples) : '—', 'num');
    cell(tr, '', 'labels').append(labelHistogram(client.labelCounts));
    cell(tr, '').append(
      pill(client.connected ? client.status : `${client.status} (offline)`, `status-${client.status}`, STATUS_MEANINGS[client.status]),
    );
    const attackCell = cell(tr, admin ? '' : attack.text, 'attack');
    if (admin) attackCell.append(attackSelect(client));
    else attackCell.title = attack.title;
    cell(tr, client.lastLoss === null ? '—' : formatStat(client.lastLoss), 'num');
    const updated = cell(tr, '', 'num age');
    if (client.lastUpdateAt !== null) updated.dataset.updatedAt = String(client.lastUpdateAt);
    // bytesSent / bytesReceived are counted by the coordinator: sent to the tab, received from it.
    cell(tr, client.bytesSent === null ? '—' : formatBytes(client.bytesSent), 'num').title = 'sent to this tab: global weights';
    cell(tr, client.bytesReceived === null ? '—' : formatBytes(client.bytesReceived), 'num').title = 'received from this tab: its updates';
    return tr;
  }

  function refreshAges(serverNowMs: number): void {
    for (const td of tbody.querySelectorAll<HTMLTableCellElement>('td.age')) {
      const at = td.dataset.updatedAt;
      td.textContent = at === undefined ? 'never' : formatAgo(serverNowMs - Number(at));
    }
  }

  function redraw(): void {
    if (last === null || choosing()) return;
    const admin = hooks.canAdmin();
    tbody.replaceChildren(...last.state.clients.map((client) => row(client, admin)));
    refreshAges(last.serverNowMs);
  }

  tbody.addEventListener('focusout', (event) => {
    // Focus moving to another select of the table: still choosing.
    if (event.relatedTarget instanceof Node && tbody.contains(event.relatedTarget)) return;
    queueMicrotask(redraw);
  });

  return {
    show(state, serverNowMs) {
      last = { state, serverNowMs };
      redraw();
    },
    refreshAges,
  };
}

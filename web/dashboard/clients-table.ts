// The table of connected tabs. Rebuilt from each RunState: with textContent only,
// since backend reasons come from the tabs and must never be parsed as HTML.
// "Last update" ages between states: refreshAges() rewrites just those cells every second.
import type { ClientStatus, RunState } from '../../shared/protocol.ts';
import { formatAgo, formatBytes, formatCount, formatStat, shortClientId } from '../format.ts';

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

function cell(row: HTMLTableRowElement, text: string, className = ''): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

export function renderClients(tbody: HTMLTableSectionElement, state: RunState, serverNowMs: number): void {
  const rows = state.clients.map((client) => {
    const row = document.createElement('tr');
    row.dataset.clientId = client.clientId;
    row.dataset.status = client.status;
    const id = cell(row, shortClientId(client.clientId), 'mono');
    id.title = client.clientId;
    cell(row, String(client.shard), 'num');
    const backend = cell(row, client.backend ?? '—', 'mono');
    backend.title = client.backend === null ? 'not ready yet: still loading data or measuring backends' : client.backendReason;
    if (client.backend !== null && client.backendReason !== '') backend.classList.add('has-reason');
    cell(row, client.numExamples > 0 ? formatCount(client.numExamples) : '—', 'num');
    const status = cell(row, '');
    const pill = document.createElement('span');
    pill.className = `dash-pill status-${client.status}`;
    pill.textContent = client.connected ? client.status : `${client.status} (offline)`;
    pill.title = STATUS_MEANINGS[client.status];
    status.append(pill);
    cell(row, client.lastLoss === null ? '—' : formatStat(client.lastLoss), 'num');
    const updated = cell(row, '', 'num age');
    if (client.lastUpdateAt !== null) updated.dataset.updatedAt = String(client.lastUpdateAt);
    // bytesSent / bytesReceived are counted by the coordinator: sent to the tab, received from it.
    cell(row, formatBytes(client.bytesSent), 'num').title = 'sent to this tab: global weights';
    cell(row, formatBytes(client.bytesReceived), 'num').title = 'received from this tab: its updates';
    return row;
  });
  tbody.replaceChildren(...rows);
  refreshAges(tbody, serverNowMs);
}

/** Rewrites the "last update" cells for the server time `serverNowMs`. */
export function refreshAges(tbody: HTMLTableSectionElement, serverNowMs: number): void {
  for (const td of tbody.querySelectorAll<HTMLTableCellElement>('td.age')) {
    const at = td.dataset.updatedAt;
    td.textContent = at === undefined ? 'never' : formatAgo(serverNowMs - Number(at));
  }
}

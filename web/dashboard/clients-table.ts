// The table of connected tabs. Rebuilt from each RunState: with textContent only,
// since backend reasons come from the tabs and must never be parsed as HTML.
import type { ClientView, RunState } from '../../shared/protocol.ts';
import { formatCount, formatStat, shortClientId } from './format.ts';

export type RoundRole = 'answered' | 'training' | '';

export function roundRole(client: ClientView, state: Pick<RunState, 'selected' | 'answered'>): RoundRole {
  if (state.answered.includes(client.clientId)) return 'answered';
  if (state.selected.includes(client.clientId)) return 'training';
  return '';
}

function cell(row: HTMLTableRowElement, text: string, className = ''): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

export function renderClients(tbody: HTMLTableSectionElement, state: RunState): void {
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
    pill.textContent = client.status;
    status.append(pill);
    const role = roundRole(client, state);
    cell(row, role === 'answered' ? 'answered ✓' : role === 'training' ? 'selected' : '', `role-${role || 'none'}`);
    cell(row, client.lastLoss === null ? '—' : formatStat(client.lastLoss), 'num');
    return row;
  });
  tbody.replaceChildren(...rows);
}

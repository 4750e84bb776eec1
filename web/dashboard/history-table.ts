// Completed rounds, newest first, with the numbers behind the charts.
import type { RoundMetrics } from '../../shared/protocol.ts';
import { formatCount, formatDurationMs, formatPercent, formatStat } from '../format.ts';

export function renderHistory(tbody: HTMLTableSectionElement, history: readonly RoundMetrics[], highlightRound: number | null): void {
  const rows = [...history].reverse().map((m) => {
    const row = document.createElement('tr');
    row.dataset.round = String(m.round);
    if (m.round === highlightRound) row.className = 'just-done';
    const values = [
      m.attempt > 1 ? `${m.round} (attempt ${m.attempt})` : String(m.round),
      formatPercent(m.accuracy),
      formatStat(m.loss),
      `${m.participants} of ${m.selected}`,
      formatCount(m.totalWeight),
      m.noiseStd > 0 ? formatStat(m.noiseStd) : '—',
      m.epsilon === null ? '—' : formatStat(m.epsilon),
      formatDurationMs(m.durationMs),
    ];
    for (const value of values) {
      const td = row.insertCell();
      td.className = 'num';
      td.textContent = value;
    }
    return row;
  });
  tbody.replaceChildren(...rows);
}

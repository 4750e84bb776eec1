// Completed rounds, newest first, with the numbers behind the charts.
import type { RoundMetrics } from '../../shared/protocol.ts';
import { formatCount, formatDurationMs, formatPercent, formatStat } from '../format.ts';
import { secureAggregationDetail, secureAggregationSummary } from './privacy-view.ts';

export interface HistoryCell {
  text: string;
  /** A tooltip with the detail behind the text; '' when the text says it all. */
  title: string;
}

const cell = (text: string, title = ''): HistoryCell => ({ text, title });

/** One round's row, in the order of dashboard.html's history columns. */
export function historyCells(m: RoundMetrics): HistoryCell[] {
  const secAgg = m.secureAggregation;
  return [
    cell(m.attempt > 1 ? `${m.round} (attempt ${m.attempt})` : String(m.round)),
    cell(formatPercent(m.accuracy)),
    cell(formatStat(m.loss)),
    cell(`${m.participants} of ${m.selected}`),
    cell(formatCount(m.totalWeight)),
    cell(m.noiseStd > 0 ? formatStat(m.noiseStd) : '—'),
    cell(m.privacy === null ? '—' : formatStat(m.privacy.epsilon)),
    secAgg === null ? cell('—') : cell(secureAggregationSummary(secAgg), secureAggregationDetail(secAgg)),
    cell(formatDurationMs(m.durationMs)),
  ];
}

export function renderHistory(tbody: HTMLTableSectionElement, history: readonly RoundMetrics[], highlightRound: number | null): void {
  const rows = [...history].reverse().map((m) => {
    const row = document.createElement('tr');
    row.dataset.round = String(m.round);
    if (m.round === highlightRound) row.className = 'just-done';
    for (const { text, title } of historyCells(m)) {
      const td = row.insertCell();
      td.className = title === '' ? 'num' : 'num has-reason';
      td.textContent = text;
      if (title !== '') td.title = title;
    }
    return row;
  });
  tbody.replaceChildren(...rows);
}

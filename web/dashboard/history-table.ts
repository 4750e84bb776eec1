// Completed rounds, newest first, with the numbers behind the charts.
import type { RoundMetrics } from '../../shared/protocol/records.ts';
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
    m.accuracySource === 'federated' ? cell(formatPercent(m.accuracy), 'no test set (centralEvaluation off): the tabs\' federated accuracy when the round was decided') : cell(formatPercent(m.accuracy)),
    cell(formatStat(m.loss)),
    federatedCell(m),
    cell(`${m.participants} of ${m.selected}`),
    cell(formatCount(m.totalWeight)),
    cell(m.noiseStd > 0 ? formatStat(m.noiseStd) : '—'),
    cell(m.privacy === null ? '—' : formatStat(m.privacy.epsilon)),
    secAgg === null ? cell('—') : cell(secureAggregationSummary(secAgg), secureAggregationDetail(secAgg)),
    cell(formatDurationMs(m.durationMs)),
  ];
}

/** The tabs' federated evaluation of the round's model: accuracy over their held-out examples. */
function federatedCell(m: RoundMetrics): HistoryCell {
  const f = m.federatedEvaluation;
  if (!f) return cell('—');
  return cell(formatPercent(f.accuracy), `${formatCount(f.count)} held-out examples on ${f.tabs} tab${f.tabs === 1 ? '' : 's'}, loss ${formatStat(f.loss)}`);
}

/** Changes whenever a row (or a chart point) would: a round added or redone, or more tabs' reports on one. */
export function historyKey(history: readonly RoundMetrics[]): string {
  const last = history[history.length - 1];
  let reports = 0;
  for (const m of history) reports += m.federatedEvaluation?.tabs ?? 0;
  return `${history.length}|${last?.round}|${last?.attempt}|${reports}`;
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

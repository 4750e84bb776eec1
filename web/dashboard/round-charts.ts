// The two per-round line charts (global accuracy, global loss): the coordinator's test set and,
// beside it, the tabs' federated evaluation on their held-out examples. Redraws are skipped when
// history has not changed, so the charts stay still while state messages stream in.
import type { RoundMetrics } from '../../shared/protocol/records.ts';
import { formatPercent, formatStat } from '../format.ts';
import { historyKey } from './history-table.ts';
import { horizontalLine, lineChart, redraw, referenceLine, series, setLargeType, type Point, type RoundChart } from './line-chart.ts';

export interface RoundCharts {
  /** Redraws both charts when `history` (or the run's shape) differs from what they show. */
  show(history: readonly RoundMetrics[], plannedRounds: number, targetAccuracy: number): void;
  /** Axis and legend text for a projector (large) or a screen (chart.js's 12 px). */
  setLargeType(large: boolean): void;
  readonly accuracy: RoundChart;
  readonly loss: RoundChart;
}

const ACCURACY_COLOR = '#2563eb';
const LOSS_COLOR = '#dc2626';
const TARGET_COLOR = '#16a34a';
const FEDERATED_COLOR = '#9333ea';

/** The coordinator's test-set points (none for rounds judged by the tabs) and the tabs' federated points. */
export function roundSeries(history: readonly RoundMetrics[], value: 'accuracy' | 'loss'): { testSet: Point[]; federated: Point[] } {
  const testSet = history.filter((m) => m.accuracySource !== 'federated').map((m) => ({ x: m.round, y: m[value] }));
  const federated = history.flatMap((m) => (m.federatedEvaluation ? [{ x: m.round, y: m.federatedEvaluation[value] }] : []));
  return { testSet, federated };
}

export function createRoundCharts(accuracyCanvas: HTMLCanvasElement, lossCanvas: HTMLCanvasElement): RoundCharts {
  const accuracySeries = series('test accuracy', ACCURACY_COLOR);
  const federatedAccuracySeries = series('federated (tabs\' held-out)', FEDERATED_COLOR);
  const targetSeries = referenceLine('target', TARGET_COLOR);
  const lossSeries = series('test loss', LOSS_COLOR);
  const federatedLossSeries = series('federated (tabs\' held-out)', FEDERATED_COLOR);
  const accuracy = lineChart(accuracyCanvas, [accuracySeries, federatedAccuracySeries, targetSeries], { format: (v) => formatPercent(v, 1), suggestedMax: 1 });
  const loss = lineChart(lossCanvas, [lossSeries, federatedLossSeries], { format: formatStat, beginAtZero: true });
  let shownKey = '';

  return {
    accuracy,
    loss,
    show(history, plannedRounds, targetAccuracy) {
      const last = history[history.length - 1];
      const key = `${historyKey(history)}|${last?.accuracy}|${plannedRounds}|${targetAccuracy}`;
      if (key === shownKey) return;
      shownKey = key;
      const xMax = Math.max(plannedRounds, last?.round ?? 1, 2);
      const accuracies = roundSeries(history, 'accuracy');
      const losses = roundSeries(history, 'loss');
      accuracySeries.data = accuracies.testSet;
      federatedAccuracySeries.data = accuracies.federated;
      lossSeries.data = losses.testSet;
      federatedLossSeries.data = losses.federated;
      // A target of 1 means "never stop early": no line to draw.
      targetSeries.data = horizontalLine(targetAccuracy < 1 ? targetAccuracy : null, xMax);
      for (const chart of [accuracy, loss]) {
        // Without points chart.js invents a range around the target line; show 0..1 instead.
        const y = chart.options.scales?.y;
        if (y) y.min = history.length === 0 ? 0 : undefined;
        redraw(chart, xMax);
      }
    },
    setLargeType(large) {
      for (const chart of [accuracy, loss]) setLargeType(chart, large);
    },
  };
}

// The two per-round line charts (global test accuracy, global test loss). Redraws are skipped
// when history has not changed, so the charts stay still while state messages stream in.
import type { RoundMetrics } from '../../shared/protocol.ts';
import { formatPercent, formatStat } from '../format.ts';
import { horizontalLine, lineChart, redraw, referenceLine, series, setLargeType, type RoundChart } from './line-chart.ts';

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

export function createRoundCharts(accuracyCanvas: HTMLCanvasElement, lossCanvas: HTMLCanvasElement): RoundCharts {
  const accuracySeries = series('test accuracy', ACCURACY_COLOR);
  const targetSeries = referenceLine('target', TARGET_COLOR);
  const lossSeries = series('test loss', LOSS_COLOR);
  const accuracy = lineChart(accuracyCanvas, [accuracySeries, targetSeries], { format: (v) => formatPercent(v, 1), suggestedMax: 1 });
  const loss = lineChart(lossCanvas, [lossSeries], { format: formatStat, beginAtZero: true });
  let shownKey = '';

  return {
    accuracy,
    loss,
    show(history, plannedRounds, targetAccuracy) {
      const last = history[history.length - 1];
      const key = `${history.length}|${last?.round}|${last?.accuracy}|${plannedRounds}|${targetAccuracy}`;
      if (key === shownKey) return;
      shownKey = key;
      const xMax = Math.max(plannedRounds, last?.round ?? 1, 2);
      accuracySeries.data = history.map((m) => ({ x: m.round, y: m.accuracy }));
      lossSeries.data = history.map((m) => ({ x: m.round, y: m.loss }));
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

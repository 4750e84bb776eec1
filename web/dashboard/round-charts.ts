// The two per-round line charts (global test accuracy, global test loss), drawn by chart.js.
// Animation is off and redraws are skipped when history has not changed, so the charts
// stay still while state messages stream in during a round.
import {
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartDataset,
} from 'chart.js';
import type { RoundMetrics } from '../../shared/protocol.ts';
import { formatPercent, formatStat } from '../format.ts';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);

type Point = { x: number; y: number };

export interface RoundCharts {
  /** Redraws both charts when `history` (or the run's shape) differs from what they show. */
  show(history: readonly RoundMetrics[], plannedRounds: number, targetAccuracy: number): void;
  /** Axis and legend text for a projector (large) or a screen (chart.js's 12 px). */
  setLargeType(large: boolean): void;
  readonly accuracy: Chart<'line', Point[]>;
  readonly loss: Chart<'line', Point[]>;
}

const ACCURACY_COLOR = '#2563eb';
const LOSS_COLOR = '#dc2626';
const TARGET_COLOR = '#16a34a';

function series(label: string, color: string): ChartDataset<'line', Point[]> {
  // clip: false keeps the first point (on the axis at round 1) whole.
  return { label, data: [], borderColor: color, backgroundColor: color, borderWidth: 2, pointRadius: 3, tension: 0, clip: false };
}

interface YAxis {
  format: (value: number) => string;
  suggestedMax?: number;
  beginAtZero?: boolean;
}

function lineChart(canvas: HTMLCanvasElement, datasets: ChartDataset<'line', Point[]>[], y: YAxis): Chart<'line', Point[]> {
  const formatY = y.format;
  return new Chart<'line', Point[]>(canvas, {
    type: 'line',
    data: { datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      scales: {
        x: { type: 'linear', min: 1, title: { display: true, text: 'round' }, ticks: { precision: 0 } },
        y: {
          suggestedMax: y.suggestedMax,
          beginAtZero: y.beginAtZero ?? false,
          ticks: { callback: (value) => formatY(Number(value)) },
        },
      },
      plugins: {
        legend: {
          display: datasets.length > 1,
          position: 'bottom',
          // A series with no points (the target line when there is no target) gets no legend entry.
          labels: { usePointStyle: true, pointStyle: 'line', filter: (item, data) => (data.datasets[item.datasetIndex ?? 0]?.data.length ?? 0) > 0 },
        },
        tooltip: {
          callbacks: {
            title: (items) => `round ${items[0]?.parsed.x ?? ''}`,
            label: (item) => `${item.dataset.label}: ${formatY(item.parsed.y ?? NaN)}`,
          },
        },
      },
    },
  });
}

export function createRoundCharts(accuracyCanvas: HTMLCanvasElement, lossCanvas: HTMLCanvasElement): RoundCharts {
  const accuracySeries = series('test accuracy', ACCURACY_COLOR);
  const targetSeries: ChartDataset<'line', Point[]> = {
    ...series('target', TARGET_COLOR),
    borderDash: [6, 4],
    borderWidth: 1,
    pointRadius: 0,
  };
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
      targetSeries.data = targetAccuracy < 1 ? [{ x: 1, y: targetAccuracy }, { x: xMax, y: targetAccuracy }] : [];
      for (const chart of [accuracy, loss]) {
        const x = chart.options.scales?.x;
        if (x) x.max = xMax;
        // Without points chart.js invents a range around the target line; show 0..1 instead.
        const y = chart.options.scales?.y;
        if (y) y.min = history.length === 0 ? 0 : undefined;
      }
      accuracy.update('none');
      loss.update('none');
    },
    setLargeType(large) {
      for (const chart of [accuracy, loss]) {
        const font = { size: large ? 22 : 12 };
        const { x, y } = chart.options.scales ?? {};
        for (const scale of [x, y]) {
          if (!scale) continue;
          scale.ticks = { ...scale.ticks, font };
          if ('title' in scale && scale.title) scale.title.font = font;
        }
        const legend = chart.options.plugins?.legend;
        if (legend?.labels) legend.labels.font = font;
        const dataset = chart.data.datasets[0];
        dataset.borderWidth = large ? 4 : 2;
        dataset.pointRadius = large ? 6 : 3;
        chart.update('none');
      }
    },
  };
}

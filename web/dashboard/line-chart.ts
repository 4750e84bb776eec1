// The dashboard's per-round line charts share one look, drawn by chart.js: rounds on a linear
// x axis, no animation (charts redraw on history changes only, so they stay still while state
// messages stream in), dashed reference lines, and large type for the projector.
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

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);

export type Point = { x: number; y: number };
export type RoundChart = Chart<'line', Point[]>;

export function series(label: string, color: string): ChartDataset<'line', Point[]> {
  // clip: false keeps the first point (on the axis at round 1) whole.
  return { label, data: [], borderColor: color, backgroundColor: color, borderWidth: 2, pointRadius: 3, tension: 0, clip: false };
}

/** A horizontal reference line (a target, a budget): thin, dashed, no points. */
export function referenceLine(label: string, color: string): ChartDataset<'line', Point[]> {
  return { ...series(label, color), borderDash: [6, 4], borderWidth: 1, pointRadius: 0 };
}

/** The two ends of a horizontal line at `y` across rounds 1..xMax; none when there is no `y`. */
export function horizontalLine(y: number | null, xMax: number): Point[] {
  return y === null ? [] : [{ x: 1, y }, { x: xMax, y }];
}

export interface YAxis {
  format: (value: number) => string;
  suggestedMax?: number;
  beginAtZero?: boolean;
}

export function lineChart(canvas: HTMLCanvasElement, datasets: ChartDataset<'line', Point[]>[], y: YAxis): RoundChart {
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

/** Sets the x axis to rounds 1..xMax and redraws without animation. */
export function redraw(chart: RoundChart, xMax: number): void {
  const x = chart.options.scales?.x;
  if (x) x.max = xMax;
  chart.update('none');
}

/** Axis and legend text for a projector (large) or a screen (chart.js's 12 px); the first series drawn thicker. */
export function setLargeType(chart: RoundChart, large: boolean): void {
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
  if (dataset) {
    dataset.borderWidth = large ? 4 : 2;
    dataset.pointRadius = large ? 6 : 3;
  }
  chart.update('none');
}

// The live local loss curve: one point per progress report from the worker, placed
// on a round axis (round 3 halfway through its epochs sits at 3.5), with a gap
// between rounds so each round's curve starts fresh from the new global model.
import { Chart, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import type { LocalProgress } from '../../shared/participant/trainer.ts';

Chart.register(LineController, LineElement, PointElement, LinearScale, Tooltip);

type Point = { x: number; y: number | null };

export class LossChart {
  private readonly chart: Chart<'line', Point[]>;
  private lastRound = 0;

  constructor(canvas: HTMLCanvasElement) {
    this.chart = new Chart(canvas, {
      type: 'line',
      data: { datasets: [{ label: 'local loss', data: [], borderColor: '#2563eb', backgroundColor: '#2563eb', pointRadius: 2, borderWidth: 2, spanGaps: false }] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        plugins: {
          tooltip: { callbacks: { label: (item) => `round ${Math.floor(item.parsed.x ?? 0)} · loss ${item.parsed.y?.toFixed(3)}` } },
        },
        scales: {
          x: { type: 'linear', ticks: { stepSize: 1, precision: 0 }, title: { display: true, text: 'round' } },
          y: { beginAtZero: true, title: { display: true, text: 'cross-entropy (local)' } },
        },
      },
    });
  }

  add(progress: LocalProgress): void {
    const data = this.chart.data.datasets[0].data;
    const stepsPerRound = progress.epochs * progress.stepsPerEpoch;
    const x = progress.round + ((progress.epoch - 1) * progress.stepsPerEpoch + progress.step) / stepsPerRound;
    if (this.lastRound !== 0 && progress.round !== this.lastRound) data.push({ x: progress.round, y: null });
    this.lastRound = progress.round;
    data.push({ x, y: progress.loss });
    this.chart.update('none');
  }
}

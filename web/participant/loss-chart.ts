// The live local loss curve: one point per progress report, across rounds.
import { Chart, LinearScale, LineController, LineElement, PointElement, Tooltip, CategoryScale } from 'chart.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Tooltip);

export class LossChart {
  private readonly chart: Chart<'line', number[], string>;

  constructor(canvas: HTMLCanvasElement) {
    this.chart = new Chart(canvas, {
      type: 'line',
      data: { labels: [], datasets: [{ label: 'local loss', data: [], borderColor: '#2563eb', pointRadius: 0, borderWidth: 2, tension: 0.2 }] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: {
          x: { ticks: { maxTicksLimit: 8 }, title: { display: true, text: 'round · epoch' } },
          y: { beginAtZero: true, title: { display: true, text: 'cross-entropy' } },
        },
      },
    });
  }

  add(label: string, loss: number): void {
    this.chart.data.labels!.push(label);
    this.chart.data.datasets[0].data.push(loss);
    this.chart.update('none');
  }
}

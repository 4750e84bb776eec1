// "Runs compared": the accuracy per round of every finished run of the session (RunState.pastRuns)
// on one chart, and the run in progress, live, once it has a round. Each line is labelled by what
// differed between the runs drawn (shared/run-label.ts) and keeps its colour while runs come and go:
// the colour follows the run's number, not its place in the list.
import type { PastRun, Phase, RoundMetrics } from '../../shared/protocol/records.ts';
import { labelRuns, nextRunNumber } from '../../shared/run-label.ts';
import type { Settings } from '../../shared/settings.ts';
import { formatPercent } from '../format.ts';
import { lineChart, redraw, series, setLargeType, type Point, type RoundChart } from './line-chart.ts';
import { isRunning } from './run-view.ts';

/** Run n gets colour n − 1 (mod 12); with 12 runs kept, only the live run can share one, and it is dashed. */
export const RUN_COLORS = [
  '#2563eb', '#ea580c', '#16a34a', '#9333ea', '#dc2626', '#0891b2',
  '#ca8a04', '#db2777', '#475569', '#65a30d', '#4f46e5', '#92400e',
] as const;

export interface ComparedRun {
  run: number;
  label: string;
  color: string;
  /** The run in progress; its line grows round by round. */
  live: boolean;
  points: Point[];
}

/** What the run in progress adds: its phase, settings and rounds so far. */
export interface CurrentRun {
  phase: Phase;
  settings: Settings;
  history: readonly RoundMetrics[];
}

/**
 * The lines to draw: finished runs with at least one evaluated round, oldest first, then the run
 * in progress if it has one. Empty when no finished run has a round: the card stays hidden.
 */
export function comparedRuns(pastRuns: readonly PastRun[], current: CurrentRun): ComparedRun[] {
  const finished = pastRuns.filter((r) => r.rounds.length > 0);
  if (finished.length === 0) return [];
  const drawn = finished.map((r) => ({ run: r.run, settings: r.settings, live: false, stopped: r.ended === 'stopped', points: r.rounds.map((p) => ({ x: p.round, y: p.accuracy })) }));
  if (isRunning(current.phase) && current.history.length > 0) {
    const points = current.history.map((m) => ({ x: m.round, y: m.accuracy }));
    drawn.push({ run: nextRunNumber(pastRuns), settings: current.settings, live: true, stopped: false, points });
  }
  const labels = labelRuns(drawn);
  return drawn.map((r, i) => ({
    run: r.run,
    label: `${labels[i]}${r.live ? ' · live' : r.stopped ? ' · stopped' : ''}`,
    color: RUN_COLORS[(r.run - 1) % RUN_COLORS.length],
    live: r.live,
    points: r.points,
  }));
}

export interface RunsComparedChart {
  /** Redraws when the lines differ from what the chart shows; returns the lines (empty: hide the card). */
  show(pastRuns: readonly PastRun[], current: CurrentRun): ComparedRun[];
  setLargeType(large: boolean): void;
  readonly chart: RoundChart;
}

/** The legend is what this chart is about: larger than chart.js's 12 px even on a screen. */
const LEGEND_FONT_PX = { screen: 15, projector: 24 };

export function createRunsComparedChart(canvas: HTMLCanvasElement): RunsComparedChart {
  const chart = lineChart(canvas, [], { format: (v) => formatPercent(v, 1), suggestedMax: 1 });
  const legend = chart.options.plugins!.legend!; // lineChart sets both, and the legend's labels
  const legendLabels = legend.labels!;
  legend.display = true; // lineChart shows a legend only for charts made with several series
  let large = false;
  let shownKey = '';
  let shown: ComparedRun[] = [];

  const draw = () => {
    chart.data.datasets = shown.map((r) => ({
      ...series(r.label, r.color),
      data: r.points,
      borderWidth: large ? 4 : 2,
      pointRadius: large ? 5 : 2,
      borderDash: r.live ? [8, 5] : undefined,
    }));
    // Set field by field, as setLargeType does: a copy of chart.js's resolved options would lose the legend filter's own arguments.
    legendLabels.font = { size: large ? LEGEND_FONT_PX.projector : LEGEND_FONT_PX.screen };
    legendLabels.boxWidth = large ? 48 : 32;
    const lastRound = Math.max(2, ...shown.flatMap((r) => r.points.map((p) => p.x)));
    redraw(chart, lastRound);
  };

  return {
    chart,
    show(pastRuns, current) {
      const runs = comparedRuns(pastRuns, current);
      const key = JSON.stringify(runs.map((r) => [r.run, r.label, r.points.length, r.points.at(-1)?.y]));
      if (key === shownKey) return shown;
      shownKey = key;
      shown = runs;
      draw();
      return shown;
    },
    setLargeType(on) {
      large = on;
      setLargeType(chart, on); // axis type; the lines and the legend are set in draw()
      draw();
    },
  };
}

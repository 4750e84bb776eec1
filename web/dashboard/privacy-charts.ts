// The privacy charts: ε the run has spent after each round against its budget (central DP), and
// the clip norm C of each round (adaptive clipping moves it). Redraws are skipped when nothing they
// plot has changed, so they stay still while state messages stream in, like the round charts.
import type { PrivacyBudget, RoundMetrics } from '../../shared/protocol/records.ts';
import type { Settings } from '../../shared/settings.ts';
import { formatStat } from '../format.ts';
import { horizontalLine, lineChart, redraw, referenceLine, series, setLargeType, type Point, type RoundChart } from './line-chart.ts';
import { centralDpOn, epsilonTarget, runPrivacy } from './privacy-view.ts';

/** What the privacy charts plot, and whether their cards are worth showing. */
export interface PrivacyChartData {
  /** ε spent after each round, from the rounds the accountant charged. */
  epsilon: Point[];
  /** The budget, drawn as a horizontal line; null when there is none. */
  epsilonTarget: number | null;
  /** C each round's deltas were clipped to. */
  clip: Point[];
  /** Central DP is set, or the history has ε to show. */
  epsilonShown: boolean;
  /** Adaptive clipping is set, or the history has rounds that adapted C. */
  clipShown: boolean;
}

export function privacyChartData(settings: Settings, history: readonly RoundMetrics[], budget: PrivacyBudget | null): PrivacyChartData {
  const epsilon = history.flatMap((m) => (m.privacy === null ? [] : [{ x: m.round, y: m.privacy.epsilon }]));
  const clip = history.flatMap((m) => (m.clipNorm === null ? [] : [{ x: m.round, y: m.clipNorm }]));
  return {
    epsilon,
    epsilonTarget: epsilonTarget(settings, runPrivacy(history, budget)),
    clip,
    epsilonShown: centralDpOn(settings) || epsilon.length > 0,
    // unclippedFraction is reported only when C adapts.
    clipShown: settings.adaptiveClipping || history.some((m) => m.unclippedFraction !== null),
  };
}

export interface PrivacyCharts {
  /** Redraws when what the charts plot has changed; returns what they plot. */
  show(settings: Settings, history: readonly RoundMetrics[], budget: PrivacyBudget | null): PrivacyChartData;
  setLargeType(large: boolean): void;
  readonly epsilon: RoundChart;
  readonly clip: RoundChart;
}

const EPSILON_COLOR = '#7c3aed';
const BUDGET_COLOR = '#dc2626';
const CLIP_COLOR = '#0891b2';

export function createPrivacyCharts(epsilonCanvas: HTMLCanvasElement, clipCanvas: HTMLCanvasElement): PrivacyCharts {
  const epsilonSeries = series('ε spent', EPSILON_COLOR);
  const budgetSeries = referenceLine('target ε', BUDGET_COLOR);
  const clipSeries = series('clip norm C', CLIP_COLOR);
  const epsilon = lineChart(epsilonCanvas, [epsilonSeries, budgetSeries], { format: formatStat, beginAtZero: true });
  const clip = lineChart(clipCanvas, [clipSeries], { format: formatStat, beginAtZero: true });
  let shownKey = '';
  let shown: PrivacyChartData | null = null;

  return {
    epsilon,
    clip,
    show(settings, history, budget) {
      const last = history[history.length - 1];
      const key = [
        history.length, last?.round, last?.attempt, last?.privacy?.epsilon, last?.clipNorm,
        settings.rounds, budget?.targetEpsilon, settings.targetEpsilon, settings.noiseMultiplier, settings.clipNorm, settings.adaptiveClipping,
      ].join('|');
      if (shown !== null && key === shownKey) return shown;
      shownKey = key;
      const data = privacyChartData(settings, history, budget);
      shown = data;
      const xMax = Math.max(settings.rounds, last?.round ?? 1, 2);
      epsilonSeries.data = data.epsilon;
      budgetSeries.data = horizontalLine(data.epsilonTarget, xMax);
      clipSeries.data = data.clip;
      redraw(epsilon, xMax);
      redraw(clip, xMax);
      return data;
    },
    setLargeType(large) {
      for (const chart of [epsilon, clip]) setLargeType(chart, large);
    },
  };
}

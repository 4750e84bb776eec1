// The privacy card: which protection is in force (from the settings) and what the run has
// spent so far (from its privacy budget and the last round's metrics). The numbers are the
// coordinator's own, never recomputed here: the ε shown is the one its accountant charged.
import type { PrivacyBudget, RoundMetrics, RoundSecureAggregation } from '../../shared/protocol/records.ts';
import type { Settings } from '../../shared/settings.ts';
import { formatPercent, formatStat } from '../format.ts';

export type PrivacyMode = 'off' | 'clipping only' | 'central DP' | 'local DP' | 'central + local DP';

export interface PrivacyRow {
  label: string;
  value: string;
  title: string;
}

export interface PrivacyView {
  mode: PrivacyMode;
  rows: PrivacyRow[];
}

/** Central DP: the coordinator noises the sum. Local DP: each tab noises its own update. Both need a clip norm. */
export function centralDpOn(settings: Settings): boolean {
  return settings.noiseMultiplier > 0 && settings.clipNorm > 0;
}

export function localDpOn(settings: Settings): boolean {
  return settings.localNoiseMultiplier > 0 && settings.clipNorm > 0;
}

/** The run's privacy account as it stands: the coordinator's budget, else the last round's account of it. */
export type RunPrivacy = Pick<PrivacyBudget, 'epsilon' | 'delta' | 'roundsSpent' | 'targetEpsilon' | 'noiseMultiplier' | 'samplingRate'>;

export function runPrivacy(history: readonly RoundMetrics[], budget: PrivacyBudget | null): RunPrivacy | null {
  return budget ?? history[history.length - 1]?.privacy ?? null;
}

/** The run's ε budget; before a run has one, the budget the settings set. null: no budget. */
export function epsilonTarget(settings: Settings, run: RunPrivacy | null): number | null {
  if (run !== null) return run.targetEpsilon;
  return settings.targetEpsilon > 0 ? settings.targetEpsilon : null;
}

export function privacyMode(settings: Settings): PrivacyMode {
  const central = centralDpOn(settings);
  const local = localDpOn(settings);
  // settings.ts refuses central and local together today; the view names the pair rather than hide one.
  if (central && local) return 'central + local DP';
  if (central) return 'central DP';
  if (local) return 'local DP';
  return settings.clipNorm > 0 ? 'clipping only' : 'off';
}

/** A round's secure aggregation in a table cell: "5 masked · 1 recovered". */
export function secureAggregationSummary(s: RoundSecureAggregation): string {
  return `${s.masked} masked · ${s.recovered} recovered`;
}

/** Every count of a round's secure aggregation, for a tooltip. */
export function secureAggregationDetail(s: RoundSecureAggregation): string {
  return (
    `${s.advertised} tabs sent keys, ${s.shared} sent shares, ${s.masked} sent a masked update, ${s.revealed} revealed; ` +
    `${s.recovered} dropped after sharing and had their masks removed; ${s.threshold} shares needed to unmask` +
    (s.distributedNoise ? '; each tab added its share of the noise' : '')
  );
}

/** The card's secure-aggregation line: the last round's counts when there is one, else what the settings say. */
function secureAggregationRow(settings: Settings, last: RoundMetrics | null): PrivacyRow {
  const label = 'secure aggregation';
  const s = last?.secureAggregation ?? null;
  if (s !== null) {
    // Tabs that sent keys but no masked update: the ones that left before sharing are simply not in the sum,
    // the ones that left after sharing are "recovered".
    const dropped = s.advertised - s.masked;
    const noise = s.distributedNoise ? ' · distributed noise' : '';
    return {
      label,
      value: `on · ${s.masked} of ${s.advertised} tabs masked · ${dropped} dropped · ${s.recovered} recovered${noise}`,
      title: `last round: ${secureAggregationDetail(s)}`,
    };
  }
  if (!settings.secureAggregation) return { label, value: 'off', title: 'the coordinator sees each update' };
  return {
    label,
    value: settings.distributedNoise ? 'on · distributed noise' : 'on',
    title: 'the coordinator learns only the sum of each round\'s updates (pairwise masks)',
  };
}

function clipNormRow(settings: Settings, budget: PrivacyBudget | null, last: RoundMetrics | null): PrivacyRow {
  const label = 'clip norm C';
  if (settings.clipNorm === 0) return { label, value: 'off', title: 'deltas are not clipped' };
  if (!settings.adaptiveClipping) return { label, value: formatStat(settings.clipNorm), title: 'L2 norm each delta is clipped to' };
  // With adaptive clipping C moves every round: the budget holds the next round's C, the last round the C it used.
  const current = budget?.clipNorm ?? last?.clipNorm ?? settings.clipNorm;
  return {
    label,
    value: `${formatStat(current)} (adaptive, from ${formatStat(settings.clipNorm)})`,
    title: `L2 norm deltas are clipped to; it moves toward the ${formatPercent(settings.clipQuantile, 0)} quantile of the update norms`,
  };
}

export function describePrivacy(settings: Settings, history: readonly RoundMetrics[], budget: PrivacyBudget | null): PrivacyView {
  const mode = privacyMode(settings);
  const last = history.length > 0 ? history[history.length - 1] : null;
  const central = runPrivacy(history, budget);
  const rows: PrivacyRow[] = [
    secureAggregationRow(settings, last),
    clipNormRow(settings, budget, last),
    {
      label: 'noise multiplier z',
      value: centralDpOn(settings) ? formatStat(central?.noiseMultiplier ?? settings.noiseMultiplier) : 'off',
      title: 'central noise std on the sum as a multiple of C (with adaptive clipping: the combined z the accountant charges)',
    },
    {
      label: 'noise std (last round)',
      value: last === null ? '—' : formatStat(last.noiseStd),
      title: 'std per value of all the noise on the mean delta in the last completed round (central, distributed and local)',
    },
  ];
  if (centralDpOn(settings)) {
    const target = epsilonTarget(settings, central);
    const spent = central === null ? '—' : formatStat(central.epsilon);
    rows.push(
      {
        label: 'ε spent',
        value: target === null ? spent : `${spent} of ${formatStat(target)}`,
        title: target === null ? 'privacy loss ε the run has spent (no budget set)' : 'privacy loss ε the run has spent, of its budget (target ε)',
      },
      { label: 'δ', value: formatStat(central?.delta ?? settings.dpDelta), title: 'δ of the (ε, δ) guarantee' },
      {
        label: 'sampling rate q',
        value: formatStat(central?.samplingRate ?? settings.samplingRate),
        title: 'probability each tab of the population has of taking part in a round',
      },
      { label: 'rounds spent', value: central === null ? '—' : String(central.roundsSpent), title: 'rounds charged to the budget' },
    );
  }
  if (settings.adaptiveClipping) {
    const fraction = last?.unclippedFraction ?? null;
    rows.push({
      label: 'unclipped (last round)',
      value: `${fraction === null ? '—' : formatPercent(fraction, 0)} (target ${formatPercent(settings.clipQuantile, 0)})`,
      title: 'fraction of the last round\'s updates that were not clipped (noised under DP), and the quantile C aims at',
    });
  }
  if (localDpOn(settings)) {
    const local = last?.localPrivacy ?? null;
    rows.push(
      {
        label: 'local noise z',
        value: formatStat(local?.noiseMultiplier ?? settings.localNoiseMultiplier),
        title: 'each tab adds noise of std z · C to its clipped delta before sending',
      },
      { label: 'noise std per tab', value: local === null ? '—' : formatStat(local.noiseStdPerTab), title: 'std per value each tab added in the last round' },
      {
        label: 'noise std on the mean',
        value: local === null ? '—' : formatStat(local.noiseStdOnMean),
        title: 'std per value of the tabs\' noise once averaged into the mean delta',
      },
      {
        label: 'ε per tab',
        value: local === null ? '—' : `${formatStat(local.epsilonPerTab)} (δ ${formatStat(local.delta)})`,
        title: '(ε, δ) of one tab that took part in every round so far (replace-one adjacency: sensitivity 2C)',
      },
    );
  }
  return { mode, rows };
}

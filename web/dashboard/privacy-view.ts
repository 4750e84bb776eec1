// The privacy card: which protection is in force (from the settings) and what the room's tabs have
// spent so far (from the population's budget, over every run, and the last round's metrics). The
// numbers are the coordinator's own, never recomputed here: the ε shown is the one its accountant
// charged. Under central DP it also says that who took part is shown to the admin only.
import type { PrivacyBudget, RoundMetrics, RoundSecureAggregation, RunState } from '../../shared/protocol/records.ts';
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
  /** Said before Start when DP cannot work at the room's size; null otherwise. */
  warning: string | null;
}

/** What of the run state the card reads. */
export type PrivacyInput = Pick<RunState, 'settings' | 'history' | 'privacyBudget' | 'privacyLedger' | 'privacyWarning' | 'participationHidden'>;

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

export function describePrivacy(state: PrivacyInput): PrivacyView {
  const { settings, history, privacyBudget: budget, privacyLedger: ledger } = state;
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
        label: 'ε spent (all runs)',
        value: target === null ? spent : `${spent} of ${formatStat(target)}`,
        title: `privacy loss ε this room's tabs have spent over every run and restart (one ledger per room)${target === null ? ', no budget set' : ', of the budget (target ε)'}`,
      },
      { label: 'δ', value: formatStat(central?.delta ?? settings.dpDelta), title: 'δ of the (ε, δ) guarantee' },
      {
        label: 'sampling rate q',
        value: formatStat(central?.samplingRate ?? settings.samplingRate),
        title: 'probability each tab of the population has of taking part in a round',
      },
      { label: 'rounds spent', value: central === null ? '—' : String(central.roundsSpent), title: 'rounds charged to the ledger, over every run' },
      {
        label: 'who took part',
        value: state.participationHidden ? 'shown to the admin only' : 'admin view',
        title: 'the ε assumes nobody learns who was sampled in a round: only the admin sees per-tab participation (docs/privacy.md)',
      },
    );
  }
  const lastReset = ledger.resets.at(-1);
  if (lastReset) {
    rows.push({
      label: 'ledger reset',
      value: `${ledger.resets.length}× (last forgot ${lastReset.rounds} rounds, ${lastReset.uploads} noised updates)`,
      title: 'the admin made the ledger forget what was spent: the ε shown leaves out what the tabs spent before',
    });
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
        value: ledger.worstTab === null ? '—' : `${formatStat(ledger.worstTab.epsilon)} after ${ledger.worstTab.uploads} updates (δ ${formatStat(settings.dpDelta)})`,
        title: '(ε, δ) of the tab that has sent the most noised updates over every run, retried rounds included (replace-one adjacency: sensitivity 2C)',
      },
    );
  }
  return { mode, rows, warning: state.privacyWarning };
}

// The differential-privacy lines of the settings panel: what is in force (clip norm,
// noise multiplier) and what the run has spent so far (noise std, ε, δ from history).
import type { RoundMetrics } from '../../shared/protocol.ts';
import type { Settings } from '../../shared/settings.ts';
import { formatStat } from '../format.ts';

export type PrivacyMode = 'off' | 'clipping only' | 'clipping + Gaussian noise';

export interface PrivacyView {
  mode: PrivacyMode;
  rows: { label: string; value: string; title: string }[];
}

export function describePrivacy(settings: Settings, history: readonly RoundMetrics[]): PrivacyView {
  const noiseOn = settings.noiseMultiplier > 0 && settings.clipNorm > 0;
  const mode: PrivacyMode = noiseOn ? 'clipping + Gaussian noise' : settings.clipNorm > 0 ? 'clipping only' : 'off';
  const last = history.length > 0 ? history[history.length - 1] : null;
  const rows: PrivacyView['rows'] = [
    { label: 'clip norm C', value: settings.clipNorm > 0 ? formatStat(settings.clipNorm) : 'off', title: 'L2 norm each delta is clipped to' },
    {
      label: 'noise multiplier z',
      value: settings.noiseMultiplier > 0 ? formatStat(settings.noiseMultiplier) : 'off',
      title: 'Gaussian noise std as a multiple of the sensitivity',
    },
    {
      label: 'noise std (last round)',
      value: last === null ? '—' : formatStat(last.noiseStd),
      title: 'std of the noise added to the mean delta in the last completed round',
    },
  ];
  if (noiseOn) {
    const spent = last === null || last.epsilon === null ? '—' : formatStat(last.epsilon);
    const delta = last === null || last.delta === null ? '—' : formatStat(last.delta);
    rows.push(
      { label: 'ε spent', value: spent, title: `privacy loss ε accumulated over ${history.length} round(s)` },
      { label: 'δ', value: delta, title: 'δ of the (ε, δ) guarantee' },
    );
  }
  return { mode, rows };
}

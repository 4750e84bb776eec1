// What of the coordinator's state each audience may see (docs/privacy.md lists every release).
// The admin (dashboard with the admin token, or the API with it) sees everything the coordinator
// knows. Everyone else sees what is charged to the ledger or tells nothing about any one tab:
// under central DP the accountant's amplification by sampling assumes nobody learns who was
// sampled, so per-tab participation (who was selected, answered, late or dropped; per-tab status,
// bytes, losses and update times) is withheld, and so are per-tab statistics of the data that
// are not charged (label counts, the tabs' own evaluation of each model). Counts stay.
import type { ClientView, RoundMetrics, RunState } from '../shared/protocol/records.ts';
import type { Settings } from '../shared/settings.ts';

export type Audience = 'admin' | 'public';

/** Under central DP the sample is secret: who took part is the admin's alone. */
export const participationIsSecret = (s: Pick<Settings, 'noiseMultiplier'>): boolean => s.noiseMultiplier > 0;

/** A round's record as the public may see it under `settings`. */
export function publicRound(metrics: RoundMetrics, settings: Pick<Settings, 'noiseMultiplier'>): RoundMetrics {
  if (!participationIsSecret(settings)) return metrics;
  return { ...metrics, answered: [], late: [], dropped: [], discarded: [], downweighted: [], federatedEvaluation: null };
}

function publicClient(client: ClientView): ClientView {
  return {
    ...client,
    status: client.status === 'joining' ? 'joining' : 'idle',
    lastLoss: null,
    lastUpdateAt: null,
    bytesSent: null,
    bytesReceived: null,
    labelCounts: null,
  };
}

/** The run's state for `audience`. The history's rounds are judged by the settings of the run that made them. */
export function stateFor(state: RunState, audience: Audience, runSettings: Pick<Settings, 'noiseMultiplier'>): RunState {
  const hidden = participationIsSecret(runSettings) || participationIsSecret(state.settings);
  if (audience === 'admin' || !hidden) return { ...state, participationHidden: false };
  return {
    ...state,
    participationHidden: true,
    selected: [],
    answered: [],
    clients: state.clients.map(publicClient),
    history: state.history.map((m) => publicRound(m, { noiseMultiplier: 1 })),
  };
}

// A run's privacy: the budget spent so far (the accountant's ledger) and the clip norm, which
// moves with adaptive clipping. Part of the run state (round.ts holds it, checkpoints keep it),
// so a restart neither resets the budget nor forgets C.
//
// Each round it says what the round may do (the budget gate, C, the noise on the sum, the fixed
// denominator W) and afterwards what the round spent (the record the dashboard and /api show).
import type { PrivacyBudget, RoundLocalPrivacy, RoundPrivacy } from '../shared/protocol/records.ts';
import type { Settings } from '../shared/settings.ts';
import { epsilonSpent } from '../shared/fl/accountant.ts';
import { PrivacyLedger, type PrivacyLedgerState } from '../shared/fl/privacy-ledger.ts';
import { deltaNoiseMultiplier, nextClipNorm } from '../shared/fl/adaptive-clipping.ts';
import { expectedTotalWeight } from '../shared/fl/dp-fedavg.ts';
import { localNoiseStdOnMean, localPrivacyMultiplier } from '../shared/fl/local-dp.ts';
import type { Rng } from '../shared/fl/rng.ts';
import type { RoundContext } from '../shared/fl/strategy.ts';

/** What a checkpoint keeps. */
export interface RunPrivacyState {
  ledger: PrivacyLedgerState | null;
  clipNorm: number;
}

/** The population a round's guarantee speaks of: how many tabs, and their total DP weight. */
export interface Population {
  size: number;
  totalWeight: number;
}

export type RoundPlan = NonNullable<RoundContext['privacy']>;

export class RunPrivacy {
  private readonly ledger: PrivacyLedger | null;
  /** C the next round clips to. */
  clipNorm: number;

  constructor(
    private readonly settings: Settings,
    state: RunPrivacyState | null,
  ) {
    const centralNoise = settings.noiseMultiplier > 0;
    this.ledger = centralNoise ? new PrivacyLedger(state?.ledger ?? { delta: settings.dpDelta, spends: [] }) : null;
    this.clipNorm = state?.clipNorm ?? settings.clipNorm;
  }

  get centralNoise(): boolean {
    return this.ledger !== null;
  }

  /** Why the next round may not run (it would take ε past the budget); null when it may. */
  budgetExhausted(): string | null {
    const s = this.settings;
    if (!this.ledger || !(s.targetEpsilon > 0)) return null;
    const next = this.ledger.epsilonAfterNext(s.samplingRate, s.noiseMultiplier).epsilon;
    if (next <= s.targetEpsilon) return null;
    const spent = this.ledger.epsilon().epsilon;
    return (
      `privacy budget reached: another round would take ε from ${spent.toFixed(3)} to ${next.toFixed(3)}, ` +
      `over the target ${s.targetEpsilon} (δ = ${s.dpDelta}), after ${this.ledger.rounds} rounds`
    );
  }

  /** The noise std on the sum and W for a central-DP round; undefined without central noise. */
  plan(population: Population): RoundPlan | undefined {
    const s = this.settings;
    if (!this.ledger) return undefined;
    const zDelta = s.adaptiveClipping ? deltaNoiseMultiplier(s.noiseMultiplier, s.clipCountNoise) : s.noiseMultiplier;
    return {
      noiseStdOnSum: zDelta * this.clipNorm,
      expectedWeight: expectedTotalWeight(s.samplingRate, population.totalWeight),
    };
  }

  /**
   * Charges one round to the budget and moves C. `unclipped` counts the round's updates that were
   * under C; `answered` the updates that came in; `rng` noises the count with DP.
   */
  roundDone(args: { plan: RoundPlan | undefined; population: Population; unclipped: number; answered: number; rng: Rng }): {
    privacy: RoundPrivacy | null;
    clipNorm: number | null;
    unclippedFraction: number | null;
  } {
    const s = this.settings;
    const { plan, population } = args;
    const clipNorm = this.clipNorm > 0 ? this.clipNorm : null;
    let unclippedFraction: number | null = null;
    if (s.adaptiveClipping) {
      // With DP both the count and its denominator must be data-independent: noise the count and
      // divide by the expected number of tabs, not by who answered.
      const count = this.ledger ? args.unclipped + s.clipCountNoise * args.rng.gaussian() : args.unclipped;
      const expected = this.ledger ? s.samplingRate * population.size : args.answered;
      if (expected > 0) {
        unclippedFraction = count / expected;
        this.clipNorm = nextClipNorm({ clipNorm: this.clipNorm, unclippedFraction, quantile: s.clipQuantile, learningRate: s.clipLearningRate });
      }
    }
    if (!this.ledger || !plan) return { privacy: null, clipNorm, unclippedFraction };
    this.ledger.spend(s.samplingRate, s.noiseMultiplier);
    const spent = this.ledger.epsilon();
    const privacy: RoundPrivacy = {
      noiseMultiplier: s.noiseMultiplier,
      samplingRate: s.samplingRate,
      expectedWeight: plan.expectedWeight,
      noiseStdOnSum: plan.noiseStdOnSum,
      epsilon: spent.epsilon,
      delta: s.dpDelta,
      order: spent.order,
      roundsSpent: this.ledger.rounds,
      targetEpsilon: s.targetEpsilon > 0 ? s.targetEpsilon : null,
    };
    return { privacy, clipNorm, unclippedFraction };
  }

  /** Local DP of a round whose tabs had these weights; null when local DP is off. */
  localRecord(weights: readonly number[], roundsSoFar: number): RoundLocalPrivacy | null {
    const s = this.settings;
    if (!(s.localNoiseMultiplier > 0)) return null;
    const noiseStdPerTab = s.localNoiseMultiplier * s.clipNorm;
    const perTab = epsilonSpent({
      spends: [{ samplingRate: 1, noiseMultiplier: localPrivacyMultiplier(s.localNoiseMultiplier), rounds: roundsSoFar }],
      delta: s.dpDelta,
    });
    return {
      noiseMultiplier: s.localNoiseMultiplier,
      clipNorm: s.clipNorm,
      noiseStdPerTab,
      noiseStdOnMean: localNoiseStdOnMean(noiseStdPerTab, weights),
      epsilonPerTab: perTab.epsilon,
      delta: s.dpDelta,
    };
  }

  budget(): PrivacyBudget | null {
    const s = this.settings;
    if (!this.ledger) return null;
    return {
      epsilon: this.ledger.epsilon().epsilon,
      delta: s.dpDelta,
      roundsSpent: this.ledger.rounds,
      targetEpsilon: s.targetEpsilon > 0 ? s.targetEpsilon : null,
      noiseMultiplier: s.noiseMultiplier,
      clipNorm: this.clipNorm,
      samplingRate: s.samplingRate,
    };
  }

  state(): RunPrivacyState {
    return { ledger: this.ledger?.state() ?? null, clipNorm: this.clipNorm };
  }
}

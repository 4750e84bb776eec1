// The privacy a run has spent so far: every noisy round is one step of the sampled Gaussian
// mechanism (accountant.ts), and the ledger is the list of those steps. Its state is plain JSON
// so the coordinator can put it in a checkpoint and a restarted run goes on charging from there.
// ε is always derived from the spends, never stored beside them, so the two cannot disagree.
import { checkPrivacySpend, epsilonSpent, type EpsilonResult, type PrivacySpend } from './accountant.ts';

/** What a checkpoint holds: δ of the run and its spends, in order. */
export interface PrivacyLedgerState {
  delta: number;
  spends: PrivacySpend[];
}

export class PrivacyLedger {
  readonly #delta: number;
  readonly #spends: PrivacySpend[];

  /** Validates `state` (it may come from a file) and copies it, so the caller's object stays its own. */
  constructor(state: PrivacyLedgerState) {
    if (typeof state !== 'object' || state === null || !Array.isArray(state.spends)) {
      throw new TypeError('privacy ledger state must be { delta, spends: [{ samplingRate, noiseMultiplier, rounds }, …] }');
    }
    state.spends.forEach((spend, k) => {
      try {
        checkPrivacySpend(spend);
      } catch (error) {
        throw new RangeError(`privacy ledger state: spends[${k}]: ${(error as Error).message}`);
      }
    });
    this.#delta = state.delta;
    this.#spends = state.spends.map(copySpend);
    this.epsilon(); // checks δ, with the accountant's message, and computes what round 1 will ask for
  }

  /** Total steps spent. */
  get rounds(): number {
    return this.#spends.reduce((total, spend) => total + spend.rounds, 0);
  }

  /**
   * Charges one more step. Runs keep q and z for many rounds, so a step equal to the last spend
   * only adds to its count: the list (and the checkpoint) grows with changes of setting, not rounds.
   */
  spend(samplingRate: number, noiseMultiplier: number): void {
    appendStep(this.#spends, samplingRate, noiseMultiplier);
  }

  /** ε spent so far at the run's δ. Nothing spent yet: ε = 0 and order = NaN (no order was needed). */
  epsilon(): EpsilonResult {
    return epsilonSpent({ spends: this.#spends, delta: this.#delta });
  }

  /** ε after one more step of (q, z), without spending it: what a budget check before a round needs. */
  epsilonAfterNext(samplingRate: number, noiseMultiplier: number): EpsilonResult {
    // The same list spend() would make, so this is bit for bit the ε that spending would report.
    const spends = this.#spends.map(copySpend);
    appendStep(spends, samplingRate, noiseMultiplier);
    return epsilonSpent({ spends, delta: this.#delta });
  }

  /** A copy, safe to JSON.stringify and to keep: later spends do not change it. */
  state(): PrivacyLedgerState {
    return { delta: this.#delta, spends: this.#spends.map(copySpend) };
  }
}

function appendStep(spends: PrivacySpend[], samplingRate: number, noiseMultiplier: number): void {
  checkPrivacySpend({ samplingRate, noiseMultiplier, rounds: 1 });
  const last = spends[spends.length - 1];
  if (last && last.samplingRate === samplingRate && last.noiseMultiplier === noiseMultiplier) last.rounds += 1;
  else spends.push({ samplingRate, noiseMultiplier, rounds: 1 });
}

function copySpend({ samplingRate, noiseMultiplier, rounds }: PrivacySpend): PrivacySpend {
  return { samplingRate, noiseMultiplier, rounds };
}

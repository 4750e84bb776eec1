// The privacy a room's population has spent, over every run and restart: one ledger per room, not
// per run, so a second Start on the same tabs spends from what the first one left, not afresh.
// - Central DP: every released round is one step of the sampled Gaussian mechanism (accountant.ts),
//   and the ledger is the list of those steps. A tab is charged as if it took part in all of them.
// - Local DP: every noised update a tab sent (accepted, refused or late: the coordinator saw it)
//   is one Gaussian step of that tab alone, with sampling rate 1.
// The state is plain JSON, written durably before each release (server/ledger-file.ts). ε is always
// derived from the steps at the δ asked for, never stored beside them, so the two cannot disagree.
// Forgetting what was spent is an explicit admin action, kept in the ledger's own list of resets.
import { checkPrivacySpend, epsilonSpent, type EpsilonResult, type PrivacySpend } from './accountant.ts';

export interface LedgerReset {
  /** Server clock (ms). */
  at: number;
  /** What was forgotten: central rounds, and noised updates over all tabs. */
  rounds: number;
  uploads: number;
}

/** What the ledger file holds. */
export interface PrivacyLedgerState {
  spends: PrivacySpend[];
  /** Per tab (public id): its noised updates, as Gaussian steps at its local multiplier. */
  local: Record<string, PrivacySpend[]>;
  resets: LedgerReset[];
}

export const EMPTY_LEDGER: PrivacyLedgerState = Object.freeze({ spends: [], local: {}, resets: [] }) as PrivacyLedgerState;

/** The tab that has sent the most noised updates, and its ε. */
export interface WorstTab {
  clientId: string;
  uploads: number;
  epsilon: number;
}

export class PrivacyLedger {
  readonly #spends: PrivacySpend[];
  readonly #local = new Map<string, PrivacySpend[]>();
  readonly #resets: LedgerReset[];

  /** Validates `state` (it comes from a file) and copies it, so the caller's object stays its own. */
  constructor(state: PrivacyLedgerState = EMPTY_LEDGER) {
    if (typeof state !== 'object' || state === null || !Array.isArray(state.spends) || typeof state.local !== 'object' || state.local === null || !Array.isArray(state.resets)) {
      throw new TypeError('privacy ledger state must be { spends: [...], local: { tab: [...] }, resets: [...] }');
    }
    this.#spends = checkedSpends('spends', state.spends);
    for (const [clientId, spends] of Object.entries(state.local)) this.#local.set(clientId, checkedSpends(`local.${clientId}`, spends));
    this.#resets = state.resets.map((r, k) => {
      if (!(Number.isFinite(r?.at) && Number.isSafeInteger(r?.rounds) && Number.isSafeInteger(r?.uploads))) {
        throw new RangeError(`privacy ledger state: resets[${k}] must be { at, rounds, uploads }`);
      }
      return { at: r.at, rounds: r.rounds, uploads: r.uploads };
    });
  }

  /** Central rounds charged. */
  get rounds(): number {
    return countOf(this.#spends);
  }

  get resets(): readonly LedgerReset[] {
    return this.#resets;
  }

  /**
   * Charges one central round. Runs keep q and z for many rounds, so a step equal to the last
   * only adds to its count: the list (and the file) grows with changes of setting, not rounds.
   */
  spend(samplingRate: number, noiseMultiplier: number): void {
    appendStep(this.#spends, samplingRate, noiseMultiplier);
  }

  /** ε the population has spent at δ. Nothing spent yet: ε = 0 and order = NaN. */
  epsilon(delta: number): EpsilonResult {
    return epsilonSpent({ spends: this.#spends, delta });
  }

  /** ε after one more round of (q, z), without spending it: what a budget check before a round needs. */
  epsilonAfterNext(samplingRate: number, noiseMultiplier: number, delta: number): EpsilonResult {
    // The same list spend() would make, so this is bit for bit the ε that spending would report.
    const spends = this.#spends.map(copySpend);
    appendStep(spends, samplingRate, noiseMultiplier);
    return epsilonSpent({ spends, delta });
  }

  /** Charges one noised update of `clientId`, a Gaussian step of multiplier `noiseMultiplier` (sampling rate 1). */
  chargeUpload(clientId: string, noiseMultiplier: number): void {
    let spends = this.#local.get(clientId);
    if (!spends) this.#local.set(clientId, (spends = []));
    appendStep(spends, 1, noiseMultiplier);
  }

  /** The tab with the most noised updates so far, and its ε at δ; null when none was sent. */
  worstTab(delta: number): WorstTab | null {
    let worst: WorstTab | null = null;
    for (const [clientId, spends] of this.#local) {
      const epsilon = epsilonSpent({ spends, delta }).epsilon;
      if (!worst || epsilon > worst.epsilon) worst = { clientId, uploads: countOf(spends), epsilon };
    }
    return worst;
  }

  /** Forgets every spend (an explicit admin action); returns what was forgotten, which stays in the list of resets. */
  reset(at: number): LedgerReset {
    const forgotten: LedgerReset = { at, rounds: this.rounds, uploads: [...this.#local.values()].reduce((n, s) => n + countOf(s), 0) };
    this.#spends.length = 0;
    this.#local.clear();
    this.#resets.push(forgotten);
    return forgotten;
  }

  /** A copy, safe to JSON.stringify and to keep: later spends do not change it. */
  state(): PrivacyLedgerState {
    return {
      spends: this.#spends.map(copySpend),
      local: Object.fromEntries([...this.#local].map(([id, spends]) => [id, spends.map(copySpend)])),
      resets: this.#resets.map((r) => ({ ...r })),
    };
  }
}

function checkedSpends(where: string, spends: unknown): PrivacySpend[] {
  if (!Array.isArray(spends)) throw new TypeError(`privacy ledger state: ${where} must be a list of spends`);
  return spends.map((spend, k) => {
    try {
      checkPrivacySpend(spend);
    } catch (error) {
      throw new RangeError(`privacy ledger state: ${where}[${k}]: ${(error as Error).message}`);
    }
    return copySpend(spend);
  });
}

const countOf = (spends: readonly PrivacySpend[]) => spends.reduce((total, spend) => total + spend.rounds, 0);

function appendStep(spends: PrivacySpend[], samplingRate: number, noiseMultiplier: number): void {
  checkPrivacySpend({ samplingRate, noiseMultiplier, rounds: 1 });
  const last = spends[spends.length - 1];
  if (last && last.samplingRate === samplingRate && last.noiseMultiplier === noiseMultiplier) last.rounds += 1;
  else spends.push({ samplingRate, noiseMultiplier, rounds: 1 });
}

function copySpend({ samplingRate, noiseMultiplier, rounds }: PrivacySpend): PrivacySpend {
  return { samplingRate, noiseMultiplier, rounds };
}

// The coordinator's side of one attempt of secure aggregation (docs/privacy.md): it sums the masked
// inputs as they come (O(P) memory), names the survivors U3, takes the tabs' reveals and, from any
// t of them, removes the masks:
//   sum = Σ_{u∈U3} y_u − Σ_{u∈U3} PRG(b_u) − Σ_{u∈U3, v∈U2\U3} sign(u, v) · PRG(s_uv)   mod 2³²
// where b_u and s_sk_v are reconstructed from Shamir shares. The pairwise masks between two
// survivors cancel in the sum by themselves; those with a tab that dropped after sharing do not,
// and are recomputed from its reconstructed s_sk_v. No I/O: the round state machine drives it.
import { p256 } from '@noble/curves/nist.js';
import { equalBytes } from '@noble/curves/utils.js';
import { importPrivateScalar, importPublicKey, pairwiseMaskKey, selfMaskKey } from './keys.ts';
import { addMasks, pairwiseSign, type SignedMask } from './masks.ts';
import type { Reveal, RosterEntry, UnmaskRequest } from './messages.ts';
import { checkRoster } from './roster.ts';
import { attemptLabel, SecAggError, type SecAggAttempt } from './secagg-error.ts';
import { reconstructSecret, SHARE_BYTES, type Share } from './shamir.ts';

export interface UnmaskedSum {
  /** Σ_{u∈U3} x_u mod 2³² (decodeFixedPoint reads it). */
  sum: Uint32Array;
  /** U3: whose inputs the sum holds. */
  survivors: string[];
  /** U2 \ U3: tabs that sent shares but no masked input, whose masks were removed with the survivors' help. */
  recovered: string[];
  /** The tabs whose reveals were used. */
  revealedBy: string[];
}

export interface UnmaskerOptions {
  round: number;
  attempt: number;
  /** t, as sent in the roster. */
  threshold: number;
  /** U1, as sent to the tabs. */
  roster: readonly RosterEntry[];
  /** U2: the tabs whose shares were forwarded (sorted or not). */
  shared: readonly string[];
  /** Parameters per input. */
  length: number;
}

export class SecureSumUnmasker {
  private readonly at: SecAggAttempt;
  private readonly label: string;
  private readonly threshold: number;
  private readonly entryOf: Map<string, { entry: RosterEntry; x: number }>;
  private readonly shared: string[];
  private readonly maskedSum: Uint32Array;
  private readonly masked = new Set<string>();
  /** U3, fixed once asked for: from then on masked inputs are refused and reveals accepted. */
  private survivors: string[] | null = null;
  /** Per revealer: the shares it revealed, by whose secret they are. */
  private readonly reveals = new Map<string, { selfMaskShares: Map<string, Uint8Array>; keyShares: Map<string, Uint8Array> }>();

  /** Throws SecAggError when fewer than t tabs sent their shares: the attempt cannot succeed. */
  constructor(options: UnmaskerOptions) {
    this.at = { round: options.round, attempt: options.attempt };
    this.label = attemptLabel(this.at);
    checkRoster(this.at, options.roster, options.threshold);
    this.threshold = options.threshold;
    this.entryOf = new Map(options.roster.map((entry, i) => [entry.clientId, { entry, x: i + 1 }]));
    this.shared = [...new Set(options.shared)].sort();
    for (const id of this.shared) if (!this.entryOf.has(id)) throw new SecAggError(`${this.label}: U2 lists ${id}, which is not in the roster`);
    if (this.shared.length < this.threshold) throw new SecAggError(`${this.label}: only ${this.shared.length} of ${this.threshold} needed tabs sent their shares`);
    if (!Number.isSafeInteger(options.length) || options.length < 0) throw new RangeError(`input length must be a non-negative integer, got ${options.length}`);
    this.maskedSum = new Uint32Array(options.length);
  }

  /** Step 3: one tab's masked input, added to the running sum. */
  addMaskedInput(clientId: string, masked: Uint32Array): void {
    if (this.survivors) throw new SecAggError(`${this.label}: masked input from ${clientId} after the survivors were named: too late`);
    if (!this.shared.includes(clientId)) throw new SecAggError(`${this.label}: masked input from ${clientId}, which did not send shares (not in U2)`);
    if (this.masked.has(clientId)) throw new SecAggError(`${this.label}: a second masked input from ${clientId}`);
    if (masked.length !== this.maskedSum.length) throw new SecAggError(`${this.label}: masked input from ${clientId} has ${masked.length} values, ${this.maskedSum.length} expected`);
    this.masked.add(clientId);
    const sum = this.maskedSum;
    for (let i = 0; i < sum.length; i++) sum[i] += masked[i];
  }

  /**
   * Step 4: closes step 3 and names U3, to be sent to every survivor. Throws SecAggError when
   * fewer than t masked inputs came: the sum of so few could not be unmasked, nor should it be.
   */
  unmaskRequest(): UnmaskRequest {
    if (!this.survivors) {
      if (this.masked.size < this.threshold) throw new SecAggError(`${this.label}: only ${this.masked.size} of ${this.threshold} needed tabs sent a masked input`);
      this.survivors = [...this.masked].sort();
    }
    return { ...this.at, survivors: this.survivors.slice() };
  }

  /** One survivor's reveal (schema-checked: RevealSchema); throws SecAggError if it does not answer what was asked. */
  addReveal(clientId: string, reveal: Reveal): void {
    const survivors = this.survivors;
    if (!survivors) throw new SecAggError(`${this.label}: reveal from ${clientId} before the survivors were named`);
    if (!survivors.includes(clientId)) throw new SecAggError(`${this.label}: reveal from ${clientId}, which is not a survivor`);
    if (this.reveals.has(clientId)) throw new SecAggError(`${this.label}: a second reveal from ${clientId}`);
    if (reveal.round !== this.at.round || reveal.attempt !== this.at.attempt) {
      throw new SecAggError(`${this.label}: reveal from ${clientId} is for round ${reveal.round} attempt ${reveal.attempt}`);
    }
    const dropped = this.dropped(survivors);
    const answers = (what: string, got: Reveal['selfMaskShares'], expected: string[]) => {
      const ids = got.map((s) => s.of).sort();
      if (ids.length !== expected.length || ids.some((id, i) => id !== expected[i]) || got.some((s) => s.share.length !== SHARE_BYTES)) {
        throw new SecAggError(`${this.label}: reveal from ${clientId} does not hold one ${what} share for each of the ${expected.length} tabs asked`);
      }
    };
    answers('self-mask', reveal.selfMaskShares, survivors);
    answers('key', reveal.keyShares, dropped);
    const byOwner = (shares: Reveal['selfMaskShares']) => new Map(shares.map((s) => [s.of, s.share]));
    this.reveals.set(clientId, { selfMaskShares: byOwner(reveal.selfMaskShares), keyShares: byOwner(reveal.keyShares) });
  }

  /**
   * The sum of the survivors' inputs, once at least t of them revealed. Throws SecAggError with
   * fewer, and when a reconstructed secret is wrong (shares that disagree, or an s_sk_v whose
   * public key is not the one v advertised): never a sum that is silently wrong.
   */
  async unmask(): Promise<UnmaskedSum> {
    const survivors = this.survivors;
    if (!survivors) throw new SecAggError(`${this.label}: cannot unmask before the survivors were named`);
    if (this.reveals.size < this.threshold) throw new SecAggError(`${this.label}: only ${this.reveals.size} of ${this.threshold} needed tabs revealed their shares`);
    const revealedBy = [...this.reveals.keys()].sort();
    const dropped = this.dropped(survivors);

    // Every secret first, so that nothing is taken off the sum unless all of them check out.
    const seeds = survivors.map((u) => ({ u, seed: this.reconstruct(revealedBy, u, 'selfMaskShares', 'b') }));
    const keys = dropped.map((v) => {
      const scalar = this.reconstruct(revealedBy, v, 'keyShares', 's_sk');
      const advertised = this.entryOf.get(v)!.entry.sPublicKey;
      if (!p256.utils.isValidSecretKey(scalar) || !equalBytes(p256.getPublicKey(scalar, false), advertised)) {
        throw new SecAggError(`${this.label}: the key reconstructed for ${v} is not the one it advertised: one of ${revealedBy.join(', ')} revealed a wrong share`);
      }
      return { v, scalar, advertised };
    });

    const survivorKeys = await Promise.all(survivors.map((u) => importPublicKey(this.entryOf.get(u)!.entry.sPublicKey)));
    const masks: SignedMask[] = await Promise.all(seeds.map(async ({ u, seed }) => ({ key: await selfMaskKey(this.at, u, seed), sign: -1 as const })));
    for (const { v, scalar, advertised } of keys) {
      const privateKey = await importPrivateScalar(scalar, advertised);
      const pairwise = await Promise.all(survivors.map((u, k) => pairwiseMaskKey(this.at, u, v, privateKey, survivorKeys[k])));
      // u added sign(u, v) · PRG(s_uv): take it off again
      survivors.forEach((u, k) => masks.push({ key: pairwise[k], sign: pairwiseSign(u, v) === 1 ? -1 : 1 }));
    }
    const sum = this.maskedSum.slice();
    await addMasks(sum, masks);
    return { sum, survivors: survivors.slice(), recovered: dropped, revealedBy };
  }

  private dropped(survivors: readonly string[]): string[] {
    return this.shared.filter((id) => !survivors.includes(id));
  }

  /** v's secret from the first t revealers' shares; every further revealer's share is checked against it. */
  private reconstruct(revealedBy: readonly string[], v: string, field: 'selfMaskShares' | 'keyShares', what: string): Uint8Array {
    const shares: Share[] = revealedBy.map((r) => ({ x: this.entryOf.get(r)!.x, y: this.reveals.get(r)![field].get(v)! }));
    try {
      return reconstructSecret(shares, this.threshold);
    } catch (error) {
      throw new SecAggError(`${this.label}: cannot reconstruct ${v}'s ${what} from the shares of ${revealedBy.join(', ')}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
  }
}

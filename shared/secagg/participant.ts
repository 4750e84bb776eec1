// One tab's side of one attempt of secure aggregation (Bonawitz et al. 2017, §4; docs/privacy.md):
//   advertise → shareKeys(roster) → receiveShares(U2 + ciphertexts) → maskInput(x) → reveal(U3)
// Pure protocol logic over WebCrypto: the transport (page or headless participant) carries the
// messages. Every message from the coordinator is checked here, since the coordinator relays
// everything and is the party the masks hide the input from.
//
// A participant serves one attempt and moves through its steps once. After any error it refuses
// everything: the tab takes part again in the next attempt, with a new participant and new keys.
import { equalBytes } from '@noble/curves/utils.js';
import { exportPrivateScalar, generateKeyPair, importPublicKey, pairwiseMaskKey, selfMaskKey, shareEncryptionKey, sharesAdditionalData, type EcdhKeyPair } from './keys.ts';
import { addMasks, pairwiseSign } from './masks.ts';
import { GCM_IV_BYTES, SHARE_CIPHERTEXT_BYTES, type EncryptedShares, type ForwardedSharesMessage, type KeyAdvert, type Reveal, type RosterEntry, type RosterMessage, type UnmaskRequest } from './messages.ts';
import { checkRoster } from './roster.ts';
import { attemptLabel, SecAggError, type SecAggAttempt } from './secagg-error.ts';
import { SECRET_BYTES, SHARE_BYTES, shareSecret } from './shamir.ts';
import { randomBytes, webCrypto, type WebCryptoKey } from './web-crypto.ts';

/** What this tab holds of one tab's two secrets (its own included): the share values at x = its index + 1. */
interface HeldShares {
  selfMask: Uint8Array;
  key: Uint8Array;
}

interface AfterRoster {
  roster: RosterMessage;
  /** The self-mask seed b: needed until the input is masked, then dropped. */
  seed: Uint8Array;
  /** The AES-GCM key shared with each peer, kept to decrypt what it sends back. */
  shareKeys: Map<string, WebCryptoKey>;
  own: HeldShares;
}

interface AfterShares {
  roster: RosterMessage;
  /** U2, sorted. */
  shared: string[];
  held: Map<string, HeldShares>;
}

/** The one place this participant's progress lives: each step can only follow the one before. */
type State =
  | { step: 'advertised' }
  | ({ step: 'shared' } & AfterRoster)
  | ({ step: 'received' } & AfterRoster & AfterShares)
  | ({ step: 'masked' } & AfterShares)
  | ({ step: 'revealed' } & AfterShares & { survivors: string[]; answer: Reveal })
  /** In the middle of an asynchronous step: a second message meanwhile (a resent roster, say) must not start it twice. */
  | { step: 'busy'; doing: string }
  | { step: 'failed'; why: string };

type Step = State['step'];
type AtStep<S extends Step> = Extract<State, { step: S }>;

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export class SecAggParticipant {
  private state: State = { step: 'advertised' };
  private readonly at: SecAggAttempt;
  private readonly label: string;

  private constructor(
    readonly clientId: string,
    attempt: SecAggAttempt,
    private readonly c: EcdhKeyPair,
    private readonly s: EcdhKeyPair,
    /** s's private scalar, to be shared: the coordinator recovers it only if this tab drops after sharing. */
    private readonly sScalar: Uint8Array,
  ) {
    this.at = { round: attempt.round, attempt: attempt.attempt };
    this.label = attemptLabel(attempt);
  }

  /** A participant for this tab in one attempt, with its two fresh key pairs. */
  static async create(options: { clientId: string; round: number; attempt: number }): Promise<SecAggParticipant> {
    const [c, s] = await Promise.all([generateKeyPair(), generateKeyPair()]);
    return new SecAggParticipant(options.clientId, options, c, s, await exportPrivateScalar(s.privateKey));
  }

  /** Step 0: the two public keys, for the coordinator to put in the roster. */
  advertise(): KeyAdvert {
    return { ...this.at, cPublicKey: this.c.publicRaw, sPublicKey: this.s.publicRaw };
  }

  /**
   * Step 1: checks the roster U1, then Shamir-shares b (a fresh self-mask seed) and s_sk t-of-n,
   * and encrypts each peer's two shares to it (AES-256-GCM, key from ECDH of the c keys).
   */
  async shareKeys(roster: RosterMessage): Promise<EncryptedShares> {
    return this.step('advertised', 'share its keys', async () => {
      this.checkAttempt('roster', roster);
      checkRoster(this.at, roster.clients, roster.threshold);
      const index = roster.clients.findIndex((e) => e.clientId === this.clientId);
      if (index < 0) throw new SecAggError(`${this.label}: this tab (${this.clientId}) is not in the roster`);
      const mine = roster.clients[index];
      // A coordinator that put its own key in place of this tab's would read every share sent to it.
      if (!equalBytes(mine.cPublicKey, this.c.publicRaw) || !equalBytes(mine.sPublicKey, this.s.publicRaw)) {
        throw new SecAggError(`${this.label}: the roster holds other keys for this tab (${this.clientId}) than it advertised: not sharing with it`);
      }
      const n = roster.clients.length;
      const seed = randomBytes(SECRET_BYTES);
      const seedShares = shareSecret(seed, roster.threshold, n);
      const keyShares = shareSecret(this.sScalar, roster.threshold, n);
      // Peer j (its roster index) gets the shares at x = j + 1.
      const peers = roster.clients.map((peer, j) => ({ peer, j })).filter(({ j }) => j !== index);
      const keys = await Promise.all(peers.map(({ peer }) => this.shareKeyWith(peer)));
      const subtle = webCrypto().subtle;
      const shares = await Promise.all(
        peers.map(async ({ peer, j }, k) => {
          const plaintext = new Uint8Array(2 * SHARE_BYTES);
          plaintext.set(seedShares[j].y, 0);
          plaintext.set(keyShares[j].y, SHARE_BYTES);
          const iv = randomBytes(GCM_IV_BYTES);
          const sealed = await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: sharesAdditionalData(this.at, this.clientId, peer.clientId) }, keys[k], plaintext);
          const ciphertext = new Uint8Array(SHARE_CIPHERTEXT_BYTES);
          ciphertext.set(iv, 0);
          ciphertext.set(new Uint8Array(sealed), GCM_IV_BYTES);
          return { to: peer.clientId, ciphertext };
        }),
      );
      this.state = {
        step: 'shared',
        roster,
        seed,
        shareKeys: new Map(peers.map(({ peer }, k) => [peer.clientId, keys[k]])),
        own: { selfMask: seedShares[index].y, key: keyShares[index].y },
      };
      return { ...this.at, shares };
    });
  }

  /**
   * Step 2: U2 (the tabs that sent shares) and the ciphertexts they sent this tab, one from each.
   * Throws SecAggError naming the sender of a ciphertext that does not decrypt.
   */
  async receiveShares(forwarded: ForwardedSharesMessage): Promise<void> {
    return this.step('shared', 'receive shares', async ({ roster, seed, shareKeys, own }) => {
      this.checkAttempt('forwarded shares', forwarded);
      if (!Array.isArray(forwarded.shares)) throw new SecAggError(`${this.label}: forwarded shares without a list of shares`);
      const shared = this.checkSubset('U2 (the tabs that sent shares)', forwarded.shared, roster.clients.map((e) => e.clientId), roster.threshold, 'sent their shares');
      const expected = new Set(shared.filter((id) => id !== this.clientId));
      const senders = new Set<string>();
      for (const { from } of forwarded.shares) {
        if (!expected.has(from) || senders.has(from)) throw new SecAggError(`${this.label}: shares from ${from}, which is not in U2 or sent twice`);
        senders.add(from);
      }
      const missing = [...expected].filter((id) => !senders.has(id));
      if (missing.length > 0) throw new SecAggError(`${this.label}: U2 lists ${missing.join(', ')}, but no shares from them came with it`);
      const held = new Map<string, HeldShares>([[this.clientId, own]]);
      const subtle = webCrypto().subtle;
      await Promise.all(
        forwarded.shares.map(async ({ from, ciphertext }) => {
          if (!(ciphertext instanceof Uint8Array) || ciphertext.length !== SHARE_CIPHERTEXT_BYTES) {
            throw new SecAggError(`${this.label}: the shares from ${from} are not ${SHARE_CIPHERTEXT_BYTES} bytes in a Uint8Array`);
          }
          let plaintext: Uint8Array;
          try {
            const additionalData = sharesAdditionalData(this.at, from, this.clientId);
            const iv = ciphertext.subarray(0, GCM_IV_BYTES);
            plaintext = new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv, additionalData }, shareKeys.get(from)!, ciphertext.subarray(GCM_IV_BYTES)));
          } catch (error) {
            throw new SecAggError(
              `${this.label}: the shares from ${from} do not decrypt: tampered with, or made for another round, attempt or pair of tabs (${error instanceof Error ? error.message : String(error)})`,
              { cause: error },
            );
          }
          held.set(from, { selfMask: plaintext.slice(0, SHARE_BYTES), key: plaintext.slice(SHARE_BYTES) });
        }),
      );
      this.state = { step: 'received', roster, seed, shareKeys, own, shared, held };
    });
  }

  /**
   * Step 3: y = x + PRG(b) + Σ_{v ∈ U2, v ≠ u} ±PRG(s_uv) mod 2³² (+ when u < v). Once only: two
   * inputs masked with the same masks would give away their difference.
   */
  async maskInput(plain: Uint32Array): Promise<Uint32Array> {
    return this.step('received', 'mask its input', async ({ roster, seed, shared, held }) => {
      const peers = shared.filter((id) => id !== this.clientId);
      const publicOf = new Map(roster.clients.map((e) => [e.clientId, e.sPublicKey]));
      // Keys are small: all derived at once; streams are 4 bytes per parameter: a few at a time (addMasks).
      const masks = await Promise.all([
        selfMaskKey(this.at, this.clientId, seed).then((key) => ({ key, sign: 1 as const })),
        ...peers.map(async (v) => ({
          key: await pairwiseMaskKey(this.at, this.clientId, v, this.s.privateKey, await importPublicKey(publicOf.get(v)!)),
          sign: pairwiseSign(this.clientId, v),
        })),
      ]);
      const masked = plain.slice();
      await addMasks(masked, masks);
      seed.fill(0); // b is no longer needed; only its shares are, spread over the tabs
      this.state = { step: 'masked', roster, shared, held };
      return masked;
    });
  }

  /**
   * Step 4: for every survivor v ∈ U3, the share of b_v this tab holds; for every v ∈ U2 \ U3, its
   * share of s_sk_v.
   *
   * The security crux: never reveal both for one tab. With b_v and s_sk_v the coordinator could
   * strip every mask from v's masked input and read it. A coordinator that lies about U3 ("v
   * dropped", while it holds v's masked input) gets s_sk_v shares from those it tells so, but then
   * b_v shares only from the others; with t > half the roster (roster.ts) it cannot have t of both.
   * So U3 is answered once: asked again with the same U3 (a resend) this returns the same answer;
   * with a different one it refuses.
   */
  reveal(request: UnmaskRequest): Reveal {
    if (this.state.step === 'revealed') {
      if (request.round === this.at.round && request.attempt === this.at.attempt && Array.isArray(request.survivors) && sameList(request.survivors, this.state.survivors)) {
        return this.state.answer;
      }
      throw this.fail(
        new SecAggError(`${this.label}: asked to reveal a second time with another set of survivors: refusing, as both answers together could unmask a tab`),
      );
    }
    return this.stepSync('masked', 'reveal its shares', ({ roster, shared, held }) => {
      this.checkAttempt('unmask request', request);
      const survivors = this.checkSubset('U3 (the survivors)', request.survivors, shared, roster.threshold, 'sent a masked input');
      const surviving = new Set(survivors);
      const answer: Reveal = {
        ...this.at,
        selfMaskShares: survivors.map((v) => ({ of: v, share: held.get(v)!.selfMask })),
        keyShares: shared.filter((v) => !surviving.has(v)).map((v) => ({ of: v, share: held.get(v)!.key })),
      };
      this.state = { step: 'revealed', roster, shared, held, survivors, answer };
      return answer;
    });
  }

  private async shareKeyWith(peer: RosterEntry): Promise<WebCryptoKey> {
    return shareEncryptionKey(this.at, this.clientId, peer.clientId, this.c.privateKey, await importPublicKey(peer.cPublicKey));
  }

  private checkAttempt(what: string, message: { round: number; attempt: number }): void {
    if (message.round !== this.at.round || message.attempt !== this.at.attempt) {
      throw new SecAggError(`${this.label}: got a ${what} for round ${message.round} attempt ${message.attempt}: stale or replayed`);
    }
  }

  /**
   * `ids` must be sorted with no repeats, a subset of `within`, hold this tab, and have at least
   * `threshold` members: fewer could not be unmasked, so sharing further would be for nothing.
   */
  private checkSubset(what: string, ids: unknown, within: readonly string[], threshold: number, did: string): string[] {
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) throw new SecAggError(`${this.label}: ${what} is not a list of client ids`);
    const allowed = new Set(within);
    ids.forEach((id: string, i) => {
      if (!allowed.has(id)) throw new SecAggError(`${this.label}: ${what} lists ${id}, which is not among the ${within.length} before it`);
      if (i > 0 && !(ids[i - 1] < id)) throw new SecAggError(`${this.label}: ${what} is not sorted, or lists ${id} twice`);
    });
    if (!ids.includes(this.clientId)) throw new SecAggError(`${this.label}: ${what} leaves this tab (${this.clientId}) out, yet asks it to go on`);
    if (ids.length < threshold) throw new SecAggError(`${this.label}: only ${ids.length} of ${threshold} needed tabs ${did}`);
    return ids.slice();
  }

  /**
   * Runs one step, given the state it follows, if that is where this participant is; the step sets
   * the next state when it is done. Any error ends the participant.
   */
  private async step<S extends Step, T>(after: S, what: string, run: (state: AtStep<S>) => Promise<T>): Promise<T> {
    const state = this.requireStep(after, what);
    this.state = { step: 'busy', doing: what };
    try {
      return await run(state);
    } catch (error) {
      throw this.fail(error, state);
    }
  }

  private stepSync<S extends Step, T>(after: S, what: string, run: (state: AtStep<S>) => T): T {
    const state = this.requireStep(after, what);
    try {
      return run(state);
    } catch (error) {
      throw this.fail(error, state);
    }
  }

  private requireStep<S extends Step>(after: S, what: string): AtStep<S> {
    const state = this.state;
    if (state.step === 'failed') throw new SecAggError(`${this.label}: cannot ${what}: this tab already left the attempt (${state.why})`);
    if (state.step === 'busy') throw new SecAggError(`${this.label}: cannot ${what} while it is still busy to ${state.doing}: one message at a time`);
    if (state.step !== after) throw new SecAggError(`${this.label}: cannot ${what} now: that step follows "${after}", and this tab is at "${state.step}"`);
    return state as AtStep<S>;
  }

  /** Ends the participant; `from` is the state the failed step started in (its seed is wiped). */
  private fail(error: unknown, from: State = this.state): unknown {
    if (from.step === 'shared' || from.step === 'received') from.seed.fill(0);
    this.state = { step: 'failed', why: error instanceof Error ? error.message : String(error) };
    return error;
  }
}

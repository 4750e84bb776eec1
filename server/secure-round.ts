// One attempt of a round under secure aggregation: the coordinator's steps of Bonawitz et al.
// (shared/secagg/ has the protocol, README "Privacy model" the threat model):
//
//   keys ─all selected advertised / deadline→ shares ─all of U1 shared / deadline→ inputs
//        ─all of U2 sent a masked update / the round's deadline→ reveals ─all of U3 revealed / deadline→ unmasked
//
// Every step has a deadline (secAggStepMs; the inputs step is the round's own deadline), so a round
// never waits forever. A step that ends with fewer than t tabs fails the attempt: the round is
// retried with fresh keys and nothing about any one tab's update has been revealed.
// The coordinator relays and sums; it never holds an unmasked update.
import { buildRoster, minimumThreshold } from '../shared/secagg/roster.ts';
import type { EncryptedShares, KeyAdvert, RosterMessage } from '../shared/secagg/messages.ts';
import { attemptLabel, SecAggError } from '../shared/secagg/secagg-error.ts';
import { SecureSumUnmasker } from '../shared/secagg/unmasker.ts';
import { advertFromWire, forwardToWire, maskedFromWire, revealFromWire, rosterToWire, SecAggWireError, sharesFromWire } from '../shared/secagg/wire-codec.ts';
import { type AdvertWire, type ForwardWire, type InputEncoding, type MaskedInputWire, type RevealWire, type RosterWire, type SharesWire, type UnmaskWire } from '../shared/protocol/messages.ts';
import { decodeSecureSum, secureInputScale } from '../shared/secagg/secure-input.ts';
import { SECURE_INPUT_EXTRA_VALUES } from '../shared/secagg/messages.ts';
import type { RoundSecureAggregation } from '../shared/protocol/records.ts';
import { ClientFaultError } from './client-fault.ts';
import type { Timers } from './timers.ts';

export class SecureStepRefusedError extends ClientFaultError {
  override name = 'SecureStepRefusedError';
}

export type SecureStep = 'keys' | 'shares' | 'inputs' | 'reveals' | 'unmasking' | 'over';

/** What the attempt asks the transport to send. */
export interface SecureRoundHooks {
  sendRoster(clientIds: string[], roster: RosterWire): void;
  sendForward(clientId: string, forward: ForwardWire): void;
  sendUnmask(clientIds: string[], request: UnmaskWire): void;
  /** The survivors' sum is out: the round can aggregate it. */
  unmasked(sum: SecureSum): void;
  /** Too few tabs at some step: the attempt is over, nothing was revealed. */
  failed(reason: string): void;
  log(message: string): void;
  /** A failure that is not the tabs': our bug. */
  bug(error: unknown): void;
}

export interface SecureSum {
  weightedSum: Float32Array;
  totalWeight: number;
  unclipped: number;
  survivors: string[];
}

export interface SecureRoundOptions {
  round: number;
  attempt: number;
  selected: readonly string[];
  paramCount: number;
  /** t/n: the fraction of U1 needed to unmask (at least minimumThreshold). */
  thresholdFraction: number;
  stepMs: number;
  clipNorm: number;
  /** Distributed DP: the std of the noise the tabs' shares must add up to on the sum (0: none). */
  noiseStdOnSum: number;
  /** A tab's FedAvg weight w ≤ 1, given the roster (weights are relative to it without DP). */
  weightOf(clientId: string, roster: readonly string[]): number;
  isConnected(clientId: string): boolean;
}

export class SecureRound {
  step: SecureStep = 'keys';
  private readonly adverts = new Map<string, KeyAdvert>();
  private roster: RosterMessage | null = null;
  private ids: string[] = [];
  private readonly shares = new Map<string, EncryptedShares>();
  private unmasker: SecureSumUnmasker | null = null;
  private scale = 0;
  private readonly masked = new Set<string>();
  private survivors: string[] = [];
  private readonly revealed = new Set<string>();
  private recovered = 0;
  private timer: unknown = null;
  /** The weight each tab was told to send (step 2). */
  private readonly weights = new Map<string, number>();

  constructor(
    private readonly options: SecureRoundOptions,
    private readonly hooks: SecureRoundHooks,
    private readonly timers: Timers,
  ) {
    this.startStepTimer();
  }

  /** The tabs the current step still waits for (connected ones). */
  awaiting(): string[] {
    const pending = (ids: readonly string[], done: { has(id: string): boolean }) => ids.filter((id) => !done.has(id) && this.options.isConnected(id));
    switch (this.step) {
      case 'keys':
        return pending(this.options.selected, this.adverts);
      case 'shares':
        return pending(this.ids, this.shares);
      case 'inputs':
        return pending([...this.shares.keys()], this.masked);
      case 'reveals':
        return pending(this.survivors, this.revealed);
      default:
        return [];
    }
  }

  /** The FedAvg weight (≤ 1) this tab was told to put in its masked input. */
  weightSentTo(clientId: string): number {
    return this.weights.get(clientId) ?? 0;
  }

  /** The counts the round's record keeps. */
  record(): RoundSecureAggregation {
    return {
      threshold: this.roster?.threshold ?? 0,
      advertised: this.ids.length,
      shared: this.shares.size,
      masked: this.masked.size,
      revealed: this.revealed.size,
      recovered: this.recovered,
      distributedNoise: this.options.noiseStdOnSum > 0,
    };
  }

  advertise(clientId: string, wire: AdvertWire): void {
    this.expect('keys', clientId, 'keys', wire, this.options.selected);
    if (this.adverts.has(clientId)) throw new SecureStepRefusedError(`${this.label()}: keys from this tab came already`);
    this.adverts.set(clientId, this.decode(() => advertFromWire(wire)));
    this.advanceIfNoneAwaited();
  }

  submitShares(clientId: string, wire: SharesWire): void {
    this.expect('shares', clientId, 'shares', wire, this.ids);
    if (this.shares.has(clientId)) throw new SecureStepRefusedError(`${this.label()}: shares from this tab came already`);
    const shares = this.decode(() => sharesFromWire(wire, this.ids));
    const others = this.ids.filter((id) => id !== clientId);
    const to = shares.shares.map((s) => s.to).sort();
    if (to.length !== others.length || to.some((id, i) => id !== others[i])) {
      throw new SecureStepRefusedError(`${this.label()}: shares must go to each of the other ${others.length} tabs of the roster once`);
    }
    this.shares.set(clientId, shares);
    this.advanceIfNoneAwaited();
  }

  submitMaskedInput(clientId: string, wire: MaskedInputWire): void {
    this.expect('inputs', clientId, 'masked update', wire, [...this.shares.keys()]);
    const masked = this.decode(() => maskedFromWire(wire, this.options.paramCount + SECURE_INPUT_EXTRA_VALUES));
    this.refuseOnProtocolError(() => this.unmasker!.addMaskedInput(clientId, masked));
    this.masked.add(clientId);
    this.advanceIfNoneAwaited();
  }

  submitReveal(clientId: string, wire: RevealWire): void {
    this.expect('reveals', clientId, 'reveal', wire, this.survivors);
    const reveal = this.decode(() => revealFromWire(wire, this.ids));
    this.refuseOnProtocolError(() => this.unmasker!.addReveal(clientId, reveal));
    this.revealed.add(clientId);
    this.advanceIfNoneAwaited();
  }

  /** The round's deadline: no more masked updates; ask the survivors for their shares. */
  closeInputs(): void {
    if (this.step === 'inputs') this.advance();
  }

  /** After a join or a disconnect: a step may have nobody left to wait for. */
  tabsChanged(): void {
    this.advanceIfNoneAwaited();
  }

  /** Ends the attempt (the round closed or was stopped); no timer is left behind. */
  dispose(): void {
    this.clearStepTimer();
    this.step = 'over';
  }

  private advanceIfNoneAwaited(): void {
    if (['keys', 'shares', 'inputs', 'reveals'].includes(this.step) && this.awaiting().length === 0) this.advance();
  }

  /** Closes the current step with whoever answered, and opens the next. */
  private advance(): void {
    this.clearStepTimer();
    try {
      if (this.step === 'keys') this.sendRoster();
      else if (this.step === 'shares') this.forwardShares();
      else if (this.step === 'inputs') this.askForReveals();
      else if (this.step === 'reveals') return this.unmask();
      else return;
      this.startStepTimer();
    } catch (error) {
      this.fail(error);
    }
  }

  private sendRoster(): void {
    const { roster, refused } = buildRoster(this.adverts);
    for (const { clientId, reason } of refused) this.hooks.log(`${this.label()}: ${clientId} left out of the roster: ${reason}`);
    const n = roster.length;
    const threshold = Math.max(minimumThreshold(n), Math.ceil(this.options.thresholdFraction * n));
    if (n < 2 || threshold > n) throw new SecAggError(`${this.label()}: only ${n} tabs sent keys, ${Math.max(2, threshold)} needed`);
    this.roster = { round: this.options.round, attempt: this.options.attempt, threshold, clients: roster };
    this.ids = roster.map((e) => e.clientId);
    // Sized for the noise the tabs add: each adds std σ/√t, so any t or more of them add at least σ.
    this.scale = secureInputScale({ tabs: n, clipNorm: this.options.clipNorm, noiseStdPerTab: this.noiseStdPerTab() });
    this.step = 'shares';
    this.hooks.sendRoster(this.ids, rosterToWire(this.roster));
  }

  private forwardShares(): void {
    const roster = this.roster!;
    const shared = [...this.shares.keys()].sort();
    // Throws SecAggError below the threshold.
    this.unmasker = new SecureSumUnmasker({
      round: roster.round,
      attempt: roster.attempt,
      threshold: roster.threshold,
      roster: roster.clients,
      shared,
      length: this.options.paramCount + SECURE_INPUT_EXTRA_VALUES,
    });
    this.step = 'inputs';
    for (const to of shared) {
      const addressed = shared
        .filter((from) => from !== to)
        .map((from) => ({ from, ciphertext: this.shares.get(from)!.shares.find((s) => s.to === to)!.ciphertext }));
      const encoding: InputEncoding = { scale: this.scale, weight: this.options.weightOf(to, this.ids), noiseStd: this.noiseStdPerTab(), bitNoiseStd: 0 };
      this.weights.set(to, encoding.weight);
      this.hooks.sendForward(to, forwardToWire({ round: roster.round, attempt: roster.attempt, shared, shares: addressed }, this.ids, encoding));
    }
  }

  private askForReveals(): void {
    const request = this.unmasker!.unmaskRequest(); // throws SecAggError below the threshold
    this.survivors = request.survivors;
    this.step = 'reveals';
    this.hooks.sendUnmask(this.survivors, request);
  }

  private unmask(): void {
    this.step = 'unmasking';
    const unmasker = this.unmasker!;
    unmasker.unmask().then(
      (result) => {
        if (this.step !== 'unmasking') return; // the round was stopped meanwhile
        this.step = 'over';
        this.recovered = result.recovered.length;
        const sum = { ...decodeSecureSum(result.sum, this.scale), survivors: result.survivors };
        const outOfBounds = this.outOfBounds(sum);
        if (outOfBounds) return this.fail(new SecAggError(`${this.label()}: the unmasked sum is out of bounds (${outOfBounds}): a tab masked something other than its clipped, weighted update`));
        this.hooks.unmasked(sum);
      },
      (error: unknown) => {
        if (this.step === 'unmasking') this.fail(error);
      },
    );
  }

  /**
   * The coordinator cannot check a masked input, but it can check the sum: honest tabs send the
   * weights they were told (Σw is known) and updates clipped to C, so ‖Σ w·Δ‖ ≤ Σw·C, plus the
   * fixed-point rounding and the tabs' own noise. A sum beyond that never reaches the model.
   */
  private outOfBounds(sum: SecureSum): string | null {
    const n = sum.survivors.length;
    const expectedWeight = sum.survivors.reduce((total, id) => total + this.weightSentTo(id), 0);
    const rounding = n / this.scale; // per value: each of n terms within one grid step
    if (!(Math.abs(sum.totalWeight - expectedWeight) <= 2 * rounding + 1e-6)) return `Σw = ${sum.totalWeight}, the tabs were told ${expectedWeight}`;
    if (!(sum.unclipped >= 0 && sum.unclipped <= n)) return `${sum.unclipped} of ${n} tabs under the clip norm`;
    let squares = 0;
    for (let i = 0; i < sum.weightedSum.length; i++) squares += sum.weightedSum[i] ** 2;
    const root = Math.sqrt(sum.weightedSum.length);
    // A Gaussian vector's norm concentrates at σ√P (relative spread 1/√(2P)): 10 % over is far out.
    const noise = 1.1 * this.noiseStdPerTab() * Math.sqrt(n) * root;
    const bound = expectedWeight * this.options.clipNorm * (1 + 1e-6) + rounding * root + noise;
    const norm = Math.sqrt(squares);
    return norm <= bound ? null : `‖Σ w·Δ‖ = ${norm.toPrecision(3)}, at most ${bound.toPrecision(3)} from ${n} clipped updates`;
  }

  private fail(error: unknown): void {
    this.dispose();
    if (error instanceof SecAggError) this.hooks.failed(error.message);
    else {
      this.hooks.bug(error);
      this.hooks.failed(`${this.label()}: internal error`);
    }
  }

  private noiseStdPerTab(): number {
    const t = this.roster?.threshold ?? 1;
    return this.options.noiseStdOnSum / Math.sqrt(t);
  }

  private startStepTimer(): void {
    if (this.step === 'inputs') return; // the round's own deadline closes this step
    const step = this.step;
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      if (this.step !== step) return;
      this.hooks.log(`${this.label()}: the ${step} step's deadline passed with ${this.awaiting().length} tabs still to answer`);
      this.advance();
    }, this.options.stepMs);
  }

  private clearStepTimer(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  private expect(step: SecureStep, clientId: string, what: string, wire: { round: number; attempt: number }, from: readonly string[]): void {
    if (wire.round !== this.options.round || wire.attempt !== this.options.attempt) {
      throw new SecureStepRefusedError(`${what} for round ${wire.round} attempt ${wire.attempt} refused: ${this.label()} is open`);
    }
    if (this.step !== step) throw new SecureStepRefusedError(`${this.label()}: ${what} refused: the ${this.step} step is open, not ${step}`);
    if (!from.includes(clientId)) throw new SecureStepRefusedError(`${this.label()}: ${what} refused: this tab is not part of this step`);
  }

  /** What a tab sent breaks the protocol (a second input, a reveal that does not answer): its fault. */
  private refuseOnProtocolError(run: () => void): void {
    try {
      run();
    } catch (error) {
      if (error instanceof SecAggError) throw new SecureStepRefusedError(error.message);
      throw error;
    }
  }

  private decode<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof SecAggWireError) throw new SecureStepRefusedError(`${this.label()}: ${error.message}`);
      throw error;
    }
  }

  private label(): string {
    return attemptLabel(this.options);
  }
}

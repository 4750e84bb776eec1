// The coordinator's side of one attempt of secure aggregation: its steps of Bonawitz et al. 2017
// (participant.ts is a tab's side; docs/privacy.md has the threat model):
//
//   keys ─all selected advertised / deadline→ shares ─all of U1 shared / deadline→ inputs
//        ─all of U2 sent a masked update / the round's deadline→ reveals ─all of U3 revealed / deadline→ unmasked
//
// Every step has a deadline (stepMs; the inputs step is the round's own deadline, closeInputs()), so
// an attempt never waits forever. `sum` resolves with the survivors' unmasked sum, or rejects with
// a SecAggError when a step ends with fewer than t tabs or the sum is out of what honest tabs can
// send: the attempt is over, and nothing about any one tab's update has been revealed. The
// coordinator relays and sums; it never holds an unmasked update.
import type { ForwardWire, InputEncoding, MaskedInputWire, RevealWire, RosterWire, SharesWire, AdvertWire, UnmaskWire } from '../protocol/messages.ts';
import type { SecureSum } from '../fl/strategy.ts';
import type { Timers } from '../timers.ts';
import { buildRoster, minimumThreshold } from './roster.ts';
import { SECURE_INPUT_EXTRA_VALUES, type EncryptedShares, type KeyAdvert, type RosterMessage } from './messages.ts';
import { attemptLabel, SecAggError, SecAggRefusal } from './secagg-error.ts';
import { SecureSumUnmasker } from './unmasker.ts';
import { advertFromWire, forwardToWire, maskedFromWire, revealFromWire, rosterToWire, SecAggWireError, sharesFromWire } from './wire-codec.ts';
import { decodeSecureSum, secureInputScale } from './secure-input.ts';
import type { RoundSecureAggregation } from '../protocol/records.ts';

export type SecureStep = 'keys' | 'shares' | 'inputs' | 'reveals' | 'unmasking' | 'over';

/** What the attempt asks the transport to send. */
export interface SecureRoundTransport {
  roster(clientIds: string[], roster: RosterWire): void;
  forward(clientId: string, forward: ForwardWire): void;
  unmask(clientIds: string[], request: UnmaskWire): void;
  log(message: string): void;
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
  /** Each selected tab's FedAvg weight (at most 1 under DP); sent relative to the roster's largest when that is over 1. */
  weights: ReadonlyMap<string, number>;
  /** Distributed DP: the std of the noise the tabs' shares must add up to on the sum, and on the sum of centred clip bits (0: none). */
  noiseStdOnSum: number;
  bitNoiseStdOnSum: number;
  isConnected(clientId: string): boolean;
}

export class SecureRound {
  step: SecureStep = 'keys';
  /** The survivors' sum, once unmasked; rejects with SecAggError when the attempt fails. */
  readonly sum: Promise<SecureSum>;
  private settle!: { resolve: (sum: SecureSum) => void; reject: (error: unknown) => void };
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
  private readonly toldWeights = new Map<string, number>();

  constructor(
    private readonly options: SecureRoundOptions,
    private readonly transport: SecureRoundTransport,
    private readonly timers: Timers,
  ) {
    this.sum = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.sum.catch(() => {}); // the attempt awaits it; a failure before it does is not unhandled
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
    return this.toldWeights.get(clientId) ?? 0;
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
    if (this.adverts.has(clientId)) throw new SecAggRefusal(`${this.label()}: keys from this tab came already`);
    this.adverts.set(clientId, this.decode(() => advertFromWire(wire)));
    this.advanceIfNoneAwaited();
  }

  submitShares(clientId: string, wire: SharesWire): void {
    this.expect('shares', clientId, 'shares', wire, this.ids);
    if (this.shares.has(clientId)) throw new SecAggRefusal(`${this.label()}: shares from this tab came already`);
    const shares = this.decode(() => sharesFromWire(wire, this.ids));
    const others = this.ids.filter((id) => id !== clientId);
    const to = shares.shares.map((s) => s.to).sort();
    if (to.length !== others.length || to.some((id, i) => id !== others[i])) {
      throw new SecAggRefusal(`${this.label()}: shares must go to each of the other ${others.length} tabs of the roster once`);
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
    if (this.step !== 'over') this.settle.reject(new SecAggError(`${this.label()}: ended before its sum was unmasked`));
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
    for (const { clientId, reason } of refused) this.transport.log(`${this.label()}: ${clientId} left out of the roster: ${reason}`);
    const n = roster.length;
    const threshold = Math.max(minimumThreshold(n), Math.ceil(this.options.thresholdFraction * n));
    if (n < 2 || threshold > n) throw new SecAggError(`${this.label()}: only ${n} tabs sent keys, ${Math.max(2, threshold)} needed`);
    this.roster = { round: this.options.round, attempt: this.options.attempt, threshold, clients: roster };
    this.ids = roster.map((e) => e.clientId);
    // Sized for the noise the tabs add: each adds std σ/√t, so any t or more of them add at least σ.
    const noise = this.noisePerTab();
    this.scale = secureInputScale({ tabs: n, clipNorm: this.options.clipNorm, noiseStdPerTab: Math.max(noise.onValues, noise.onBit) });
    this.step = 'shares';
    this.transport.roster(this.ids, rosterToWire(this.roster));
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
    // Fixed point needs w ≤ 1: weights over 1 (examples, without DP) go relative to the roster's largest,
    // which the weighted mean Σ w·Δ / Σ w does not see; DP weights are ≤ 1 already and go as they are.
    const largest = Math.max(1, ...this.ids.map((id) => this.options.weights.get(id) ?? 0));
    const noise = this.noisePerTab();
    for (const to of shared) {
      const addressed = shared
        .filter((from) => from !== to)
        .map((from) => ({ from, ciphertext: this.shares.get(from)!.shares.find((s) => s.to === to)!.ciphertext }));
      const encoding: InputEncoding = { scale: this.scale, weight: (this.options.weights.get(to) ?? 0) / largest, noiseStd: noise.onValues, bitNoiseStd: noise.onBit };
      this.toldWeights.set(to, encoding.weight);
      this.transport.forward(to, forwardToWire({ round: roster.round, attempt: roster.attempt, shared, shares: addressed }, this.ids, encoding));
    }
  }

  private askForReveals(): void {
    const request = this.unmasker!.unmaskRequest(); // throws SecAggError below the threshold
    this.survivors = request.survivors;
    this.step = 'reveals';
    this.transport.unmask(this.survivors, request);
  }

  private unmask(): void {
    this.step = 'unmasking';
    this.unmasker!.unmask().then(
      (result) => {
        if (this.step !== 'unmasking') return; // the round was stopped meanwhile
        this.step = 'over';
        this.recovered = result.recovered.length;
        const contributors = result.survivors.length;
        const sum = { ...decodeSecureSum(result.sum, this.scale), contributors, noiseStd: this.noisePerTab().onValues * Math.sqrt(contributors) };
        const outOfBounds = this.outOfBounds(sum, result.survivors);
        if (outOfBounds) {
          return this.settle.reject(
            new SecAggError(`${this.label()}: the unmasked sum is out of bounds (${outOfBounds}): a tab masked something other than its clipped, weighted update`),
          );
        }
        this.settle.resolve(sum);
      },
      (error: unknown) => {
        if (this.step === 'unmasking') this.fail(error);
      },
    );
  }

  /**
   * The coordinator cannot check a masked input, but it can check the sum: honest tabs send the
   * weights they were told (Σw is known), updates clipped to C and centred bits of ±½, so
   * ‖Σ w·Δ‖ ≤ Σw·C and |Σ bits| ≤ n/2, plus the fixed-point rounding and the tabs' own noise.
   */
  private outOfBounds(sum: SecureSum, survivors: readonly string[]): string | null {
    const n = survivors.length;
    const expectedWeight = survivors.reduce((total, id) => total + this.weightSentTo(id), 0);
    const rounding = n / this.scale; // per value: each of n terms within one grid step
    const noise = this.noisePerTab();
    if (!(Math.abs(sum.totalWeight - expectedWeight) <= 2 * rounding + 1e-6)) return `Σw = ${sum.totalWeight}, the tabs were told ${expectedWeight}`;
    const bitBound = n / 2 + 10 * noise.onBit * Math.sqrt(n) + 2 * rounding;
    if (!(Math.abs(sum.clipBitSum) <= bitBound)) return `the clip bits sum to ${sum.clipBitSum.toPrecision(3)}, at most ±${bitBound.toPrecision(3)} from ${n} tabs`;
    let squares = 0;
    for (let i = 0; i < sum.weightedSum.length; i++) squares += sum.weightedSum[i] ** 2;
    const root = Math.sqrt(sum.weightedSum.length);
    // A Gaussian vector's norm concentrates at σ√P (relative spread 1/√(2P)): 10 % over is far out.
    const bound = expectedWeight * this.options.clipNorm * (1 + 1e-6) + rounding * root + 1.1 * noise.onValues * Math.sqrt(n) * root;
    const norm = Math.sqrt(squares);
    return norm <= bound ? null : `‖Σ w·Δ‖ = ${norm.toPrecision(3)}, at most ${bound.toPrecision(3)} from ${n} clipped updates`;
  }

  private fail(error: unknown): void {
    this.clearStepTimer();
    this.step = 'over';
    this.settle.reject(error); // a SecAggError is the attempt's failure; anything else, our bug (the attempt tells them apart)
  }

  /** Each tab adds std σ/√t: any t or more of them add at least σ. */
  private noisePerTab(): { onValues: number; onBit: number } {
    const root = Math.sqrt(this.roster?.threshold ?? 1);
    return { onValues: this.options.noiseStdOnSum / root, onBit: this.options.bitNoiseStdOnSum / root };
  }

  private startStepTimer(): void {
    if (this.step === 'inputs') return; // the round's own deadline closes this step
    const step = this.step;
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      if (this.step !== step) return;
      this.transport.log(`${this.label()}: the ${step} step's deadline passed with ${this.awaiting().length} tabs still to answer`);
      this.advance();
    }, this.options.stepMs);
  }

  private clearStepTimer(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  private expect(step: SecureStep, clientId: string, what: string, wire: { round: number; attempt: number }, from: readonly string[]): void {
    if (wire.round !== this.options.round || wire.attempt !== this.options.attempt) {
      throw new SecAggRefusal(`${what} for round ${wire.round} attempt ${wire.attempt} refused: ${this.label()} is open`);
    }
    if (this.step !== step) throw new SecAggRefusal(`${this.label()}: ${what} refused: the ${this.step} step is open, not ${step}`);
    if (!from.includes(clientId)) throw new SecAggRefusal(`${this.label()}: ${what} refused: this tab is not part of this step`);
  }

  /** What a tab sent breaks the protocol (a second input, a reveal that does not answer): its fault. */
  private refuseOnProtocolError(run: () => void): void {
    try {
      run();
    } catch (error) {
      if (error instanceof SecAggError) throw new SecAggRefusal(error.message);
      throw error;
    }
  }

  private decode<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof SecAggWireError) throw new SecAggRefusal(`${this.label()}: ${error.message}`);
      throw error;
    }
  }

  private label(): string {
    return attemptLabel(this.options);
  }
}

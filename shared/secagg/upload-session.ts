// A tab's side of one attempt of secure aggregation, over any transport: the participant loop
// (shared/participant/round-runner.ts) and the Node tests run the same steps. Messages may arrive
// in any order relative to local training (the roster usually comes while the tab is still
// training); each step waits for the one before.
import type { UpdateAck } from '../protocol/messages.ts';
import type { Rng } from '../fl/rng.ts';
import { SecAggParticipant } from './participant.ts';
import { encodeSecureInput } from './secure-input.ts';
import { advertToWire, forwardFromWire, maskedToWire, revealToWire, rosterFromWire, sharesToWire } from './wire-codec.ts';
import { type AdvertWire, type ForwardWire, type InputEncoding, type MaskedInputWire, type RevealWire, type RosterWire, type SharesWire, type UnmaskWire } from '../protocol/messages.ts';

export interface SecureUploadTransport {
  sendKeys(wire: AdvertWire): void;
  sendShares(wire: SharesWire): void;
  sendMasked(wire: MaskedInputWire): Promise<UpdateAck>;
  sendReveal(wire: RevealWire): void;
}

export class SecureUploadSession {
  /** Tabs in the roster other than this one: whom its masks pair it with. */
  peers = 0;
  private ids: string[] = [];
  private readonly forwarded: Promise<InputEncoding>;
  private resolveForwarded!: (encoding: InputEncoding) => void;
  private rejectForwarded!: (error: unknown) => void;

  private constructor(
    readonly round: number,
    readonly attempt: number,
    private readonly participant: SecAggParticipant,
    private readonly transport: SecureUploadTransport,
  ) {
    this.forwarded = new Promise((resolve, reject) => {
      this.resolveForwarded = resolve;
      this.rejectForwarded = reject;
    });
    this.forwarded.catch(() => {}); // a failure is reported where it happens; submit() rethrows it
  }

  /** Fresh keys for this attempt; keep the session where the next messages will find it, then advertise(). */
  static async open(args: { clientId: string; round: number; attempt: number; transport: SecureUploadTransport }): Promise<SecureUploadSession> {
    const participant = await SecAggParticipant.create(args);
    return new SecureUploadSession(args.round, args.attempt, participant, args.transport);
  }

  /** Step 0: the public keys, for the roster. */
  advertise(): void {
    this.transport.sendKeys(advertToWire(this.participant.advertise()));
  }

  belongsTo(message: { round: number; attempt: number }): boolean {
    return message.round === this.round && message.attempt === this.attempt;
  }

  /** Step 1: the roster U1 came; share b and s_sk with every other tab in it. */
  async onRoster(wire: RosterWire): Promise<void> {
    try {
      const roster = rosterFromWire(wire);
      const shares = await this.participant.shareKeys(roster);
      this.ids = roster.clients.map((e) => e.clientId);
      this.peers = this.ids.length - 1;
      this.transport.sendShares(sharesToWire(shares, this.ids));
    } catch (error) {
      this.rejectForwarded(error);
      throw error;
    }
  }

  /** Step 2: U2 and the shares the other tabs sent this one, with how to encode its input. */
  async onForward(wire: ForwardWire): Promise<void> {
    try {
      const { forwarded, encoding } = forwardFromWire(wire, this.ids);
      await this.participant.receiveShares(forwarded);
      this.resolveForwarded(encoding);
    } catch (error) {
      this.rejectForwarded(error);
      throw error;
    }
  }

  /**
   * Step 3, once training is done: `clippedDelta` (already clipped to the round's C) is weighted,
   * noised if asked (distributed DP), encoded, masked and sent, with `loss` only where the tab
   * shares its statistics (undefined: it does not). Waits for step 2 if needed.
   */
  async submit(clippedDelta: Float32Array, withinClipNorm: boolean, loss: number | undefined, rng: Rng): Promise<UpdateAck> {
    const encoding = await this.forwarded;
    const plain = encodeSecureInput(clippedDelta, encoding, withinClipNorm, rng);
    const masked = await this.participant.maskInput(plain);
    return this.transport.sendMasked(maskedToWire(this.round, this.attempt, loss, masked));
  }

  /** Step 4: U3 came; reveal what unmasks their sum (and never more). */
  onUnmask(request: UnmaskWire): void {
    this.transport.sendReveal(revealToWire(this.participant.reveal(request), this.ids));
  }
}

// What tabs and coordinator say to each other during secure aggregation (docs/privacy.md has the steps
// and the threat model). What a tab sends is a TypeBox schema, both the coordinator's wire check
// and the TypeScript type; every bound is tight (byte lengths exact, arrays no longer than a
// roster can be) so a message is refused cheaply, before any cryptography looks at it.
// What the coordinator sends is only typed: the tab checks it in participant.ts, where each
// check can say what a lying coordinator would have gained.
//
// Binary fields are Uint8Array. Over Socket.IO the messages travel packed (wire-codec.ts), which
// also turns the ArrayBuffers the page receives back into Uint8Arrays.
import { Type, type Static } from '@sinclair/typebox';
import { SHARE_BYTES } from './shamir.ts';

/** Largest roster: bounds every array below, and the Shamir and masking work of one tab (O(n)) and of the coordinator (O(n²) at worst). */
export const MAX_SECAGG_CLIENTS = 1000;
/** An uncompressed P-256 point: 0x04 ‖ x ‖ y. */
export const PUBLIC_KEY_BYTES = 65;
export const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
/** iv ‖ AES-GCM(share of b ‖ share of s_sk) ‖ tag: 12 + 33 + 33 + 16 = 94. */
export const SHARE_CIPHERTEXT_BYTES = GCM_IV_BYTES + 2 * SHARE_BYTES + GCM_TAG_BYTES;
/** Client ids go into key derivations as ASCII (keys.ts); the coordinator's are 12 hex digits. */
export const CLIENT_ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';

const ClientId = Type.String({ pattern: CLIENT_ID_PATTERN, maxLength: 64 });
const Round = Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 });
const Attempt = Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 });
const exactBytes = (n: number) => Type.Uint8Array({ minByteLength: n, maxByteLength: n });
const PublicKey = exactBytes(PUBLIC_KEY_BYTES);

// ── A tab sends ──────────────────────────────────────────────────────────────────────────────

/** Step 0: its two fresh public keys, c (for encrypting shares to it) and s (for pairwise masks). */
export const KeyAdvertSchema = Type.Object(
  { round: Round, attempt: Attempt, cPublicKey: PublicKey, sPublicKey: PublicKey },
  { additionalProperties: false },
);
export type KeyAdvert = Static<typeof KeyAdvertSchema>;

/** Step 1: for every other tab of the roster, its shares of this tab's b and s_sk, encrypted to it. */
export const EncryptedSharesSchema = Type.Object(
  {
    round: Round,
    attempt: Attempt,
    shares: Type.Array(Type.Object({ to: ClientId, ciphertext: exactBytes(SHARE_CIPHERTEXT_BYTES) }, { additionalProperties: false }), {
      maxItems: MAX_SECAGG_CLIENTS - 1,
    }),
  },
  { additionalProperties: false },
);
export type EncryptedShares = Static<typeof EncryptedSharesSchema>;

const RevealedShare = Type.Object({ of: ClientId, share: exactBytes(SHARE_BYTES) }, { additionalProperties: false });

/**
 * Step 4: the shares this tab holds of b_v for every survivor v, and of s_sk_v for every tab v that
 * sent shares but no masked input. Never both for one v (participant.ts, reveal).
 */
export const RevealSchema = Type.Object(
  {
    round: Round,
    attempt: Attempt,
    selfMaskShares: Type.Array(RevealedShare, { maxItems: MAX_SECAGG_CLIENTS }),
    keyShares: Type.Array(RevealedShare, { maxItems: MAX_SECAGG_CLIENTS }),
  },
  { additionalProperties: false },
);
export type Reveal = Static<typeof RevealSchema>;

// The masked input itself (step 3) is the tab's update: a Uint32Array of the model's parameter
// count, sent as binary with its round and attempt; the coordinator checks its byte length
// against 4 × paramCount exactly, as it does for plain updates.

// ── The coordinator sends ───────────────────────────────────────────────────────────────────

export interface RosterEntry {
  clientId: string;
  cPublicKey: Uint8Array;
  sPublicKey: Uint8Array;
}

/** Step 1: U1, the tabs whose adverts came in time, sorted by clientId; x of a tab's shares is its index + 1. */
export interface RosterMessage {
  round: number;
  attempt: number;
  /** t: shares needed to reconstruct any secret; at least minimumThreshold(clients.length) (roster.ts). */
  threshold: number;
  clients: RosterEntry[];
}

/** Step 2: U2, the tabs that sent shares (sorted), and the ciphertexts they addressed to this tab. */
export interface ForwardedSharesMessage {
  round: number;
  attempt: number;
  shared: string[];
  shares: { from: string; ciphertext: Uint8Array }[];
}

/** Step 4: U3, the tabs whose masked input came in time (sorted): reveal what unmasks their sum. */
export interface UnmaskRequest {
  round: number;
  attempt: number;
  survivors: string[];
}

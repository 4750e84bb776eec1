// What tabs and coordinator say to each other during secure aggregation (docs/privacy.md has the
// steps and the threat model), unpacked: the records the
// protocol steps (participant.ts, unmasker.ts) work on, and the sizes that bound them. On the wire
// they travel packed into one binary field per message (wire-codec.ts), whose shapes and size
// limits are rows of the protocol table (shared/protocol/messages.ts). Every message from the
// coordinator is checked in participant.ts, where each check can say what a lying coordinator
// would have gained; what a tab sends is checked by size in wire-codec.ts before any cryptography.
//
// Binary fields are Uint8Array (wire-codec.ts turns the ArrayBuffers the page receives into them).
import { SHARE_BYTES } from './shamir.ts';

/** Largest roster: bounds every list, and the Shamir and masking work of one tab (O(n)) and of the coordinator (O(n²) at worst). */
export const MAX_SECAGG_CLIENTS = 1000;
/** An uncompressed P-256 point: 0x04 ‖ x ‖ y. */
export const PUBLIC_KEY_BYTES = 65;
export const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
/** iv ‖ AES-GCM(share of b ‖ share of s_sk) ‖ tag: 12 + 33 + 33 + 16 = 94. */
export const SHARE_CIPHERTEXT_BYTES = GCM_IV_BYTES + 2 * SHARE_BYTES + GCM_TAG_BYTES;
/** On the wire (wire-codec.ts): [roster index of the peer: u16][ciphertext]. */
export const SHARE_RECORD_BYTES = 2 + SHARE_CIPHERTEXT_BYTES;
/** On the wire: [kind: u8][roster index of whose: u16][share]. */
export const REVEAL_RECORD_BYTES = 1 + 2 + SHARE_BYTES;
/** Values a tab masks after its P delta values (secure-input.ts): its weight, and its clip bit. */
export const SECURE_INPUT_EXTRA_VALUES = 2;
/** Client ids go into key derivations as ASCII (keys.ts); the coordinator's are 12 hex digits. */
export const CLIENT_ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';

// ── A tab sends ──────────────────────────────────────────────────────────────────────────────

/** Step 0: its two fresh public keys, c (for encrypting shares to it) and s (for pairwise masks). */
export interface KeyAdvert {
  round: number;
  attempt: number;
  cPublicKey: Uint8Array;
  sPublicKey: Uint8Array;
}

/** Step 1: for every other tab of the roster, its shares of this tab's b and s_sk, encrypted to it. */
export interface EncryptedShares {
  round: number;
  attempt: number;
  shares: { to: string; ciphertext: Uint8Array }[];
}

/**
 * Step 4: the shares this tab holds of b_v for every survivor v, and of s_sk_v for every tab v that
 * sent shares but no masked input. Never both for one v (participant.ts, reveal).
 */
export interface Reveal {
  round: number;
  attempt: number;
  selfMaskShares: { of: string; share: Uint8Array }[];
  keyShares: { of: string; share: Uint8Array }[];
}

// The masked input itself (step 3) is the tab's update: a Uint32Array of the model's parameter
// count plus SECURE_INPUT_EXTRA_VALUES, sent as binary with its round and attempt; its byte length
// is checked exactly, as a plain update's is.

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

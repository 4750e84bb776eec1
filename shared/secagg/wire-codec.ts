// Secure aggregation's messages as they cross Socket.IO: each carries at most one binary
// attachment (the coordinator's decoder refuses more, see server/limits/bounded-parser.ts) and a
// few short text fields. Keys, ciphertexts and shares are packed into that one attachment as
// fixed-size records; peers are named by their index in the roster U1, which both sides hold,
// so a tab's text stays small whatever the roster's size.
//
// Decoding checks only sizes and indices (cheap, before any cryptography); participant.ts and
// unmasker.ts check the protocol.
import type { EncryptedShares, ForwardedSharesMessage, KeyAdvert, Reveal, RosterEntry, RosterMessage, UnmaskRequest } from './messages.ts';
import { PUBLIC_KEY_BYTES, REVEAL_RECORD_BYTES, SHARE_CIPHERTEXT_BYTES, SHARE_RECORD_BYTES } from './messages.ts';
import type { AdvertWire, ForwardWire, InputEncoding, MaskedInputWire, RevealWire, RosterWire, SharesWire } from '../protocol/messages.ts';
import { bytesOf as viewBytes, isBinary, type BinaryValue } from '../protocol/binary.ts';
import { SHARE_BYTES } from './shamir.ts';

/** A message that does not have the shape its step needs: the sender's fault. */
export class SecAggWireError extends Error {
  override name = 'SecAggWireError';
}

export type { UnmaskRequest as UnmaskWire };

const KEYS_BYTES = 2 * PUBLIC_KEY_BYTES;

/** Binary as it arrives: a Buffer in Node, an ArrayBuffer in the page. Anything else is refused. */
function bytesOf(what: string, value: BinaryValue | unknown): Uint8Array {
  if (!isBinary(value)) throw new SecAggWireError(`${what} must be binary`);
  return viewBytes(value);
}

function exactLength(what: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) throw new SecAggWireError(`${what} has ${bytes.length} bytes, ${length} expected`);
}

function recordsOf(what: string, bytes: Uint8Array, recordBytes: number, maxRecords: number): number {
  if (bytes.length % recordBytes !== 0) throw new SecAggWireError(`${what}: ${bytes.length} bytes is not a whole number of ${recordBytes}-byte records`);
  const count = bytes.length / recordBytes;
  if (count > maxRecords) throw new SecAggWireError(`${what}: ${count} records, at most ${maxRecords} expected`);
  return count;
}

function indexAt(what: string, view: DataView, offset: number, ids: readonly string[]): string {
  const index = view.getUint16(offset);
  if (index >= ids.length) throw new SecAggWireError(`${what}: roster index ${index} is out of range (${ids.length} tabs)`);
  return ids[index];
}

function indexOf(ids: readonly string[], id: string): number {
  const index = ids.indexOf(id);
  if (index < 0 || index > 0xffff) throw new RangeError(`${id} is not in the roster`);
  return index;
}

const copy = (bytes: Uint8Array, start: number, length: number) => bytes.slice(start, start + length);

export function advertToWire(advert: KeyAdvert): AdvertWire {
  const keys = new Uint8Array(KEYS_BYTES);
  keys.set(advert.cPublicKey, 0);
  keys.set(advert.sPublicKey, PUBLIC_KEY_BYTES);
  return { round: advert.round, attempt: advert.attempt, keys };
}

export function advertFromWire(wire: AdvertWire): KeyAdvert {
  const keys = bytesOf('keys', wire.keys);
  exactLength('keys', keys, KEYS_BYTES);
  return { round: wire.round, attempt: wire.attempt, cPublicKey: copy(keys, 0, PUBLIC_KEY_BYTES), sPublicKey: copy(keys, PUBLIC_KEY_BYTES, PUBLIC_KEY_BYTES) };
}

export function rosterToWire(roster: RosterMessage): RosterWire {
  const keys = new Uint8Array(roster.clients.length * KEYS_BYTES);
  roster.clients.forEach((entry, i) => {
    keys.set(entry.cPublicKey, i * KEYS_BYTES);
    keys.set(entry.sPublicKey, i * KEYS_BYTES + PUBLIC_KEY_BYTES);
  });
  return { round: roster.round, attempt: roster.attempt, threshold: roster.threshold, clientIds: roster.clients.map((e) => e.clientId), keys };
}

export function rosterFromWire(wire: RosterWire): RosterMessage {
  const keys = bytesOf('roster keys', wire.keys);
  if (!Array.isArray(wire.clientIds)) throw new SecAggWireError('roster: clientIds must be a list');
  exactLength('roster keys', keys, wire.clientIds.length * KEYS_BYTES);
  const clients: RosterEntry[] = wire.clientIds.map((clientId, i) => ({
    clientId,
    cPublicKey: copy(keys, i * KEYS_BYTES, PUBLIC_KEY_BYTES),
    sPublicKey: copy(keys, i * KEYS_BYTES + PUBLIC_KEY_BYTES, PUBLIC_KEY_BYTES),
  }));
  return { round: wire.round, attempt: wire.attempt, threshold: wire.threshold, clients };
}

/** `ids`: the roster's client ids in order. */
export function sharesToWire(shares: EncryptedShares, ids: readonly string[]): SharesWire {
  return { round: shares.round, attempt: shares.attempt, shares: packShares(shares.shares.map((s) => ({ peer: s.to, ciphertext: s.ciphertext })), ids) };
}

export function sharesFromWire(wire: SharesWire, ids: readonly string[]): EncryptedShares {
  return { round: wire.round, attempt: wire.attempt, shares: unpackShares('shares', wire.shares, ids).map((s) => ({ to: s.peer, ciphertext: s.ciphertext })) };
}

export function forwardToWire(forwarded: ForwardedSharesMessage, ids: readonly string[], encoding: InputEncoding): ForwardWire {
  const shares = packShares(forwarded.shares.map((s) => ({ peer: s.from, ciphertext: s.ciphertext })), ids);
  return { round: forwarded.round, attempt: forwarded.attempt, shared: forwarded.shared, shares, encoding };
}

export function forwardFromWire(wire: ForwardWire, ids: readonly string[]): { forwarded: ForwardedSharesMessage; encoding: InputEncoding } {
  const shares = unpackShares('forwarded shares', wire.shares, ids).map((s) => ({ from: s.peer, ciphertext: s.ciphertext }));
  return { forwarded: { round: wire.round, attempt: wire.attempt, shared: wire.shared, shares }, encoding: wire.encoding };
}

export function revealToWire(reveal: Reveal, ids: readonly string[]): RevealWire {
  const records = [...reveal.selfMaskShares.map((s) => ({ kind: 0, ...s })), ...reveal.keyShares.map((s) => ({ kind: 1, ...s }))];
  const bytes = new Uint8Array(records.length * REVEAL_RECORD_BYTES);
  const view = new DataView(bytes.buffer);
  records.forEach((r, i) => {
    view.setUint8(i * REVEAL_RECORD_BYTES, r.kind);
    view.setUint16(i * REVEAL_RECORD_BYTES + 1, indexOf(ids, r.of));
    bytes.set(r.share, i * REVEAL_RECORD_BYTES + 3);
  });
  return { round: reveal.round, attempt: reveal.attempt, shares: bytes };
}

export function revealFromWire(wire: RevealWire, ids: readonly string[]): Reveal {
  const bytes = bytesOf('reveal', wire.shares);
  const count = recordsOf('reveal', bytes, REVEAL_RECORD_BYTES, 2 * ids.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reveal: Reveal = { round: wire.round, attempt: wire.attempt, selfMaskShares: [], keyShares: [] };
  for (let i = 0; i < count; i++) {
    const at = i * REVEAL_RECORD_BYTES;
    const kind = view.getUint8(at);
    if (kind > 1) throw new SecAggWireError(`reveal: record ${i} has kind ${kind}, 0 or 1 expected`);
    const share = { of: indexAt('reveal', view, at + 1, ids), share: copy(bytes, at + 3, SHARE_BYTES) };
    (kind === 0 ? reveal.selfMaskShares : reveal.keyShares).push(share);
  }
  return reveal;
}

function packShares(shares: { peer: string; ciphertext: Uint8Array }[], ids: readonly string[]): Uint8Array {
  const bytes = new Uint8Array(shares.length * SHARE_RECORD_BYTES);
  const view = new DataView(bytes.buffer);
  shares.forEach((s, i) => {
    view.setUint16(i * SHARE_RECORD_BYTES, indexOf(ids, s.peer));
    bytes.set(s.ciphertext, i * SHARE_RECORD_BYTES + 2);
  });
  return bytes;
}

function unpackShares(what: string, value: unknown, ids: readonly string[]): { peer: string; ciphertext: Uint8Array }[] {
  const bytes = bytesOf(what, value);
  const count = recordsOf(what, bytes, SHARE_RECORD_BYTES, ids.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: count }, (_, i) => ({
    peer: indexAt(what, view, i * SHARE_RECORD_BYTES, ids),
    ciphertext: copy(bytes, i * SHARE_RECORD_BYTES + 2, SHARE_CIPHERTEXT_BYTES),
  }));
}

/** The masked vector's bytes as uint32s (a copy: the socket's buffer may be unaligned or reused). */
export function maskedFromWire(wire: MaskedInputWire, length: number): Uint32Array {
  const bytes = bytesOf('masked input', wire.masked);
  exactLength('masked input', bytes, 4 * length);
  const out = new Uint32Array(length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < length; i++) out[i] = view.getUint32(4 * i, true);
  return out;
}

/** `loss` undefined: the tab keeps its training loss to itself (it shares no statistics). */
export function maskedToWire(round: number, attempt: number, loss: number | undefined, masked: Uint32Array): MaskedInputWire {
  const bytes = new Uint8Array(4 * masked.length);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < masked.length; i++) view.setUint32(4 * i, masked[i], true);
  return loss === undefined ? { round, attempt, masked: bytes } : { round, attempt, loss, masked: bytes };
}

// What a valid roster U1 is, checked alike by the coordinator that forms it (buildRoster) and by
// every tab that receives it (participant.ts adds: my own entry holds exactly my keys).
import { p256 } from '@noble/curves/nist.js';
import { bytesToNumberBE } from '@noble/curves/utils.js';
import { CLIENT_ID_PATTERN, MAX_SECAGG_CLIENTS, PUBLIC_KEY_BYTES, type RosterEntry } from './messages.ts';
import { attemptLabel, SecAggError, type SecAggAttempt } from './secagg-error.ts';

const CLIENT_ID = new RegExp(CLIENT_ID_PATTERN);

/**
 * The least t a tab accepts for a roster of `size`: at least 2 (one input alone is its own sum), and
 * more than half. The second is what makes "never reveal both secrets of one tab" (participant.ts)
 * protect against a coordinator that tells some tabs u survived and others that u dropped: it then
 * needs t holders to reveal b_u and t others to reveal s_sk_u, 2t > size of them, which don't exist.
 * Coordinator: t = max(minimumThreshold(n), ceil(fraction · n)).
 */
export function minimumThreshold(size: number): number {
  return Math.max(2, Math.floor(size / 2) + 1);
}

/** isCompressed false: the 65-byte 0x04 form only, the one WebCrypto's raw export gives. */
const isValidPoint = (raw: Uint8Array) => raw.length === PUBLIC_KEY_BYTES && p256.utils.isValidPublicKey(raw, false);

const keyOf = (raw: Uint8Array) => bytesToNumberBE(raw).toString(16);

/**
 * Throws SecAggError unless the roster is sorted by clientId with no repeats, every key is a
 * distinct valid uncompressed P-256 point, and MAX_SECAGG_CLIENTS ≥ size ≥ threshold ≥
 * minimumThreshold(size). Distinct keys matter: a tab that copied another's s key would share
 * the pairwise masks of that tab's pairs.
 */
export function checkRoster(at: SecAggAttempt, roster: readonly RosterEntry[], threshold: number): void {
  const label = attemptLabel(at);
  if (!Array.isArray(roster)) throw new SecAggError(`${label}: the roster is not a list`);
  if (roster.length > MAX_SECAGG_CLIENTS) throw new SecAggError(`${label}: roster of ${roster.length} tabs, at most ${MAX_SECAGG_CLIENTS}`);
  if (!Number.isInteger(threshold) || threshold < minimumThreshold(roster.length) || threshold > roster.length) {
    throw new SecAggError(
      `${label}: threshold ${threshold} for a roster of ${roster.length} tabs; it must be an integer from ${minimumThreshold(roster.length)} (more than half, at least 2) to ${roster.length}`,
    );
  }
  const keys = new Set<string>();
  roster.forEach((entry, i) => {
    if (typeof entry.clientId !== 'string' || !CLIENT_ID.test(entry.clientId)) throw new SecAggError(`${label}: roster entry ${i} has no valid clientId`);
    if (i > 0 && !(roster[i - 1].clientId < entry.clientId)) {
      throw new SecAggError(`${label}: roster not sorted by clientId, or ${entry.clientId} is in it twice`);
    }
    for (const raw of [entry.cPublicKey, entry.sPublicKey]) {
      if (!(raw instanceof Uint8Array) || !isValidPoint(raw)) throw new SecAggError(`${label}: ${entry.clientId}'s key in the roster is not an uncompressed P-256 point (65 bytes in a Uint8Array)`);
      const key = keyOf(raw);
      if (keys.has(key)) throw new SecAggError(`${label}: ${entry.clientId}'s key appears twice in the roster`);
      keys.add(key);
    }
  });
}

/**
 * Coordinator: U1 from the adverts that came in time (already schema-checked), sorted by
 * clientId. An advert with an invalid point, or a key that another advert also holds, is left out
 * with its reason: copying a key is either a bug or an attack on the tab it was copied from, and
 * neither holder can be told from the other, so both go.
 */
export function buildRoster(adverts: ReadonlyMap<string, { cPublicKey: Uint8Array; sPublicKey: Uint8Array }>): {
  roster: RosterEntry[];
  refused: { clientId: string; reason: string }[];
} {
  const holders = new Map<string, number>();
  for (const { cPublicKey, sPublicKey } of adverts.values()) {
    for (const raw of [cPublicKey, sPublicKey]) holders.set(keyOf(raw), (holders.get(keyOf(raw)) ?? 0) + 1);
  }
  const roster: RosterEntry[] = [];
  const refused: { clientId: string; reason: string }[] = [];
  for (const [clientId, { cPublicKey, sPublicKey }] of adverts) {
    const keys = [cPublicKey, sPublicKey];
    if (!CLIENT_ID.test(clientId)) refused.push({ clientId, reason: 'its clientId cannot be used in key derivation' });
    else if (!keys.every(isValidPoint)) refused.push({ clientId, reason: 'a key is not an uncompressed P-256 point' });
    else if (keyOf(cPublicKey) === keyOf(sPublicKey) || keys.some((raw) => holders.get(keyOf(raw))! > 1)) {
      refused.push({ clientId, reason: 'its key is also in another advert' });
    } else roster.push({ clientId, cPublicKey, sPublicKey });
  }
  roster.sort((a, b) => (a.clientId < b.clientId ? -1 : 1));
  return { roster, refused };
}

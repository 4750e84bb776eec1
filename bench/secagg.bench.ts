// Cost of secure aggregation (shared/secagg/) for one round: n tabs × P parameters, all simulated
// in this process with the shared code the tab and the coordinator run, one tab dropping after it
// sent its shares, so that the unmasking includes recovering its pairwise masks.
//
//   share     per tab: fresh keys + advertise + shareKeys (Shamir of b and s_sk, n − 1 ECDH + AES-GCM)
//   receive   per tab: receiveShares (n − 1 AES-GCM decryptions; the keys are kept from shareKeys)
//   mask      per tab: maskInput (n − 1 ECDH, then n AES-256-CTR streams of 4P bytes added mod 2³²)
//   unmask    coordinator: U3 out, reveals in (reveal() itself is a lookup), Shamir reconstruction
//             of n secrets, |U3| self masks and |U3| pairwise masks of the dropped tab off the sum;
//             not the summing of masked inputs as they arrive, which plain FedAvg does too
//   bytes     per surviving tab: everything it sends and receives for secure aggregation beyond its
//             4P-byte update, as Socket.IO encodes it (JSON text + binary attachments; not counted:
//             engine.io's one type byte and the WebSocket frame headers, ~2–10 bytes per part).
//             Twice: packed as wire-codec.ts sends it (one attachment per message, peers by roster
//             index), and as the typed messages of messages.ts would go (one attachment per key,
//             ciphertext and share), the reference that shows what the packing saves.
//
// Tabs run one after another (each step of one tab at a time, its WebCrypto calls concurrent, as in
// a page), so per-tab figures are one tab alone on this machine; the mean over tabs is reported.
// Memory stays O(P): the unmasker keeps one running sum, a tab one masked vector, masks.ts at most
// three streams. Every round is checked bit for bit against the sum of the plain fixed-point vectors.
//
// Where the time goes (2-core EPYC): almost all of it in AES-256-CTR streams, ~10–20 ms per 4 MB
// stream through Node's WebCrypto (0.2–0.4 GB/s; `openssl speed` does 3.4 GB/s on this machine, the
// rest is WebCrypto's copy in and fresh buffer out for every call) plus ~3 ms to add it. 50 × 1M:
// a tab masks with 50 streams (~1 s), the coordinator removes 98 (~2 s) after ~0.3 s of Shamir
// reconstruction (50 secrets, t = 30, from 49 reveals, every extra share checked). Key sharing is
// small next to it: 49 ECDH + AES-GCM and 2 polynomials of degree 29 at 50 points, ~50 ms.
import { performance } from 'node:perf_hooks';
import { Encoder, PacketType } from 'socket.io-parser';
import { encodeFixedPoint, fixedPointScale } from '../shared/secagg/fixed-point.ts';
import type { EncryptedShares, ForwardedSharesMessage, RosterMessage } from '../shared/secagg/messages.ts';
import { SecAggParticipant } from '../shared/secagg/participant.ts';
import { advertToWire, forwardToWire, revealToWire, rosterToWire, sharesToWire } from '../shared/secagg/wire-codec.ts';
import { buildRoster, minimumThreshold } from '../shared/secagg/roster.ts';
import { SecureSumUnmasker } from '../shared/secagg/unmasker.ts';
import { createRng } from '../shared/fl/rng.ts';
import { benchVector, type BenchRow } from './measure.ts';

const CONFIGS = [
  { tabs: 10, params: 100_000 },
  { tabs: 10, params: 1_000_000 },
  { tabs: 50, params: 100_000 },
  { tabs: 50, params: 1_000_000 },
];
/** The settings default (secAggThreshold), raised to the tabs' floor of more than half. */
const THRESHOLD_FRACTION = 0.6;
const CLIP_NORM = 1;

// Targets. Masking and unmasking are AES-CTR streams over the whole vector, so they scale with
// n · P: the budget at 50 × 1M (2 s per tab, 10 s for the coordinator) is scaled down linearly,
// with a floor for the fixed costs. Key sharing is O(n) ECDH and O(n · t) Shamir work per tab.
// Bytes are O(n) per tab: the budget is 1 KB per roster member.
const MASK_SECONDS_AT_50_BY_1M = 2;
const UNMASK_SECONDS_AT_50_BY_1M = 10;
const SHARE_TARGET_SECONDS = 0.5;
const RECEIVE_TARGET_SECONDS = 0.2;
const BYTES_PER_MEMBER_TARGET = 1024;
const scaledTarget = (atFull: number, tabs: number, params: number, floor: number) => Math.max(floor, (atFull * tabs * params) / (50 * 1_000_000));

const encoder = new Encoder();
/** Bytes of one Socket.IO event carrying `message`: the JSON text (UTF-8) plus every binary attachment. */
function socketIoBytes(event: string, message: unknown): number {
  const parts = encoder.encode({ type: PacketType.EVENT, nsp: '/', data: [event, message] }) as (string | Uint8Array)[];
  return parts.reduce((sum, part) => sum + (typeof part === 'string' ? Buffer.byteLength(part) : part.byteLength), 0);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function oneRound(tabCount: number, params: number): Promise<BenchRow[]> {
  const at = { round: 1, attempt: 1 };
  const ids = Array.from({ length: tabCount }, (_, k) => `tab${String(k).padStart(3, '0')}`);
  const dropped = ids[Math.floor(tabCount / 2)]; // sends its shares, never its masked input
  const label = `${tabCount} tabs × ${params >= 1e6 ? `${params / 1e6}M` : `${params / 1e3}k`}`;
  const shareSeconds = new Map(ids.map((id) => [id, 0]));
  const receiveSeconds: number[] = [];
  const maskSeconds: number[] = [];
  const packedBytes = new Map(ids.map((id) => [id, 0]));
  const typedBytes = new Map(ids.map((id) => [id, 0]));
  /** One message to or from `id`: `typed` as messages.ts has it, `packed` as wire-codec.ts sends it. */
  const count = (id: string, event: string, typed: unknown, packed: unknown) => {
    typedBytes.set(id, typedBytes.get(id)! + socketIoBytes(event, typed));
    packedBytes.set(id, packedBytes.get(id)! + socketIoBytes(event, packed));
  };
  const time = async <T>(add: (seconds: number) => void, run: () => Promise<T> | T): Promise<T> => {
    const startMs = performance.now();
    const result = await run();
    add((performance.now() - startMs) / 1000);
    return result;
  };
  const addShare = (id: string) => (s: number) => shareSeconds.set(id, shareSeconds.get(id)! + s);

  // Step 0: fresh keys, adverts.
  const tabs = new Map<string, SecAggParticipant>();
  const adverts = new Map<string, { cPublicKey: Uint8Array; sPublicKey: Uint8Array }>();
  for (const clientId of ids) {
    const { tab, advert } = await time(addShare(clientId), async () => {
      const tab = await SecAggParticipant.create({ clientId, ...at });
      return { tab, advert: tab.advertise() };
    });
    tabs.set(clientId, tab);
    adverts.set(clientId, advert);
    count(clientId, 'secagg:keys', advert, advertToWire(advert));
  }

  // Step 1: the roster out, every tab's encrypted shares in.
  const { roster } = buildRoster(adverts);
  const threshold = Math.max(minimumThreshold(roster.length), Math.ceil(THRESHOLD_FRACTION * roster.length));
  const rosterMessage: RosterMessage = { ...at, threshold, clients: roster };
  const rosterIds = roster.map((e) => e.clientId);
  const rosterWire = rosterToWire(rosterMessage);
  const sent = new Map<string, EncryptedShares>();
  for (const id of ids) {
    count(id, 'secagg:roster', rosterMessage, rosterWire);
    const shares = await time(addShare(id), () => tabs.get(id)!.shareKeys(rosterMessage));
    sent.set(id, shares);
    count(id, 'secagg:shares', shares, sharesToWire(shares, rosterIds));
  }

  // Step 2: U2 (everyone) and the ciphertexts addressed to each tab (with how to encode its input).
  const scale = fixedPointScale({ maxAbsSum: tabCount * CLIP_NORM });
  const shared = [...ids].sort();
  const unmasker = new SecureSumUnmasker({ ...at, threshold, roster, shared, length: params });
  for (const id of ids) {
    const forwarded: ForwardedSharesMessage = {
      ...at,
      shared,
      shares: [...sent].flatMap(([from, msg]) => msg.shares.filter((s) => s.to === id).map((s) => ({ from, ciphertext: s.ciphertext }))),
    };
    count(id, 'secagg:forward', forwarded, forwardToWire(forwarded, rosterIds, { scale, weight: 1, bitNoiseStd: 0, noiseStd: 0 }));
    await time((s) => receiveSeconds.push(s), () => tabs.get(id)!.receiveShares(forwarded));
  }

  // Step 3: each survivor masks its own distinct vector (made untimed, one at a time), the coordinator sums.
  const rounding = createRng(tabCount * 7 + params);
  const expected = new Uint32Array(params);
  for (const [k, id] of ids.entries()) {
    if (id === dropped) continue;
    const plain = encodeFixedPoint(benchVector(params, 1000 + k, CLIP_NORM / Math.sqrt(params)), scale, rounding.next);
    for (let i = 0; i < params; i++) expected[i] += plain[i];
    const masked = await time((s) => maskSeconds.push(s), () => tabs.get(id)!.maskInput(plain));
    unmasker.addMaskedInput(id, masked);
  }

  // Step 4: U3 out, reveals in, unmask.
  const survivors = ids.filter((id) => id !== dropped);
  const unmaskStartMs = performance.now();
  const request = unmasker.unmaskRequest();
  for (const id of survivors) {
    count(id, 'secagg:unmask', request, request);
    const reveal = tabs.get(id)!.reveal(request);
    count(id, 'secagg:reveal', reveal, revealToWire(reveal, rosterIds));
    unmasker.addReveal(id, reveal);
  }
  const { sum, recovered } = await unmasker.unmask();
  const unmaskSeconds = (performance.now() - unmaskStartMs) / 1000;
  if (recovered.length !== 1 || sum.some((x, i) => x !== expected[i])) throw new Error(`secagg bench ${label}: the unmasked sum is not the plain sum`);

  const bytesPerTab = (bytes: Map<string, number>) => mean(survivors.map((id) => bytes.get(id)!));
  return [
    { name: `secagg ${label}: share (keys + advertise + shareKeys), mean per tab`, figure: mean([...shareSeconds.values()]), unit: 's', target: SHARE_TARGET_SECONDS, targetIs: 'atMost' },
    { name: `secagg ${label}: receiveShares, mean per tab`, figure: mean(receiveSeconds), unit: 's', target: RECEIVE_TARGET_SECONDS, targetIs: 'atMost' },
    { name: `secagg ${label}: maskInput, mean per tab`, figure: mean(maskSeconds), unit: 's', target: scaledTarget(MASK_SECONDS_AT_50_BY_1M, tabCount, params, 0.1), targetIs: 'atMost' },
    { name: `secagg ${label}: coordinator unmask (1 tab recovered)`, figure: unmaskSeconds, unit: 's', target: scaledTarget(UNMASK_SECONDS_AT_50_BY_1M, tabCount, params, 0.5), targetIs: 'atMost' },
    { name: `secagg ${label}: extra bytes per surviving tab, sent + received (wire-codec.ts)`, figure: bytesPerTab(packedBytes), unit: 'B', target: BYTES_PER_MEMBER_TARGET * tabCount, targetIs: 'atMost' },
    { name: `secagg ${label}: the same as typed messages, one attachment per field (reference)`, figure: bytesPerTab(typedBytes), unit: 'B' },
  ];
}

export async function secagg(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const { tabs, params } of CONFIGS) rows.push(...(await oneRound(tabs, params)));
  return rows;
}

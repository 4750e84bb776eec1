// The protocol table: every Socket.IO event between a tab (or the dashboard) and the coordinator,
// one row each: its direction, the TypeBox schema of its payload (binary fields with their exact
// or largest size), and its acknowledgement. Everything else is derived from this table: the
// typed event maps both ends compile against, the list of events the coordinator knows, the
// cheap shape gate and the parsing (parse.ts), the secure-aggregation codec's types, and the
// largest message the transport lets through. A new message is one row here and one emit.
//
// Weights and secure-aggregation payloads always travel as binary, never as JSON numbers.
import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { MODEL_NAMES, MODEL_SPECS } from '../model-spec.ts';
import { encodedByteLength } from '../wire.ts';
import { CLIENT_ID_PATTERN, MAX_SECAGG_CLIENTS, PUBLIC_KEY_BYTES, REVEAL_RECORD_BYTES, SECURE_INPUT_EXTRA_VALUES, SHARE_RECORD_BYTES } from '../secagg/messages.ts';
import { Binary } from './binary.ts';
import { ATTACK_MODES, BACKENDS, literals, MAX_EXAMPLES_PER_TAB, RoundMetricsSchema, RunStateSchema } from './records.ts';

const Round = Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 });
const Attempt = Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 });
const Examples = Type.Integer({ minimum: 1, maximum: MAX_EXAMPLES_PER_TAB });
/** Mean training loss a tab may report; absent where the tab keeps its statistics to itself (local DP, secure aggregation). */
const Loss = Type.Optional(Type.Number({ minimum: 0, maximum: 1e6 }));
const ClientId = Type.String({ pattern: CLIENT_ID_PATTERN, maxLength: 64 });
const SecAggStep = { round: Round, attempt: Attempt };
const object = <P extends Parameters<typeof Type.Object>[0]>(properties: P) => Type.Object(properties, { additionalProperties: false });

const largestModelParams = Math.max(...Object.values(MODEL_SPECS).map((s) => s.paramCount));
/** An update of the largest model; the exact size for the run's model is checked before decoding. */
const MAX_UPDATE_BYTES = Math.max(...Object.values(MODEL_SPECS).map(encodedByteLength));
const MAX_MASKED_BYTES = 4 * (largestModelParams + SECURE_INPUT_EXTRA_VALUES);

// ── payloads ──────────────────────────────────────────────────────────────────────────────────

export const JoinRequestSchema = object({
  /** The secret this tab was given at its first join: sent again on reconnect to keep its identity and shard. */
  resumeToken: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' })),
  /** The room's code (from the join URL's ?room= or typed in); required when the room has one. */
  roomCode: Type.Optional(Type.String({ maxLength: 32 })),
});

export const ShardInfoSchema = object({
  index: Type.Integer({ minimum: 0 }),
  count: Type.Integer({ minimum: 1 }),
  /** Where the tab fetches its shard (binary, see shared/dataset-format.ts). */
  url: Type.String(),
  /** Which split the shard belongs to (shared/partition.ts dataVersion): a round start with another means "fetch it again". */
  dataVersion: Type.String(),
  /** Federated evaluation: the fraction of the shard the tab holds out (shared/held-out.ts) and never trains on; 0: none. */
  evalFraction: Type.Number({ minimum: 0, maximum: 1 }),
});

export const JoinReplySchema = object({
  /** Public id: what the dashboard and /api/status show. Knowing it gives no power over the tab. */
  clientId: ClientId,
  /** Secret: only this tab holds it; it proves the tab's identity on reconnect. Never shown publicly. */
  resumeToken: Type.String(),
  shard: ShardInfoSchema,
  model: literals(MODEL_NAMES),
  /** Whether the tab may send statistics of its data (label counts, training loss, held-out evaluation): not under local DP or secure aggregation. */
  shareStatistics: Type.Boolean(),
});

export const ReadyReportSchema = object({
  backend: literals(BACKENDS),
  /** Why this backend: "measured fastest: wasm 2,400 ex/s, webgl 1,700 ex/s…" or "forced by ?backend=". */
  backendReason: Type.String({ maxLength: 1000 }),
  numExamples: Examples,
  /** From the page's ?attack= parameter; the dashboard can change it later (admin only). */
  attack: Type.Optional(literals(ATTACK_MODES)),
  /** How many of its examples carry each label (never the examples): the dashboard's histogram. Sums to numExamples. Only where the join reply allows statistics. */
  labelCounts: Type.Optional(Type.Array(Type.Integer({ minimum: 0, maximum: MAX_EXAMPLES_PER_TAB }), { maxItems: 10 })),
  /** Examples held out for federated evaluation, besides the numExamples it trains on; absent: none. */
  heldOutExamples: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_EXAMPLES_PER_TAB })),
});

export const RoundConfigSchema = object({
  localEpochs: Type.Integer({ minimum: 1 }),
  batchSize: Type.Integer({ minimum: 1 }),
  learningRate: Type.Number({ exclusiveMinimum: 0 }),
  /** FedProx: the tab adds (μ/2)·‖w − w_global‖² to its local loss; 0: plain FedAvg. */
  proximalMu: Type.Number({ minimum: 0 }),
  deadlineMs: Type.Integer({ minimum: 0 }),
  /** The tab clips its own delta to this L2 norm before sending (local DP, secure aggregation); 0: it doesn't. */
  clipNorm: Type.Number({ minimum: 0 }),
  /** Local DP: the tab adds N(0, (z · clipNorm)²) per value to its clipped delta; 0: off. */
  localNoiseMultiplier: Type.Number({ minimum: 0 }),
  /** The update goes through secure aggregation (secagg:* events) instead of participant:update. */
  secureAggregation: Type.Boolean(),
  /** Whether the tab may send its training loss and held-out evaluation this round (see JoinReply). */
  shareStatistics: Type.Boolean(),
});

export const RoundStartSchema = object({
  round: Round,
  attempt: Attempt,
  model: literals(MODEL_NAMES),
  /** Global weights, shared/wire.ts format. */
  weights: Binary({ maxBytes: MAX_UPDATE_BYTES }),
  config: RoundConfigSchema,
  /** The split this round trains on (ShardInfo.dataVersion); a tab holding another shard joins again first. */
  dataVersion: Type.String(),
});

export const TrainingProgressSchema = object({
  round: Round,
  epoch: Type.Integer({ minimum: 0, maximum: 10_000 }),
  loss: Loss,
  /** True once training is over and the delta is being sent. */
  uploading: Type.Optional(Type.Boolean()),
});

export const UpdateMessageSchema = object({
  round: Round,
  numExamples: Examples,
  /** Mean local training loss of the last epoch. */
  loss: Loss,
  /** local − global, shared/wire.ts format; checked against the run's model by the wire decoder. */
  delta: Binary({ maxBytes: MAX_UPDATE_BYTES }),
});

export const UpdateAckSchema = Type.Union([object({ accepted: Type.Literal(true) }), object({ accepted: Type.Literal(false), error: Type.String() })]);

/** Largest mean loss a report may claim: far above what clipped cross-entropy can give, far below what overflows a weighted sum. */
export const MAX_EVALUATION_LOSS = 100;

/**
 * Federated evaluation: a tab's figures for the global model of `round` (the one it was sent last,
 * in round r + 1's start or in round:evaluate) on its held-out examples. Not noised, not masked:
 * only where the tab may share statistics.
 */
export const EvaluationReportSchema = object({
  round: Round,
  accuracy: Type.Number({ minimum: 0, maximum: 1 }),
  /** Mean cross-entropy on the held-out examples: the tabs clip probabilities at 1e-7, so it is at most −ln 1e-7 ≈ 16.1. */
  loss: Type.Number({ minimum: 0, maximum: MAX_EVALUATION_LOSS }),
  count: Examples,
});

/** The run's final model, sent to every ready tab that holds out examples so it too gets a federated figure. */
export const EvaluationRequestSchema = object({
  /** The round whose aggregation made this model. */
  round: Round,
  model: literals(MODEL_NAMES),
  /** The split the tab's held-out examples must come from (ShardInfo.dataVersion). */
  dataVersion: Type.String(),
  /** shared/wire.ts format. */
  weights: Binary({ maxBytes: MAX_UPDATE_BYTES }),
});

export const DashboardJoinSchema = object({
  /** The admin token: with it the dashboard sees who took part in each round (admin view). */
  adminToken: Type.Optional(Type.String({ maxLength: 200 })),
});

// Secure aggregation (shared/secagg/: the steps, and wire-codec.ts, which packs the records into
// the one binary field of each message; peers are named by their index in the roster U1).
/** Step 0, tab → coordinator: c ‖ s public keys. */
export const SecAggKeysSchema = object({ ...SecAggStep, keys: Binary({ maxBytes: 2 * PUBLIC_KEY_BYTES, exactBytes: 2 * PUBLIC_KEY_BYTES }) });
/** Step 1, tab → coordinator: one record per peer, [roster index of the peer: u16][ciphertext]. */
export const SecAggSharesSchema = object({ ...SecAggStep, shares: Binary({ maxBytes: (MAX_SECAGG_CLIENTS - 1) * SHARE_RECORD_BYTES }) });
/** Step 3, tab → coordinator: the masked fixed-point vector (little-endian uint32s), and the public loss where statistics are shared. */
export const SecAggMaskedSchema = object({ ...SecAggStep, loss: Loss, masked: Binary({ maxBytes: MAX_MASKED_BYTES }) });
/** Step 4, tab → coordinator: [kind: 0 self-mask share, 1 key share: u8][roster index of whose: u16][share]. */
export const SecAggRevealSchema = object({ ...SecAggStep, shares: Binary({ maxBytes: 2 * MAX_SECAGG_CLIENTS * REVEAL_RECORD_BYTES }) });

/** How a tab turns its clipped delta into the vector it masks (shared/secagg/secure-input.ts). */
export const InputEncodingSchema = object({
  /** Fixed-point scale: values are multiplied by it and rounded stochastically. */
  scale: Type.Number({ exclusiveMinimum: 0 }),
  /** This tab's FedAvg weight w ≤ 1: it sends w·Δ and w, so the sum holds Σ w·Δ and Σ w. */
  weight: Type.Number({ minimum: 0, maximum: 1 }),
  /** Distributed DP: std per value of the noise this tab adds before masking (0: none). */
  noiseStd: Type.Number({ minimum: 0 }),
  /** Distributed DP with adaptive clipping: std of the noise this tab adds to its clip bit (0: none). */
  bitNoiseStd: Type.Number({ minimum: 0 }),
});

const SecAggIds = Type.Array(ClientId, { maxItems: MAX_SECAGG_CLIENTS });
/** Step 1, coordinator → tab: U1, the roster, with each tab's c ‖ s keys in order. */
export const SecAggRosterSchema = object({
  ...SecAggStep,
  threshold: Type.Integer({ minimum: 2 }),
  clientIds: SecAggIds,
  keys: Binary({ maxBytes: MAX_SECAGG_CLIENTS * 2 * PUBLIC_KEY_BYTES }),
});
/** Step 2, coordinator → one tab: U2, the ciphertexts addressed to it ([from index: u16][ciphertext]), and its encoding. */
export const SecAggForwardSchema = object({
  ...SecAggStep,
  shared: SecAggIds,
  shares: Binary({ maxBytes: (MAX_SECAGG_CLIENTS - 1) * SHARE_RECORD_BYTES }),
  encoding: InputEncodingSchema,
});
/** Step 4, coordinator → survivors: U3, the tabs whose masked input came in time (sorted). */
export const SecAggUnmaskSchema = object({ ...SecAggStep, survivors: SecAggIds });

// ── the table ─────────────────────────────────────────────────────────────────────────────────

interface Row {
  /** in: tab or dashboard → coordinator (parsed by the coordinator, parse.ts); out: coordinator → tabs. */
  readonly direction: 'in' | 'out';
  /** What a refusal calls it: "malformed ready report: …". */
  readonly what: string;
  readonly payload: TSchema;
  /** The acknowledgement the sender may ask for, and whether it must. */
  readonly ack?: { readonly reply: TSchema; readonly required: boolean };
}

const inbound = <P extends TObject, A extends Row['ack'] = undefined>(what: string, payload: P, ack?: A) => ({ direction: 'in' as const, what, payload, ack: ack as A });
const outbound = <P extends TSchema>(what: string, payload: P) => ({ direction: 'out' as const, what, payload, ack: undefined });

export const MESSAGES = {
  'participant:join': inbound('join', JoinRequestSchema, { reply: Type.Union([JoinReplySchema, object({ error: Type.String() })]), required: true }),
  'participant:ready': inbound('ready report', ReadyReportSchema),
  'participant:progress': inbound('progress report', TrainingProgressSchema),
  'participant:update': inbound('update', UpdateMessageSchema, { reply: UpdateAckSchema, required: false }),
  /** Federated evaluation: the tab's figures on the last global model it was sent; refused with flock:error. */
  'participant:evaluation': inbound('evaluation report', EvaluationReportSchema),
  'dashboard:join': inbound('dashboard join', DashboardJoinSchema),
  /** Secure aggregation's four steps; each is answered with flock:error when refused. */
  'secagg:keys': inbound('secure aggregation keys', SecAggKeysSchema),
  'secagg:shares': inbound('secure aggregation shares', SecAggSharesSchema),
  'secagg:masked-update': inbound('masked update', SecAggMaskedSchema, { reply: UpdateAckSchema, required: false }),
  'secagg:reveal': inbound('secure aggregation reveal', SecAggRevealSchema),

  'round:start': outbound('round start', RoundStartSchema),
  /** A round's public record (server/release-view.ts decides what of it is public). */
  'round:done': outbound('round record', RoundMetricsSchema),
  /** Federated evaluation of the run's final model (earlier models arrive in round:start): answer with participant:evaluation. */
  'round:evaluate': outbound('evaluation request', EvaluationRequestSchema),
  /** Sent to the dashboard on every change. */
  state: outbound('run state', RunStateSchema),
  /** A problem with something this socket sent; also logged on the coordinator. */
  'flock:error': outbound('error', Type.String()),
  /** The admin switched this tab into (or out of) an attacker; applies from its next round. */
  'participant:attack': outbound('attack mode', literals(ATTACK_MODES)),
  /** Secure aggregation: the roster U1, then the shares addressed to this tab with U2, then U3. */
  'secagg:roster': outbound('roster', SecAggRosterSchema),
  'secagg:forward': outbound('forwarded shares', SecAggForwardSchema),
  'secagg:unmask': outbound('unmask request', SecAggUnmaskSchema),
} as const satisfies Record<string, Row>;

type Messages = typeof MESSAGES;
export type MessageName = keyof Messages;
export type InboundName = { [K in MessageName]: Messages[K]['direction'] extends 'in' ? K : never }[MessageName];
export type OutboundName = Exclude<MessageName, InboundName>;
/** The payload of an event, as the TypeScript type its schema describes. */
export type Payload<K extends MessageName> = Static<Messages[K]['payload']>;
/** The acknowledgement's reply of an event that has one. */
export type AckReply<K extends MessageName> = Messages[K]['ack'] extends { reply: infer R extends TSchema } ? Static<R> : never;
type AckOf<K extends MessageName> = [AckReply<K>] extends [never] ? never : (reply: AckReply<K>) => void;
type Handler<K extends MessageName> = [AckOf<K>] extends [never] ? (payload: Payload<K>) => void : (payload: Payload<K>, ack: AckOf<K>) => void;

/** Socket.IO's typed event maps: what a tab may emit, and what the coordinator emits. */
export type ClientToServerEvents = { [K in InboundName]: Handler<K> };
export type ServerToClientEvents = { [K in OutboundName]: Handler<K> };

export const INBOUND_EVENTS: ReadonlySet<string> = new Set(
  (Object.keys(MESSAGES) as MessageName[]).filter((name) => MESSAGES[name].direction === 'in'),
);

/** Largest non-binary part of a message the coordinator accepts (checked before parsing). */
export const MAX_METADATA_BYTES = 4096;

export type JoinRequest = Payload<'participant:join'>;
export type JoinReply = Static<typeof JoinReplySchema>;
export type ShardInfo = Static<typeof ShardInfoSchema>;
export type ReadyReport = Payload<'participant:ready'>;
export type RoundConfig = Static<typeof RoundConfigSchema>;
export type RoundStart = Payload<'round:start'>;
export type TrainingProgress = Payload<'participant:progress'>;
export type UpdateMessage = Payload<'participant:update'>;
export type UpdateAck = Static<typeof UpdateAckSchema>;
export type EvaluationReport = Payload<'participant:evaluation'>;
export type EvaluationRequest = Payload<'round:evaluate'>;
export type AdvertWire = Payload<'secagg:keys'>;
export type SharesWire = Payload<'secagg:shares'>;
export type MaskedInputWire = Payload<'secagg:masked-update'>;
export type RevealWire = Payload<'secagg:reveal'>;
export type RosterWire = Payload<'secagg:roster'>;
export type ForwardWire = Payload<'secagg:forward'>;
export type UnmaskWire = Payload<'secagg:unmask'>;
export type InputEncoding = Static<typeof InputEncodingSchema>;

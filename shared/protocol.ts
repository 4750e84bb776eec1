// Typed Socket.IO event maps shared by the coordinator, the participant page and
// the dashboard. Weights always travel as binary (ArrayBuffer), never as JSON numbers.
import { Type, type Static } from '@sinclair/typebox';
import type { ModelName } from './model-spec.ts';
import type { Settings } from './settings.ts';
import type { AdvertWire, ForwardWire, MaskedInputWire, RevealWire, RosterWire, SharesWire, UnmaskWire } from './secagg/wire-codec.ts';
import type { FederatedEvaluation } from './fl/federated-evaluation.ts';

export const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/**
 * Attack simulation, for teaching and testing robust aggregation (shared/fl/attacks.ts):
 * sign-flip sends −10 × its delta, scale sends 10 ×, gaussian sends noise of 10 × its delta's
 * scale, label-flip trains on labels 9 − y. 'none' is an honest tab.
 */
export const ATTACK_MODES = ['none', 'sign-flip', 'scale', 'gaussian', 'label-flip'] as const;
export type AttackMode = (typeof ATTACK_MODES)[number];

/** Most examples one tab may claim: its FedAvg weight is bounded by this. */
export const MAX_EXAMPLES_PER_TAB = 10_000_000;

export type Phase = 'idle' | 'waiting' | 'selecting' | 'training' | 'aggregating' | 'evaluating' | 'done' | 'stopped';

/**
 * joining: loading its shard and picking a backend · idle: ready, not in a round ·
 * training / uploading: in the current round · submitted: its update was accepted ·
 * late: missed the last round's deadline · dropped: left in the middle of a round.
 */
export type ClientStatus = 'joining' | 'idle' | 'training' | 'uploading' | 'submitted' | 'late' | 'dropped';

export interface ShardInfo {
  index: number;
  count: number;
  /** Where the tab fetches its shard (binary, see shared/dataset-format.ts). */
  url: string;
  /** Which split the shard belongs to (shared/partition.ts dataVersion): a round start with another means "fetch it again". */
  dataVersion: string;
  /** Federated evaluation: the fraction of the shard the tab holds out (shared/held-out.ts) and never trains on; 0: none. */
  evalFraction: number;
}

// Messages a tab sends: one TypeBox schema each is both the wire check (server/message-validation.ts)
// and the TypeScript type, so the two cannot disagree.
export const JoinRequestSchema = Type.Object(
  {
    /** The secret this tab was given at its first join: sent again on reconnect to keep its identity and shard. */
    resumeToken: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' })),
    /** The room's code (from the join URL's ?room= or typed in); required when the room has one. */
    roomCode: Type.Optional(Type.String({ maxLength: 32 })),
  },
  { additionalProperties: false },
);
export type JoinRequest = Static<typeof JoinRequestSchema>;

export interface JoinReply {
  /** Public id: what the dashboard and /api/status show. Knowing it gives no power over the tab. */
  clientId: string;
  /** Secret: only this tab holds it; it proves the tab's identity on reconnect. Never shown publicly. */
  resumeToken: string;
  shard: ShardInfo;
  model: ModelName;
}

export const ReadyReportSchema = Type.Object(
  {
    backend: Type.Union(BACKENDS.map((b) => Type.Literal(b))),
    /** Why this backend: "measured fastest: wasm 2,400 ex/s, webgl 1,700 ex/s…" or "forced by ?backend=". */
    backendReason: Type.String({ maxLength: 1000 }),
    numExamples: Type.Integer({ minimum: 1, maximum: MAX_EXAMPLES_PER_TAB }),
    /** From the page's ?attack= parameter; the dashboard can change it later (admin only). */
    attack: Type.Optional(Type.Union(ATTACK_MODES.map((m) => Type.Literal(m)))),
    /** How many of its examples carry each label (never the examples): the dashboard's histogram. Sums to numExamples. */
    labelCounts: Type.Optional(Type.Array(Type.Integer({ minimum: 0, maximum: MAX_EXAMPLES_PER_TAB }), { maxItems: 10 })),
    /** Examples held out for federated evaluation, besides the numExamples it trains on; absent: none. */
    heldOutExamples: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_EXAMPLES_PER_TAB })),
  },
  { additionalProperties: false },
);
export type ReadyReport = Static<typeof ReadyReportSchema>;

export interface RoundConfig {
  localEpochs: number;
  batchSize: number;
  learningRate: number;
  /** FedProx: the tab adds (μ/2)·‖w − w_global‖² to its local loss; 0: plain FedAvg. */
  proximalMu: number;
  deadlineMs: number;
  /** The tab clips its own delta to this L2 norm before sending (local DP, secure aggregation); 0: it doesn't. */
  clipNorm: number;
  /** Local DP: the tab adds N(0, (z · clipNorm)²) per value to its clipped delta; 0: off. */
  localNoiseMultiplier: number;
  /** The update goes through secure aggregation (secagg:* events) instead of participant:update. */
  secureAggregation: boolean;
}

export interface RoundStart {
  round: number;
  attempt: number;
  model: ModelName;
  /** Global weights, shared/wire.ts format. */
  weights: ArrayBuffer;
  config: RoundConfig;
  /** The split this round trains on (ShardInfo.dataVersion); a tab holding another shard joins again first. */
  dataVersion: string;
}

export const TrainingProgressSchema = Type.Object(
  {
    round: Type.Integer({ minimum: 1 }),
    epoch: Type.Integer({ minimum: 0, maximum: 10_000 }),
    loss: Type.Number(),
    /** True once training is over and the delta is being sent. */
    uploading: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type TrainingProgress = Static<typeof TrainingProgressSchema>;

/** An update's metadata; `delta` (local − global, shared/wire.ts format) is checked by the wire decoder. */
export const UpdateMessageSchema = Type.Object(
  {
    round: Type.Integer({ minimum: 1 }),
    numExamples: Type.Integer({ minimum: 1, maximum: MAX_EXAMPLES_PER_TAB }),
    /** Mean local training loss of the last epoch. */
    loss: Type.Number(),
    delta: Type.Unknown(),
  },
  { additionalProperties: false },
);
export type UpdateMessage = Omit<Static<typeof UpdateMessageSchema>, 'delta'> & { delta: ArrayBuffer };

export const AttackRequestSchema = Type.Object(
  { mode: Type.Union(ATTACK_MODES.map((m) => Type.Literal(m))) },
  { additionalProperties: false },
);

export type UpdateAck = { accepted: true } | { accepted: false; error: string };

// Secure aggregation's messages from a tab: round and attempt, one binary field (checked by
// shared/secagg/wire-codec.ts for its exact size), and for the masked update the public loss.
const SecAggStep = { round: Type.Integer({ minimum: 1 }), attempt: Type.Integer({ minimum: 1 }) };
export const SecAggKeysSchema = Type.Object({ ...SecAggStep, keys: Type.Unknown() }, { additionalProperties: false });
export const SecAggSharesSchema = Type.Object({ ...SecAggStep, shares: Type.Unknown() }, { additionalProperties: false });
export const SecAggMaskedSchema = Type.Object({ ...SecAggStep, loss: Type.Number(), masked: Type.Unknown() }, { additionalProperties: false });
export const SecAggRevealSchema = Type.Object({ ...SecAggStep, shares: Type.Unknown() }, { additionalProperties: false });

/** Largest mean loss a report may claim: far above what clipped cross-entropy can give, far below what overflows a weighted sum. */
export const MAX_EVALUATION_LOSS = 100;

/**
 * Federated evaluation: a tab's figures for the global model of `round` (the one it was sent last,
 * in round r + 1's start or in round:evaluate) on its held-out examples. Not noised, not masked.
 */
export const EvaluationReportSchema = Type.Object(
  {
    round: Type.Integer({ minimum: 1 }),
    accuracy: Type.Number({ minimum: 0, maximum: 1 }),
    /** Mean cross-entropy on the held-out examples: the tabs clip probabilities at 1e-7, so it is at most −ln 1e-7 ≈ 16.1. */
    loss: Type.Number({ minimum: 0, maximum: MAX_EVALUATION_LOSS }),
    count: Type.Integer({ minimum: 1, maximum: MAX_EXAMPLES_PER_TAB }),
  },
  { additionalProperties: false },
);
export type EvaluationReport = Static<typeof EvaluationReportSchema>;

/** The run's final model, sent to every ready tab that holds out examples so it too gets a federated figure. */
export interface EvaluationRequest {
  /** The round whose aggregation made this model. */
  round: number;
  model: ModelName;
  /** The split the tab's held-out examples must come from (ShardInfo.dataVersion). */
  dataVersion: string;
  /** shared/wire.ts format. */
  weights: ArrayBuffer;
}

export interface RoundMetrics {
  round: number;
  attempt: number;
  /** The figures the run is judged by (targetAccuracy): see accuracySource. */
  accuracy: number;
  loss: number;
  /** Where accuracy and loss come from: the coordinator's test set, or (centralEvaluation off) the tabs' federated evaluation when the round was decided. */
  accuracySource: 'test-set' | 'federated';
  /** The tabs' reports on this round's model, weighted by count; filled in as they arrive; null before the first. */
  federatedEvaluation: FederatedEvaluation | null;
  participants: number;
  selected: number;
  /** Total FedAvg weight (examples, after the cap). */
  totalWeight: number;
  /** Std per value of all the Gaussian noise on the mean delta: central, distributed and local (0 without DP). */
  noiseStd: number;
  /** L2 norm this round's deltas were clipped to (it moves with adaptive clipping); null without clipping. */
  clipNorm: number | null;
  /** Adaptive clipping: the fraction of updates whose norm was ≤ clipNorm (noised under DP); null when C is fixed. */
  unclippedFraction: number | null;
  /** Central DP of this round and the run's budget after it; null without central noise. */
  privacy: RoundPrivacy | null;
  /** Local DP (each tab noised its own update); null when off. */
  localPrivacy: RoundLocalPrivacy | null;
  /** Secure aggregation's bookkeeping; null when off. */
  secureAggregation: RoundSecureAggregation | null;
  durationMs: number;
  /** Who answered in time, who missed the deadline, who left mid-round (clientIds). */
  answered: string[];
  late: string[];
  dropped: string[];
  /** The aggregation rule, e.g. "median"; and whose updates it left out or counted for less. */
  aggregation: string;
  discarded: string[];
  downweighted: string[];
  /** Bytes on the wire this round (all tabs): weights sent out, updates received. */
  bytesSent: number;
  bytesReceived: number;
}

/**
 * Central DP-FedAvg (McMahan et al. 2018): Poisson-sampled tabs, clipped deltas summed with
 * weights ≤ 1, N(0, (noiseMultiplier · clipNorm)²) added to the sum, divided by expectedWeight.
 */
export interface RoundPrivacy {
  /** z the accountant charges for this round (with adaptive clipping: the combined one). */
  noiseMultiplier: number;
  /** q: the probability each tab of the population had of taking part. */
  samplingRate: number;
  /** The fixed denominator W = q × (the population's total weight). */
  expectedWeight: number;
  /** Std per value of the noise added to the sum of clipped deltas. */
  noiseStdOnSum: number;
  /** (ε, δ) the run has spent after this round, and the Rényi order that gave that ε. */
  epsilon: number;
  delta: number;
  order: number;
  /** Rounds charged to the budget so far (this one included). */
  roundsSpent: number;
  /** The budget (settings.targetEpsilon); null when there is none. */
  targetEpsilon: number | null;
}

/** Local DP: every tab clipped its delta and added Gaussian noise before sending. */
export interface RoundLocalPrivacy {
  noiseMultiplier: number;
  clipNorm: number;
  /** Std per value each tab added. */
  noiseStdPerTab: number;
  /** Std per value of that noise once averaged into the mean delta. */
  noiseStdOnMean: number;
  /** (ε, δ) of one tab that took part in every round so far (replace-one adjacency: sensitivity 2C). */
  epsilonPerTab: number;
  delta: number;
}

/** Bonawitz et al. 2017: counts per step of this round's secure aggregation. */
export interface RoundSecureAggregation {
  /** Shares needed to unmask (t of n). */
  threshold: number;
  /** Tabs that sent keys (U1), shares (U2), a masked update (U3), and their shares at the end. */
  advertised: number;
  shared: number;
  masked: number;
  revealed: number;
  /** Tabs that dropped after sharing (U2 \ U3): their masks were removed from the sum with the survivors' shares. */
  recovered: number;
  /** Each tab added its share of the central noise before masking: the coordinator never saw a noise-free sum. */
  distributedNoise: boolean;
}

/** The run's privacy budget as it stands (central DP only). */
export interface PrivacyBudget {
  epsilon: number;
  delta: number;
  roundsSpent: number;
  targetEpsilon: number | null;
  noiseMultiplier: number;
  /** C the next round clips to (it moves with adaptive clipping). */
  clipNorm: number;
  samplingRate: number;
}

export interface ClientView {
  /** Public id; the tab's secret resume token is never shown. */
  clientId: string;
  shard: number;
  backend: BackendName | null;
  backendReason: string;
  numExamples: number;
  status: ClientStatus;
  lastLoss: number | null;
  connected: boolean;
  /** Server time (ms) of its last accepted update. */
  lastUpdateAt: number | null;
  /** Bytes on the wire to and from this tab since it joined. */
  bytesSent: number;
  bytesReceived: number;
  /** Simulated attack this tab runs ('none': honest). */
  attack: AttackMode;
  /** Examples per label, as the tab reported them; null before it did. */
  labelCounts: number[] | null;
  /** Examples it holds out for federated evaluation (never trained on). */
  heldOutExamples: number;
}

/** One evaluated round of a finished run: what the runs-compared chart draws. */
export interface PastRoundPoint {
  round: number;
  accuracy: number;
  /** null when the evaluation's loss was not a finite number (JSON has no NaN). */
  loss: number | null;
}

/** A run of this session that has ended, kept to compare runs side by side (server/past-runs.ts). */
export interface PastRun {
  /** 1, 2, … in the order the runs started; reset does not start the count again. */
  run: number;
  settings: Settings;
  ended: 'done' | 'stopped';
  /** Why it ended, as the run's message said: "done: 20 rounds, accuracy 0.9312". */
  message: string;
  /** Server clock (ms) at its start and its end. */
  startedAt: number;
  endedAt: number;
  /** Its evaluated rounds, in order. */
  rounds: PastRoundPoint[];
}

export interface RunState {
  phase: Phase;
  round: number;
  attempt: number;
  selected: string[];
  answered: string[];
  deadlineAt: number | null;
  message: string;
  settings: Settings;
  modelTitle: string;
  paramCount: number;
  clients: ClientView[];
  history: RoundMetrics[];
  /** The session's finished runs, oldest first (the last 12), for comparing them. */
  pastRuns: PastRun[];
  /** ε spent, δ, and the budget; null without central noise. */
  privacyBudget: PrivacyBudget | null;
  /** Server clock when this state was made: countdowns use deadlineAt − serverNow. */
  serverNow: number;
  /** URLs a participant can open (LAN addresses first when there are any), with the room code in them. */
  joinUrls: string[];
  /** Short code needed to join; null when the room is open. */
  roomCode: string | null;
}

export interface ServerToClientEvents {
  'round:start': (start: RoundStart) => void;
  'round:done': (metrics: RoundMetrics) => void;
  /** Federated evaluation of the run's final model (earlier models arrive in round:start): answer with participant:evaluation. */
  'round:evaluate': (request: EvaluationRequest) => void;
  /** Sent to the dashboard on every change. */
  'state': (state: RunState) => void;
  /** A problem with something this socket sent; also logged on the coordinator. */
  'flock:error': (message: string) => void;
  /** The admin switched this tab into (or out of) an attacker; applies from its next round. */
  'participant:attack': (mode: AttackMode) => void;
  /** Secure aggregation (shared/secagg/): the roster U1, then the shares addressed to this tab with U2, then U3. */
  'secagg:roster': (roster: RosterWire) => void;
  'secagg:shares': (forward: ForwardWire) => void;
  'secagg:unmask': (request: UnmaskWire) => void;
}

export interface ClientToServerEvents {
  'participant:join': (request: JoinRequest, ack: (reply: JoinReply | { error: string }) => void) => void;
  'participant:ready': (report: ReadyReport) => void;
  'participant:progress': (progress: TrainingProgress) => void;
  'participant:update': (update: UpdateMessage, ack: (result: UpdateAck) => void) => void;
  /** Federated evaluation: the tab's figures on the last global model it was sent; refused with flock:error. */
  'participant:evaluation': (report: EvaluationReport) => void;
  'dashboard:join': () => void;
  /** Secure aggregation's four steps; each is answered with flock:error when refused. */
  'secagg:keys': (advert: AdvertWire) => void;
  'secagg:shares': (shares: SharesWire) => void;
  'secagg:masked-update': (update: MaskedInputWire, ack: (result: UpdateAck) => void) => void;
  'secagg:reveal': (reveal: RevealWire) => void;
}

/** Largest non-binary message the coordinator accepts (checked before parsing); weights are checked separately. */
export const MAX_METADATA_BYTES = 4096;

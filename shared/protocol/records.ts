// The records the coordinator keeps and publishes: a round's metrics, a finished run, the run's
// state as the dashboard sees it. One TypeBox schema each is both the TypeScript type and the
// check a checkpoint is read back with (server/run-checkpoints.ts), so a file that lies about
// its history is refused where it is read, never at the first use of a field.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { SettingsSchema } from '../settings.ts';

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

/** What the run is doing (server/run.ts has the transitions). */
export const PHASES = ['idle', 'waiting', 'training', 'aggregating', 'evaluating', 'done', 'stopped'] as const;
export type Phase = (typeof PHASES)[number];

/**
 * joining: loading its shard and picking a backend · idle: ready, not in a round ·
 * training / uploading: in the current round · submitted: its update was accepted ·
 * late: missed the last round's deadline · dropped: left in the middle of a round.
 */
export const CLIENT_STATUSES = ['joining', 'idle', 'training', 'uploading', 'submitted', 'late', 'dropped'] as const;
export type ClientStatus = (typeof CLIENT_STATUSES)[number];

export const literals = <T extends string>(values: readonly T[], options: { description?: string } = {}) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  );
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Count = Type.Integer({ minimum: 0 });
const NonNegative = Type.Number({ minimum: 0 });
const Fraction = Type.Number({ minimum: 0, maximum: 1 });
const Ids = Type.Array(Type.String({ maxLength: 64 }));

/** The tabs' reports on one global model, combined (shared/fl/federated-evaluation.ts). */
export const FederatedEvaluationSchema = Type.Object(
  {
    accuracy: Fraction,
    loss: NonNegative,
    /** Held-out examples over all reporting tabs. */
    count: Count,
    /** Tabs that reported. */
    tabs: Count,
  },
  { additionalProperties: false },
);
export type FederatedEvaluation = Static<typeof FederatedEvaluationSchema>;

/**
 * Central DP-FedAvg (McMahan et al. 2018): Poisson-sampled tabs, clipped deltas summed with
 * weights ≤ 1, N(0, (noiseMultiplier · clipNorm)²) added to the sum, divided by expectedWeight.
 */
export const RoundPrivacySchema = Type.Object(
  {
    /** z the accountant charges for this round (with adaptive clipping: the combined one). */
    noiseMultiplier: NonNegative,
    /** q: the probability each tab of the population had of taking part. */
    samplingRate: Fraction,
    /** The fixed denominator W = q × (the population's total weight). */
    expectedWeight: NonNegative,
    /** Std per value of the noise added to the sum of clipped deltas. */
    noiseStdOnSum: NonNegative,
    /** (ε, δ) the population has spent after this round (every run of the room), and the Rényi order that gave that ε. */
    epsilon: NonNegative,
    delta: Fraction,
    order: Type.Number(),
    /** Rounds charged to the population's ledger so far (this one included). */
    roundsSpent: Count,
    /** The budget (settings.targetEpsilon); null when there is none. */
    targetEpsilon: Nullable(NonNegative),
  },
  { additionalProperties: false },
);
export type RoundPrivacy = Static<typeof RoundPrivacySchema>;

/** Local DP: every tab clipped its delta and added Gaussian noise before sending. */
export const RoundLocalPrivacySchema = Type.Object(
  {
    noiseMultiplier: NonNegative,
    clipNorm: NonNegative,
    /** Std per value each tab added. */
    noiseStdPerTab: NonNegative,
    /** Std per value of that noise once averaged into the mean delta. */
    noiseStdOnMean: NonNegative,
    /** (ε, δ) of the tab that sent the most noised updates so far (replace-one adjacency: sensitivity 2C). */
    epsilonPerTab: NonNegative,
    delta: Fraction,
  },
  { additionalProperties: false },
);
export type RoundLocalPrivacy = Static<typeof RoundLocalPrivacySchema>;

/** Bonawitz et al. 2017: counts per step of this round's secure aggregation. */
export const RoundSecureAggregationSchema = Type.Object(
  {
    /** Shares needed to unmask (t of n). */
    threshold: Count,
    /** Tabs that sent keys (U1), shares (U2), a masked update (U3), and their shares at the end. */
    advertised: Count,
    shared: Count,
    masked: Count,
    revealed: Count,
    /** Tabs that dropped after sharing (U2 \ U3): their masks were removed from the sum with the survivors' shares. */
    recovered: Count,
    /** Each tab added its share of the central noise before masking: the coordinator never saw a noise-free sum. */
    distributedNoise: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type RoundSecureAggregation = Static<typeof RoundSecureAggregationSchema>;

export const RoundMetricsSchema = Type.Object(
  {
    round: Type.Integer({ minimum: 1 }),
    attempt: Type.Integer({ minimum: 1 }),
    /** The figures the run is judged by (targetAccuracy): see accuracySource. */
    accuracy: Fraction,
    loss: Type.Number(),
    /** Where accuracy and loss come from: the coordinator's test set, or (centralEvaluation off) the tabs' federated evaluation when the round was decided. */
    accuracySource: literals(['test-set', 'federated']),
    /** The tabs' reports on this round's model, weighted by count; filled in as they arrive; null before the first. */
    federatedEvaluation: Nullable(FederatedEvaluationSchema),
    participants: Count,
    selected: Count,
    /** Total FedAvg weight (examples, after the cap). */
    totalWeight: NonNegative,
    /** Std per value of all the Gaussian noise on the mean delta: central, distributed and local (0 without DP). */
    noiseStd: NonNegative,
    /** L2 norm this round's deltas were clipped to (it moves with adaptive clipping); null without clipping. */
    clipNorm: Nullable(NonNegative),
    /** Adaptive clipping: the fraction of updates whose norm was ≤ clipNorm (noised under DP); null when C is fixed. */
    unclippedFraction: Nullable(Type.Number()),
    /** Central DP of this round and the population's budget after it; null without central noise. */
    privacy: Nullable(RoundPrivacySchema),
    /** Local DP (each tab noised its own update); null when off. */
    localPrivacy: Nullable(RoundLocalPrivacySchema),
    /** Secure aggregation's bookkeeping; null when off. */
    secureAggregation: Nullable(RoundSecureAggregationSchema),
    durationMs: NonNegative,
    /** Who answered in time, who missed the deadline, who left mid-round (clientIds). */
    answered: Ids,
    late: Ids,
    dropped: Ids,
    /** The aggregation rule, e.g. "median"; and whose updates it left out or counted for less. */
    aggregation: Type.String({ maxLength: 200 }),
    discarded: Ids,
    downweighted: Ids,
    /** Bytes on the wire this round (all tabs): weights sent out, updates received. */
    bytesSent: NonNegative,
    bytesReceived: NonNegative,
  },
  { additionalProperties: false },
);
export type RoundMetrics = Static<typeof RoundMetricsSchema>;

/** The population's privacy budget as it stands (central DP only). */
export const PrivacyBudgetSchema = Type.Object(
  {
    epsilon: NonNegative,
    delta: Fraction,
    roundsSpent: Count,
    targetEpsilon: Nullable(NonNegative),
    noiseMultiplier: NonNegative,
    /** C the next round clips to (it moves with adaptive clipping). */
    clipNorm: NonNegative,
    samplingRate: Fraction,
  },
  { additionalProperties: false },
);
export type PrivacyBudget = Static<typeof PrivacyBudgetSchema>;

export const ClientViewSchema = Type.Object(
  {
    /** Public id; the tab's secret resume token is never shown. */
    clientId: Type.String(),
    shard: Count,
    backend: Nullable(literals(BACKENDS)),
    backendReason: Type.String(),
    numExamples: Count,
    status: literals(CLIENT_STATUSES),
    lastLoss: Nullable(Type.Number()),
    connected: Type.Boolean(),
    /** Server time (ms) of its last accepted update. */
    lastUpdateAt: Nullable(Type.Number()),
    /** Bytes on the wire to and from this tab since it joined; null where they would tell who took part (server/release-view.ts). */
    bytesSent: Nullable(NonNegative),
    bytesReceived: Nullable(NonNegative),
    /** Simulated attack this tab runs ('none': honest). */
    attack: literals(ATTACK_MODES),
    /** Examples per label, as the tab reported them; null before it did. */
    labelCounts: Nullable(Type.Array(Count)),
    /** Examples it holds out for federated evaluation (never trained on). */
    heldOutExamples: Count,
  },
  { additionalProperties: false },
);
export type ClientView = Static<typeof ClientViewSchema>;

/** One evaluated round of a finished run: what the runs-compared chart draws. */
export const PastRoundPointSchema = Type.Object(
  {
    round: Type.Integer({ minimum: 1 }),
    accuracy: Fraction,
    /** null when the evaluation's loss was not a finite number (JSON has no NaN). */
    loss: Nullable(Type.Number()),
  },
  { additionalProperties: false },
);
export type PastRoundPoint = Static<typeof PastRoundPointSchema>;

/** A run of this session that has ended, kept to compare runs side by side (server/past-runs.ts). */
export const PastRunSchema = Type.Object(
  {
    /** 1, 2, … in the order the runs started; reset does not start the count again. */
    run: Type.Integer({ minimum: 1 }),
    settings: SettingsSchema,
    ended: literals(['done', 'stopped']),
    /** Why it ended, as the run's message said: "done: 20 rounds, accuracy 0.9312". */
    message: Type.String({ maxLength: 2000 }),
    /** Server clock (ms) at its start and its end. */
    startedAt: Type.Number(),
    endedAt: Type.Number(),
    /** Its evaluated rounds, in order. */
    rounds: Type.Array(PastRoundPointSchema),
  },
  { additionalProperties: false },
);
export type PastRun = Static<typeof PastRunSchema>;

/** What the population's ledger holds beyond the budget (shared/fl/privacy-ledger.ts). */
export const PrivacyLedgerViewSchema = Type.Object(
  {
    /** Local DP: the tab that sent the most noised updates, over every run; null before any. */
    worstTab: Nullable(Type.Object({ uploads: Count, epsilon: NonNegative }, { additionalProperties: false })),
    /** Explicit resets by the admin, oldest first: when, and what was forgotten. */
    resets: Type.Array(Type.Object({ at: Type.Number(), rounds: Count, uploads: Count }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type PrivacyLedgerView = Static<typeof PrivacyLedgerViewSchema>;

export const RunStateSchema = Type.Object(
  {
    phase: literals(PHASES),
    round: Count,
    attempt: Count,
    /** Who was selected for the round in flight and who answered; empty where who took part is the admin's alone (participationHidden). */
    selected: Ids,
    answered: Ids,
    selectedCount: Count,
    answeredCount: Count,
    /** Under central DP the sample is secret: per-tab participation is shown to the admin only (docs/privacy.md). */
    participationHidden: Type.Boolean(),
    deadlineAt: Nullable(Type.Number()),
    message: Type.String(),
    settings: SettingsSchema,
    modelTitle: Type.String(),
    paramCount: Count,
    clients: Type.Array(ClientViewSchema),
    history: Type.Array(RoundMetricsSchema),
    /** The session's finished runs, oldest first (the last 12), for comparing them. */
    pastRuns: Type.Array(PastRunSchema),
    /** ε the population has spent over every run, δ, and the budget; null without central noise. */
    privacyBudget: Nullable(PrivacyBudgetSchema),
    privacyLedger: PrivacyLedgerViewSchema,
    /** Said before Start when DP cannot work at this room's size (e.g. the noise drowns the update); null otherwise. */
    privacyWarning: Nullable(Type.String()),
    /** Server clock when this state was made: countdowns use deadlineAt − serverNow. */
    serverNow: Type.Number(),
    /** URLs a participant can open (LAN addresses first when there are any), with the room code in them. */
    joinUrls: Type.Array(Type.String()),
    /** Short code needed to join; null when the room is open. */
    roomCode: Nullable(Type.String()),
  },
  { additionalProperties: false },
);
export type RunState = Static<typeof RunStateSchema>;

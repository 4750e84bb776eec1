// What a checkpoint of the coordinator holds, and turning it back into typed values: the run's
// snapshot (run.ts; null when there is none), the next run's settings, the session's past runs and
// the room's tabs (token hashes, never tokens) as JSON; the global model and the server
// optimizer's state (m, v) as binary arrays "global", "serverOptimizer.m" …. The population's
// privacy ledger is not here: it outlives checkpoints (ledger-file.ts). The file format and its
// atomic writes are checkpoint-store.ts's business.
//
// A file with a valid checksum can still hold a run the coordinator must not go on from (a NaN in
// the model, a history of garbage, a model of another size): every check of that is here, in
// verify, so such a file counts as damaged exactly like a bad checksum, and the run resumes from
// an older one. The meta is checked against one schema, RunMetaSchema, built from the records'.
import { KindGuard, Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { createServerOptimizer } from '../shared/fl/server-optimizer.ts';
import { modelSpec } from '../shared/model-spec.ts';
import { literals, PastRunSchema, PHASES, RoundMetricsSchema, type PastRun } from '../shared/protocol/records.ts';
import { resolveSettings, SettingsError, SettingsSchema, type Settings } from '../shared/settings.ts';
import { CheckpointError, CheckpointStore, type Checkpoint } from './checkpoint-store.ts';
import { parsePastRuns, PastRunsError } from './past-runs.ts';
import { SavedRoomSchema, type SavedRoom } from './room.ts';
import type { RunSnapshot } from './run.ts';

/** Bumped when the meta's shape changes; an older checkpoint is then refused with a clear message. */
const RUN_CHECKPOINT_VERSION = 3; // 3: the run apart from the coordinator's settings and past runs; the ledger in its own file
/** Binary arrays of the server optimizer's state are named this + the buffer's name. */
const OPTIMIZER_ARRAY_PREFIX = 'serverOptimizer.';

export interface RunCheckpoint {
  run: RunSnapshot | null;
  /** The next run's settings. */
  settings: Settings;
  pastRuns: PastRun[];
  room: SavedRoom;
  /** The run's global model (of the run's model), or the initial weights of the next run. */
  global: Float32Array;
}

/** Settings as a checkpoint holds them: one added to Flock since the file was written is missing, and takes its default. */
const SavedSettingsSchema = Type.Partial(SettingsSchema);

/** The JSON part of a checkpoint: the run's snapshot without its binary arrays, the next run's settings, the past runs, the room. */
export const RunMetaSchema = Type.Object(
  {
    version: Type.Literal(RUN_CHECKPOINT_VERSION),
    run: Type.Union([
      Type.Object(
        {
          phase: literals(PHASES),
          completedRounds: Type.Integer({ minimum: 0 }),
          message: Type.String(),
          settings: SavedSettingsSchema,
          history: Type.Array(RoundMetricsSchema),
          strategy: Type.Object({ clipNorm: Type.Number({ minimum: 0 }) }, { additionalProperties: false }),
          runStartedAt: Type.Number(),
        },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
    settings: SavedSettingsSchema,
    pastRuns: Type.Array(Type.Object({ ...PastRunSchema.properties, settings: SavedSettingsSchema }, { additionalProperties: false })),
    room: SavedRoomSchema,
  },
  { additionalProperties: false },
);
type RunMeta = Static<typeof RunMetaSchema>;

// Does not compile when RunSnapshot gains or loses a field the meta does not: change RunMetaSchema with it.
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
type MustHold<T extends true> = T;
type _MetaHoldsTheSnapshot = MustHold<SameKeys<NonNullable<RunMeta['run']>, Omit<RunSnapshot, 'serverOptimizer'>>>;

export class RunCheckpoints {
  private readonly store: CheckpointStore;

  constructor(dir: string, log: (level: 'info' | 'warn', message: string) => void) {
    const advice =
      'Restore a checkpoint from a backup to go on with this run, or start with --fresh for a new one: it removes every ' +
      `checkpoint-*.flock file in ${dir} (these too) and starts again from round 0; the tabs join as new tabs, and the room ` +
      'code and admin token are made anew unless given.';
    this.store = new CheckpointStore({ dir, keep: 3, log, advice, verify: (checkpoint) => void decodeRunCheckpoint(checkpoint) });
  }

  /** Copies the model and the optimizer's state at once: the run may move on before the write is done. */
  save(checkpoint: RunCheckpoint): Promise<unknown> {
    const arrays: Record<string, Float32Array> = { global: checkpoint.global.slice() };
    let run: RunMeta['run'] = null;
    if (checkpoint.run) {
      const { serverOptimizer, ...rest } = checkpoint.run;
      run = rest;
      for (const [name, values] of Object.entries(serverOptimizer)) arrays[OPTIMIZER_ARRAY_PREFIX + name] = values.slice();
    }
    const meta: RunMeta = { version: RUN_CHECKPOINT_VERSION, run, settings: checkpoint.settings, pastRuns: checkpoint.pastRuns, room: checkpoint.room };
    return this.store.save({ meta: JSON.parse(JSON.stringify(meta)), arrays });
  }

  /** The newest checkpoint that passes every check; null when there is none; UnusableCheckpointsError when none passes. */
  async load(): Promise<(RunCheckpoint & { path: string }) | null> {
    const latest = await this.store.loadLatest();
    return latest && { ...decodeRunCheckpoint(latest.checkpoint), path: latest.path };
  }

  clear(): Promise<void> {
    return this.store.clear();
  }
}

/** The run a checkpoint holds, every part checked; CheckpointError naming the first field that is not right. */
function decodeRunCheckpoint({ meta, arrays }: Checkpoint): RunCheckpoint {
  const version = (meta as { version?: unknown } | null)?.version;
  if (version !== RUN_CHECKPOINT_VERSION) {
    throw new CheckpointError(`a run checkpoint of format ${JSON.stringify(version) ?? 'unknown'}; this Flock reads format ${RUN_CHECKPOINT_VERSION}`);
  }
  const problem = firstProblem(RunMetaSchema, meta);
  if (problem) throw new CheckpointError(problem);
  const { run, room } = meta as RunMeta;

  const checkedSettings = (where: string, given: unknown): Settings => {
    try {
      return resolveSettings(given);
    } catch (error) {
      if (!(error instanceof SettingsError)) throw error;
      throw new CheckpointError(`${where}: ${error.message}`);
    }
  };
  const settings = checkedSettings('settings', (meta as RunMeta).settings);
  const runSettings = run ? checkedSettings('run.settings', run.settings) : null;
  let pastRuns;
  try {
    pastRuns = parsePastRuns((meta as RunMeta).pastRuns);
  } catch (error) {
    if (!(error instanceof PastRunsError)) throw error;
    throw new CheckpointError(error.message);
  }
  const lastRound = run?.history.at(-1)?.round ?? 0;
  if (run && run.completedRounds !== lastRound) throw new CheckpointError(`run.completedRounds: ${run.completedRounds}, but the history's last round is ${lastRound}`);
  const seen = new Set<string>();
  room.clients.forEach(({ clientId }, i) => {
    if (seen.has(clientId)) throw new CheckpointError(`room.clients[${i}].clientId: ${JSON.stringify(clientId)} twice`);
    seen.add(clientId);
  });

  const { global } = arrays;
  const modelSettings = runSettings ?? settings;
  const paramCount = modelSpec(modelSettings.model).paramCount;
  if (!global) throw new CheckpointError('no "global" array (the model)');
  if (global.length !== paramCount) {
    throw new CheckpointError(`global: ${global.length} values, but the checkpoint's model ${modelSettings.model} has ${paramCount} parameters`);
  }
  const serverOptimizer: Record<string, Float32Array> = {};
  for (const name of Object.keys(arrays)) {
    if (name.startsWith(OPTIMIZER_ARRAY_PREFIX)) serverOptimizer[name.slice(OPTIMIZER_ARRAY_PREFIX.length)] = arrays[name];
    else if (name !== 'global') throw new CheckpointError(`an array "${name}" that no part of a run is saved as`);
  }
  try {
    // The optimizer's own check of what it keeps and at what size, on a throwaway instance.
    createServerOptimizer(modelSettings, run ? paramCount : 0).restore(run ? serverOptimizer : {});
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new CheckpointError(`serverOptimizer: ${error.message}`);
  }
  for (const [name, values] of Object.entries(arrays)) {
    const at = firstNonFinite(values);
    if (at >= 0) throw new CheckpointError(`${name}[${at}] is ${values[at]}`);
  }

  if (!run && Object.keys(serverOptimizer).length > 0) throw new CheckpointError('server optimizer arrays, but no run to go with them');
  return {
    global,
    room,
    settings,
    pastRuns,
    run: run && runSettings ? { ...run, settings: runSettings, serverOptimizer } : null,
  };
}

/** Index of the first NaN or ±Infinity, or -1. */
function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    // x − x is 0 for every finite x, NaN for NaN and ±Infinity.
    if (values[i] - values[i] !== 0) return i;
  }
  return -1;
}

/** The first place `value` breaks `schema`, as "run.history[0].loss: Expected number (got "low")"; null when it fits. */
function firstProblem(schema: TSchema, value: unknown, at = ''): string | null {
  const error = Value.Errors(schema, value).First();
  if (!error) return null;
  const path = at + error.path;
  if (KindGuard.IsUnion(error.schema)) {
    const members = error.schema.anyOf;
    if (members.every((member) => KindGuard.IsLiteral(member))) {
      return withValue(path, `expected one of ${members.map((member) => JSON.stringify(member.const)).join(', ')}`, error.value);
    }
    // Something or null, and not null: what is wrong inside the something.
    const [only, ...others] = members.filter((member) => !KindGuard.IsNull(member));
    if (only && others.length === 0 && error.value !== null) {
      const inner = firstProblem(only, error.value, path);
      if (inner) return inner;
    }
  }
  return withValue(path, error.message, error.value);
}

function withValue(path: string, message: string, value: unknown): string {
  // "/run/history/0/loss" → "run.history[0].loss"
  const field = path.replace(/^\//, '').replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.') || '(meta)';
  return value === undefined ? `${field}: ${message}` : `${field}: ${message} (got ${show(value)})`;
}

function show(value: unknown): string {
  const text = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

// Validates everything a tab sends before it touches state. Metadata is checked
// against schemas; weights are decoded and checked by shared/wire.ts.
import { Type, type TSchema, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { BACKENDS } from '../shared/protocol.ts';
import type { ModelSpec } from '../shared/model-spec.ts';
import { decodeWeights, encodedByteLength, WireError } from '../shared/wire.ts';

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

const JoinSchema = Type.Object(
  {
    clientId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })),
    roomCode: Type.Optional(Type.String({ maxLength: 32 })),
  },
  { additionalProperties: false },
);

const ReadySchema = Type.Object(
  {
    backend: Type.Union(BACKENDS.map((b) => Type.Literal(b))),
    backendReason: Type.String({ maxLength: 1000 }),
    numExamples: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
  },
  { additionalProperties: false },
);

const ProgressSchema = Type.Object(
  {
    round: Type.Integer({ minimum: 1 }),
    epoch: Type.Integer({ minimum: 0, maximum: 10_000 }),
    loss: Type.Number(),
    uploading: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const UpdateMetaSchema = Type.Object(
  {
    round: Type.Integer({ minimum: 1 }),
    numExamples: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
    loss: Type.Number(),
    delta: Type.Unknown(),
  },
  { additionalProperties: false },
);

function check<S extends TSchema>(what: string, schema: S, raw: unknown): Static<S> {
  if (Value.Check(schema, raw)) return raw;
  const first = [...Value.Errors(schema, raw)][0];
  const where = first?.path ? `${first.path.replace(/^\//, '')}: ` : '';
  throw new ProtocolError(`malformed ${what}: ${where}${first?.message ?? 'invalid'}`);
}

function requireFinite(what: string, value: number): void {
  if (!Number.isFinite(value)) throw new ProtocolError(`malformed ${what}: loss must be a finite number, got ${value}`);
}

export const parseJoin = (raw: unknown) => check('join', JoinSchema, raw ?? {});
export const parseReady = (raw: unknown) => check('ready report', ReadySchema, raw);

export function parseProgress(raw: unknown) {
  const progress = check('progress report', ProgressSchema, raw);
  requireFinite('progress report', progress.loss);
  return progress;
}

/** Size limit for one update: the exact encoding of the model, so anything larger is refused before decoding. */
export function maxUpdateBytes(spec: ModelSpec): number {
  return encodedByteLength(spec);
}

export function parseUpdate(raw: unknown, spec: ModelSpec) {
  const meta = check('update', UpdateMetaSchema, raw);
  requireFinite('update', meta.loss);
  const size = ArrayBuffer.isView(meta.delta) || meta.delta instanceof ArrayBuffer ? meta.delta.byteLength : 0;
  if (size > maxUpdateBytes(spec)) {
    throw new ProtocolError(`update rejected: ${size} bytes is over the ${maxUpdateBytes(spec)}-byte limit for ${spec.name}`);
  }
  try {
    return { round: meta.round, numExamples: meta.numExamples, loss: meta.loss, delta: decodeWeights(spec, meta.delta) };
  } catch (error) {
    if (error instanceof WireError) throw new ProtocolError(`update rejected: ${error.message}`);
    throw error;
  }
}

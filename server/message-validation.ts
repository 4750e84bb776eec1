// Validates everything a tab sends before it touches state. Refusing must stay cheap whatever
// the message's size: first a shape check that costs the same for 10 bytes or 10 MB (a plain
// object with a few keys, short strings, binary only where binary belongs), then the schema from
// shared/protocol.ts, then (updates) the wire decoder of shared/wire.ts.
import { type TSchema, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  EvaluationReportSchema,
  JoinRequestSchema,
  ReadyReportSchema,
  SecAggKeysSchema,
  SecAggMaskedSchema,
  SecAggRevealSchema,
  SecAggSharesSchema,
  TrainingProgressSchema,
  UpdateMessageSchema,
} from '../shared/protocol.ts';
import type { AdvertWire, MaskedInputWire, RevealWire, SharesWire } from '../shared/secagg/wire-codec.ts';
import type { ModelSpec } from '../shared/model-spec.ts';
import { decodeWeights, encodedByteLength, WireError } from '../shared/wire.ts';
import { ClientFaultError } from './client-fault.ts';

export class ProtocolError extends ClientFaultError {
  override name = 'ProtocolError';
}

/** More keys than any message has, fewer than would make walking them cost anything. */
const MAX_KEYS = 8;
/** Longest string field in any message (backendReason). */
const MAX_STRING_LENGTH = 1000;
/** Longest list in any message (a ready report's label counts, one per class). */
const MAX_LIST_LENGTH = 16;

const isBinary = (value: unknown) => ArrayBuffer.isView(value) || value instanceof ArrayBuffer;

/**
 * O(1)-ish gate: `raw` must be a plain object of at most MAX_KEYS keys whose values are
 * short strings, numbers, booleans or (only for `binaryKey`) binary. Buffers, arrays and
 * nested objects are refused here, before a schema validator would walk them.
 */
function requirePlainShape(what: string, raw: unknown, binaryKey?: string, listKey?: string): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || isBinary(raw)) {
    throw new ProtocolError(`malformed ${what}: expected an object, got ${describe(raw)}`);
  }
  const proto = Object.getPrototypeOf(raw);
  if (proto !== Object.prototype && proto !== null) throw new ProtocolError(`malformed ${what}: expected a plain object`);
  let keys = 0;
  for (const key in raw) {
    if (++keys > MAX_KEYS) throw new ProtocolError(`malformed ${what}: too many fields`);
    const value = (raw as Record<string, unknown>)[key];
    if (key === binaryKey && isBinary(value)) continue;
    if (key === listKey && Array.isArray(value)) {
      if (value.length > MAX_LIST_LENGTH) throw new ProtocolError(`malformed ${what}: ${key} has more than ${MAX_LIST_LENGTH} entries`);
      continue; // its entries are checked by the schema, which walks at most MAX_LIST_LENGTH of them
    }
    if (typeof value === 'string' && value.length > MAX_STRING_LENGTH) throw new ProtocolError(`malformed ${what}: ${key} is too long`);
    if (typeof value === 'object' && value !== null) throw new ProtocolError(`malformed ${what}: ${key} must not be ${describe(value)}`);
  }
  return raw as Record<string, unknown>;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (isBinary(value)) return `binary (${(value as ArrayBufferLike).byteLength} bytes)`;
  return Array.isArray(value) ? 'an array' : typeof value;
}

function check<S extends TSchema>(what: string, schema: S, raw: unknown): Static<S> {
  if (Value.Check(schema, raw)) return raw;
  const first = [...Value.Errors(schema, raw)][0];
  const where = first?.path ? `${first.path.replace(/^\//, '')}: ` : '';
  throw new ProtocolError(`malformed ${what}: ${where}${first?.message ?? 'invalid'}`);
}

function requireFinite(what: string, value: number): void {
  if (!Number.isFinite(value)) throw new ProtocolError(`malformed ${what}: loss must be a finite number, got ${value}`);
}

export const parseJoin = (raw: unknown) => check('join', JoinRequestSchema, requirePlainShape('join', raw ?? {}));
export const parseReady = (raw: unknown) => check('ready report', ReadyReportSchema, requirePlainShape('ready report', raw, undefined, 'labelCounts'));

export function parseProgress(raw: unknown) {
  const progress = check('progress report', TrainingProgressSchema, requirePlainShape('progress report', raw));
  requireFinite('progress report', progress.loss);
  return progress;
}

/** Federated evaluation: ranges by the schema (accuracy in [0, 1], loss ≥ 0); whether it belongs to this tab and round, in evaluation-reports.ts. */
export function parseEvaluation(raw: unknown) {
  const report = check('evaluation report', EvaluationReportSchema, requirePlainShape('evaluation report', raw));
  requireFinite('evaluation report', report.loss);
  return report;
}

/** Size limit for one update: the exact encoding of the model, so anything larger is refused before decoding. */
export function maxUpdateBytes(spec: ModelSpec): number {
  return encodedByteLength(spec);
}

export function parseUpdate(raw: unknown, spec: ModelSpec) {
  const shaped = requirePlainShape('update', raw, 'delta');
  const size = isBinary(shaped.delta) ? (shaped.delta as ArrayBufferLike).byteLength : 0;
  if (size > maxUpdateBytes(spec)) {
    throw new ProtocolError(`update rejected: ${size} bytes is over the ${maxUpdateBytes(spec)}-byte limit for ${spec.name}`);
  }
  const meta = check('update', UpdateMessageSchema, shaped);
  requireFinite('update', meta.loss);
  try {
    return { round: meta.round, numExamples: meta.numExamples, loss: meta.loss, delta: decodeWeights(spec, meta.delta) };
  } catch (error) {
    if (error instanceof WireError) throw new ProtocolError(`update rejected: ${error.message}`);
    throw error;
  }
}

// Secure aggregation: the shape and the schema here; the binary's exact size in wire-codec.ts,
// the protocol in server/secure-round.ts.
function parseSecAgg<T>(what: string, schema: TSchema, binaryKey: string, raw: unknown): T {
  const shaped = requirePlainShape(what, raw, binaryKey);
  if (!isBinary(shaped[binaryKey])) throw new ProtocolError(`malformed ${what}: ${binaryKey} must be binary`);
  return check(what, schema, shaped) as T;
}

export const parseSecAggKeys = (raw: unknown) => parseSecAgg<AdvertWire>('secure aggregation keys', SecAggKeysSchema, 'keys', raw);
export const parseSecAggShares = (raw: unknown) => parseSecAgg<SharesWire>('secure aggregation shares', SecAggSharesSchema, 'shares', raw);
export const parseSecAggReveal = (raw: unknown) => parseSecAgg<RevealWire>('secure aggregation reveal', SecAggRevealSchema, 'shares', raw);

export function parseSecAggMasked(raw: unknown, spec: ModelSpec): MaskedInputWire {
  const wire = parseSecAgg<MaskedInputWire>('masked update', SecAggMaskedSchema, 'masked', raw);
  requireFinite('masked update', wire.loss);
  const size = (wire.masked as ArrayBufferLike).byteLength;
  // The update's own size plus a few words: refused before anything reads it.
  if (size > maxUpdateBytes(spec) + 64) throw new ProtocolError(`masked update rejected: ${size} bytes is over the limit for ${spec.name}`);
  return wire;
}

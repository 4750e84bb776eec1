// A binary field in a message schema. Over Socket.IO binary arrives as a Buffer in Node (a
// Uint8Array) and as an ArrayBuffer in the page; both are accepted, nothing else. The size bound
// is part of the schema, so the cheap gate (parse.ts) can refuse an oversized field before any
// decoder reads it. Exact sizes that depend on the run (the model, the roster) are checked by
// the field's decoder (shared/wire.ts, shared/secagg/wire-codec.ts).
import { Kind, TypeRegistry, Type, type TUnsafe } from '@sinclair/typebox';

export type BinaryValue = ArrayBuffer | Uint8Array;

export interface BinaryOptions {
  /** Most bytes the field may hold. */
  maxBytes: number;
  /** Exactly this many bytes (a key, say); implies maxBytes. */
  exactBytes?: number;
}

export type TBinary = TUnsafe<BinaryValue> & BinaryOptions;

const BINARY_KIND = 'FlockBinary';

export const isBinary = (value: unknown): value is BinaryValue => value instanceof Uint8Array || value instanceof ArrayBuffer;

export const byteLengthOf = (value: BinaryValue): number => value.byteLength;

TypeRegistry.Set<TBinary>(BINARY_KIND, (schema, value) => {
  if (!isBinary(value)) return false;
  const bytes = value.byteLength;
  return schema.exactBytes !== undefined ? bytes === schema.exactBytes : bytes <= schema.maxBytes;
});

export function Binary(options: BinaryOptions): TBinary {
  return Type.Unsafe<BinaryValue>({ [Kind]: BINARY_KIND, ...options }) as TBinary;
}

export function isBinarySchema(schema: unknown): schema is TBinary {
  return typeof schema === 'object' && schema !== null && (schema as Record<symbol, unknown>)[Kind] === BINARY_KIND;
}

/**
 * Binary as a plain Uint8Array view, without a copy: whoever keeps bytes copies them. (A Node
 * Buffer's slice() is a view, not a copy, so it is never handed on as it came.)
 */
export function bytesOf(value: BinaryValue): Uint8Array {
  return value instanceof Uint8Array ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : new Uint8Array(value);
}

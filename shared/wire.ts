// Binary weight codec. Weights and deltas cross the wire as
//   header: magic "FLKW" | version u16 | dtype u16 | layoutHash u32 | tensorCount u32 | valueCount u32
//           | per tensor: rank u32, dims u32 × rank
//   body:   valueCount × float32, little-endian
// The header carries the shapes so a mismatch can be reported precisely
// ("784×200 expected, got 784×100"), not just as a hash mismatch.
import { formatShape, shapeSize, type ModelSpec } from './model-spec.ts';

const MAGIC = 0x574b4c46; // "FLKW" read as a little-endian u32
export const WIRE_VERSION = 1;
const DTYPE_FLOAT32 = 1;
const FIXED_HEADER_BYTES = 20;

export class WireError extends Error {
  override name = 'WireError';
}

/**
 * Flock's binary formats (this wire format, the coordinator's checkpoints) hold raw float32 as the
 * platform lays it out, which must be little-endian. Every platform Flock targets is.
 */
export function assertLittleEndian(format: string): void {
  if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
    throw new Error(`Flock needs a little-endian platform (${format} holds raw little-endian float32)`);
  }
}

assertLittleEndian('the wire body');

function headerBytes(shapes: readonly (readonly number[])[]): number {
  return FIXED_HEADER_BYTES + shapes.reduce((n, s) => n + 4 + 4 * s.length, 0);
}

/** Exact encoded size of one weight vector of this model: what the size limit is based on. */
export function encodedByteLength(spec: ModelSpec): number {
  return headerBytes(spec.tensorShapes) + 4 * spec.paramCount;
}

export function encodeWeights(spec: ModelSpec, values: Float32Array): ArrayBuffer {
  if (values.length !== spec.paramCount) {
    throw new WireError(`cannot encode ${values.length} values for ${spec.name} (${spec.paramCount} parameters)`);
  }
  const head = headerBytes(spec.tensorShapes);
  const buffer = new ArrayBuffer(head + 4 * values.length);
  const view = new DataView(buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint16(4, WIRE_VERSION, true);
  view.setUint16(6, DTYPE_FLOAT32, true);
  view.setUint32(8, spec.layoutHash, true);
  view.setUint32(12, spec.tensorShapes.length, true);
  view.setUint32(16, values.length, true);
  let at = FIXED_HEADER_BYTES;
  for (const shape of spec.tensorShapes) {
    view.setUint32(at, shape.length, true);
    at += 4;
    for (const dim of shape) {
      view.setUint32(at, dim, true);
      at += 4;
    }
  }
  new Float32Array(buffer, head).set(values);
  return buffer;
}

/** Accepts what Socket.IO hands over: an ArrayBuffer in the browser, a Buffer (Uint8Array) in Node. */
export type BinaryInput = ArrayBuffer | ArrayBufferView;

function asBytes(input: unknown): Uint8Array {
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  throw new WireError(`weights must be binary (ArrayBuffer), got ${input === null ? 'null' : typeof input}`);
}

/**
 * Decodes and validates a weight vector for `spec`. Returns a fresh, aligned
 * Float32Array that never aliases the input. Throws WireError saying what is wrong.
 */
export function decodeWeights(spec: ModelSpec, input: unknown): Float32Array {
  const bytes = asBytes(input);
  if (bytes.byteLength < FIXED_HEADER_BYTES) {
    throw new WireError(`message too short (${bytes.byteLength} bytes): not a Flock weight vector`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new WireError('bad magic: not a Flock weight vector');
  const version = view.getUint16(4, true);
  if (version !== WIRE_VERSION) throw new WireError(`wire version ${version} not supported (expected ${WIRE_VERSION}): reload the page`);
  const dtype = view.getUint16(6, true);
  if (dtype !== DTYPE_FLOAT32) throw new WireError(`dtype ${dtype} not supported (expected float32)`);
  const tensorCount = view.getUint32(12, true);
  if (tensorCount !== spec.tensorShapes.length) {
    throw new WireError(`${spec.tensorShapes.length} tensors expected for ${spec.name}, got ${tensorCount} (stale model?)`);
  }
  let at = FIXED_HEADER_BYTES;
  for (let t = 0; t < tensorCount; t++) {
    const expected = spec.tensorShapes[t];
    if (at + 4 > bytes.byteLength) throw new WireError('header truncated');
    const rank = view.getUint32(at, true);
    at += 4;
    if (rank > 8) throw new WireError(`tensor ${t}: bad rank ${rank}`);
    if (at + 4 * rank > bytes.byteLength) throw new WireError('header truncated');
    const got: number[] = [];
    for (let d = 0; d < rank; d++, at += 4) got.push(view.getUint32(at, true));
    if (rank !== expected.length || got.some((dim, d) => dim !== expected[d])) {
      throw new WireError(`tensor ${t}: ${formatShape(expected)} expected, got ${formatShape(got)} (stale model?)`);
    }
  }
  if (view.getUint32(8, true) !== spec.layoutHash) throw new WireError(`layout hash mismatch for ${spec.name} (stale model?)`);
  const valueCount = view.getUint32(16, true);
  if (valueCount !== spec.paramCount) {
    throw new WireError(`${spec.paramCount} values expected, header says ${valueCount}`);
  }
  const bodyBytes = bytes.byteLength - at;
  if (bodyBytes !== 4 * valueCount) {
    throw new WireError(`body is ${bodyBytes} bytes, ${4 * valueCount} expected (truncated or padded message)`);
  }
  const values = new Float32Array(valueCount);
  new Uint8Array(values.buffer).set(bytes.subarray(at)); // copy: aligned, and never aliases a socket buffer
  assertFinite(spec, values);
  return values;
}

function assertFinite(spec: ModelSpec, values: Float32Array): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v !== 0) {
      // v - v is NaN exactly for NaN and ±Inf: one cheap test in the hot loop
      throw new WireError(`value ${i} (${locate(spec, i)}) is ${v}: updates must be finite`);
    }
  }
}

function locate(spec: ModelSpec, index: number): string {
  let start = 0;
  for (let t = 0; t < spec.tensorShapes.length; t++) {
    const size = shapeSize(spec.tensorShapes[t]);
    if (index < start + size) return `tensor ${t}, ${formatShape(spec.tensorShapes[t])}`;
    start += size;
  }
  return 'out of range';
}

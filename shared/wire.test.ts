import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL_SPECS, formatShape, type ModelSpec } from './model-spec.ts';
import { WIRE_VERSION, WireError, decodeWeights, encodeWeights, encodedByteLength } from './wire.ts';
import { createRng } from './fl/rng.ts';

const mlp = MODEL_SPECS.mlp;

/** Every interesting float32: signed zeros, subnormals, extremes, plus random values. */
function awkwardValues(spec: ModelSpec, seed: number): Float32Array {
  const v = new Float32Array(spec.paramCount);
  const rng = createRng(seed);
  for (let i = 0; i < v.length; i++) v[i] = rng.gaussian() * 0.05;
  const specials = [-0, 0, 1.4e-45, -1.4e-45, 1.1754942e-38, 3.4028235e38, -3.4028235e38, 1e-30, -1e30, 1, -1];
  specials.forEach((x, k) => (v[k * 7] = x));
  return v;
}

function bitsOf(v: Float32Array): Uint32Array {
  return new Uint32Array(v.buffer, v.byteOffset, v.length);
}

function decodeError(spec: ModelSpec, input: unknown): string {
  try {
    decodeWeights(spec, input);
  } catch (error) {
    assert.ok(error instanceof WireError, `expected a WireError, got ${error}`);
    return error.message;
  }
  assert.fail('decodeWeights accepted a bad message');
}

for (const spec of Object.values(MODEL_SPECS)) {
  test(`${spec.name}: encode → decode round-trips bit for bit (incl. -0, subnormal, ±3.4e38)`, () => {
    const values = awkwardValues(spec, spec.paramCount);
    const encoded = encodeWeights(spec, values);
    assert.equal(encoded.byteLength, encodedByteLength(spec));
    const decoded = decodeWeights(spec, encoded);
    assert.deepEqual(bitsOf(decoded), bitsOf(values));
    assert.ok(Object.is(decoded[0], -0));
  });
}

test('encodedByteLength of the MLP: 20-byte fixed header + 6 shape records + 4 bytes per parameter', () => {
  // shapes [784,200] [200] [200,200] [200] [200,10] [10]: ranks 2,1,2,1,2,1 → 6·4 + 9·4 = 60 bytes of dims
  // parameters 156,800 + 200 + 40,000 + 200 + 2,000 + 10 = 199,210
  assert.equal(mlp.paramCount, 199_210);
  assert.equal(encodedByteLength(mlp), 20 + 60 + 4 * 199_210);
});

test('decodes from a Node Buffer at an odd byteOffset, into an aligned copy that does not alias it', () => {
  const values = awkwardValues(mlp, 1);
  const encoded = new Uint8Array(encodeWeights(mlp, values));
  const pool = Buffer.alloc(encoded.length + 3);
  pool.set(encoded, 1);
  const input = pool.subarray(1, 1 + encoded.length);
  assert.equal(input.byteOffset % 2, 1);

  const decoded = decodeWeights(mlp, input);
  assert.deepEqual(bitsOf(decoded), bitsOf(values));
  assert.equal(decoded.byteOffset, 0);
  assert.notEqual(decoded.buffer, pool.buffer);
  pool.fill(0); // a socket reusing its buffer must not change what we decoded
  assert.deepEqual(bitsOf(decoded), bitsOf(values));
});

test('the decoded array does not alias an ArrayBuffer input either', () => {
  const encoded = encodeWeights(mlp, awkwardValues(mlp, 2));
  const decoded = decodeWeights(mlp, encoded);
  const first = decoded[5];
  new Uint8Array(encoded).fill(0xff);
  assert.equal(decoded[5], first);
});

/** An encoded MLP vector, with `edit` applied to its header before decoding. */
function tampered(edit: (view: DataView, bytes: Uint8Array) => void): ArrayBuffer {
  const buffer = encodeWeights(mlp, new Float32Array(mlp.paramCount));
  edit(new DataView(buffer), new Uint8Array(buffer));
  return buffer;
}

test('rejects a wrong magic', () => {
  assert.equal(decodeError(mlp, tampered((v) => v.setUint32(0, 0x12345678, true))), 'bad magic: not a Flock weight vector');
});

test('rejects a wrong wire version', () => {
  assert.equal(
    decodeError(mlp, tampered((v) => v.setUint16(4, WIRE_VERSION + 1, true))),
    `wire version ${WIRE_VERSION + 1} not supported (expected ${WIRE_VERSION}): reload the page`,
  );
});

test('rejects a wrong tensor count', () => {
  assert.equal(decodeError(mlp, tampered((v) => v.setUint32(12, 5, true))), '6 tensors expected for mlp, got 5 (stale model?)');
});

test('rejects a wrong shape, naming both shapes', () => {
  // A 784-100-… model: same tensor count, different first layer.
  const narrow: ModelSpec = { ...mlp, tensorShapes: [[784, 100], [100], [100, 200], [200], [200, 10], [10]] };
  narrow.paramCount = narrow.tensorShapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
  const message = decodeError(mlp, encodeWeights(narrow, new Float32Array(narrow.paramCount)));
  assert.equal(message, 'tensor 0: 784×200 expected, got 784×100 (stale model?)');
  assert.equal(formatShape([784, 200]), '784×200');
});

test('rejects a model from the other spec (cnn weights sent to an mlp room)', () => {
  const cnn = MODEL_SPECS.cnn;
  assert.match(decodeError(mlp, encodeWeights(cnn, new Float32Array(cnn.paramCount))), /^tensor 0: 784×200 expected, got 5×5×1×8/);
});

test('rejects a truncated body and extra bytes', () => {
  const full = new Uint8Array(encodeWeights(mlp, new Float32Array(mlp.paramCount)));
  const bodyBytes = 4 * mlp.paramCount;
  assert.equal(
    decodeError(mlp, full.subarray(0, full.length - 4)),
    `body is ${bodyBytes - 4} bytes, ${bodyBytes} expected (truncated or padded message)`,
  );
  const padded = new Uint8Array(full.length + 1);
  padded.set(full);
  assert.equal(decodeError(mlp, padded), `body is ${bodyBytes + 1} bytes, ${bodyBytes} expected (truncated or padded message)`);
  assert.equal(decodeError(mlp, full.subarray(0, 10)), 'message too short (10 bytes): not a Flock weight vector');
  // 20 fixed bytes + rank (4) + 784 (4) + 2 of the 4 bytes of 200: cut inside tensor 0's dims
  assert.equal(decodeError(mlp, full.subarray(0, 30)), 'header truncated');
  assert.equal(decodeError(mlp, full.subarray(0, 22)), 'header truncated');
});

test('rejects a bad rank, dtype, layout hash or value count', () => {
  assert.equal(decodeError(mlp, tampered((v) => v.setUint32(20, 9, true))), 'tensor 0: bad rank 9');
  assert.equal(decodeError(mlp, tampered((v) => v.setUint16(6, 2, true))), 'dtype 2 not supported (expected float32)');
  assert.equal(decodeError(mlp, tampered((v) => v.setUint32(8, mlp.layoutHash ^ 1, true))), 'layout hash mismatch for mlp (stale model?)');
  assert.equal(decodeError(mlp, tampered((v) => v.setUint32(16, 5, true))), '199210 values expected, header says 5');
});

test('rejects NaN, +Inf and -Inf, naming the index and its tensor', () => {
  // index 156,800 is the first value after the 784×200 kernel: the first bias
  for (const [bad, shown] of [[Number.NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity']] as const) {
    const values = new Float32Array(mlp.paramCount);
    values[156_800] = bad;
    assert.equal(
      decodeError(mlp, encodeWeights(mlp, values)),
      `value 156800 (tensor 1, 200) is ${shown}: updates must be finite`,
    );
  }
  const values = new Float32Array(mlp.paramCount);
  values[3] = Number.NaN;
  assert.equal(decodeError(mlp, encodeWeights(mlp, values)), 'value 3 (tensor 0, 784×200) is NaN: updates must be finite');
});

test('rejects non-binary input: string, object, null', () => {
  assert.equal(decodeError(mlp, 'FLKW…'), 'weights must be binary (ArrayBuffer), got string');
  assert.equal(decodeError(mlp, { byteLength: 8 }), 'weights must be binary (ArrayBuffer), got object');
  assert.equal(decodeError(mlp, null), 'weights must be binary (ArrayBuffer), got null');
  assert.equal(decodeError(mlp, [1, 2, 3]), 'weights must be binary (ArrayBuffer), got object');
});

test('refuses to encode a vector of the wrong length', () => {
  assert.throws(() => encodeWeights(mlp, new Float32Array(10)), /cannot encode 10 values for mlp \(199210 parameters\)/);
});

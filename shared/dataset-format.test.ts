import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDataset, encodeDataset, selectExamples, type LabelledImages } from './dataset-format.ts';

// Three 2×2 "images" labelled 7, 0, 9.
const tiny: LabelledImages = {
  count: 3,
  pixelsPerExample: 4,
  pixels: Uint8Array.of(0, 255, 1, 2, 10, 20, 30, 40, 255, 254, 253, 252),
  labels: Uint8Array.of(7, 0, 9),
};

test('encode → decode round-trips: 12-byte header + 12 pixels + 3 labels = 27 bytes', () => {
  const bytes = encodeDataset(tiny);
  assert.equal(bytes.byteLength, 27);
  assert.deepEqual(decodeDataset(bytes), tiny);
});

test('decodes from a view at an odd offset (as a fetched or sliced buffer may be)', () => {
  const bytes = encodeDataset(tiny);
  const padded = new Uint8Array(bytes.length + 1);
  padded.set(bytes, 1);
  assert.deepEqual(decodeDataset(padded.subarray(1)), tiny);
});

test('rejects a bad magic', () => {
  const bytes = encodeDataset(tiny);
  bytes[0] ^= 0xff;
  assert.throws(() => decodeDataset(bytes), /^Error: not a Flock dataset file \(bad magic\)$/);
});

test('rejects a wrong length, saying both lengths', () => {
  const bytes = encodeDataset(tiny);
  assert.throws(() => decodeDataset(bytes.subarray(0, 26)), /^Error: dataset file is 26 bytes, 27 expected$/);
  const longer = new Uint8Array(28);
  longer.set(bytes);
  assert.throws(() => decodeDataset(longer), /^Error: dataset file is 28 bytes, 27 expected$/);
  assert.throws(() => decodeDataset(bytes.subarray(0, 11)), /^Error: dataset file too short$/);
});

test('selectExamples copies the chosen examples in the order asked', () => {
  const picked = selectExamples(tiny, [2, 0]);
  assert.deepEqual(picked, {
    count: 2,
    pixelsPerExample: 4,
    pixels: Uint8Array.of(255, 254, 253, 252, 0, 255, 1, 2),
    labels: Uint8Array.of(9, 7),
  });
  picked.pixels[0] = 1; // a copy: the source is untouched
  assert.equal(tiny.pixels[8], 255);
});

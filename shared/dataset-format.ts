// Compact binary for labelled images, used for the generated MNIST splits and
// for the shard a tab downloads:
//   magic "FLKD" u32 | count u32 | pixelsPerExample u32 | pixels u8 × count × ppe | labels u8 × count
// Pixels are grey levels 0..255 (MNIST's 0..1 in 1/255 steps, held exactly).

const MAGIC = 0x444b4c46; // "FLKD"
const HEADER_BYTES = 12;

export interface LabelledImages {
  count: number;
  pixelsPerExample: number;
  pixels: Uint8Array;
  labels: Uint8Array;
}

export function encodeDataset(data: LabelledImages): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + data.pixels.length + data.labels.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, data.count, true);
  view.setUint32(8, data.pixelsPerExample, true);
  out.set(data.pixels, HEADER_BYTES);
  out.set(data.labels, HEADER_BYTES + data.pixels.length);
  return out;
}

export function decodeDataset(bytes: Uint8Array): LabelledImages {
  if (bytes.byteLength < HEADER_BYTES) throw new Error('dataset file too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new Error('not a Flock dataset file (bad magic)');
  const count = view.getUint32(4, true);
  const pixelsPerExample = view.getUint32(8, true);
  const pixelBytes = count * pixelsPerExample;
  if (bytes.byteLength !== HEADER_BYTES + pixelBytes + count) {
    throw new Error(`dataset file is ${bytes.byteLength} bytes, ${HEADER_BYTES + pixelBytes + count} expected`);
  }
  return {
    count,
    pixelsPerExample,
    pixels: bytes.subarray(HEADER_BYTES, HEADER_BYTES + pixelBytes),
    labels: bytes.subarray(HEADER_BYTES + pixelBytes),
  };
}

/** The examples at `indices`, copied into a new dataset. */
export function selectExamples(data: LabelledImages, indices: ArrayLike<number>): LabelledImages {
  const ppe = data.pixelsPerExample;
  const pixels = new Uint8Array(indices.length * ppe);
  const labels = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    pixels.set(data.pixels.subarray(i * ppe, (i + 1) * ppe), k * ppe);
    labels[k] = data.labels[i];
  }
  return { count: indices.length, pixelsPerExample: ppe, pixels, labels };
}

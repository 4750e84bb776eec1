// A drawing turned into an MNIST example, the way MNIST itself was made (LeCun et al.):
// crop to the ink, scale so the longer side is 20 px (aspect kept, anti-aliased by area
// averaging), then place it in 28×28 so that its centre of mass sits at the centre.
// Pure: takes plain arrays, so it runs (and is tested) in Node as well as in the page.

export const MNIST_SIDE = 28;
/** The box the digit's longer side is scaled to; the 4 px margin around it is for centring. */
export const MNIST_BOX = 20;

/**
 * Ink per pixel, 0..1, from canvas RGBA. The pad draws opaque strokes on a transparent
 * canvas, so alpha is the ink whatever colour the strokes or the page background have.
 */
export function inkFromRgba(rgba: ArrayLike<number>, width: number, height: number): Float32Array {
  if (rgba.length !== width * height * 4) {
    throw new Error(`RGBA of a ${width}×${height} image has ${width * height * 4} values, got ${rgba.length}`);
  }
  const ink = new Float32Array(width * height);
  for (let i = 0; i < ink.length; i++) ink[i] = rgba[4 * i + 3] / 255;
  return ink;
}

interface Box {
  x0: number;
  y0: number;
  /** Exclusive. */
  x1: number;
  y1: number;
}

function inkBoundingBox(ink: Float32Array, width: number, height: number): Box | null {
  let x0 = width;
  let y0 = height;
  let x1 = 0;
  let y1 = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] > 0) {
        if (x < x0) x0 = x;
        if (x >= x1) x1 = x + 1;
        if (y < y0) y0 = y;
        if (y >= y1) y1 = y + 1;
      }
    }
  }
  return x1 > x0 ? { x0, y0, x1, y1 } : null;
}

/**
 * For each of `targetSize` output cells, which source cells it covers and by how much
 * (overlap length in source pixels), when `sourceSize` pixels map onto `targetSize`.
 */
function areaWeights(sourceSize: number, targetSize: number): { from: number; weights: number[] }[] {
  const step = sourceSize / targetSize;
  return Array.from({ length: targetSize }, (_, t) => {
    const start = t * step;
    const end = start + step;
    const from = Math.floor(start);
    const weights: number[] = [];
    for (let s = from; s < end && s < sourceSize; s++) {
      weights.push(Math.min(end, s + 1) - Math.max(start, s));
    }
    return { from, weights };
  });
}

/** Area-averaging resample of a box of `ink` to targetWidth × targetHeight (separable: rows, then columns). */
function resampleBox(ink: Float32Array, width: number, box: Box, targetWidth: number, targetHeight: number): Float32Array {
  const boxWidth = box.x1 - box.x0;
  const boxHeight = box.y1 - box.y0;
  const columns = areaWeights(boxWidth, targetWidth);
  const rows = areaWeights(boxHeight, targetHeight);
  const columnArea = boxWidth / targetWidth;
  const rowArea = boxHeight / targetHeight;

  const narrowed = new Float32Array(boxHeight * targetWidth);
  for (let y = 0; y < boxHeight; y++) {
    const sourceRow = (box.y0 + y) * width + box.x0;
    for (let tx = 0; tx < targetWidth; tx++) {
      const { from, weights } = columns[tx];
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += weights[k] * ink[sourceRow + from + k];
      narrowed[y * targetWidth + tx] = sum / columnArea;
    }
  }
  const out = new Float32Array(targetWidth * targetHeight);
  for (let ty = 0; ty < targetHeight; ty++) {
    const { from, weights } = rows[ty];
    for (let tx = 0; tx < targetWidth; tx++) {
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += weights[k] * narrowed[(from + k) * targetWidth + tx];
      out[ty * targetWidth + tx] = sum / rowArea;
    }
  }
  return out;
}

/**
 * 784 grey levels (0 = background, 255 = ink, row-major 28×28) from ink values 0..1.
 * No ink gives all zeros. The brightest pixel becomes 255, as in MNIST, so a faint or
 * thin drawing still reads as a digit.
 */
export function mnistPixelsFromInk(ink: Float32Array, width: number, height: number): Uint8Array {
  if (ink.length !== width * height) throw new Error(`a ${width}×${height} image has ${width * height} pixels, got ${ink.length}`);
  const out = new Uint8Array(MNIST_SIDE * MNIST_SIDE);
  const box = inkBoundingBox(ink, width, height);
  if (box === null) return out;

  const boxWidth = box.x1 - box.x0;
  const boxHeight = box.y1 - box.y0;
  const scale = MNIST_BOX / Math.max(boxWidth, boxHeight);
  const targetWidth = Math.max(1, Math.round(boxWidth * scale));
  const targetHeight = Math.max(1, Math.round(boxHeight * scale));
  const digit = resampleBox(ink, width, box, targetWidth, targetHeight);

  // Centre of mass, with pixel i's centre at i + 0.5 so that the 28×28 centre is 14.
  let mass = 0;
  let sumX = 0;
  let sumY = 0;
  let brightest = 0;
  for (let y = 0; y < targetHeight; y++) {
    for (let x = 0; x < targetWidth; x++) {
      const v = digit[y * targetWidth + x];
      mass += v;
      sumX += v * (x + 0.5);
      sumY += v * (y + 0.5);
      if (v > brightest) brightest = v;
    }
  }
  // Whole-pixel shift (no second resampling); clamped so no ink falls off the 28×28 image.
  const centre = MNIST_SIDE / 2;
  const offsetX = clamp(Math.round(centre - sumX / mass), 0, MNIST_SIDE - targetWidth);
  const offsetY = clamp(Math.round(centre - sumY / mass), 0, MNIST_SIDE - targetHeight);
  for (let y = 0; y < targetHeight; y++) {
    for (let x = 0; x < targetWidth; x++) {
      out[(offsetY + y) * MNIST_SIDE + offsetX + x] = Math.round((255 * digit[y * targetWidth + x]) / brightest);
    }
  }
  return out;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

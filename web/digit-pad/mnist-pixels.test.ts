import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inkFromRgba, mnistPixelsFromInk, MNIST_SIDE } from './mnist-pixels.ts';

const PAD = 280;

/** A PAD×PAD ink image with the given filled rectangles (x, y, width, height in pad pixels). */
function drawing(...rects: [number, number, number, number][]): Float32Array {
  const ink = new Float32Array(PAD * PAD);
  for (const [x0, y0, w, h] of rects) {
    for (let y = y0; y < y0 + h; y++) ink.fill(1, y * PAD + x0, y * PAD + x0 + w);
  }
  return ink;
}

/** The rows and columns of the 28×28 output that hold any ink, as [first, last]. */
function inkExtent(pixels: Uint8Array): { rows: [number, number]; columns: [number, number] } {
  const rows: number[] = [];
  const columns: number[] = [];
  pixels.forEach((v, i) => {
    if (v > 0) {
      rows.push(Math.floor(i / MNIST_SIDE));
      columns.push(i % MNIST_SIDE);
    }
  });
  return { rows: [Math.min(...rows), Math.max(...rows)], columns: [Math.min(...columns), Math.max(...columns)] };
}

function centreOfMass(pixels: Uint8Array): { x: number; y: number } {
  let mass = 0;
  let x = 0;
  let y = 0;
  pixels.forEach((v, i) => {
    mass += v;
    x += v * ((i % MNIST_SIDE) + 0.5);
    y += v * (Math.floor(i / MNIST_SIDE) + 0.5);
  });
  return { x: x / mass, y: y / mass };
}

test('no ink: 784 zeros', () => {
  const pixels = mnistPixelsFromInk(new Float32Array(PAD * PAD), PAD, PAD);
  assert.equal(pixels.length, 784);
  assert.equal(pixels.reduce((a, b) => a + b, 0), 0);
});

test('a bar 40×200 px becomes 4×20 px of full ink, centred: rows 4..23, columns 12..15', () => {
  // Scale 20/200 = 0.1: every output pixel averages exactly 10×10 inked pad pixels.
  const pixels = mnistPixelsFromInk(drawing([100, 40, 40, 200]), PAD, PAD);
  assert.deepEqual(inkExtent(pixels), { rows: [4, 23], columns: [12, 15] });
  for (let y = 4; y <= 23; y++) {
    for (let x = 12; x <= 15; x++) assert.equal(pixels[y * MNIST_SIDE + x], 255, `pixel (${x}, ${y})`);
  }
  assert.equal(pixels.reduce((a, b) => a + b, 0), 4 * 20 * 255);
});

test('the longer side becomes 20 px and the aspect ratio is kept: 200×100 → 20×10', () => {
  const pixels = mnistPixelsFromInk(drawing([30, 90, 200, 100]), PAD, PAD);
  const { rows, columns } = inkExtent(pixels);
  assert.equal(columns[1] - columns[0] + 1, 20);
  assert.equal(rows[1] - rows[0] + 1, 10);
});

test('where and how big the digit is drawn does not matter', () => {
  // An "L": the same shape, small in the top-left corner and twice as big lower right.
  const small = mnistPixelsFromInk(drawing([10, 10, 10, 100], [10, 90, 60, 20]), PAD, PAD);
  const big = mnistPixelsFromInk(drawing([60, 40, 20, 200], [60, 200, 120, 40]), PAD, PAD);
  assert.deepEqual(Array.from(big), Array.from(small));
});

test('centred by centre of mass, not by the bounding box', () => {
  // A heavy block top-left and a thin tail to the bottom-right: the box's centre is far
  // from the mass's, and MNIST centres the mass.
  const pixels = mnistPixelsFromInk(drawing([0, 0, 120, 120], [120, 190, 80, 10]), PAD, PAD);
  const com = centreOfMass(pixels);
  assert.ok(Math.abs(com.x - 14) <= 0.5, `centre of mass x ${com.x}`);
  assert.ok(Math.abs(com.y - 14) <= 0.5, `centre of mass y ${com.y}`);
  const { columns } = inkExtent(pixels);
  assert.ok(columns[0] > 4, `box shifted right of the 20 px frame's left edge (starts at column ${columns[0]})`);
});

test('partial coverage gives grey levels, and the brightest pixel is 255', () => {
  // 5 px wide line in a 200 px tall box: each output column averages 10 pad pixels, 5 inked,
  // so the line is one column of half ink, scaled up to full brightness.
  const pixels = mnistPixelsFromInk(drawing([100, 40, 5, 200], [100, 235, 150, 5]), PAD, PAD);
  assert.equal(Math.max(...pixels), 255);
  assert.ok(pixels.some((v) => v > 0 && v < 255), 'some anti-aliased grey pixels');
});

test('ink is read from the alpha channel of canvas RGBA', () => {
  const rgba = new Uint8ClampedArray([255, 255, 255, 255, 0, 0, 0, 0, 12, 34, 56, 51]);
  assert.deepEqual(Array.from(inkFromRgba(rgba, 3, 1)), [1, 0, Math.fround(0.2)]);
  assert.throws(() => inkFromRgba(rgba, 2, 2), /RGBA of a 2×2 image has 16 values, got 12/);
});

// Fast standard normal draws: the Ziggurat method (Marsaglia & Tsang 2000, "The Ziggurat
// Method for Generating Random Variables", J. Stat. Software 5(8)), 128 layers.
//
// Why not Box–Muller (rng.gaussian)? It spends a log, a square root, a sine and a cosine per
// pair; in V8 that caps at ~22 M values/s, and DP noise for a 1M-parameter model wants more.
// The Ziggurat covers the bell curve with 128 equal-area horizontal strips. One 32-bit draw
// picks a strip (low 7 bits) and a signed position in it (high 25 bits); ~99% of the time the
// point lies in the part of the strip wholly under the curve and is returned after one table
// lookup and one multiply. The rest goes to `fromEdge`: the wedge between strip and curve
// (accept/reject against exp(−x²/2)), or, in the base strip, the tail beyond R (Marsaglia 1964).
// The method is exact; this implementation is exact up to its grids: a strip position has 25 bits
// (inside a strip values lie on a lattice of width/2²⁴, ~2e-7 at most), and the tail comes from the
// Rng's uniforms (2⁻⁵³ with secure-random.ts: it reaches beyond 14σ; 2⁻³² with a seeded Rng:
// about 9.9σ). The tests check mean, std and tail mass. The noised values are then rounded to
// float32 where they are added to a model: docs/privacy.md says what that does and does not cover.
//
// Reproducible: every value is a fixed function of the draws from the seeded Rng, so the same
// seed gives the same numbers. (Math.exp/log in the rare edge path are V8's fdlibm ports,
// the same on every platform Node runs on.)
import type { Rng } from './rng.ts';

const LAYERS = 128;
/** x where the base strip's rectangle ends and the tail begins. */
const R = 3.442619855899;
/** Area of each strip (the base strip counts its tail), for 128 layers. */
const STRIP_AREA = 9.91256303526217e-3;
/** The position in a strip is a signed 25-bit integer j; |j| / 2²⁴ is the fraction of the strip's width. */
const POSITION_SCALE = 2 ** 24;

// For strip i: x = j · widthPerStep[i]; points with |j| < insideBelow[i] lie wholly under the
// curve; heightAt[i] = exp(−xᵢ²/2) at the strip's right edge xᵢ. Built as in the paper's zigset,
// strip 0 being the base and strip 1 the top (where insideBelow is 0: it is all wedge).
const insideBelow = new Float64Array(LAYERS);
const widthPerStep = new Float64Array(LAYERS);
const heightAt = new Float64Array(LAYERS);
{
  let x = R;
  let previousX = R;
  const baseWidth = STRIP_AREA / Math.exp(-0.5 * R * R); // base rectangle stretched to hold the tail's area
  insideBelow[0] = (R / baseWidth) * POSITION_SCALE;
  insideBelow[1] = 0;
  widthPerStep[0] = baseWidth / POSITION_SCALE;
  widthPerStep[LAYERS - 1] = R / POSITION_SCALE;
  heightAt[0] = 1;
  heightAt[LAYERS - 1] = Math.exp(-0.5 * R * R);
  for (let i = LAYERS - 2; i >= 1; i--) {
    x = Math.sqrt(-2 * Math.log(STRIP_AREA / x + Math.exp(-0.5 * x * x)));
    insideBelow[i + 1] = (x / previousX) * POSITION_SCALE;
    previousX = x;
    heightAt[i] = Math.exp(-0.5 * x * x);
    widthPerStep[i] = x / POSITION_SCALE;
  }
}

/** One N(0, 1) draw (a count's noise, say): the same sampler as the vectors. */
export function standardNormal(rng: Rng): number {
  const one = new Float64Array(1);
  fillStandardNormal(one, rng);
  return one[0];
}

/** Fills `out` with independent N(0, 1) values drawn from `rng`. */
export function fillStandardNormal(out: Float32Array | Float64Array, rng: Rng): void {
  for (let i = 0; i < out.length; i++) {
    const bits = rng.uint32() | 0;
    const strip = bits & (LAYERS - 1);
    const j = bits >> 7; // arithmetic shift: signed position in [−2²⁴, 2²⁴)
    out[i] = Math.abs(j) < insideBelow[strip] ? j * widthPerStep[strip] : fromEdge(rng, j, strip);
  }
}

/** The ~1% of draws that land outside a strip's inner rectangle. */
function fromEdge(rng: Rng, j: number, strip: number): number {
  for (;;) {
    const x = j * widthPerStep[strip];
    if (strip === 0) {
      // Tail |x| > R: Marsaglia's method, exact for the normal tail.
      let tailX: number;
      let tailY: number;
      do {
        tailX = -Math.log(1 - rng.next()) / R; // 1 − next() is in (0, 1]: finite log
        tailY = -Math.log(1 - rng.next());
      } while (tailY + tailY < tailX * tailX);
      return j > 0 ? R + tailX : -R - tailX;
    }
    // Wedge: accept x with probability (curve − strip bottom) / (strip top − strip bottom).
    if (heightAt[strip] + rng.next() * (heightAt[strip - 1] - heightAt[strip]) < Math.exp(-0.5 * x * x)) return x;
    // Rejected: draw a fresh point, which again is usually inside its strip.
    const bits = rng.uint32() | 0;
    strip = bits & (LAYERS - 1);
    j = bits >> 7;
    if (Math.abs(j) < insideBelow[strip]) return j * widthPerStep[strip];
  }
}

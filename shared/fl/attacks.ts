// Attack simulation, for teaching and testing robust aggregation: what a malicious (or
// broken) tab would send instead of its honest update. A class watches plain FedAvg go
// wrong when one tab attacks, then sees a robust rule set that tab's update aside.
//
// Three attacks act on the honest delta after local training (applyDeltaAttack); label
// flip acts before, on the data the tab trains on (flipLabels). Each is ATTACK_BOOST times
// the size of an honest update, so one attacker among ten outweighs the rest under FedAvg.
import { ATTACK_MODES, type AttackMode } from '../protocol/records.ts';
import { l2Norm } from './clip.ts';
import { addGaussianNoise } from './noise.ts';
import type { Rng } from './rng.ts';

/** How many times an honest update's size an attacking delta is. */
export const ATTACK_BOOST = 10;

/** Short names for badges: "sign flip ×10". */
export const ATTACK_LABELS: Record<AttackMode, string> = {
  none: 'honest',
  'sign-flip': `sign flip ×${ATTACK_BOOST}`,
  scale: `scale ×${ATTACK_BOOST}`,
  gaussian: `gaussian noise ×${ATTACK_BOOST}`,
  'label-flip': 'label flip',
};

/** What each mode sends, for tooltips and error messages. */
export const ATTACK_MEANINGS: Record<AttackMode, string> = {
  none: 'sends its honest update',
  'sign-flip': `sends −${ATTACK_BOOST} × its honest update (pushes the model the wrong way)`,
  scale: `sends ${ATTACK_BOOST} × its honest update (drowns out the other tabs)`,
  gaussian: `sends random noise ${ATTACK_BOOST} × the size of its honest update`,
  'label-flip': 'trains on wrong labels (digit y learnt as 9 − y)',
};

/**
 * Turns the honest `delta` into what the attacker sends, in place:
 *
 *     sign-flip   Δ ← −10 · Δ
 *     scale       Δ ←  10 · Δ
 *     gaussian    Δ ← N(0, σ²) per value, σ = 10 · RMS(Δ) = 10 · ‖Δ‖ / √P
 *     none, label-flip: unchanged (label flip already trained on flipped labels)
 *
 * Why σ from the RMS: noise of a fixed σ would be harmless for one model and absurd for
 * another; tied to the honest update, it is always ~10 × an honest update's size (its
 * expected norm is 10 · ‖Δ‖). A zero delta therefore stays zero. Draws from `rng` only
 * for gaussian.
 */
export function applyDeltaAttack(delta: Float32Array, mode: AttackMode, rng: Rng): void {
  switch (mode) {
    case 'none':
    case 'label-flip':
      return;
    case 'sign-flip':
      return scaleInPlace(delta, -ATTACK_BOOST);
    case 'scale':
      return scaleInPlace(delta, ATTACK_BOOST);
    case 'gaussian': {
      if (delta.length === 0) return;
      const rms = l2Norm(delta) / Math.sqrt(delta.length);
      if (!Number.isFinite(rms)) {
        throw new RangeError(`gaussian attack: the honest delta is not finite (RMS ${rms}), so there is no size to scale the noise to`);
      }
      delta.fill(0);
      addGaussianNoise(delta, ATTACK_BOOST * rms, rng);
      return;
    }
  }
}

function scaleInPlace(v: Float32Array, factor: number): void {
  for (let i = 0; i < v.length; i++) v[i] *= factor;
}

/**
 * A new array with every label y replaced by numClasses − 1 − y (for digits: 0 ↔ 9, 1 ↔ 8 …).
 * Every class keeps its count, so the data looks normal; only what it means is wrong.
 */
export function flipLabels(labels: Uint8Array, numClasses: number): Uint8Array {
  if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 256) {
    throw new RangeError(`label flip needs a class count from 1 to 256, got ${numClasses}`);
  }
  const flipped = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y >= numClasses) throw new RangeError(`label ${y} at index ${i} is not a class of ${numClasses} (0..${numClasses - 1})`);
    flipped[i] = numClasses - 1 - y;
  }
  return flipped;
}

/** Reads an attack mode (a ?attack= value, a worker message); null means none given: 'none'. */
export function parseAttackMode(text: string | null): AttackMode {
  if (text === null) return 'none';
  if ((ATTACK_MODES as readonly string[]).includes(text)) return text as AttackMode;
  throw new RangeError(`unknown attack mode "${text}": use one of ${ATTACK_MODES.join(', ')}`);
}

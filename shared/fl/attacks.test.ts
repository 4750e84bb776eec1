import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ATTACK_MODES } from '../protocol/records.ts';
import { ATTACK_BOOST, ATTACK_LABELS, applyDeltaAttack, flipLabels, parseAttackMode } from './attacks.ts';
import { createRng } from './rng.ts';

test('sign flip of (1, −2, 0.5) is (−10, 20, −5); scale is (10, −20, 5)', () => {
  const flipped = Float32Array.of(1, -2, 0.5);
  applyDeltaAttack(flipped, 'sign-flip', createRng(1));
  assert.deepEqual([...flipped], [-10, 20, -5]);
  const scaled = Float32Array.of(1, -2, 0.5);
  applyDeltaAttack(scaled, 'scale', createRng(1));
  assert.deepEqual([...scaled], [10, -20, 5]);
  assert.equal(ATTACK_BOOST, 10);
});

test('none and label flip leave the delta alone and draw nothing', () => {
  for (const mode of ['none', 'label-flip'] as const) {
    const delta = Float32Array.of(1, -2, 0.5);
    const rng = createRng(7);
    applyDeltaAttack(delta, mode, rng);
    assert.deepEqual([...delta], [1, -2, 0.5], mode);
    assert.equal(rng.next(), createRng(7).next(), `${mode} drew from the rng`);
  }
});

// Values −0.02, −0.01, 0, 0.01, 0.02 repeating: mean square (4 + 1 + 0 + 1 + 4) / 5 · 1e-4 = 2e-4,
// so RMS = √2e-4 = 0.014142 and the noise should have σ = 0.14142.
const N = 100_000;
function honestDelta(): Float32Array {
  const delta = new Float32Array(N);
  for (let i = 0; i < N; i++) delta[i] = ((i % 5) - 2) * 0.01;
  return delta;
}

test('gaussian: noise with RMS 10 × the honest RMS (0.1414 for 0.01414), replacing the delta', () => {
  const honest = honestDelta();
  const attacked = honest.slice();
  applyDeltaAttack(attacked, 'gaussian', createRng(42));
  let sum = 0;
  let sumSq = 0;
  let dot = 0;
  let honestSq = 0;
  for (let i = 0; i < N; i++) {
    sum += attacked[i];
    sumSq += attacked[i] * attacked[i];
    dot += attacked[i] * honest[i];
    honestSq += honest[i] * honest[i];
  }
  const rms = Math.sqrt(sumSq / N);
  // sampling error of the RMS is σ/√(2N) ≈ 0.2%; σ² (0.02) or √σ (0.376) in place of σ would be far off
  assert.ok(Math.abs(rms / 0.141421 - 1) < 0.02, `rms ${rms}, expected 0.1414`);
  assert.ok(Math.abs(sum / N) < (5 * 0.141421) / Math.sqrt(N), `mean ${sum / N}`);
  // Replaced, not added: noise + delta would correlate with the delta at 0.0141 / 0.1421 ≈ 0.1;
  // independent noise correlates at about ±1/√N = ±0.003.
  const correlation = dot / Math.sqrt(sumSq * honestSq);
  assert.ok(Math.abs(correlation) < 0.02, `correlation with the honest delta ${correlation}`);
});

test('gaussian: the same seed gives the same noise, another seed other noise; zero stays zero', () => {
  const a = honestDelta();
  const b = honestDelta();
  const c = honestDelta();
  applyDeltaAttack(a, 'gaussian', createRng(5));
  applyDeltaAttack(b, 'gaussian', createRng(5));
  applyDeltaAttack(c, 'gaussian', createRng(6));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const zero = new Float32Array(10);
  applyDeltaAttack(zero, 'gaussian', createRng(5));
  assert.deepEqual([...zero], new Array(10).fill(0));
});

test('gaussian refuses a non-finite delta: there is no honest size to scale to', () => {
  assert.throws(() => applyDeltaAttack(Float32Array.of(1, NaN), 'gaussian', createRng(1)), /gaussian attack: the honest delta is not finite/);
  assert.throws(() => applyDeltaAttack(Float32Array.of(1, Infinity), 'gaussian', createRng(1)), /not finite/);
});

test('flipLabels of [0, 3, 9] with 10 classes is [9, 6, 0], in a new array', () => {
  const labels = Uint8Array.of(0, 3, 9);
  const flipped = flipLabels(labels, 10);
  assert.deepEqual([...flipped], [9, 6, 0]);
  assert.deepEqual([...labels], [0, 3, 9], 'the honest labels are kept');
  assert.deepEqual([...flipLabels(flipped, 10)], [0, 3, 9], 'flipping twice gives the labels back');
  assert.deepEqual([...flipLabels(Uint8Array.of(0, 1), 2)], [1, 0]);
});

test('flipLabels refuses a label outside the classes and an unusable class count', () => {
  assert.throws(() => flipLabels(Uint8Array.of(0, 10), 10), /label 10 at index 1 is not a class of 10 \(0\.\.9\)/);
  assert.throws(() => flipLabels(Uint8Array.of(0), 0), /class count from 1 to 256, got 0/);
  assert.throws(() => flipLabels(Uint8Array.of(0), 2.5), /got 2.5/);
});

test('parseAttackMode: every mode reads as itself, no value is none, anything else lists the modes', () => {
  for (const mode of ATTACK_MODES) assert.equal(parseAttackMode(mode), mode);
  assert.equal(parseAttackMode(null), 'none');
  const message = /unknown attack mode "signflip": use one of none, sign-flip, scale, gaussian, label-flip/;
  assert.throws(() => parseAttackMode('signflip'), message);
  assert.throws(() => parseAttackMode(''), /unknown attack mode ""/);
  assert.throws(() => parseAttackMode('Sign-Flip'), /unknown attack mode "Sign-Flip"/);
});

test('every mode has a badge label; the boost shows in it', () => {
  assert.equal(ATTACK_LABELS['sign-flip'], 'sign flip ×10');
  for (const mode of ATTACK_MODES) assert.ok(ATTACK_LABELS[mode].length > 0, mode);
});

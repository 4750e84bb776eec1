import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL_SPECS } from '../model-spec.ts';
import { dpWarning, noiseToSignal } from './dp-utility.ts';

const mlp = MODEL_SPECS.mlp.paramCount; // 199,210: √P ≈ 446
const room = (populationSize: number, samplingRate = 1, noiseMultiplier = 1.1) => ({ noiseMultiplier, samplingRate, adaptiveClipping: false, clipCountNoise: 1, populationSize, paramCount: mlp });

test('the noise on the mean update against the update: z·√P / (q·N)', () => {
  assert.ok(Math.abs(noiseToSignal(room(3)) - (1.1 * Math.sqrt(mlp)) / 3) < 1e-9);
  // Adaptive clipping leaves the deltas a larger share z_Δ = (z⁻² − (2σ_b)⁻²)^−½ of the noise
  const adaptive = noiseToSignal({ ...room(3), adaptiveClipping: true });
  assert.ok(Math.abs(adaptive / noiseToSignal(room(3)) - (1.1 ** -2 - 2 ** -2) ** -0.5 / 1.1) < 1e-9);
});

test('DP in a classroom of 3 is said to be hopeless before Start, with the room size it would need; at scale it is not', () => {
  const warning = dpWarning(room(3));
  assert.match(warning ?? '', /with 3 tabs and sampling rate 1, the DP noise on each round's mean update is about 164× the update itself: the model will stay near chance\. DP needs about 164 tabs/);
  assert.equal(dpWarning(room(10_000, 0.01)), null, '10,000 tabs at q = 0.01: noise about 4.9× the update, workable');
  assert.equal(dpWarning(room(3, 1, 0)), null, 'no DP, nothing to say');
  assert.equal(dpWarning(room(0)), null, 'no tab yet');
});

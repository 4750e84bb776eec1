import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DP_DELTA, gaussianEpsilon } from './accountant.ts';

// Minimising ε(α) = T·α/(2z²) + L/(α − 1), L = ln(1/δ), over α > 1 by hand:
// with β = α − 1, ε = T/(2z²) + T·β/(2z²) + L/β; the derivative T/(2z²) − L/β² vanishes at
// β* = z·√(2L/T), where both β-terms equal √(2TL)/(2z). So ε* = T/(2z²) + √(2TL)/z.
function closedForm(z: number, rounds: number, delta: number): number {
  const L = Math.log(1 / delta);
  return rounds / (2 * z * z) + Math.sqrt(2 * rounds * L) / z;
}

test('z = 1, T = 1, δ = e⁻⁸: ε* = 1/2 + √16 = 4.5 (at α* = 5)', () => {
  const epsilon = gaussianEpsilon({ noiseMultiplier: 1, rounds: 1, delta: Math.exp(-8) });
  assert.ok(epsilon >= 4.5 && epsilon < 4.5 * 1.001, `ε ${epsilon}`);
});

test('z = 2, T = 8, δ = e⁻⁴: ε* = 8/8 + √64/2 = 5 (at α* = 3)', () => {
  const epsilon = gaussianEpsilon({ noiseMultiplier: 2, rounds: 8, delta: Math.exp(-4) });
  assert.ok(epsilon >= 5 && epsilon < 5 * 1.001, `ε ${epsilon}`);
});

test('the grid is never below the closed-form minimum and at most 0.1% above it', () => {
  for (const z of [0.5, 0.8, 1, 1.1, 1.3, 2, 5, 10, 50]) {
    for (const rounds of [1, 5, 20, 100, 1000]) {
      for (const delta of [1e-3, DEFAULT_DP_DELTA, 1e-8]) {
        const best = closedForm(z, rounds, delta);
        const epsilon = gaussianEpsilon({ noiseMultiplier: z, rounds, delta });
        assert.ok(epsilon >= best * (1 - 1e-12) && epsilon <= best * 1.001, `z=${z} T=${rounds} δ=${delta}: ${epsilon} vs ${best}`);
      }
    }
  }
});

test('z = 1.1, 100 rounds, δ = 1e-5: ε ≈ 84.9', () => {
  // 100/2.42 = 41.32; √(2·100·ln 1e5) / 1.1 = √2302.6 / 1.1 = 47.99 / 1.1 = 43.62; sum 84.95
  const epsilon = gaussianEpsilon({ noiseMultiplier: 1.1, rounds: 100, delta: DEFAULT_DP_DELTA });
  assert.ok(Math.abs(epsilon - 84.95) < 0.05, `ε ${epsilon}`);
});

test('ε falls as the noise multiplier grows and rises with the number of rounds', () => {
  let previous = Infinity;
  for (const z of [0.5, 0.7, 1, 1.5, 2, 4, 8]) {
    const epsilon = gaussianEpsilon({ noiseMultiplier: z, rounds: 20, delta: DEFAULT_DP_DELTA });
    assert.ok(epsilon < previous, `z=${z}: ${epsilon} not below ${previous}`);
    previous = epsilon;
  }
  previous = 0;
  for (const rounds of [1, 2, 5, 10, 50, 200]) {
    const epsilon = gaussianEpsilon({ noiseMultiplier: 1.3, rounds, delta: DEFAULT_DP_DELTA });
    assert.ok(epsilon > previous, `T=${rounds}: ${epsilon} not above ${previous}`);
    previous = epsilon;
  }
});

test('no noise means no privacy; no rounds means nothing spent', () => {
  assert.equal(gaussianEpsilon({ noiseMultiplier: 0, rounds: 10, delta: DEFAULT_DP_DELTA }), Infinity);
  assert.equal(gaussianEpsilon({ noiseMultiplier: 1, rounds: 0, delta: DEFAULT_DP_DELTA }), 0);
});

test('bad arguments are refused', () => {
  assert.throws(() => gaussianEpsilon({ noiseMultiplier: -1, rounds: 1, delta: 1e-5 }), /noise multiplier must be >= 0/);
  assert.throws(() => gaussianEpsilon({ noiseMultiplier: 1, rounds: 1.5, delta: 1e-5 }), /rounds must be an integer >= 0/);
  assert.throws(() => gaussianEpsilon({ noiseMultiplier: 1, rounds: 1, delta: 0 }), /delta must be in \(0, 1\)/);
  assert.throws(() => gaussianEpsilon({ noiseMultiplier: 1, rounds: 1, delta: 1 }), /delta must be in \(0, 1\)/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServerOptimizer, type ServerOptimizer, type ServerOptimizerName, type ServerOptimizerOptions } from './server-optimizer.ts';

// One example for every optimizer, chosen so most square roots come out whole:
//   Δ₁ = (3, −4, 0), Δ₂ = (4, 1, 2);  η = 0.5, β₁ = 0.5, β₂ = 0.75, τ = 1.
const DELTA_1 = Float32Array.of(3, -4, 0);
const DELTA_2 = Float32Array.of(4, 1, 2);
const OPTIONS = { serverLearningRate: 0.5, serverMomentum: 0.5, serverBeta2: 0.75, serverTau: 1 };

const optimizer = (serverOptimizer: ServerOptimizerName, options: Partial<ServerOptimizerOptions> = {}) =>
  createServerOptimizer({ ...OPTIONS, serverOptimizer, ...options }, 3);

/** Proposes and commits, returning a copy of the step. */
function stepWith(o: ServerOptimizer, delta: Float32Array): Float32Array {
  const step = o.proposeStep(delta).slice();
  o.commitStep();
  return step;
}

/** Within float32 rounding of the hand-computed values. */
function assertClose(actual: Float32Array, expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= 1e-6 * Math.max(1, Math.abs(expected[i])), `${what}[${i}]: ${actual[i]}, expected ${expected[i]}`);
  }
}

test('FedAvgM: m = β₁·m + Δ, step η·m', () => {
  const o = optimizer('fedavgm');
  // m = Δ₁ = (3, −4, 0); step = 0.5·m = (1.5, −2, 0)
  assertClose(stepWith(o, DELTA_1), [1.5, -2, 0], 'step 1');
  // m = 0.5·(3, −4, 0) + (4, 1, 2) = (5.5, −1, 2); step = (2.75, −0.5, 1)
  assertClose(stepWith(o, DELTA_2), [2.75, -0.5, 1], 'step 2');
  assertClose(o.state().m, [5.5, -1, 2], 'm');
});

test('FedAvgM with β₁ = 0 is the plain FedAvg step η·Δ, bit for bit, every round', () => {
  const o = optimizer('fedavgm', { serverMomentum: 0, serverLearningRate: 0.3 });
  for (const delta of [DELTA_1, DELTA_2, Float32Array.of(0.1, -1e-7, 123.456)]) {
    assert.deepEqual(stepWith(o, delta), delta.map((d) => 0.3 * d));
  }
});

test('FedAdagrad: m = β₁·m + (1 − β₁)·Δ, v = v + Δ², step η·m / (√v + τ)', () => {
  const o = optimizer('fedadagrad');
  // m = 0.5·Δ₁ = (1.5, −2, 0); v = (9, 16, 0); √v + 1 = (4, 5, 1)
  // step = 0.5·(1.5/4, −2/5, 0/1) = (0.1875, −0.2, 0)
  assertClose(stepWith(o, DELTA_1), [0.1875, -0.2, 0], 'step 1');
  // m = 0.5·(1.5, −2, 0) + 0.5·(4, 1, 2) = (2.75, −0.5, 1); v = (9 + 16, 16 + 1, 0 + 4) = (25, 17, 4)
  // √v + 1 = (6, 5.1231056, 3); step = 0.5·(2.75/6, −0.5/5.1231056, 1/3) = (0.2291667, −0.0487985, 0.1666667)
  assertClose(stepWith(o, DELTA_2), [0.2291667, -0.0487985, 0.1666667], 'step 2');
  assertClose(o.state().m, [2.75, -0.5, 1], 'm');
  assertClose(o.state().v, [25, 17, 4], 'v');
});

test('FedAdam: v = β₂·v + (1 − β₂)·Δ²', () => {
  const o = optimizer('fedadam');
  // m = (1.5, −2, 0); v = 0.25·(9, 16, 0) = (2.25, 4, 0); √v + 1 = (2.5, 3, 1)
  // step = 0.5·(1.5/2.5, −2/3, 0) = (0.3, −0.3333333, 0)
  assertClose(stepWith(o, DELTA_1), [0.3, -1 / 3, 0], 'step 1');
  // m = (2.75, −0.5, 1); v = 0.75·(2.25, 4, 0) + 0.25·(16, 1, 4) = (5.6875, 3.25, 1)
  // √v + 1 = (3.3848480, 2.8027756, 2); step = 0.5·(2.75/3.3848480, −0.5/2.8027756, 1/2) = (0.4062221, −0.0891973, 0.25)
  assertClose(stepWith(o, DELTA_2), [0.4062221, -0.0891973, 0.25], 'step 2');
  assertClose(o.state().v, [5.6875, 3.25, 1], 'v');
});

test('FedYogi: v = v − (1 − β₂)·Δ²·sign(v − Δ²): from 0 like Adam, then v moves by at most (1 − β₂)·Δ²', () => {
  const o = optimizer('fedyogi');
  // v = 0 − 0.25·Δ²·sign(0 − Δ²) = 0.25·Δ² = (2.25, 4, 0) (sign(0) = 0 where Δ = 0): Adam's first step
  assertClose(stepWith(o, DELTA_1), [0.3, -1 / 3, 0], 'step 1');
  // Δ₂² = (16, 1, 4): v < Δ² in the first and last (v grows by 0.25·Δ²), v > Δ² in the middle (it shrinks by 0.25·Δ²):
  // v = (2.25 + 4, 4 − 0.25, 0 + 1) = (6.25, 3.75, 1), where Adam had (5.6875, 3.25, 1)
  // √v + 1 = (3.5, 2.9364917, 2); step = 0.5·(2.75/3.5, −0.5/2.9364917, 1/2) = (0.3928571, −0.0851356, 0.25)
  assertClose(stepWith(o, DELTA_2), [0.3928571, -0.0851356, 0.25], 'step 2');
  assertClose(o.state().v, [6.25, 3.75, 1], 'v');
});

test('none: the step is the aggregate itself, and there is no state', () => {
  const o = optimizer('none');
  assert.equal(o.proposeStep(DELTA_1), DELTA_1);
  o.commitStep();
  assert.deepEqual(o.state(), {});
  assert.equal(o.title, 'none');
});

test('reset clears m and v: the next step is a first step again', () => {
  for (const name of ['fedavgm', 'fedadagrad', 'fedadam', 'fedyogi'] as const) {
    const o = optimizer(name);
    const first = stepWith(o, DELTA_1);
    stepWith(o, DELTA_2);
    o.reset();
    for (const values of Object.values(o.state())) assert.deepEqual(values, new Float32Array(3), `${name}: state after reset`);
    assert.deepEqual(stepWith(o, DELTA_1), first, `${name}: first step after reset`);
  }
});

test('a step proposed but not committed leaves the state as it was', () => {
  const clean = optimizer('fedadam');
  stepWith(clean, DELTA_1);
  const expected = stepWith(clean, DELTA_2);

  const o = optimizer('fedadam');
  stepWith(o, DELTA_1);
  o.proposeStep(Float32Array.of(100, -100, 100)); // refused by the caller: no commitStep
  assert.deepEqual(stepWith(o, DELTA_2), expected);
});

test('a second moment that overflows float32 makes the step NaN, so the round refuses it', () => {
  // (3e19)² = 9e38 is past float32's 3.4e38: v would be Infinity and m / (√v + τ) a silent 0
  const o = optimizer('fedadagrad');
  const step = o.proposeStep(Float32Array.of(3e19, 1, 0));
  assert.ok(Number.isNaN(step[0]));
  assertClose(step.subarray(1), [0.25 / 2, 0], 'the other coordinates');
});

test('restore copies a saved state in: the run goes on as if never interrupted', () => {
  const a = optimizer('fedyogi');
  stepWith(a, DELTA_1);
  const saved = Object.fromEntries(Object.entries(a.state()).map(([name, values]) => [name, values.slice()]));
  const b = optimizer('fedyogi');
  b.restore(saved);
  assert.deepEqual(stepWith(b, DELTA_2), stepWith(a, DELTA_2));

  assert.throws(() => optimizer('fedadam').restore({ m: new Float32Array(3) }), /FedAdam .* keeps \[m, v\], the saved state has \[m\]/);
  assert.throws(() => optimizer('fedavgm').restore({ m: new Float32Array(4) }), /"m" should be 3 float32 values, got 4 values/);
  assert.throws(() => optimizer('none').restore({ m: new Float32Array(3) }), /keeps \[\], the saved state has \[m\]/);
});

test('rates out of range are refused with the rule they break', () => {
  assert.throws(() => optimizer('fedadam', { serverTau: 0 }), /τ .* must be > 0, got 0/);
  assert.throws(() => optimizer('fedavgm', { serverMomentum: 1 }), /momentum β₁ must be in \[0, 1\), got 1/);
  assert.throws(() => optimizer('fedyogi', { serverLearningRate: -1 }), /η must be > 0, got -1/);
  assert.throws(() => optimizer('fedadam').proposeStep(new Float32Array(2)), /aggregate has 2 values, the server optimizer 3/);
});

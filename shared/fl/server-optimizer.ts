// Server optimizers (Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2): the
// coordinator treats the round's aggregate Δ as a pseudo-gradient pointing downhill (the global
// model moves by +Δ under plain FedAvg) and feeds it to an optimizer of its own:
//   fedavgm     m ← β₁·m + Δ                                  x ← x + η·m
//   fedadagrad  m ← β₁·m + (1 − β₁)·Δ   v ← v + Δ²              x ← x + η·m / (√v + τ)
//   fedadam     m as above              v ← β₂·v + (1 − β₂)·Δ²
//   fedyogi     m as above              v ← v − (1 − β₂)·Δ²·sign(v − Δ²)
// All per coordinate. No bias correction, as in the paper's Algorithm 2. Δ may come from any
// rule, clipped, noised or securely summed: the optimizer only post-processes the released Δ, so
// a DP guarantee on Δ holds unchanged for the model it leads to.
//
// m and v start at 0, not at τ² (which some versions of the paper use): τ in the denominator
// already bounds the first step by η·|m|/τ, and an all-zero start is what reset() and a fresh run
// mean, and what makes the first steps easy to check by hand (Flower starts at 0 too).
//
// The state is float32, like the model and Δ: the checkpoint store keeps float32 arrays, so the
// saved state is exactly the live state and a resumed run takes the same steps bit for bit; and
// double moments would buy precision the step loses anyway when it is added to the float32 model.
// Δ² is formed in double; only v is rounded to float32, and v overflows only for |Δ| ≳ 1.8e19, far
// beyond maxUpdateNorm. Should it overflow all the same, the step is NaN there so the coordinator's
// finiteness check refuses the round instead of the coordinate silently freezing.
//
// A step is proposed, checked by the caller, then committed: proposeStep writes the next moments
// into spare buffers and commitStep swaps them in, so a refused step leaves the state unchanged
// and no round allocates.

export const SERVER_OPTIMIZERS = ['none', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad'] as const;
export type ServerOptimizerName = (typeof SERVER_OPTIMIZERS)[number];

/** How each is written for people (labels, logs); 'none' is plain FedAvg's step. */
export const SERVER_OPTIMIZER_NAMES: Record<ServerOptimizerName, string> = {
  none: 'none',
  fedavgm: 'FedAvgM',
  fedadam: 'FedAdam',
  fedyogi: 'FedYogi',
  fedadagrad: 'FedAdagrad',
};

export interface ServerOptimizerOptions {
  serverOptimizer: ServerOptimizerName;
  /** η, > 0. */
  serverLearningRate: number;
  /** β₁ in [0, 1): momentum (fedavgm) or first-moment decay (the adaptive ones). */
  serverMomentum: number;
  /** β₂ in [0, 1): second-moment decay (fedadam, fedyogi). */
  serverBeta2: number;
  /** τ > 0: adaptivity; the larger, the less the step depends on v. */
  serverTau: number;
}

/** The optimizer's buffers by name (m, v), one value per parameter: what a checkpoint keeps. */
export type ServerOptimizerState = Readonly<Record<string, Float32Array>>;

export interface ServerOptimizer {
  /** Human-readable, e.g. "FedAdam (η = 0.01, β₁ = 0.9, β₂ = 0.99, τ = 0.001)". */
  readonly title: string;
  /**
   * The step x ← x + step this round's aggregate Δ asks for, without changing the state. The array
   * belongs to the optimizer and is overwritten by the next call; 'none' returns Δ itself.
   */
  proposeStep(delta: Float32Array): Float32Array;
  /** The last proposed step was applied: its moments become the state. */
  commitStep(): void;
  /** Back to m = v = 0 (a new run). */
  reset(): void;
  /** The live buffers, not copies: copy them before the next commitStep if they must last. */
  state(): ServerOptimizerState;
  /** Copies a state() of the same optimizer and model back in; RangeError saying what does not fit. */
  restore(state: ServerOptimizerState): void;
}

/** The optimizer `options.serverOptimizer` names, for a model of `paramCount` parameters. */
export function createServerOptimizer(options: ServerOptimizerOptions, paramCount: number): ServerOptimizer {
  const { serverLearningRate: eta, serverMomentum: beta1, serverBeta2: beta2, serverTau: tau } = options;
  switch (options.serverOptimizer) {
    case 'none':
      return new PlainStep(paramCount);
    case 'fedavgm':
      return new FedAvgM(paramCount, eta, beta1);
    case 'fedadagrad':
    case 'fedadam':
    case 'fedyogi':
      return new AdaptiveServerOptimizer(options.serverOptimizer, paramCount, eta, beta1, beta2, tau);
    default: {
      const unknown: never = options.serverOptimizer;
      throw new RangeError(`unknown server optimizer ${String(unknown)}: use one of ${SERVER_OPTIMIZERS.join(', ')}`);
    }
  }
}

/** FedAvg's own step: the model moves by Δ, with no arithmetic at all (so runs stay bit-identical). */
class PlainStep implements ServerOptimizer {
  readonly title = 'none';
  constructor(private readonly paramCount: number) {}

  proposeStep(delta: Float32Array): Float32Array {
    checkLength(delta, this.paramCount);
    return delta;
  }

  commitStep(): void {}
  reset(): void {}

  state(): ServerOptimizerState {
    return {};
  }

  restore(state: ServerOptimizerState): void {
    restoreInto({}, state, this.title, this.paramCount);
  }
}

/** Server momentum (Hsu et al. 2019): with β₁ = 0 it is FedAvg with step η·Δ. */
class FedAvgM implements ServerOptimizer {
  readonly title: string;
  private m: Float32Array;
  private mNext: Float32Array;
  private readonly step: Float32Array;

  constructor(private readonly paramCount: number, private readonly eta: number, private readonly beta1: number) {
    checkPositive('server learning rate η', eta);
    checkDecay('server momentum β₁', beta1);
    this.title = `${SERVER_OPTIMIZER_NAMES.fedavgm} (η = ${eta}, β₁ = ${beta1})`;
    this.m = new Float32Array(paramCount);
    this.mNext = new Float32Array(paramCount);
    this.step = new Float32Array(paramCount);
  }

  proposeStep(delta: Float32Array): Float32Array {
    checkLength(delta, this.paramCount);
    const { m, mNext, step, eta, beta1 } = this;
    for (let i = 0; i < delta.length; i++) {
      // fround: the step follows from m as it is kept, float32
      const mi = Math.fround(beta1 * m[i] + delta[i]);
      mNext[i] = mi;
      step[i] = eta * mi;
    }
    return step;
  }

  commitStep(): void {
    [this.m, this.mNext] = [this.mNext, this.m];
  }

  reset(): void {
    this.m.fill(0);
  }

  state(): ServerOptimizerState {
    return { m: this.m };
  }

  restore(state: ServerOptimizerState): void {
    restoreInto({ m: this.m }, state, this.title, this.paramCount);
  }
}

type AdaptiveName = 'fedadagrad' | 'fedadam' | 'fedyogi';
/** FedAdagrad, FedAdam and FedYogi: the same m and step, each its own v. */
class AdaptiveServerOptimizer implements ServerOptimizer {
  readonly title: string;
  private m: Float32Array;
  private v: Float32Array;
  private mNext: Float32Array;
  private vNext: Float32Array;
  private readonly step: Float32Array;

  constructor(
    private readonly kind: AdaptiveName,
    private readonly paramCount: number,
    private readonly eta: number,
    private readonly beta1: number,
    private readonly beta2: number,
    private readonly tau: number,
  ) {
    checkPositive('server learning rate η', eta);
    checkDecay('β₁', beta1);
    checkDecay('β₂', beta2);
    checkPositive('τ (it keeps m / (√v + τ) finite where v = 0)', tau);
    const name = SERVER_OPTIMIZER_NAMES[kind];
    this.title = kind === 'fedadagrad' ? `${name} (η = ${eta}, β₁ = ${beta1}, τ = ${tau})` : `${name} (η = ${eta}, β₁ = ${beta1}, β₂ = ${beta2}, τ = ${tau})`;
    this.m = new Float32Array(paramCount);
    this.v = new Float32Array(paramCount);
    this.mNext = new Float32Array(paramCount);
    this.vNext = new Float32Array(paramCount);
    this.step = new Float32Array(paramCount);
  }

  proposeStep(delta: Float32Array): Float32Array {
    checkLength(delta, this.paramCount);
    const { m, v, mNext, vNext, step, eta, beta1, beta2, tau } = this;
    const n = delta.length;
    // One loop per rule rather than a branch per value.
    switch (this.kind) {
      case 'fedadagrad':
        for (let i = 0; i < n; i++) vNext[i] = v[i] + delta[i] * delta[i];
        break;
      case 'fedadam':
        for (let i = 0; i < n; i++) vNext[i] = beta2 * v[i] + (1 - beta2) * delta[i] * delta[i];
        break;
      case 'fedyogi':
        // v moves towards Δ² by at most (1 − β₂)·Δ² a round: unlike Adam, a large Δ² cannot be forgotten quickly.
        for (let i = 0; i < n; i++) {
          const squared = delta[i] * delta[i];
          vNext[i] = v[i] - (1 - beta2) * squared * Math.sign(v[i] - squared);
        }
        break;
    }
    for (let i = 0; i < n; i++) {
      const mi = Math.fround(beta1 * m[i] + (1 - beta1) * delta[i]);
      mNext[i] = mi;
      const vi = vNext[i];
      // An overflowed v would give a step of 0 and freeze the coordinate; NaN makes the round refuse it.
      step[i] = vi < Infinity ? (eta * mi) / (Math.sqrt(vi) + tau) : NaN;
    }
    return step;
  }

  commitStep(): void {
    [this.m, this.mNext] = [this.mNext, this.m];
    [this.v, this.vNext] = [this.vNext, this.v];
  }

  reset(): void {
    this.m.fill(0);
    this.v.fill(0);
  }

  state(): ServerOptimizerState {
    return { m: this.m, v: this.v };
  }

  restore(state: ServerOptimizerState): void {
    restoreInto({ m: this.m, v: this.v }, state, this.title, this.paramCount);
  }
}

function checkLength(delta: Float32Array, paramCount: number): void {
  if (delta.length !== paramCount) throw new RangeError(`aggregate has ${delta.length} values, the server optimizer ${paramCount}`);
}

// The schema checks these for settings; these guard other callers (tests, benches).
function checkPositive(what: string, value: number): void {
  if (!(value > 0)) throw new RangeError(`${what} must be > 0, got ${value}`);
}

function checkDecay(what: string, value: number): void {
  if (!(value >= 0 && value < 1)) throw new RangeError(`${what} must be in [0, 1), got ${value}`);
}

/** Copies `saved` into `live` after checking it holds the same buffers, each of paramCount values. */
function restoreInto(live: Record<string, Float32Array>, saved: ServerOptimizerState, title: string, paramCount: number): void {
  const expected = Object.keys(live).sort().join(', ');
  const got = Object.keys(saved ?? {}).sort().join(', ');
  if (got !== expected) {
    throw new RangeError(`server optimizer ${title} keeps [${expected}], the saved state has [${got}] (saved by another optimizer?)`);
  }
  for (const [name, values] of Object.entries(saved)) {
    if (!(values instanceof Float32Array) || values.length !== paramCount) {
      const size = values instanceof Float32Array ? `${values.length} values` : Object.prototype.toString.call(values);
      throw new RangeError(`server optimizer state "${name}" should be ${paramCount} float32 values, got ${size}`);
    }
  }
  for (const [name, values] of Object.entries(saved)) live[name].set(values);
}

// The one source for "what the model is": tensor shapes in the order tfjs's
// model.getWeights() returns them, the parameter count, and a layout hash that
// lets the coordinator refuse a delta computed for another model.

export const MODEL_NAMES = ['mlp', 'cnn', 'mlp-large'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export interface ModelSpec {
  name: ModelName;
  /** Human description shown on the dashboard. */
  title: string;
  /** Shape of one input example (without the batch dimension). */
  inputShape: number[];
  numClasses: number;
  tensorShapes: number[][];
  paramCount: number;
  layoutHash: number;
  /** Whether the model has convolutions (tfjs WASM cannot train those). */
  hasConvolutions: boolean;
}

const MLP_SHAPES = [[784, 200], [200], [200, 200], [200], [200, 10], [10]];
// A wider MLP with just over a million parameters: the size the coordinator is benchmarked at.
const MLP_LARGE_SHAPES = [[784, 1024], [1024], [1024, 200], [200], [200, 10], [10]];
// conv5x5x8 → pool2 → conv5x5x16 → pool2 → dense 256→10 (valid padding: 28→24→12→8→4)
const CNN_SHAPES = [[5, 5, 1, 8], [8], [5, 5, 8, 16], [16], [256, 10], [10]];

export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function formatShape(shape: readonly number[]): string {
  return shape.join('×');
}

/** FNV-1a over the model name and shapes: equal layouts hash equal. */
export function layoutHashOf(name: string, shapes: readonly (readonly number[])[]): number {
  const text = `${name}|${shapes.map((s) => s.join('x')).join('|')}`;
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

function spec(name: ModelName, title: string, inputShape: number[], shapes: number[][], hasConvolutions: boolean): ModelSpec {
  return {
    name,
    title,
    inputShape,
    numClasses: 10,
    tensorShapes: shapes,
    paramCount: shapes.reduce((sum, s) => sum + shapeSize(s), 0),
    layoutHash: layoutHashOf(name, shapes),
    hasConvolutions,
  };
}

export const MODEL_SPECS: Record<ModelName, ModelSpec> = {
  mlp: spec('mlp', 'MLP 784-200-200-10 (McMahan et al. "2NN")', [784], MLP_SHAPES, false),
  'mlp-large': spec('mlp-large', 'MLP 784-1024-200-10 (1.01M parameters)', [784], MLP_LARGE_SHAPES, false),
  cnn: spec('cnn', 'CNN: 2×(conv 5×5 + max-pool) + dense softmax', [28, 28, 1], CNN_SHAPES, true),
};

export function modelSpec(name: ModelName): ModelSpec {
  return MODEL_SPECS[name];
}

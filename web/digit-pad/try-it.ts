// "Try it": draw a digit, see what the current global model thinks it is, with a bar per
// class. Runs the model in the page with tfjs on the CPU backend: one 28×28 example is
// instant there, and it leaves the GPU (and any training worker) alone.
//
// The panel fetches the global weights (GET /api/weights) before its first prediction and
// again after refresh(), which the page calls whenever a round finishes or a run is reset.
import type * as tfType from '@tensorflow/tfjs';
import { MODEL_NAMES, modelSpec, type ModelName, type ModelSpec } from '../../shared/model-spec.ts';
import { buildModel, writeFlatWeights } from '../../shared/models.ts';
import { decodeWeights, WireError } from '../../shared/wire.ts';
import { createDigitPad, toMnistPixels } from './digit-pad.ts';

type Tf = typeof tfType;

const BACKEND = 'cpu';

export interface TryItOptions {
  /** Where the global weights are (shared/wire.ts format). */
  weightsUrl?: string;
}

export interface TryItPanel {
  readonly element: HTMLElement;
  /** The global model changed: fetch it again, and re-classify what is on the pad. */
  refresh(): void;
}

interface GlobalModel {
  spec: ModelSpec;
  model: tfType.Sequential;
  /** Completed rounds behind these weights (the coordinator's x-flock-round header), when known. */
  round: number | null;
}

let tfLoading: Promise<Tf> | null = null;

/** tfjs is loaded on first use, so the page around the panel shows without waiting for it. */
function loadTf(): Promise<Tf> {
  tfLoading ??= import('@tensorflow/tfjs').then(async (tf) => {
    if (!(await tf.setBackend(BACKEND))) throw new Error(`tfjs backend ${BACKEND} is unavailable`);
    return tf;
  });
  return tfLoading;
}

/** The weights say which model they belong to: the one whose layout they decode as. */
function decodeAnyModel(buffer: ArrayBuffer, preferred: ModelName | undefined): { name: ModelName; weights: Float32Array } {
  const names = preferred ? [preferred, ...MODEL_NAMES.filter((n) => n !== preferred)] : [...MODEL_NAMES];
  const problems: string[] = [];
  for (const name of names) {
    try {
      return { name, weights: decodeWeights(modelSpec(name), buffer) };
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      problems.push(`${name}: ${error.message}`);
    }
  }
  throw new Error(`the global weights fit no known model (${problems.join('; ')})`);
}

export function createTryIt(options: TryItOptions = {}): TryItPanel {
  const weightsUrl = options.weightsUrl ?? '/api/weights';
  const element = document.createElement('div');
  element.className = 'try-it';
  const pad = createDigitPad({ testId: 'try-it-pad', label: 'drawing pad: draw a digit for the global model to classify' });

  const result = document.createElement('div');
  result.className = 'try-it-result';
  const predictionLine = document.createElement('p');
  predictionLine.className = 'try-it-prediction-line';
  const prediction = document.createElement('output');
  prediction.className = 'try-it-prediction';
  prediction.dataset.testid = 'try-it-prediction';
  prediction.setAttribute('aria-live', 'polite');
  const confidence = document.createElement('span');
  predictionLine.append('The model says', prediction, confidence);

  const bars = document.createElement('div');
  bars.className = 'try-it-bars';
  bars.dataset.testid = 'try-it-probabilities';
  const barRows = Array.from({ length: 10 }, (_, digit) => {
    const row = document.createElement('div');
    row.style.display = 'contents';
    row.dataset.digit = String(digit);
    const label = document.createElement('span');
    label.textContent = String(digit);
    const track = document.createElement('span');
    track.className = 'try-it-bar-track';
    const bar = document.createElement('span');
    bar.className = 'try-it-bar';
    bar.style.display = 'block';
    track.append(bar);
    const percent = document.createElement('span');
    percent.className = 'try-it-percent';
    row.append(label, track, percent);
    bars.append(row);
    return { row, bar, percent };
  });

  const status = document.createElement('p');
  status.className = 'try-it-status';
  result.append(predictionLine, bars, status);
  element.append(pad.element, result);

  let global: GlobalModel | null = null;
  let weightsStale = true;
  // Predictions run one after another: a stroke that ends mid-fetch waits its turn.
  let queue: Promise<void> = Promise.resolve();

  function showStatus(text: string, isError = false): void {
    status.textContent = text;
    status.dataset.error = String(isError);
  }

  function showProbabilities(probabilities: ArrayLike<number> | null): void {
    let top = -1;
    if (probabilities !== null) {
      for (let d = 0; d < 10; d++) if (top < 0 || probabilities[d] > probabilities[top]) top = d;
    }
    barRows.forEach(({ row, bar, percent }, digit) => {
      const p = probabilities === null ? null : probabilities[digit];
      row.dataset.probability = p === null ? '' : String(p);
      row.dataset.top = String(digit === top);
      bar.style.width = p === null ? '0' : `${(100 * p).toFixed(1)}%`;
      percent.textContent = p === null ? '' : `${(100 * p).toFixed(1)}%`;
    });
    prediction.textContent = top < 0 ? '' : String(top);
    confidence.textContent = top < 0 ? '' : `(${(100 * probabilities![top]).toFixed(0)}% sure)`;
    predictionLine.style.visibility = top < 0 ? 'hidden' : 'visible';
  }

  async function loadGlobalModel(tf: Tf): Promise<GlobalModel> {
    const response = await fetch(weightsUrl, { cache: 'no-store' });
    if (!response.ok) throw new Error(`GET ${weightsUrl} answered HTTP ${response.status}`);
    const roundHeader = response.headers.get('x-flock-round');
    const { name, weights } = decodeAnyModel(await response.arrayBuffer(), global?.spec.name);
    if (global?.spec.name !== name) {
      global?.model.dispose();
      global = { spec: modelSpec(name), model: buildModel(tf, name), round: null };
    }
    writeFlatWeights(tf, global.model, weights);
    global.round = roundHeader === null ? null : Number(roundHeader);
    return global;
  }

  async function classifyDrawing(): Promise<void> {
    if (pad.isEmpty()) return;
    const tf = await loadTf();
    if (weightsStale || global === null) {
      weightsStale = false;
      global = await loadGlobalModel(tf);
    }
    const { spec, model, round } = global;
    const pixels = toMnistPixels(pad.canvas);
    const output = tf.tidy(() => model.predict(tf.tensor(pixels, [1, ...spec.inputShape], 'float32').div(255)) as tfType.Tensor);
    const probabilities = await output.data();
    output.dispose();
    if (pad.isEmpty()) return; // cleared while the model ran
    showProbabilities(probabilities);
    const after = round === null ? '' : round === 0 ? ', before any round' : `, after round ${round}`;
    showStatus(`global model (${spec.name}${after})`);
  }

  function scheduleClassify(): void {
    queue = queue.then(classifyDrawing).catch((error: unknown) => {
      weightsStale = true; // try a fresh fetch next time
      showStatus(`could not classify: ${error instanceof Error ? error.message : String(error)}`, true);
    });
  }

  pad.onStrokeEnd(scheduleClassify);
  pad.onClear(() => {
    showProbabilities(null);
    showStatus('Draw a digit (0–9) on the black square.');
  });
  showProbabilities(null);
  showStatus('Draw a digit (0–9) on the black square.');
  // Start loading tfjs now, so the first stroke is answered quickly.
  void loadTf().catch((error: unknown) => showStatus(`tfjs failed to load: ${(error as Error).message}`, true));

  return {
    element,
    refresh() {
      weightsStale = true;
      if (!pad.isEmpty()) scheduleClassify();
    },
  };
}

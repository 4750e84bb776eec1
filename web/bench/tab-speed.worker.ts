// The tab-speed bench's worker (tab-speed.ts): Flock's trainer (participant/tfjs-trainer.ts, the
// one the participant worker trains with) on a forced backend, trained on command, so the bench
// times the real training path in a worker without a coordinator's rounds around it.
import { chooseBackend } from '../backend-probe.ts';
import type { ModelName } from '../../shared/model-spec.ts';
import type { BackendName } from '../../shared/protocol/records.ts';
import { TfjsTrainer } from '../participant/tfjs-trainer.ts';

export type ToBenchWorker =
  | { type: 'init'; model: ModelName; backend: BackendName; pixels: ArrayBuffer; labels: ArrayBuffer }
  | { type: 'train'; round: number; weights: ArrayBuffer; epochs: number; batchSize: number; learningRate: number };

export type FromBenchWorker =
  | { type: 'ready'; probeExamplesPerSec: number }
  /** The trainer's own speed report, and the loss read-backs it made. */
  | { type: 'trained'; examplesPerSec: number; numExamples: number; progressMessages: number }
  | { type: 'error'; message: string };

const scope = self as unknown as DedicatedWorkerGlobalScope;
let trainer: TfjsTrainer | null = null;
const post = (message: FromBenchWorker) => scope.postMessage(message);

scope.onmessage = (event: MessageEvent<ToBenchWorker>) => {
  handle(event.data).catch((error: unknown) => post({ type: 'error', message: error instanceof Error ? error.message : String(error) }));
};

async function handle(message: ToBenchWorker): Promise<void> {
  if (message.type === 'init') {
    const train = { count: new Uint8Array(message.labels).length, pixelsPerExample: message.pixels.byteLength / message.labels.byteLength, pixels: new Uint8Array(message.pixels), labels: new Uint8Array(message.labels) };
    let probeExamplesPerSec = NaN;
    const choice = await chooseBackend(message.model, train, message.backend, null, (result) => (probeExamplesPerSec = result.examplesPerSec ?? NaN));
    const heldOut = { count: 0, pixelsPerExample: train.pixelsPerExample, pixels: new Uint8Array(0), labels: new Uint8Array(0) };
    trainer = new TfjsTrainer({ model: message.model, examples: { train, heldOut }, backend: choice.backend, backendReason: choice.reason });
    return post({ type: 'ready', probeExamplesPerSec });
  }
  if (!trainer) throw new Error('train before init');
  let progressMessages = 0;
  const { round, epochs, batchSize, learningRate } = message;
  const job = { round, global: new Float32Array(message.weights), epochs, batchSize, learningRate, proximalMu: 0, attack: 'none' as const, clipNorm: 0, localNoiseMultiplier: 0 };
  const trained = await trainer.train(job, () => progressMessages++).result;
  if (trained === 'cancelled') throw new Error(`round ${round} was cancelled`);
  post({ type: 'trained', examplesPerSec: trained.examplesPerSec, numExamples: trained.numExamples, progressMessages });
}

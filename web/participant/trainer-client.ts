// The page's side of the training worker: a promise for init, a cancellable job
// per round, a promise per evaluation, callbacks for probe results and progress.
import type { ModelName } from '../../shared/model-spec.ts';
import type { AttackMode, BackendName } from '../../shared/protocol/records.ts';
import type { BackendChoice, FromWorker, ProbeResult, ToWorker } from '../worker-protocol.ts';

export interface Ready {
  choice: BackendChoice;
  numExamples: number;
  heldOutExamples: number;
  numTensors: number;
}

export type Trained = Extract<FromWorker, { type: 'trained' }>;
export type Progress = Extract<FromWorker, { type: 'progress' }>;
export type Evaluated = Extract<FromWorker, { type: 'evaluated' }>;

export interface TrainerEvents {
  onProbe(result: ProbeResult): void;
  onProgress(progress: Progress): void;
}

/** One round's local training; `cancel` stops it at its next loss read-back. */
export interface TrainingJob {
  readonly result: Promise<Trained | 'cancelled'>;
  cancel(): void;
}

interface Pending<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

export class TrainerClient {
  private readonly worker = new Worker(new URL('../trainer.worker.ts', import.meta.url), { type: 'module' });
  private pendingInit: Pending<Ready> | null = null;
  private readonly pendingAdds: Pending<number>[] = [];
  private readonly pendingJobs = new Map<number, Pending<Trained | 'cancelled'>>();
  private readonly pendingEvaluations = new Map<number, Pending<Evaluated>>();
  private nextJob = 1;

  constructor(
    readonly model: ModelName,
    private readonly events: TrainerEvents,
  ) {
    this.worker.onmessage = (event: MessageEvent<FromWorker>) => this.receive(event.data);
    this.worker.onerror = (event) => this.failAll(new Error(`training worker crashed: ${event.message}`));
  }

  init(args: {
    forcedBackend: BackendName | null;
    cachedChoice: BackendChoice | null;
    pixels: Uint8Array;
    labels: Uint8Array;
    heldOutPixels?: Uint8Array;
    heldOutLabels?: Uint8Array;
  }): Promise<Ready> {
    const pixels = args.pixels.slice().buffer;
    const labels = args.labels.slice().buffer;
    const heldOutPixels = (args.heldOutPixels ?? new Uint8Array(0)).slice().buffer;
    const heldOutLabels = (args.heldOutLabels ?? new Uint8Array(0)).slice().buffer;
    return new Promise((resolve, reject) => {
      this.pendingInit = { resolve, reject };
      this.post(
        { type: 'init', model: this.model, forcedBackend: args.forcedBackend, cachedChoice: args.cachedChoice, pixels, labels, heldOutPixels, heldOutLabels },
        [pixels, labels, heldOutPixels, heldOutLabels],
      );
    });
  }

  /** Federated evaluation: these global weights on the held-out examples; runs before any training asked for after it. */
  evaluate(round: number, weights: Float32Array): Promise<Evaluated> {
    const job = this.nextJob++;
    const buffer = weights.slice().buffer;
    return new Promise((resolve, reject) => {
      this.pendingEvaluations.set(job, { resolve, reject });
      this.post({ type: 'evaluate', job, round, weights: buffer }, [buffer]);
    });
  }

  /** `attack` defaults to 'none' and `proximalMu` to 0: an honest FedAvg round (what the benchmark pages train). */
  train(args: {
    round: number;
    weights: Float32Array;
    epochs: number;
    batchSize: number;
    learningRate: number;
    proximalMu?: number;
    attack?: AttackMode;
    clipNorm?: number;
    localNoiseMultiplier?: number;
  }): TrainingJob {
    const job = this.nextJob++;
    const weights = args.weights.slice().buffer;
    const result = new Promise<Trained | 'cancelled'>((resolve, reject) => {
      this.pendingJobs.set(job, { resolve, reject });
    });
    const { round, epochs, batchSize, learningRate, proximalMu = 0, attack = 'none', clipNorm = 0, localNoiseMultiplier = 0 } = args;
    this.post({ type: 'train', job, round, weights, epochs, batchSize, learningRate, proximalMu, attack, clipNorm, localNoiseMultiplier }, [weights]);
    return {
      result,
      cancel: () => {
        if (this.pendingJobs.has(job)) this.post({ type: 'cancel', job });
      },
    };
  }

  /** Adds labelled examples to the local data; resolves with the new example count once they are in. */
  addExamples(pixels: Uint8Array, labels: Uint8Array): Promise<number> {
    const pixelBuffer = pixels.slice().buffer;
    const labelBuffer = labels.slice().buffer;
    return new Promise((resolve, reject) => {
      this.pendingAdds.push({ resolve, reject });
      this.post({ type: 'add-examples', pixels: pixelBuffer, labels: labelBuffer }, [pixelBuffer, labelBuffer]);
    });
  }

  terminate(): void {
    this.worker.terminate();
    this.failAll(new Error('training worker stopped'));
  }

  private post(message: ToWorker, transfer: Transferable[] = []): void {
    this.worker.postMessage(message, transfer);
  }

  private settle(job: number, outcome: { value: Trained | 'cancelled' } | { error: Error }): void {
    const pending = this.pendingJobs.get(job);
    if (!pending) return;
    this.pendingJobs.delete(job);
    if ('error' in outcome) pending.reject(outcome.error);
    else pending.resolve(outcome.value);
  }

  private settleEvaluation(job: number, settle: (pending: Pending<Evaluated>) => void): void {
    const pending = this.pendingEvaluations.get(job);
    if (!pending) return;
    this.pendingEvaluations.delete(job);
    settle(pending);
  }

  private receive(message: FromWorker): void {
    switch (message.type) {
      case 'probe':
        return this.events.onProbe(message.result);
      case 'examples-added':
        return this.pendingAdds.shift()?.resolve(message.numExamples);
      case 'progress':
        return this.events.onProgress(message);
      case 'ready':
        this.pendingInit?.resolve({ choice: message.choice, numExamples: message.numExamples, heldOutExamples: message.heldOutExamples, numTensors: message.numTensors });
        this.pendingInit = null;
        return;
      case 'trained':
        return this.settle(message.job, { value: message });
      case 'cancelled':
        return this.settle(message.job, { value: 'cancelled' });
      case 'evaluated':
        return this.settleEvaluation(message.job, (pending) => pending.resolve(message));
      case 'error': {
        const error = new Error(message.message);
        if (message.job !== null && this.pendingEvaluations.has(message.job)) return this.settleEvaluation(message.job, (pending) => pending.reject(error));
        if (message.job !== null) return this.settle(message.job, { error });
        if (this.pendingInit) {
          this.pendingInit.reject(error);
          this.pendingInit = null;
          return;
        }
        const add = this.pendingAdds.shift();
        if (add) return add.reject(error);
        return this.failAll(error);
      }
    }
  }

  private failAll(error: Error): void {
    this.pendingInit?.reject(error);
    this.pendingInit = null;
    for (const pending of [...this.pendingJobs.values(), ...this.pendingEvaluations.values(), ...this.pendingAdds.splice(0)]) pending.reject(error);
    this.pendingJobs.clear();
    this.pendingEvaluations.clear();
  }
}

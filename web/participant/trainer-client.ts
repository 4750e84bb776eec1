// The page's side of the training worker: promises for init and train, callbacks for progress.
import type { ModelName } from '../../shared/model-spec.ts';
import type { BackendName } from '../../shared/protocol.ts';
import type { BackendChoice, FromWorker, ProbeResult, ToWorker } from '../worker-protocol.ts';

export interface Ready {
  choice: BackendChoice;
  numExamples: number;
  numTensors: number;
}

export type Trained = Extract<FromWorker, { type: 'trained' }>;

export interface TrainerEvents {
  onProbe(result: ProbeResult): void;
  onProgress(progress: Extract<FromWorker, { type: 'progress' }>): void;
}

interface Pending<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

export class TrainerClient {
  private readonly worker = new Worker(new URL('../trainer.worker.ts', import.meta.url), { type: 'module' });
  private pendingInit: Pending<Ready> | null = null;
  private readonly pendingRounds = new Map<number, Pending<Trained | 'cancelled'>>();

  constructor(
    readonly model: ModelName,
    private readonly events: TrainerEvents,
  ) {
    this.worker.onmessage = (event: MessageEvent<FromWorker>) => this.receive(event.data);
    this.worker.onerror = (event) => this.failAll(new Error(`training worker crashed: ${event.message}`));
  }

  init(args: { forcedBackend: BackendName | null; cachedChoice: BackendChoice | null; pixels: Uint8Array; labels: Uint8Array }): Promise<Ready> {
    const pixels = args.pixels.slice().buffer;
    const labels = args.labels.slice().buffer;
    return new Promise((resolve, reject) => {
      this.pendingInit = { resolve, reject };
      this.post({ type: 'init', model: this.model, forcedBackend: args.forcedBackend, cachedChoice: args.cachedChoice, pixels, labels }, [pixels, labels]);
    });
  }

  train(args: { round: number; weights: Float32Array; epochs: number; batchSize: number; learningRate: number }): Promise<Trained | 'cancelled'> {
    const weights = args.weights.slice().buffer;
    return new Promise((resolve, reject) => {
      this.pendingRounds.set(args.round, { resolve, reject });
      this.post({ type: 'train', round: args.round, weights, epochs: args.epochs, batchSize: args.batchSize, learningRate: args.learningRate }, [weights]);
    });
  }

  cancel(round: number): void {
    this.post({ type: 'cancel', round });
  }

  terminate(): void {
    this.worker.terminate();
    this.failAll(new Error('training worker stopped'));
  }

  private post(message: ToWorker, transfer: Transferable[] = []): void {
    this.worker.postMessage(message, transfer);
  }

  private receive(message: FromWorker): void {
    switch (message.type) {
      case 'probe':
        return this.events.onProbe(message.result);
      case 'progress':
        return this.events.onProgress(message);
      case 'ready':
        this.pendingInit?.resolve({ choice: message.choice, numExamples: message.numExamples, numTensors: message.numTensors });
        this.pendingInit = null;
        return;
      case 'trained':
      case 'cancelled':
        this.pendingRounds.get(message.round)?.resolve(message.type === 'trained' ? message : 'cancelled');
        this.pendingRounds.delete(message.round);
        return;
      case 'error': {
        const error = new Error(message.message);
        if (message.round !== null && this.pendingRounds.has(message.round)) {
          this.pendingRounds.get(message.round)!.reject(error);
          this.pendingRounds.delete(message.round);
        } else if (this.pendingInit) {
          this.pendingInit.reject(error);
          this.pendingInit = null;
        } else {
          this.failAll(error);
        }
      }
    }
  }

  private failAll(error: Error): void {
    this.pendingInit?.reject(error);
    this.pendingInit = null;
    for (const pending of this.pendingRounds.values()) pending.reject(error);
    this.pendingRounds.clear();
  }
}

// One simulated client: the tab's protocol over its own socket.io-client connection (join, fetch
// the shard over HTTP, ready with label counts, answer each round:start with an update) and the
// tab's own training code (web/local-training.ts) on its own model. Runs in a worker thread
// (client-worker.ts) whose tfjs backend is already set.
import * as tf from '@tensorflow/tfjs';
import { io as connect, type Socket } from 'socket.io-client';
import { decodeDataset } from '../../shared/dataset-format.ts';
import { modelSpec, type ModelName } from '../../shared/model-spec.ts';
import { buildModel } from '../../shared/models.ts';
import { labelHistogram } from '../../shared/partition.ts';
import type { ClientToServerEvents, JoinReply, RoundStart, ServerToClientEvents } from '../../shared/protocol/messages.ts';
import { decodeWeights, encodeWeights } from '../../shared/wire.ts';
import { disposeExamples, FitCancelledError, toExampleTensors, trainRound, type ExampleTensors } from '../../web/local-training.ts';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const ACK_TIMEOUT_MS = 120_000;
const BACKEND_REASON = 'simulated client in Node (npm run experiment)';

/** Runs jobs one after another: the clients of one thread train in turn, not interleaved. */
export type TrainingQueue = <T>(job: () => Promise<T>) => Promise<T>;

export function oneAtATime(): TrainingQueue {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(job: () => Promise<T>) => {
    const run = tail.then(job);
    tail = run.catch(() => undefined); // a failed job is reported by its caller; the next one still runs
    return run;
  };
}

export interface ClientRoundReport {
  round: number;
  attempt: number;
  /** Mean cross-entropy of the last local epoch. */
  loss: number;
  examplesPerSec: number;
  trainSeconds: number;
}

export interface JoinedClient {
  clientId: string;
  shard: number;
  numExamples: number;
  labelCounts: number[];
}

export interface SimulatedClientOptions {
  /** The coordinator, e.g. http://127.0.0.1:40123 */
  url: string;
  train: TrainingQueue;
  onRound: (report: ClientRoundReport) => void;
  /** Anything that stops this client from taking part: the experiment is then void. */
  onFailure: (message: string) => void;
}

interface Holding {
  model: ModelName;
  network: tf.Sequential;
  examples: ExampleTensors;
  labels: Uint8Array;
  dataVersion: string;
}

export class SimulatedClient {
  private socket: ClientSocket | null = null;
  private holding: Holding | null = null;
  private closing = false;
  /** The round attempt this client should be training; an older one still training stops at its next read-back. */
  private latestAttempt = '';

  constructor(private readonly options: SimulatedClientOptions) {}

  /** Connects, joins, fetches its shard and reports ready. */
  async join(): Promise<JoinedClient> {
    const { url } = this.options;
    const socket: ClientSocket = connect(url, { transports: ['websocket'], forceNew: true, reconnection: false });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', (error) => reject(new Error(`cannot connect to ${url}: ${error.message}`)));
    });
    socket.on('disconnect', (reason) => {
      if (!this.closing) this.options.onFailure(`lost its connection: ${reason}`);
    });
    socket.on('flock:error', (message) => this.options.onFailure(`the coordinator refused a message: ${message}`));
    const answered = new Set<string>();
    socket.on('round:start', (start) => {
      // The coordinator resends an owed round at a rejoin; like a tab, answer each attempt once.
      const key = `${start.round}/${start.attempt}`;
      this.latestAttempt = key;
      if (answered.has(key)) return;
      answered.add(key);
      this.answer(start, key, socket).catch((error: unknown) => this.options.onFailure(`round ${start.round}: ${(error as Error).message}`));
    });

    const reply: JoinReply | { error: string } = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck('participant:join', {});
    if ('error' in reply) throw new Error(`join refused: ${reply.error}`);
    const shardBytes = await fetchShard(new URL(reply.shard.url, url));
    const shard = decodeDataset(shardBytes);
    const spec = modelSpec(reply.model);
    this.holding = {
      model: reply.model,
      network: buildModel(tf, reply.model),
      examples: toExampleTensors(reply.model, shard.pixels, shard.labels),
      labels: shard.labels,
      dataVersion: reply.shard.dataVersion,
    };
    const labelCounts = labelHistogram(shard.labels, Array.from(shard.labels.keys()), spec.numClasses);
    socket.emit('participant:ready', { backend: backendName(), backendReason: BACKEND_REASON, numExamples: shard.count, labelCounts });
    return { clientId: reply.clientId, shard: reply.shard.index, numExamples: shard.count, labelCounts };
  }

  close(): void {
    this.closing = true;
    this.socket?.disconnect();
    if (this.holding) {
      disposeExamples(this.holding.examples);
      this.holding.network.dispose();
      this.holding = null;
    }
  }

  private async answer(start: RoundStart, key: string, socket: ClientSocket): Promise<void> {
    const holding = this.holding;
    if (!holding) throw new Error('round:start before the shard was loaded');
    if (start.dataVersion !== holding.dataVersion) {
      // Experiments never change the split mid-run; a tab would fetch its new shard here.
      throw new Error(`trains on split ${start.dataVersion}, this client holds ${holding.dataVersion}`);
    }
    if (start.config.secureAggregation) throw new Error('secure aggregation is not simulated: run the experiment without it');
    const spec = modelSpec(holding.model);
    const global = decodeWeights(spec, start.weights);
    const { localEpochs, batchSize, learningRate, proximalMu, clipNorm, localNoiseMultiplier } = start.config;
    const startedAt = performance.now();
    let output;
    try {
      output = await this.options.train(() =>
        trainRound(
          {
            model: holding.model,
            network: holding.network,
            examples: holding.examples,
            labels: holding.labels,
            global,
            settings: { epochs: localEpochs, batchSize, learningRate, proximalMu },
            round: start.round,
            attack: 'none',
            attackSeed: 1,
            clipNorm,
            localNoiseMultiplier,
          },
          (progress) => {
            if (progress.step === progress.stepsPerEpoch) socket.emit('participant:progress', { round: start.round, epoch: progress.epoch, loss: progress.loss });
          },
          () => this.latestAttempt !== key || this.closing,
        ),
      );
    } catch (error) {
      if (error instanceof FitCancelledError) return; // a newer attempt of the round started: that one answers
      throw error;
    }
    const trainSeconds = (performance.now() - startedAt) / 1000;
    if (!socket.connected) return;
    const loss = output.fit.lastEpochLoss;
    socket.emit('participant:progress', { round: start.round, epoch: localEpochs, loss, uploading: true });
    const ack = await socket
      .timeout(ACK_TIMEOUT_MS)
      .emitWithAck('participant:update', { round: start.round, numExamples: holding.examples.count, loss, delta: encodeWeights(spec, output.delta) });
    if (!ack.accepted) {
      // A late answer to an attempt the coordinator already closed is no failure: a tab would just wait.
      if (this.latestAttempt !== key) return;
      throw new Error(`update refused: ${ack.error}`);
    }
    this.options.onRound({ round: start.round, attempt: start.attempt, loss, examplesPerSec: output.fit.examplesPerSec, trainSeconds });
  }
}

async function fetchShard(url: URL): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`shard ${url.pathname}: HTTP ${response.status} ${await response.text()}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** The protocol's name for the backend tfjs runs on here (wasm, or the pure-JS cpu fallback). */
function backendName(): 'wasm' | 'cpu' {
  return tf.getBackend() === 'wasm' ? 'wasm' : 'cpu';
}

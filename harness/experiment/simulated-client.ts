// One simulated client of `npm run experiment`: the participant loop every tab runs
// (shared/participant/) over its own socket.io-client connection, fetching its shard over HTTP, with
// the tab's own trainer (web/participant/tfjs-trainer.ts) on its own model. Runs in a worker thread
// (client-worker.ts) whose tfjs backend is already set; the clients of one thread train in turn.
import * as tf from '@tensorflow/tfjs';
import { createSecureRng } from '../../shared/fl/secure-random.ts';
import { Participant } from '../../shared/participant/participant.ts';
import type { TrainingQueue } from '../../shared/participant/trainer.ts';
import { memoryTokens, SocketTransport, systemClock } from '../../web/participant/runtime-io.ts';
import { TfjsTrainer } from '../../web/participant/tfjs-trainer.ts';

const BACKEND_REASON = 'simulated client in Node (npm run experiment)';

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
  /** Shared by the clients of one thread: they train one after another. */
  train: TrainingQueue;
  onRound: (report: ClientRoundReport) => void;
  /** Anything that stops this client from taking part: the experiment is then void. */
  onFailure: (message: string) => void;
}

export class SimulatedClient {
  private loop: Participant | null = null;
  private closing = false;

  constructor(private readonly options: SimulatedClientOptions) {}

  /** Connects, joins, fetches its shard and reports ready. */
  join(): Promise<JoinedClient> {
    const { url, train, onRound, onFailure } = this.options;
    return new Promise((resolve, reject) => {
      let joined = false;
      /** Before the join: the join fails; after it: the experiment does. */
      const failure = (message: string) => {
        if (joined) return onFailure(message);
        joined = true;
        reject(new Error(message));
      };
      const loop = new Participant({
        transport: new SocketTransport(url, { reconnect: false }),
        tokens: memoryTokens(),
        clock: systemClock,
        secureRng: createSecureRng,
        host: {
          fetchShard: (path) => fetchShard(new URL(path, url)),
          startTrainer: async ({ model, examples }) => {
            if (!examples) throw new Error('no shard was loaded');
            return new TfjsTrainer({ model, examples, backend: backendName(), backendReason: BACKEND_REASON, queue: train, attackSeed: 1 });
          },
        },
        events: {
          joined: (reply) => {
            if (joined) return;
            joined = true;
            resolve({ clientId: reply.clientId, shard: reply.shard.index, numExamples: loop.state.numExamples, labelCounts: loop.state.labelCounts ?? [] });
          },
          joinFailed: (message) => failure(`join refused: ${message}`),
          connectFailed: (message) => failure(`cannot connect to ${url}: ${message}`),
          disconnected: (reason) => {
            if (!this.closing) failure(`lost its connection: ${reason}`);
          },
          problem: (message) => failure(message),
          answered: ({ round, attempt, ack, trained }) => {
            if (ack.accepted) onRound({ round, attempt, loss: trained.loss, examplesPerSec: trained.examplesPerSec, trainSeconds: trained.trainingMs / 1000 });
          },
        },
      });
      this.loop = loop;
      loop.start();
    });
  }

  close(): void {
    this.closing = true;
    this.loop?.close();
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

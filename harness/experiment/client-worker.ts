// Worker-thread entry: hosts a few simulated clients (simulated-client.ts), each with its own
// connection and model, training one at a time on this thread's tfjs backend. run-experiment.ts
// starts one such thread per core and hears from it through the messages below.
import { parentPort, workerData } from 'node:worker_threads';
import { initNodeBackend } from '../../server/evaluator.ts';
import { oneAtATime } from '../../shared/participant/trainer.ts';
import { SimulatedClient, type ClientRoundReport, type JoinedClient } from './simulated-client.ts';

export interface ClientWorkerData {
  url: string;
  /** Index of this thread's first client among all the experiment's clients. */
  firstClient: number;
  clientCount: number;
}

export type FromClientWorker =
  | ({ type: 'joined'; client: number } & JoinedClient)
  | ({ type: 'trained'; client: number } & ClientRoundReport)
  | { type: 'failed'; client: number | null; message: string };

export type ToClientWorker = { type: 'close' };

async function main(port: NonNullable<typeof parentPort>, data: ClientWorkerData): Promise<void> {
  const post = (message: FromClientWorker) => port.postMessage(message);
  await initNodeBackend();
  const train = oneAtATime();
  const clients = Array.from({ length: data.clientCount }, (_, k) => {
    const client = data.firstClient + k;
    return new SimulatedClient({
      url: data.url,
      train,
      onRound: (report) => post({ type: 'trained', client, ...report }),
      onFailure: (message) => post({ type: 'failed', client, message }),
    });
  });
  port.on('message', (message: ToClientWorker) => {
    if (message.type !== 'close') return;
    for (const client of clients) client.close();
    port.close();
  });
  // One after another: joins are cheap, and the coordinator hands out shards in join order.
  for (const [k, client] of clients.entries()) {
    post({ type: 'joined', client: data.firstClient + k, ...(await client.join()) });
  }
}

if (!parentPort) throw new Error('client-worker.ts runs as a worker thread (see run-experiment.ts), not on its own');
const port = parentPort;
main(port, workerData as ClientWorkerData).catch((error: unknown) => {
  port.postMessage({ type: 'failed', client: null, message: error instanceof Error ? error.message : String(error) } satisfies FromClientWorker);
});

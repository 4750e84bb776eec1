// Builds the Fastify instance: composes the plugins, nothing else.
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Settings } from '../shared/settings.ts';
import { Coordinator } from './coordinator.ts';
import { loadMnist, type Mnist } from './dataset.ts';
import { initNodeBackend, TestSetEvaluator } from './evaluator.ts';
import httpApi from './plugins/http-api.ts';
import socketTransport, { type IncomingMessage } from './plugins/socket.ts';
import staticPage from './plugins/static-page.ts';
import type { Evaluator } from './evaluator.ts';
import type { Access } from './access.ts';
import { RunCheckpoints } from './run-checkpoints.ts';
import { LedgerFile } from './ledger-file.ts';
import type { TransportLimits } from './limits/transport-limits.ts';

export interface AppOptions {
  settings: Settings;
  access: Access;
  /** Participant URLs to show (without the room code); default: the listening address. */
  baseUrls?: string[];
  distDir: string;
  /** Where the run is checkpointed and resumed from; omitted: nothing is kept. */
  dataDir?: string;
  /** Start a new run even when dataDir holds a checkpoint (which is then removed). */
  fresh?: boolean;
  limits?: TransportLimits;
  logger?: FastifyServerOptions['logger'];
  mnist?: Mnist;
  evaluator?: Evaluator;
  observeIncoming?: (message: IncomingMessage) => void;
}

export interface FlockApp {
  app: FastifyInstance;
  coordinator: Coordinator;
}

export async function buildApp(options: AppOptions): Promise<FlockApp> {
  // Per-request lines would drown the round log; refusals and bugs are logged by the API's error handler.
  const app = Fastify({
    logger: options.logger ?? false,
    logController: new LogController({ disableRequestLogging: true }),
    // Refuse unknown body fields (the schemas say additionalProperties: false) instead of quietly dropping them.
    ajv: { customOptions: { removeAdditional: false } },
  });
  const mnist = options.mnist ?? loadMnist();
  const backend = await initNodeBackend(); // evaluation and model export both run tfjs here
  const evaluator = options.evaluator ?? new TestSetEvaluator(mnist.test);
  app.log.info(`evaluating on ${mnist.test.count} held-out digits with tfjs ${backend}`);
  const baseUrls: string[] = options.baseUrls ? [...options.baseUrls] : [];
  const log = (level: 'info' | 'warn' | 'error', message: string, error?: unknown) =>
    error === undefined ? app.log[level](message) : app.log[level]({ err: error }, message);
  const checkpoints = options.dataDir ? new RunCheckpoints(options.dataDir, log) : null;
  if (checkpoints && options.fresh) await checkpoints.clear();
  // The population's privacy ledger outlives runs, resets and --fresh: it is kept apart from the checkpoints.
  const ledger = await LedgerFile.open(options.dataDir ?? null);
  const coordinator = new Coordinator({ settings: options.settings, mnist, evaluator, access: options.access, baseUrls, log, checkpoints, ledger });
  if (!options.baseUrls) {
    app.addHook('onListen', async () => {
      const address = app.server.address();
      if (address && typeof address === 'object') baseUrls.push(`http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`);
    });
  }
  await app.register(httpApi, { prefix: '/api', coordinator });
  await app.register(socketTransport, { coordinator, limits: options.limits, observeIncoming: options.observeIncoming });
  await app.register(staticPage, { distDir: options.distDir });
  if (checkpoints) app.log.info(await coordinator.resume());
  return { app, coordinator };
}

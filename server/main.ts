// Starts the coordinator: reads config (the only file that touches process.env), builds the app, listens.
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { SettingsError } from '../shared/settings.ts';
import { buildApp } from './app.ts';
import { CheckpointError, UnusableCheckpointsError } from './checkpoint-store.ts';
import { LedgerFileError } from './ledger-file.ts';
import { loadConfig, type ServerConfig } from './config.ts';
import { ROOT_DIR } from './data-paths.ts';
import { keepAccessAcrossRestarts } from './saved-access.ts';

/** LAN addresses first (what phones in the room can open), localhost last. */
function reachableAddresses(port: number): string[] {
  const lan = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && a.family === 'IPv4' && !a.internal)
    .map((a) => `http://${a!.address}:${port}/`);
  return [...lan, `http://localhost:${port}/`];
}

async function main(): Promise<void> {
  let config: ServerConfig;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof SettingsError) {
      console.error(`flock: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const port = config.port;
  const baseUrls = config.host === '127.0.0.1' || config.host === 'localhost' ? [`http://localhost:${port}/`] : reachableAddresses(port);
  const access = await keepAccessAcrossRestarts(config.dataDir, config.access, config.generated, config.fresh);
  const { app, coordinator } = await buildApp({
    settings: config.settings,
    access,
    baseUrls,
    distDir: join(ROOT_DIR, 'dist'),
    dataDir: config.dataDir,
    fresh: config.fresh,
    limits: config.limits,
    logger: {
      level: process.env.FLOCK_LOG_LEVEL ?? 'info',
      transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss', ignore: 'pid,hostname,reqId' } },
    },
  });
  await app.listen({ host: config.host, port });
  const { joinUrls, roomCode } = coordinator.runState();
  const local = baseUrls[baseUrls.length - 1];
  console.log(`\nFlock coordinator is up (task: MNIST, model ${config.settings.model}).`);
  console.log(`  Join:        ${joinUrls.join('\n               ')}`);
  console.log(`  Room code:   ${roomCode ?? '(none: open room)'}`);
  console.log(`  Dashboard:   ${local}dashboard.html#admin=${access.adminToken}`);
  console.log(`  Admin token: ${access.adminToken}  (start/stop/reset/settings; set FLOCK_ADMIN_TOKEN to choose it)`);
  console.log(`  Data dir:    ${config.dataDir}  (the run is checkpointed here after every round; --fresh starts anew)\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void app.close().then(() => process.exit(0)));
  }
}

process.on('unhandledRejection', (reason) => {
  // Every promise is meant to be handled: one that is not is a bug, and the log says where.
  console.error('flock: bug: unhandled promise rejection', reason);
});

main().catch((error: unknown) => {
  if (error instanceof UnusableCheckpointsError || error instanceof CheckpointError || error instanceof LedgerFileError) {
    // The data directory, not the code: the message names the files and what to do; a stack would bury it.
    console.error(`flock: ${error.message}`);
    process.exit(1);
  }
  console.error('flock: could not start:', error);
  process.exit(1);
});

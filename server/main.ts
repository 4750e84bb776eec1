// Starts the coordinator: reads config (the only file that touches process.env), builds the app, listens.
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { SettingsError } from '../shared/settings.ts';
import { buildApp } from './app.ts';
import { loadConfig, type ServerConfig } from './config.ts';
import { ROOT_DIR } from './data-paths.ts';

function reachableAddresses(port: number): string[] {
  const addresses = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && a.family === 'IPv4' && !a.internal)
    .map((a) => `http://${a!.address}:${port}/`);
  return [`http://localhost:${port}/`, ...addresses];
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
  const { app } = await buildApp({
    settings: config.settings,
    distDir: join(ROOT_DIR, 'dist'),
    logger: {
      level: process.env.FLOCK_LOG_LEVEL ?? 'info',
      transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss', ignore: 'pid,hostname,reqId' } },
    },
  });
  await app.listen({ host: config.host, port: config.port });
  const port = (app.server.address() as { port: number }).port;
  const urls = reachableAddresses(port);
  console.log(`\nFlock coordinator is up (task: MNIST, model ${config.settings.model}).`);
  console.log(`  Join:      ${urls.join('  ')}`);
  console.log(`  Dashboard: ${urls[0]}dashboard.html\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void app.close().then(() => process.exit(0)));
  }
}

void main();

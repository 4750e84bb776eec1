// Starts a real coordinator (the same buildApp as `npm start`, real evaluator,
// built pages from dist/) on a free loopback port, for e2e tests.
import { join } from 'node:path';
import type { RunState } from '../shared/protocol/records.ts';
import { resolveSettings, type Settings } from '../shared/settings.ts';
import { buildApp, type FlockApp } from '../server/app.ts';
import { ROOT_DIR } from '../server/data-paths.ts';
import type { IncomingMessage } from '../server/plugins/socket.ts';
import type { Access } from '../server/access.ts';
import { waitForState } from './wait-for-state.ts';

/** e2e rooms are open unless a test asks for a code; admin calls use this token. */
export const E2E_ACCESS: Access = { adminToken: 'e2e-admin-token', roomCode: null };

export const adminHeaders = (token = E2E_ACCESS.adminToken) => ({ authorization: `Bearer ${token}` });

export interface RunningCoordinator extends FlockApp {
  url: string;
  port: number;
  state(): RunState;
  /** Polls the coordinator's state until `predicate` holds; fails with the last state after `timeoutMs`. */
  waitFor(what: string, predicate: (state: RunState) => boolean, timeoutMs?: number): Promise<RunState>;
  close(): Promise<void>;
}

export async function startCoordinator(
  overrides: Partial<Settings>,
  options: { port?: number; observeIncoming?: (message: IncomingMessage) => void; access?: Partial<Access> } = {},
): Promise<RunningCoordinator> {
  const flock = await buildApp({
    settings: resolveSettings(overrides),
    access: { ...E2E_ACCESS, ...options.access },
    distDir: join(ROOT_DIR, 'dist'),
    observeIncoming: options.observeIncoming,
    logger: process.env.FLOCK_E2E_LOG ? { level: 'info' } : false,
  });
  await flock.app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  const port = (flock.app.server.address() as { port: number }).port;
  const state = () => flock.coordinator.runState();
  return {
    ...flock,
    url: `http://127.0.0.1:${port}`,
    port,
    state,
    waitFor: (what, predicate, timeoutMs = 120_000) => waitForState(what, state, predicate, timeoutMs),
    close: () => flock.app.close(),
  };
}

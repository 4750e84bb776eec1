// Runs the coordinator as its own process, exactly as `npm start` does after the build
// (server/main.ts with flags), so a test can SIGKILL it and start it again.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT_DIR } from '../server/data-paths.ts';
import type { RunState } from '../shared/protocol/records.ts';
import { E2E_ACCESS } from './coordinator.ts';
import { waitForState } from './wait-for-state.ts';

export interface CoordinatorProcess {
  url: string;
  child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  state(): Promise<RunState>;
  waitFor(what: string, predicate: (state: RunState) => boolean, timeoutMs?: number): Promise<RunState>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** A loopback port nobody listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function spawnCoordinator(port: number, flags: string[]): ChildProcess {
  const args = ['--import', 'tsx', join(ROOT_DIR, 'server', 'main.ts'), '--host', '127.0.0.1', '--port', String(port), '--roomCode', 'none', ...flags];
  return spawn(process.execPath, args, {
    cwd: ROOT_DIR,
    env: { ...process.env, FLOCK_ADMIN_TOKEN: E2E_ACCESS.adminToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs server/main.ts with these flags until it exits (e.g. because it refuses to start): its exit code and what it printed. */
export async function runCoordinatorProcessToExit(port: number, flags: string[], timeoutMs = 60_000): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  const child = spawnCoordinator(port, flags);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  clearTimeout(timer);
  return { exitCode, stdout, stderr };
}

/** Starts server/main.ts on 127.0.0.1:port with these flags; resolves once it listens. */
export async function startCoordinatorProcess(port: number, flags: string[]): Promise<CoordinatorProcess> {
  const child = spawnCoordinator(port, flags);
  let printed = '';
  child.stdout!.on('data', (chunk) => (printed += chunk));
  child.stderr!.on('data', (chunk) => (printed += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const state = async () => (await (await fetch(`${url}/api/status`)).json()) as RunState;
  const startedBy = Date.now() + 60_000;
  while (!printed.includes('Flock coordinator is up')) {
    if (child.exitCode !== null || Date.now() > startedBy) throw new Error(`the coordinator did not start:\n${printed}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    child,
    output: () => printed,
    state,
    waitFor: (what, predicate, timeoutMs = 120_000) => waitForState(what, state, predicate, timeoutMs),
    async kill(signal) {
      if (child.exitCode === null) child.kill(signal);
      await exited;
    },
  };
}

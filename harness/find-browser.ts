// Finds the Chromium the e2e tests drive, installing one when the machine has none.
// Order: $CHROMIUM_PATH → a system Chromium → Playwright's own download → install
// (Debian's package when root, else `npx playwright install chromium`).
// Playwright cannot download browsers on every machine (see shared/platform notes),
// so the Debian package is the install route CI relies on.
import { accessSync, constants, existsSync } from 'node:fs';
import { execFile, spawn } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export class BrowserNotFoundError extends Error {
  override name = 'BrowserNotFoundError';
}

export type InstallRoute = 'apt' | 'playwright';

/** Everything findChromium looks at, injectable so the search can be exercised without touching the machine. */
export interface BrowserSearch {
  env: Record<string, string | undefined>;
  /** Candidate system binaries, most preferred first. */
  systemPaths: readonly string[];
  /** Where Playwright keeps its own Chromium (may not exist); null when Playwright can't say. */
  playwrightPath: () => Promise<string | null>;
  isRoot: boolean;
  install: (route: InstallRoute) => Promise<void>;
  log: (line: string) => void;
}

const SYSTEM_BROWSER_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
const SYSTEM_BROWSER_DIRS = ['/usr/bin', '/usr/local/bin', '/snap/bin'];

/** /usr/bin/chromium, /usr/bin/chromium-browser, … then the same names on $PATH. */
export function systemBrowserPaths(env: Record<string, string | undefined> = process.env): string[] {
  const pathDirs = (env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  const dirs = [...new Set([...SYSTEM_BROWSER_DIRS, ...pathDirs])];
  return SYSTEM_BROWSER_NAMES.flatMap((name) => dirs.map((dir) => join(dir, name)));
}

async function playwrightChromiumPath(): Promise<string | null> {
  const { chromium } = await import('playwright');
  return chromium.executablePath() || null;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false; // missing or not executable: both mean "not this candidate"
  }
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', env });
    child.on('error', (error) => reject(new Error(`${command} could not start: ${error.message}`)));
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`\`${command} ${args.join(' ')}\` failed (${signal ?? `exit code ${code}`})`));
    });
  });
}

async function installChromium(route: InstallRoute): Promise<void> {
  if (route === 'apt') {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update'], env);
    await run('apt-get', ['install', '-y', 'chromium'], env);
  } else {
    await run('npx', ['playwright', 'install', 'chromium']);
  }
}

const defaultSearch: BrowserSearch = {
  env: process.env,
  systemPaths: systemBrowserPaths(),
  playwrightPath: playwrightChromiumPath,
  isRoot: process.getuid?.() === 0,
  install: installChromium,
  log: (line) => console.log(line),
};

/** A Chromium already on this machine, without installing anything; null when there is none. */
export async function locateChromium(overrides: Partial<BrowserSearch> = {}): Promise<{ path: string; source: string } | null> {
  const search = { ...defaultSearch, ...overrides };
  const fromEnv = search.env.CHROMIUM_PATH;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!existsSync(fromEnv)) {
      throw new BrowserNotFoundError(
        `CHROMIUM_PATH=${fromEnv} does not exist. Point it at a Chromium binary, or unset it to let the tests find or install one.`,
      );
    }
    if (!isExecutable(fromEnv)) throw new BrowserNotFoundError(`CHROMIUM_PATH=${fromEnv} is not executable.`);
    return { path: fromEnv, source: 'CHROMIUM_PATH' };
  }
  const system = search.systemPaths.find(isExecutable);
  if (system !== undefined) return { path: system, source: 'system Chromium' };
  const playwright = await search.playwrightPath();
  if (playwright !== null && isExecutable(playwright)) return { path: playwright, source: "Playwright's Chromium" };
  return null;
}

/** The path of a Chromium to drive; installs one when the machine has none. */
export async function findChromium(overrides: Partial<BrowserSearch> = {}): Promise<string> {
  const search = { ...defaultSearch, ...overrides };
  const found = await locateChromium(search);
  if (found !== null) {
    search.log(`browser: ${found.path} (${found.source})`);
    return found.path;
  }
  const route: InstallRoute = search.isRoot ? 'apt' : 'playwright';
  search.log(
    route === 'apt'
      ? 'browser: none found; installing Debian\'s chromium (apt-get update && apt-get install -y chromium)…'
      : 'browser: none found; not root, so installing Playwright\'s (npx playwright install chromium)…',
  );
  await search.install(route);
  const installed = await locateChromium({ ...search, env: { ...search.env, CHROMIUM_PATH: undefined } });
  if (installed === null) {
    throw new BrowserNotFoundError(
      `installed Chromium via ${route === 'apt' ? 'apt-get' : 'npx playwright install'}, but still found none at ` +
        `${search.systemPaths.slice(0, 2).join(', ')}… or Playwright's path. Set CHROMIUM_PATH to a Chromium binary.`,
    );
  }
  search.log(`browser: ${installed.path} (${installed.source}, just installed)`);
  return installed.path;
}

/** `chromium --version`, for the log line; the Debian wrapper's stray shell warning is dropped. */
export function chromiumVersion(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(path, ['--version'], { timeout: 20_000 }, (error, stdout) => {
      if (error) reject(new Error(`${path} --version failed: ${error.message}`));
      else resolve(stdout.trim());
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    console.log(await chromiumVersion(await findChromium()));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}

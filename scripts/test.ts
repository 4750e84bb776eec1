// `npm test`: prepares the data, then runs the unit tests and the e2e tests with
// Node's test runner. E2e tests also need the built pages (dist/) and a Chromium.
//
//   npm test                     everything
//   npm test -- --unit           unit tests only (no build, no browser)
//   npm test -- --e2e            e2e tests only
//   npm test -- fedavg wire      only files whose path contains "fedavg" or "wire"
//   npm test -- --test-name-pattern=clip   any --test-* flag goes to `node --test`
//
// Node 20's --test takes no globs, so the files are collected here.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { prepareMnist } from './prepare-mnist.ts';
import { chromiumVersion, findChromium } from '../harness/find-browser.ts';
import { ROOT_DIR } from '../server/data-paths.ts';

const UNIT_DIRS = ['shared', 'server', 'web', 'scripts', 'harness'];
const UNIT_SUFFIX = '.test.ts';
const E2E_DIRS = ['e2e'];
const E2E_SUFFIX = '.e2e.ts';
// A default per test, so a hung test fails instead of hanging CI; a test can set its own { timeout }.
const UNIT_TEST_TIMEOUT_MS = 120_000;
const E2E_TEST_TIMEOUT_MS = 300_000;

interface TestArgs {
  unit: boolean;
  e2e: boolean;
  filters: string[];
  runnerFlags: string[];
}

function parseArgs(argv: string[]): TestArgs {
  const unitOnly = argv.includes('--unit');
  const e2eOnly = argv.includes('--e2e');
  const runnerFlags = argv.filter((a) => a.startsWith('--test-'));
  const unknown = argv.filter((a) => a.startsWith('-') && a !== '--unit' && a !== '--e2e' && !a.startsWith('--test-'));
  if (unknown.length > 0) {
    throw new Error(`unknown option ${unknown.join(' ')}: use --unit, --e2e, --test-<node flag>=…, or words that filter file paths`);
  }
  return {
    unit: unitOnly || !e2eOnly,
    e2e: e2eOnly || !unitOnly,
    filters: argv.filter((a) => !a.startsWith('-')),
    runnerFlags,
  };
}

function collectFiles(dirs: string[], suffix: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(join(ROOT_DIR, dir), { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // a folder nobody has created yet
      throw error;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== 'node_modules' && !entry.name.startsWith('.')) walk(path);
      else if (entry.isFile() && entry.name.endsWith(suffix)) found.push(path);
    }
  };
  dirs.forEach(walk);
  return found.sort();
}

function matchesFilters(file: string, filters: string[]): boolean {
  return filters.length === 0 || filters.some((f) => file.includes(f));
}

/** Runs `node --import tsx --test …` in the repo root; resolves with its exit code. */
function runNodeTests(files: string[], flags: string[]): Promise<number> {
  const args = ['--import', 'tsx', '--test', ...flags, ...files];
  console.log(`\n$ node ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT_DIR, stdio: 'inherit', env: process.env });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

function runCommand(command: string, args: string[]): Promise<void> {
  console.log(`\n$ ${command} ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT_DIR, stdio: 'inherit', env: process.env });
    child.on('error', (error) => reject(new Error(`${command} could not start: ${error.message}`)));
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`\`${command} ${args.join(' ')}\` failed (${signal ?? `exit code ${code}`})`)),
    );
  });
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const unitFiles = args.unit ? collectFiles(UNIT_DIRS, UNIT_SUFFIX).filter((f) => matchesFilters(f, args.filters)) : [];
  const e2eFiles = args.e2e ? collectFiles(E2E_DIRS, E2E_SUFFIX).filter((f) => matchesFilters(f, args.filters)) : [];
  if (args.filters.length > 0 && unitFiles.length + e2eFiles.length === 0) {
    console.error(`no test file matches ${args.filters.map((f) => `"${f}"`).join(' or ')}`);
    return 1;
  }

  prepareMnist();
  const failed: string[] = [];

  if (args.unit && args.filters.length === 0) {
    // The whole project, then shared/ alone without DOM or Node types: its purity, checked.
    await runCommand('npm', ['run', '--silent', 'typecheck']);
  }

  if (args.unit) {
    if (unitFiles.length === 0) {
      console.log(`\nunit: no test files (${UNIT_DIRS.map((d) => `${d}/**/*${UNIT_SUFFIX}`).join(', ')}); nothing to run`);
    } else {
      console.log(`\nunit: ${unitFiles.length} file(s)`);
      const code = await runNodeTests(unitFiles, [`--test-timeout=${UNIT_TEST_TIMEOUT_MS}`, ...args.runnerFlags]);
      if (code !== 0) failed.push(`unit tests (exit code ${code})`);
    }
  }

  if (args.e2e) {
    if (e2eFiles.length === 0) {
      console.log(`\ne2e: no test files (${E2E_DIRS.map((d) => `${d}/**/*${E2E_SUFFIX}`).join(', ')}); nothing to run`);
    } else {
      console.log(`\ne2e: ${e2eFiles.length} file(s)`);
      // The browser first: a wrong CHROMIUM_PATH should fail before a 30 s build.
      const chromiumPath = await findChromium();
      console.log(`browser: ${await chromiumVersion(chromiumPath)}`);
      process.env.CHROMIUM_PATH = chromiumPath;
      await runCommand('npx', ['vite', 'build']);
      // Serially: each file launches real Chromium, and the machine has two cores.
      const flags = ['--test-concurrency=1', `--test-timeout=${E2E_TEST_TIMEOUT_MS}`, ...args.runnerFlags];
      const code = await runNodeTests(e2eFiles, flags);
      if (code !== 0) failed.push(`e2e tests (exit code ${code})`);
    }
  }

  if (failed.length > 0) {
    console.error(`\nnpm test: FAILED: ${failed.join(', ')}`);
    return 1;
  }
  console.log('\nnpm test: all passed');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`\nnpm test: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);

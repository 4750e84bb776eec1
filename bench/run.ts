// `npm run bench`: runs every benchmark in bench/*.bench.ts, prints one table, and writes
// bench/results/<benchmark>.json (figures, targets, machine, date) for each benchmark run.
//
//   npm run bench                 everything
//   npm run bench -- fedavg clip  only benchmarks whose name contains "fedavg" or "clip"
//
// A benchmark is any function a *.bench.ts file exports; it returns rows (harness.ts), or a promise of them,
// or { rows, extra }: extra's fields are written beside the rows (e.g. learning curves).
// Benchmarks run one after another in this process: on two cores, in parallel they would
// time each other. Missed targets are reported, not failed on: timings are not tests.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { meetsTarget, type BenchRow } from './measure.ts';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = join(BENCH_DIR, 'results');
const SUFFIX = '.bench.ts';

type BenchOutput = BenchRow[] | { rows: BenchRow[]; extra: Record<string, unknown> };
type Benchmark = () => BenchOutput | Promise<BenchOutput>;

function machine() {
  const cores = cpus();
  return { cpuModel: cores[0]?.model ?? 'unknown', cpus: cores.length, node: process.version, platform: process.platform, arch: process.arch };
}

/** 12.3456 → "12.35", 1234.5 → "1,235": three significant digits or more, never exponents. */
function formatFigure(x: number): string {
  if (!Number.isFinite(x)) return '—'; // a figure that does not exist, e.g. a target never reached (null in the JSON)
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function verdict(row: BenchRow): string {
  const pass = meetsTarget(row);
  return pass === null ? '' : pass ? 'pass' : 'FAIL';
}

function formatTarget(row: BenchRow): string {
  if (row.target === undefined) return '';
  return `${row.targetIs === 'atMost' ? '<=' : '>='} ${formatFigure(row.target)}`;
}

function printTable(rows: BenchRow[]): void {
  const header = ['name', 'figure', 'unit', 'target', 'pass/fail'];
  const cells = rows.map((r) => [r.name, formatFigure(r.figure), r.unit, formatTarget(r), verdict(r)]);
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c].length)));
  const line = (row: string[]) => row.map((cell, c) => (c === 1 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join(' | ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const row of cells) console.log(line(row));
}

async function main(): Promise<number> {
  const filters = process.argv.slice(2);
  const files = readdirSync(BENCH_DIR).filter((f) => f.endsWith(SUFFIX)).sort();
  const toRun: { name: string; run: Benchmark }[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(join(BENCH_DIR, file)).href)) as Record<string, unknown>;
    for (const [name, exported] of Object.entries(module)) {
      if (typeof exported !== 'function') continue;
      if (filters.length === 0 || filters.some((f) => name.includes(f) || file.includes(f))) toRun.push({ name, run: exported as Benchmark });
    }
  }
  if (toRun.length === 0) {
    console.error(`no benchmark matches ${filters.map((f) => `"${f}"`).join(' or ')} in bench/*${SUFFIX}`);
    return 1;
  }

  const info = machine();
  console.log(`${info.cpus} × ${info.cpuModel}, Node ${info.node}; benchmarks: ${toRun.map((b) => b.name).join(', ')}\n`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const allRows: BenchRow[] = [];
  for (const { name, run } of toRun) {
    process.stdout.write(`running ${name}…\n`);
    const output = await run();
    const rows = Array.isArray(output) ? output : output.rows;
    const extra = Array.isArray(output) ? {} : output.extra;
    allRows.push(...rows);
    const results = { benchmark: name, date: new Date().toISOString(), machine: info, rows: rows.map((r) => ({ ...r, target: r.target ?? null, pass: meetsTarget(r) })), ...extra };
    writeFileSync(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  }
  console.log('');
  printTable(allRows);
  const missed = allRows.filter((r) => meetsTarget(r) === false);
  console.log(`\n${missed.length === 0 ? 'all targets met' : `${missed.length} target(s) missed: ${missed.map((r) => r.name).join(', ')}`}; results in bench/results/`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);

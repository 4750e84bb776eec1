// `npm run plot-learning [-- --input bench/results/learning.json --output docs/learning.svg]`
// Draws the learning bench's curves (bench/learning.bench.ts): test accuracy per round, one panel
// per split, one line per strategy and the centralized baseline dashed (its "round" is localEpochs
// epochs over the union, the same examples seen). Plain SVG written here, no dependency; sized for
// the 880-pixel width docs/experiments.md shows it at. Mistakes in the flags: one line, exit code 2;
// a file it cannot read: exit 1.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ROOT_DIR } from '../server/data-paths.ts';

export interface LearningResults {
  clients: number;
  rounds: number;
  target: number;
  localEpochs: number;
  strategies: { id: string; title: string }[];
  partitions: { id: string; title: string }[];
  centralized: { accuracyPerRound: number[]; epochs: number };
  cells: { partition: string; strategy: string; accuracyPerRound: number[] }[];
}

export class UsageError extends Error {}
export class ResultsFileError extends Error {}

// Okabe–Ito: told apart with the common colour-vision deficiencies too.
const COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9'];
const CENTRALIZED_COLOR = '#222222';
const TARGET_STROKE = ' stroke="#888" stroke-width="1.2" stroke-dasharray="2 3"';
const WIDTH = 880;
const COLUMNS = 2;
const PANEL = { width: 440, height: 270, left: 52, right: 16, top: 34, bottom: 40 };
const HEADER = 64;

/** Checks the parts of the file the plot reads; the message says which is missing. */
export function parseLearningResults(text: string, source: string): LearningResults {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ResultsFileError(`${source} is not JSON: ${(error as Error).message}`);
  }
  const d = data as Partial<LearningResults>;
  const isCurve = (c: unknown) => Array.isArray(c) && c.length > 0 && c.every((x) => typeof x === 'number' && x >= 0 && x <= 1);
  const problems: string[] = [];
  if (!Array.isArray(d.partitions) || d.partitions.length === 0) problems.push('partitions');
  if (!Array.isArray(d.strategies) || d.strategies.length === 0) problems.push('strategies');
  if (!Array.isArray(d.cells) || !d.cells.every((c) => isCurve(c?.accuracyPerRound))) problems.push('cells[].accuracyPerRound');
  if (!isCurve(d.centralized?.accuracyPerRound)) problems.push('centralized.accuracyPerRound');
  for (const key of ['clients', 'rounds', 'target', 'localEpochs'] as const) if (typeof d[key] !== 'number') problems.push(key);
  if (problems.length > 0) {
    throw new ResultsFileError(`${source} lacks ${problems.join(', ')}: is it the learning bench's file? (npm run bench -- learning writes it)`);
  }
  return d as LearningResults;
}

const fmt = (x: number) => String(Math.round(x * 10) / 10);
const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Steps of 0.01, 0.02, 0.05, 0.1 or 0.2 giving at most 7 ticks. */
function accuracyStep(span: number): number {
  return [0.01, 0.02, 0.05, 0.1, 0.2].find((step) => span / step <= 7) ?? 0.25;
}

/** 1, then multiples of a round number: 1, 5, 10, 15, 20. */
function roundTicks(rounds: number): number[] {
  const step = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].find((s) => rounds / s <= 6) ?? Math.ceil(rounds / 5);
  const ticks = [1];
  for (let r = step; r <= rounds; r += step) if (r > 1) ticks.push(r);
  return ticks;
}

export function renderLearningSvg(results: LearningResults): string {
  const { partitions, strategies, cells, centralized } = results;
  const rows = Math.ceil(partitions.length / COLUMNS);
  const height = HEADER + rows * PANEL.height + 8;
  const rounds = Math.max(centralized.accuracyPerRound.length, ...cells.map((c) => c.accuracyPerRound.length));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12" fill="#222">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="15" font-weight="600">Test accuracy per round: ${results.clients} clients, ${results.localEpochs} local epochs a round</text>`,
  ];
  // Legend: strategies, then the baseline; short line samples, so every <path> is a curve.
  const legend = [
    ...strategies.map((s, i) => ({ title: s.title, color: COLORS[i % COLORS.length], dash: '' })),
    { title: `centralized (${results.localEpochs} epochs a round)`, color: CENTRALIZED_COLOR, dash: ' stroke-dasharray="6 4"' },
  ];
  const targetTitle = `${Math.round(results.target * 1000) / 10} % target`;
  let x = 40;
  for (const item of legend) {
    out.push(`<line x1="${x}" y1="42" x2="${x + 24}" y2="42" stroke="${item.color}" stroke-width="2.5"${item.dash}/>`);
    out.push(`<text x="${x + 30}" y="46">${escapeXml(item.title)}</text>`);
    x += 30 + 7 * item.title.length + 24;
  }
  out.push(`<line x1="${x}" y1="42" x2="${x + 24}" y2="42"${TARGET_STROKE}/>`);
  out.push(`<text x="${x + 30}" y="46">${escapeXml(targetTitle)}</text>`);

  partitions.forEach((partition, p) => {
    const ox = (p % COLUMNS) * PANEL.width;
    const oy = HEADER + Math.floor(p / COLUMNS) * PANEL.height;
    const series = [
      ...strategies.map((s, i) => ({ curve: cells.find((c) => c.partition === partition.id && c.strategy === s.id)?.accuracyPerRound, color: COLORS[i % COLORS.length], dash: '' })),
      { curve: centralized.accuracyPerRound, color: CENTRALIZED_COLOR, dash: ' stroke-dasharray="6 4"' },
    ].filter((s): s is { curve: number[]; color: string; dash: string } => s.curve !== undefined);
    const values = series.flatMap((s) => s.curve);
    // Bounds on a 0.02 grid: the curves fill the panel, so a point between strategies shows.
    const lo = Math.max(0, Math.floor(Math.min(...values, results.target) * 50 - 1e-9) / 50);
    const hi = Math.min(1, Math.ceil(Math.max(...values, results.target) * 50 + 1e-9) / 50);
    const plot = { x0: ox + PANEL.left, x1: ox + PANEL.width - PANEL.right, y0: oy + PANEL.top, y1: oy + PANEL.height - PANEL.bottom };
    const sx = (round: number) => plot.x0 + ((round - 1) / Math.max(1, rounds - 1)) * (plot.x1 - plot.x0);
    const sy = (accuracy: number) => plot.y1 - ((accuracy - lo) / (hi - lo || 1)) * (plot.y1 - plot.y0);

    out.push(`<text x="${fmt((plot.x0 + plot.x1) / 2)}" y="${oy + 20}" text-anchor="middle" font-size="13" font-weight="600">${escapeXml(partition.title)}</text>`);
    const step = accuracyStep(hi - lo);
    for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + 1e-9; k++) {
      const y = fmt(sy(k * step));
      out.push(`<line x1="${plot.x0}" y1="${y}" x2="${plot.x1}" y2="${y}" stroke="#e6e6e6"/>`);
      out.push(`<text x="${plot.x0 - 6}" y="${y}" dy="4" text-anchor="end">${(k * step).toFixed(step < 0.1 ? 2 : 1)}</text>`);
    }
    for (const round of roundTicks(rounds)) {
      const tx = fmt(sx(round));
      out.push(`<line x1="${tx}" y1="${plot.y1}" x2="${tx}" y2="${plot.y1 + 4}" stroke="#555"/>`);
      out.push(`<text x="${tx}" y="${plot.y1 + 16}" text-anchor="middle">${round}</text>`);
    }
    out.push(`<line x1="${plot.x0}" y1="${plot.y1}" x2="${plot.x1}" y2="${plot.y1}" stroke="#555"/>`);
    out.push(`<line x1="${plot.x0}" y1="${plot.y0}" x2="${plot.x0}" y2="${plot.y1}" stroke="#555"/>`);
    out.push(`<text x="${fmt((plot.x0 + plot.x1) / 2)}" y="${plot.y1 + 32}" text-anchor="middle" fill="#555">round</text>`);
    out.push(
      `<text transform="translate(${ox + 14} ${fmt((plot.y0 + plot.y1) / 2)}) rotate(-90)" text-anchor="middle" fill="#555">test accuracy</text>`,
    );
    const ty = fmt(sy(results.target));
    out.push(`<line x1="${plot.x0}" y1="${ty}" x2="${plot.x1}" y2="${ty}"${TARGET_STROKE}/>`);
    for (const s of series) {
      const d = s.curve.map((a, i) => `${i === 0 ? 'M' : 'L'}${fmt(sx(i + 1))} ${fmt(sy(a))}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round"${s.dash}/>`);
    }
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function main(argv: string[]): number {
  let values: { input?: string; output?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { input: { type: 'string' }, output: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    console.error(`plot-learning: ${(error as Error).message.split(/\.\s/)[0]} (use --input FILE, --output FILE)`);
    return 2;
  }
  if (values.help) {
    console.log('usage: npm run plot-learning -- [--input bench/results/learning.json] [--output docs/learning.svg]');
    return 0;
  }
  const input = values.input ?? join(ROOT_DIR, 'bench', 'results', 'learning.json');
  const output = values.output ?? join(ROOT_DIR, 'docs', 'learning.svg');
  try {
    let text: string;
    try {
      text = readFileSync(input, 'utf8');
    } catch (error) {
      throw new ResultsFileError(`cannot read ${input}: ${(error as Error).message} (npm run bench -- learning writes it)`);
    }
    const svg = renderLearningSvg(parseLearningResults(text, input));
    mkdirSync(dirname(output), { recursive: true });
    writeFileSync(output, svg);
    console.log(`plot-learning: wrote ${output}`);
    return 0;
  } catch (error) {
    if (error instanceof ResultsFileError) {
      console.error(`plot-learning: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}

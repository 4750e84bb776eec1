import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT_DIR = fileURLToPath(new URL('..', import.meta.url));

function plot(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'scripts/plot-learning.ts', ...args], { cwd: ROOT_DIR, timeout: 60_000 }, (error, _stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr }),
    );
  });
}

const curve = (from: number, to: number, n: number) => Array.from({ length: n }, (_, i) => from + ((to - from) * i) / (n - 1));

test('plot-learning: one path per series (strategies + the centralized curve, in every panel), axes and legend', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flock-plot-'));
  try {
    const partitions = [
      { id: 'iid', title: 'IID' },
      { id: 'shards-2', title: '2 classes per client' },
    ];
    const strategies = [
      { id: 'fedavg', title: 'FedAvg' },
      { id: 'fedadam', title: 'FedAdam' },
      { id: 'fedprox', title: 'FedProx' },
    ];
    const cells = partitions.flatMap((p, i) => strategies.map((s, k) => ({ partition: p.id, strategy: s.id, accuracyPerRound: curve(0.5 + 0.1 * i, 0.9 + 0.01 * k, 5) })));
    const results = { clients: 10, rounds: 5, target: 0.95, localEpochs: 2, partitions, strategies, cells, centralized: { accuracyPerRound: curve(0.9, 0.96, 5), epochs: 10 } };
    writeFileSync(join(dir, 'learning.json'), JSON.stringify(results));
    const { code, stderr } = await plot(['--input', join(dir, 'learning.json'), '--output', join(dir, 'out', 'learning.svg')]);
    assert.equal(code, 0, stderr);
    const svg = readFileSync(join(dir, 'out', 'learning.svg'), 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal(svg.match(/<path /g)?.length, partitions.length * (strategies.length + 1));
    assert.equal(svg.match(/stroke-dasharray="6 4"/g)?.length, partitions.length + 1, 'the centralized curves and their legend sample are dashed');
    for (const label of ['IID', '2 classes per client', 'FedAvg', 'FedAdam', 'FedProx', 'centralized', 'round', 'test accuracy']) assert.ok(svg.includes(label), label);

    writeFileSync(join(dir, 'other.json'), JSON.stringify({ rows: [] }));
    const refused = await plot(['--input', join(dir, 'other.json'), '--output', join(dir, 'x.svg')]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /lacks partitions, strategies, cells\[\]\.accuracyPerRound, centralized\.accuracyPerRound/);
    assert.equal((await plot(['--colour', 'red'])).code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

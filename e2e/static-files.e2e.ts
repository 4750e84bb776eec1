// What the built page serves: its own assets, a favicon and a web app manifest (so a phone can add
// the participant page to its home screen), and no training or test digits. A tab gets only the
// shard it was assigned, from the API.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_DIR } from '../server/data-paths.ts';
import { startCoordinator, type RunningCoordinator } from '../harness/coordinator.ts';

let coordinator: RunningCoordinator;
before(async () => {
  coordinator = await startCoordinator({ shards: 4 });
});
after(() => coordinator?.close());

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

test('the built page holds no digits: the data sets are not static files, a shard comes only from the API', async () => {
  const built = filesUnder(join(ROOT_DIR, 'dist'));
  assert.ok(built.some((f) => f.endsWith('index.html')), 'dist/ holds the built page');
  assert.deepEqual(built.filter((f) => /mnist|\.bin$/.test(f)), [], 'no data file was copied into dist/');
  for (const path of ['/data/mnist-train.bin', '/data/mnist-test.bin', '/mnist-train.bin']) {
    assert.equal((await fetch(`${coordinator.url}${path}`)).status, 404, path);
  }
  const shard = await fetch(`${coordinator.url}/api/shards/0`);
  assert.equal(shard.status, 200);
  // 8,000 digits in 4 IID shards: 2,000 × (784 pixels + 1 label) plus the format's header
  assert.ok((await shard.arrayBuffer()).byteLength >= 2000 * 785);
});

test('the favicon and the web app manifest are served, and the participant page links them', async () => {
  const icon = await fetch(`${coordinator.url}/favicon.svg`);
  assert.equal(icon.status, 200);
  assert.match(await icon.text(), /<svg/);
  const manifest = await (await fetch(`${coordinator.url}/manifest.webmanifest`)).json();
  assert.equal(manifest.start_url, '/');
  assert.equal(manifest.display, 'standalone');
  const page = await (await fetch(`${coordinator.url}/`)).text();
  assert.match(page, /rel="manifest" href="\/manifest.webmanifest"/);
  assert.match(page, /rel="icon" href="\/favicon.svg"/);
});

// A data directory whose checkpoints are all damaged (a failing disk, or someone with write access
// to it) must not turn into a new run: the coordinator refuses to start, with one message that
// names every file and why, deletes nothing, and says what --fresh does. Real processes of
// server/main.ts, as `npm start` runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointStore } from '../server/checkpoint-store.ts';
import { freePort, runCoordinatorProcessToExit, startCoordinatorProcess } from '../harness/coordinator-process.ts';

/** The checkpoint files in `dir`, name → content (access.json beside them is main.ts's business). */
async function checkpointFiles(dir: string): Promise<Record<string, string>> {
  const names = (await readdir(dir)).filter((name) => name.startsWith('checkpoint-')).sort();
  return Object.fromEntries(await Promise.all(names.map(async (name) => [name, (await readFile(join(dir, name))).toString('base64')])));
}

test('every checkpoint damaged: main.ts refuses to start with one clean message and deletes nothing; --fresh starts anew', { timeout: 180_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'flock-damaged-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const store = new CheckpointStore({ dir: dataDir, log: () => {} });
  const flipped = await store.save({ meta: { version: 2 }, arrays: { global: new Float32Array(100) } });
  const file = await readFile(flipped.path);
  file[file.length - 7] ^= 0x01; // a bit of the model rots on disk
  await writeFile(flipped.path, file);
  const truncated = join(dataDir, 'checkpoint-00000002.flock');
  await writeFile(truncated, 'FLOCKCKP');
  const before = await checkpointFiles(dataDir);

  const port = await freePort();
  const refused = await runCoordinatorProcessToExit(port, ['--data-dir', dataDir]);
  const printed = refused.stdout + refused.stderr;
  if (process.env.FLOCK_E2E_LOG) console.log(printed);
  assert.equal(refused.exitCode, 1, printed);
  const lines = refused.stderr.trimEnd().split('\n');
  assert.equal(lines[0], `flock: none of the 2 checkpoints in ${dataDir} can be used (nothing was deleted):`, printed);
  assert.equal(lines[1], `  ${truncated}: truncated: 8 of at least 56 bytes (header incomplete)`);
  assert.equal(lines[2], `  ${flipped.path}: checksum mismatch`);
  assert.match(lines.slice(3).join('\n'), /--fresh/);
  assert.match(lines.slice(3).join('\n'), /removes/);
  assert.doesNotMatch(printed, /^\s+at /m, 'no stack trace');
  assert.doesNotMatch(printed, /starting a new run|Flock coordinator is up|loaded checkpoint/);
  assert.deepEqual(await checkpointFiles(dataDir), before, 'every file is still there, unchanged');

  const fresh = await startCoordinatorProcess(port, ['--data-dir', dataDir, '--fresh']);
  t.after(() => fresh.kill('SIGTERM'));
  assert.equal((await fresh.state()).round, 0);
  assert.deepEqual(await checkpointFiles(dataDir), {}, '--fresh removed the damaged checkpoints');
});

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '../shared/fl/rng.ts';
import { CheckpointError, CheckpointStore, UnusableCheckpointsError, type CheckpointStoreOptions } from './checkpoint-store.ts';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flock-checkpoint-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A store whose log lines are collected, so tests can assert the exact warnings. */
function storeIn(dir: string, options: Partial<CheckpointStoreOptions> = {}) {
  const warnings: string[] = [];
  const store = new CheckpointStore({ dir, log: (level, message) => level === 'warn' && warnings.push(message), ...options });
  return { store, warnings };
}

/** Floats from raw random bits: covers every sign, exponent and NaN payload, unlike Math.random(). */
function randomBits(count: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const bits = new Uint32Array(count);
  for (let i = 0; i < count; i++) bits[i] = rng.uint32();
  return new Float32Array(bits.buffer);
}

const bitsOf = (values: Float32Array) => Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const SPECIAL_BITS = [
  0x7fc00001, // quiet NaN with a payload
  0x7f800001, // signalling NaN: an x87/SSE float↔double round trip would quiet it
  0xffc0dead, // negative NaN with a payload
  0x80000000, // -0
  0x00000000, // +0
  0x00000001, // smallest subnormal
  0x007fffff, // largest subnormal
  0x80000001, // negative subnormal
  0x7f800000, // +Inf
  0xff800000, // -Inf
  0x7f7fffff, // largest finite
  0x3f800000, // 1
];
const specials = () => new Float32Array(Uint32Array.from(SPECIAL_BITS).buffer);

/** Writes a file by the documented layout, with fields a test may make lie. */
async function writeHandMade(path: string, body: Uint8Array, fields: { version?: number; metaBytes: number; bodyBytes?: bigint }) {
  const header = new Uint8Array(56);
  const view = new DataView(header.buffer);
  header.set(Buffer.from('FLOCKCKP', 'ascii'), 0);
  view.setUint32(8, fields.version ?? 1, true);
  view.setUint32(12, fields.metaBytes, true);
  view.setBigUint64(16, fields.bodyBytes ?? BigInt(body.byteLength), true);
  header.set(createHash('sha256').update(body).digest(), 24);
  await writeFile(path, Buffer.concat([header, body]));
}

test('meta and several arrays round-trip bit for bit, NaN payloads, -0 and subnormals included', async (t) => {
  const dir = await tempDir(t);
  const { store, warnings } = storeIn(dir);
  const meta = { round: 17, epsilon: 2.75, model: 'cnn', clients: ['a', 'ü-b'], history: [{ loss: 0.5 }], done: false, note: null };
  const arrays = {
    global: randomBits(10_007, 1),
    adamM: randomBits(4_096, 2),
    adamV: randomBits(333, 3),
    specials: specials(),
    empty: new Float32Array(0),
    // a view into a larger buffer: only its own 5 values may be written
    window: randomBits(64, 4).subarray(7, 12),
  };
  const saved = await store.save({ meta, arrays });
  assert.equal(saved.sequence, 1);
  assert.equal(saved.path, join(dir, 'checkpoint-00000001.flock'));
  assert.equal(saved.bytes, (await stat(saved.path)).size);

  const loaded = await new CheckpointStore({ dir }).loadLatest();
  assert.ok(loaded);
  assert.equal(loaded.sequence, 1);
  assert.equal(loaded.path, saved.path);
  assert.deepEqual(loaded.checkpoint.meta, meta);
  assert.deepEqual(Object.keys(loaded.checkpoint.arrays), Object.keys(arrays));
  for (const [name, values] of Object.entries(arrays)) {
    const back: Float32Array = loaded.checkpoint.arrays[name];
    assert.ok(sameBits(back, values), `${name} differs`);
    assert.equal(back.buffer.byteLength, back.byteLength, `${name} owns its buffer`);
  }
  assert.deepEqual(bitsOf(loaded.checkpoint.arrays.specials), SPECIAL_BITS);
  assert.ok(bitsOf(arrays.global).some((b) => (b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0), 'random data holds NaNs');
  assert.deepEqual(warnings, []);

  // The header is laid out as documented, and the float data starts 4-byte aligned.
  const file = await readFile(saved.path);
  assert.equal(file.subarray(0, 8).toString('ascii'), 'FLOCKCKP');
  assert.equal(file.readUInt32LE(8), 1);
  const metaBytes = file.readUInt32LE(12);
  assert.equal(file.readBigUInt64LE(16), BigInt(file.length - 56));
  assert.deepEqual(file.subarray(24, 56), createHash('sha256').update(file.subarray(56)).digest());
  const json = JSON.parse(file.subarray(56, 56 + metaBytes).toString('utf8'));
  assert.deepEqual(json.arrays, [
    { name: 'global', length: 10_007 },
    { name: 'adamM', length: 4_096 },
    { name: 'adamV', length: 333 },
    { name: 'specials', length: 12 },
    { name: 'empty', length: 0 },
    { name: 'window', length: 5 },
  ]);
  const dataStart = Math.ceil((56 + metaBytes) / 4) * 4;
  assert.equal(file.length, dataStart + 4 * (10_007 + 4_096 + 333 + 12 + 0 + 5));
  assert.equal(file.readUInt32LE(dataStart), bitsOf(arrays.global)[0]);
});

test('a truncated newest checkpoint is skipped with one warning and the previous one is loaded', async (t) => {
  const dir = await tempDir(t);
  const { store, warnings } = storeIn(dir);
  await store.save({ meta: { round: 1 }, arrays: { global: randomBits(1000, 5) } });
  const newest = await store.save({ meta: { round: 2 }, arrays: { global: randomBits(1000, 6) } });
  await truncate(newest.path, newest.bytes - 100);

  const loaded = await store.loadLatest();
  assert.equal(loaded?.sequence, 1);
  assert.deepEqual(loaded?.checkpoint.meta, { round: 1 });
  assert.deepEqual(warnings, [
    `skipping damaged checkpoint ${newest.path}: truncated: ${newest.bytes - 100} of ${newest.bytes} bytes; trying the previous one`,
  ]);
});

test('a flipped byte in the body is a checksum mismatch and the previous one is loaded', async (t) => {
  const dir = await tempDir(t);
  const { store, warnings } = storeIn(dir);
  const good = randomBits(1000, 7);
  await store.save({ meta: { round: 1 }, arrays: { global: good } });
  const newest = await store.save({ meta: { round: 2 }, arrays: { global: randomBits(1000, 8) } });
  const file = await readFile(newest.path);
  file[file.length - 1234] ^= 0x10; // one bit of one float
  await writeFile(newest.path, file);

  const loaded = await store.loadLatest();
  assert.equal(loaded?.sequence, 1);
  assert.ok(sameBits(loaded.checkpoint.arrays.global, good));
  assert.deepEqual(warnings, [`skipping damaged checkpoint ${newest.path}: checksum mismatch; trying the previous one`]);
});

test('a garbage file with a checkpoint name is skipped as not a Flock checkpoint', async (t) => {
  const dir = await tempDir(t);
  const { store, warnings } = storeIn(dir);
  await store.save({ meta: { round: 1 }, arrays: {} });
  const garbage = join(dir, 'checkpoint-00000002.flock');
  await writeFile(garbage, 'this is a text file someone named like a checkpoint, long enough to fill a header');

  const loaded = await store.loadLatest();
  assert.equal(loaded?.sequence, 1);
  assert.deepEqual(warnings, [`skipping damaged checkpoint ${garbage}: not a Flock checkpoint; trying the previous one`]);
});

test('when every checkpoint is damaged, loadLatest refuses with one error naming each file and why, and deletes nothing', async (t) => {
  const dir = await tempDir(t);
  const { store, warnings } = storeIn(dir, { advice: 'Start with --fresh to begin a new run.' });
  await writeFile(join(dir, 'checkpoint-00000001.flock'), '');
  await writeFile(join(dir, 'checkpoint-00000002.flock'), 'FLOCK');
  await assert.rejects(store.loadLatest(), (error: Error) => {
    assert.equal(error.name, 'UnusableCheckpointsError');
    assert.equal(
      error.message,
      [
        `none of the 2 checkpoints in ${dir} can be used (nothing was deleted):`,
        `  ${join(dir, 'checkpoint-00000002.flock')}: truncated: 5 of at least 56 bytes (header incomplete)`,
        `  ${join(dir, 'checkpoint-00000001.flock')}: truncated: 0 of at least 56 bytes (header incomplete)`,
        'Start with --fresh to begin a new run.',
      ].join('\n'),
    );
    return true;
  });
  assert.deepEqual(warnings, [], 'the error says it all, once');
  assert.deepEqual((await readdir(dir)).sort(), ['checkpoint-00000001.flock', 'checkpoint-00000002.flock']);
});

test('a directory in place of a checkpoint is damage named by its path, and the previous one is loaded', async (t) => {
  const dir = await tempDir(t);
  const { store, warnings } = storeIn(dir);
  await store.save({ meta: { round: 1 }, arrays: {} });
  const impostor = join(dir, 'checkpoint-00000002.flock');
  await mkdir(impostor);
  assert.equal((await store.loadLatest())?.sequence, 1);
  assert.deepEqual(warnings, [`skipping damaged checkpoint ${impostor}: a directory, not a checkpoint file; trying the previous one`]);
});

test('a checkpoint that fails verify counts as damaged: the previous one is loaded, and only it is said to be loaded', async (t) => {
  const dir = await tempDir(t);
  const lines: string[] = [];
  const verify = (checkpoint: { meta: unknown }) => {
    if ((checkpoint.meta as { round: number }).round === 2) throw new CheckpointError('round 2 is no good');
  };
  const store = new CheckpointStore({ dir, verify, log: (level, message) => lines.push(`${level}: ${message}`) });
  await store.save({ meta: { round: 1 }, arrays: {} });
  const second = await store.save({ meta: { round: 2 }, arrays: {} });
  lines.length = 0;
  const loaded = await store.loadLatest();
  assert.deepEqual(loaded?.checkpoint.meta, { round: 1 });
  assert.deepEqual(lines, [
    `warn: skipping damaged checkpoint ${second.path}: round 2 is no good; trying the previous one`,
    `info: loaded checkpoint ${join(dir, 'checkpoint-00000001.flock')}`,
  ]);
  // A bug in verify is not damage: it is thrown, not skipped.
  const buggy = new CheckpointStore({ dir, verify: () => { throw new TypeError('oops'); }, log: () => {} });
  await assert.rejects(buggy.loadLatest(), TypeError);
});

test('later saves never prune a damaged file, nor count it among the kept ones', async (t) => {
  const dir = await tempDir(t);
  const verify = (checkpoint: { meta: unknown }) => {
    if ((checkpoint.meta as { bad?: boolean }).bad) throw new CheckpointError('verify refuses it');
  };
  const first = storeIn(dir, { verify }).store;
  await first.save({ meta: { round: 1, bad: true } , arrays: {} }); // a valid file the run refuses
  await first.save({ meta: { round: 2 }, arrays: {} });
  await first.save({ meta: { round: 3 }, arrays: {} });
  await writeFile(join(dir, 'checkpoint-00000004.flock'), 'FLOCKCKP damaged by a failing disk, long enough for a header......');
  await mkdir(join(dir, 'checkpoint-00000005.flock'));
  await writeFile(join(dir, 'checkpoint-00000006.flock'), '');

  // A restart: this store has not seen any of these files.
  const { store, warnings } = storeIn(dir, { verify });
  assert.equal((await store.loadLatest())?.sequence, 3);
  for (let round = 7; round <= 10; round++) await store.save({ meta: { round }, arrays: {} });
  assert.deepEqual((await readdir(dir)).sort(), [
    'checkpoint-00000001.flock', // refused by verify: kept, though older than everything kept
    'checkpoint-00000004.flock',
    'checkpoint-00000005.flock',
    'checkpoint-00000006.flock',
    'checkpoint-00000008.flock', // the 3 newest good ones
    'checkpoint-00000009.flock',
    'checkpoint-00000010.flock',
  ]);
  assert.equal(warnings.filter((w) => w.includes('checkpoint-00000001.flock')).length, 1, 'a file refused while pruning is warned about once');
  assert.match(warnings.find((w) => w.includes('checkpoint-00000001.flock'))!, /keeping damaged checkpoint .*: verify refuses it; it is never removed automatically/);

  // Another restart: the good files it did not write are verified once, then pruned as usual.
  const again = storeIn(dir, { verify }).store;
  assert.equal((await again.loadLatest())?.sequence, 10);
  await again.save({ meta: { round: 11 }, arrays: {} });
  assert.deepEqual((await readdir(dir)).filter((name) => Number(name.slice(11, 19)) > 6).sort(), [
    'checkpoint-00000009.flock',
    'checkpoint-00000010.flock',
    'checkpoint-00000011.flock',
  ]);
});

test('lying lengths are rejected from the header alone, without allocating what they claim', async (t) => {
  const dir = await tempDir(t);
  const { store, warnings } = storeIn(dir);
  await store.save({ meta: { round: 1 }, arrays: {} });
  // The newest file's reason: each case adds a newer lying file in front of the older ones.
  const newestReason = async () => {
    warnings.length = 0;
    assert.equal((await store.loadLatest())?.sequence, 1);
    return (warnings[0] ?? '').replace(/^skipping damaged checkpoint \S+: (.*); trying the previous one$/, '$1');
  };

  const json = Buffer.from('{"meta":{},"arrays":[]}'); // 23 bytes, padded to 24
  const body = Buffer.concat([json, Buffer.alloc(1)]);
  const arrayBuffersBefore = process.memoryUsage().arrayBuffers;
  const startedMs = performance.now();

  await writeHandMade(join(dir, 'checkpoint-00000002.flock'), body, { metaBytes: 2 ** 31 });
  assert.equal(await newestReason(), 'header claims 2147483648 bytes of metadata but the body has only 24');

  await writeHandMade(join(dir, 'checkpoint-00000003.flock'), body, { metaBytes: 23, bodyBytes: 2n ** 40n });
  assert.equal(await newestReason(), `truncated: ${56 + 24} of ${56 + 2 ** 40} bytes`);

  // Checksum right, but the JSON lists an array of 2^40 floats the body cannot hold.
  const greedy = Buffer.from('{"meta":{},"arrays":[{"name":"global","length":1099511627776}]}');
  await writeHandMade(join(dir, 'checkpoint-00000004.flock'), Buffer.concat([greedy, Buffer.alloc(1)]), { metaBytes: greedy.length });
  assert.equal(await newestReason(), `metadata lists arrays needing ${greedy.length + 1 + 4 * 2 ** 40} body bytes, the body has ${greedy.length + 1}`);

  assert.ok(performance.now() - startedMs < 2000, 'rejected quickly');
  assert.ok(process.memoryUsage().arrayBuffers - arrayBuffersBefore < 64 * 2 ** 20, 'nothing near 2 GiB was allocated');
});

test('other header and metadata damage is named', async (t) => {
  const dir = await tempDir(t);
  const { store, warnings } = storeIn(dir);
  const reasons = async (write: (path: string) => Promise<void>) => {
    const path = join(dir, 'checkpoint-00000001.flock');
    await write(path);
    const refused = await store.loadLatest().then(
      () => assert.fail('the only checkpoint is damaged: loadLatest should refuse'),
      (error: unknown) => (assert.ok(error instanceof UnusableCheckpointsError), error),
    );
    assert.deepEqual(warnings, []);
    return refused.refusals.map((r) => r.reason);
  };
  const json = Buffer.from('{"meta":1,"arrays":[]}'); // 22 bytes, padded to 24
  const body = Buffer.concat([json, Buffer.alloc(2)]);
  assert.deepEqual(await reasons((p) => writeHandMade(p, body, { version: 7, metaBytes: json.length })), [
    'format version 7 not supported (this Flock reads version 1)',
  ]);
  assert.deepEqual(await reasons((p) => writeHandMade(p, Buffer.concat([body, Buffer.alloc(4)]), { metaBytes: json.length, bodyBytes: 24n })), [
    '4 unexpected bytes after the end (80 bytes expected)',
  ]);
  const notJson = Buffer.from('{"meta":1,"arrays":[}  ');
  assert.match((await reasons((p) => writeHandMade(p, Buffer.concat([notJson, Buffer.alloc(1)]), { metaBytes: notJson.length })))[0], /^metadata is not valid UTF-8 JSON/);
  const twice = Buffer.from('{"meta":1,"arrays":[{"name":"g","length":0},{"name":"g","length":0}]}');
  const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - ((56 + b.length) % 4)) % 4)]);
  assert.deepEqual(await reasons((p) => writeHandMade(p, pad(twice), { metaBytes: twice.length })), ['metadata lists array "g" twice']);
  const negative = Buffer.from('{"meta":1,"arrays":[{"name":"g","length":-1}]}');
  assert.deepEqual(await reasons((p) => writeHandMade(p, pad(negative), { metaBytes: negative.length })), [
    'metadata has a bad array entry {"name":"g","length":-1} (expected {"name": string, "length": integer ≥ 0})',
  ]);
});

test('keep=3 leaves exactly the 3 newest after 5 saves', async (t) => {
  const dir = await tempDir(t);
  const { store } = storeIn(dir, { keep: 3 });
  for (let round = 1; round <= 5; round++) await store.save({ meta: { round }, arrays: { global: randomBits(100, round) } });
  assert.deepEqual((await readdir(dir)).sort(), ['checkpoint-00000003.flock', 'checkpoint-00000004.flock', 'checkpoint-00000005.flock']);
  assert.deepEqual((await store.loadLatest())?.checkpoint.meta, { round: 5 });
});

test('the sequence continues from the newest file when a new store opens the same dir', async (t) => {
  const dir = await tempDir(t);
  const first = storeIn(dir).store;
  await first.save({ meta: { round: 1 }, arrays: {} });
  await first.save({ meta: { round: 2 }, arrays: {} });
  const afterRestart = storeIn(dir).store;
  const saved = await afterRestart.save({ meta: { round: 3 }, arrays: {} });
  assert.equal(saved.sequence, 3);
  assert.equal(saved.path, join(dir, 'checkpoint-00000003.flock'));
  assert.equal((await afterRestart.loadLatest())?.sequence, 3);
});

test('saves started together get distinct sequences in call order', async (t) => {
  const dir = await tempDir(t);
  const { store } = storeIn(dir, { keep: 10 });
  const saved = await Promise.all([1, 2, 3].map((round) => store.save({ meta: { round }, arrays: { global: randomBits(10_000, round) } })));
  assert.deepEqual(saved.map((s) => s.sequence), [1, 2, 3]);
  assert.deepEqual((await store.loadLatest())?.checkpoint.meta, { round: 3 });
});

test('a temp file left by a crash is ignored by loadLatest and removed by the next save', async (t) => {
  const dir = await tempDir(t);
  const { store, warnings } = storeIn(dir);
  await store.save({ meta: { round: 1 }, arrays: {} });
  await writeFile(join(dir, 'checkpoint-00000002.flock.tmp'), 'FLOCKCKP half written');
  assert.equal((await store.loadLatest())?.sequence, 1);
  assert.deepEqual(warnings, []);

  const saved = await store.save({ meta: { round: 2 }, arrays: {} });
  assert.equal(saved.sequence, 2);
  assert.deepEqual((await readdir(dir)).sort(), ['checkpoint-00000001.flock', 'checkpoint-00000002.flock']);
});

test('a missing dir loads as null, and the first save creates it', async (t) => {
  const dir = join(await tempDir(t), 'runs', 'mnist');
  const { store, warnings } = storeIn(dir);
  assert.equal(await store.loadLatest(), null);
  await store.clear();
  const saved = await store.save({ meta: null, arrays: {} });
  assert.equal(saved.path, join(dir, 'checkpoint-00000001.flock'));
  assert.deepEqual((await store.loadLatest())?.checkpoint, { meta: null, arrays: {} });
  assert.deepEqual(warnings, []);
});

test('clear() removes every checkpoint and temp file, and leaves other files alone', async (t) => {
  const dir = await tempDir(t);
  const { store } = storeIn(dir);
  await store.save({ meta: { round: 1 }, arrays: {} });
  await store.save({ meta: { round: 2 }, arrays: {} });
  await writeFile(join(dir, 'checkpoint-00000003.flock.tmp'), '');
  await writeFile(join(dir, 'notes.txt'), 'not ours');
  await store.clear();
  assert.equal(await store.loadLatest(), null);
  assert.deepEqual(await readdir(dir), ['notes.txt']);
  assert.equal((await store.save({ meta: { round: 1 }, arrays: {} })).sequence, 1);
});

test('save refuses what it cannot store faithfully, and writes nothing', async (t) => {
  const dir = await tempDir(t);
  const { store } = storeIn(dir);
  await assert.rejects(store.save({ meta: undefined, arrays: {} }), { name: 'CheckpointError', message: /meta is undefined/ });
  await assert.rejects(store.save({ meta: { n: 1n }, arrays: {} }), { name: 'CheckpointError', message: /not JSON-serialisable/ });
  const notFloat32 = { global: new Float64Array(3) } as unknown as Record<string, Float32Array>;
  await assert.rejects(store.save({ meta: 1, arrays: notFloat32 }), { name: 'CheckpointError', message: /"global" must be a Float32Array, got \[object Float64Array\]/ });
  assert.deepEqual(await readdir(dir), []);
  assert.throws(() => new CheckpointStore({ dir, keep: 0 }), CheckpointError);
});

// Durable checkpoints of the coordinator's run state, one file per save:
//   <dir>/checkpoint-00000012.flock   (sequence number, zero-padded; larger = newer)
//
// File format, version 1, all integers little-endian:
//    0  magic      "FLOCKCKP" (8 ASCII bytes)
//    8  version    u32 = 1
//   12  metaBytes  u32: length of the UTF-8 JSON below
//   16  bodyBytes  u64: bytes after this 56-byte header (so truncation is reported as "X of Y bytes")
//   24  sha256     32 bytes, SHA-256 over the body
//   56  body:  JSON {"meta": …, "arrays": [{"name": "global", "length": 1000}, …]}  (metaBytes)
//              zero padding to a file offset that is a multiple of 4
//              each array in the order listed: length × float32, raw little-endian
// The header is not covered by the checksum, so every header field is checked against the
// real file size before it is used, and nothing is allocated beyond what the file holds.
//
// The arrays are 4-byte aligned so a reader can view them in place; this one still copies
// each into its own ArrayBuffer (one memcpy at startup), so a caller may transfer or reuse
// `arrays.x.buffer` without holding the whole file or the other arrays.
//
// Writes are atomic (temp file, fsync, rename, fsync of the directory): after a crash the
// newest complete file is either the old one or the new one, never half of one. One store per
// directory: two processes saving into the same directory are not coordinated.
//
// A file that cannot be used (damaged, or refused by the caller's verify) is never deleted by the
// store on its own: it stays for inspection, and only clear() (an explicit "start anew") removes it.
// When the directory holds checkpoints but none can be used, loadLatest refuses rather than
// returning null, so a damaged disk never silently turns into a new run.
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { assertLittleEndian } from '../shared/wire.ts';
import { syncDirectory, writeFileAtomically } from './atomic-file.ts';

export interface Checkpoint {
  /** JSON-serialisable; what loads back is JSON.parse(JSON.stringify(meta)). */
  meta: unknown;
  arrays: Record<string, Float32Array>;
}

export interface CheckpointStoreOptions {
  dir: string;
  /** How many of the newest checkpoints to keep on disk; default 3. */
  keep?: number;
  log?: (level: 'info' | 'warn', message: string) => void;
  /**
   * Whether the caller can use a checkpoint whose file is intact: throws CheckpointError saying why
   * not (e.g. "global[12] is NaN"), and then the file counts as damaged, exactly like a bad checksum.
   */
  verify?: (checkpoint: Checkpoint) => void;
  /** Appended to UnusableCheckpointsError's message: what the user can do about it. */
  advice?: string;
}

/** One file is damaged or unusable; the message says why (the store adds the path). */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** The directory holds checkpoints but none can be used, or one cannot be read at all: the run cannot go on from it. */
export class UnusableCheckpointsError extends Error {
  override name = 'UnusableCheckpointsError';
  constructor(
    message: string,
    readonly refusals: readonly { path: string; reason: string }[],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** What this store knows of a file: that it wrote or verified it, or why it cannot be used. */
type Verdict = { usable: true } | { usable: false; reason: string };
const USABLE: Verdict = { usable: true };

assertLittleEndian('a checkpoint');

const MAGIC = new TextEncoder().encode('FLOCKCKP');
const FORMAT_VERSION = 1;
const HEADER_BYTES = 56;
const DEFAULT_KEEP = 3;
const NAME_PATTERN = /^checkpoint-(\d{8,})\.flock$/;
const TEMP_PATTERN = /^checkpoint-\d{8,}\.flock\.tmp$/;

const fileName = (sequence: number) => `checkpoint-${String(sequence).padStart(8, '0')}.flock`;
const align4 = (n: number) => (n + 3) & ~3;

export class CheckpointStore {
  private readonly dir: string;
  private readonly keep: number;
  private readonly log: (level: 'info' | 'warn', message: string) => void;
  private readonly verify: (checkpoint: Checkpoint) => void;
  private readonly advice: string | undefined;
  /** By file name; pruning deletes only files known usable, so a file never read is read first. */
  private readonly verdicts = new Map<string, Verdict>();
  // Operations run one after another, so a save never races a prune, a load or a clear.
  private pending: Promise<unknown> = Promise.resolve();

  constructor(options: CheckpointStoreOptions) {
    const keep = options.keep ?? DEFAULT_KEEP;
    if (!Number.isInteger(keep) || keep < 1) {
      throw new CheckpointError(`keep must be an integer ≥ 1 (how many checkpoints stay on disk), got ${keep}`);
    }
    this.dir = options.dir;
    this.keep = keep;
    this.log = options.log ?? ((level, message) => (level === 'warn' ? console.warn(message) : console.info(message)));
    this.verify = options.verify ?? (() => {});
    this.advice = options.advice;
  }

  /** Writes atomically: temp file in the same dir, write, fsync, rename, fsync the directory. Then prunes to `keep` newest. */
  save(checkpoint: Checkpoint): Promise<{ path: string; bytes: number; sequence: number }> {
    return this.serially(() => this.saveNow(checkpoint));
  }

  /**
   * Newest checkpoint that is intact and passes verify. A damaged newer one is skipped with one warn
   * line naming the file and why; it stays on disk for inspection. null when there is no checkpoint
   * file or `dir` does not exist. UnusableCheckpointsError when there are checkpoint files but none
   * can be used, or one cannot be read (e.g. EACCES): falling back silently would hide that.
   */
  loadLatest(): Promise<{ checkpoint: Checkpoint; path: string; sequence: number } | null> {
    return this.serially(() => this.loadLatestNow());
  }

  /** Removes every checkpoint file (damaged ones too) and leftover temp file (start fresh); other files in `dir` stay. */
  clear(): Promise<void> {
    return this.serially(() => this.clearNow());
  }

  private serially<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.pending.then(operation);
    // The caller gets the failure through `result`; the queue only needs to know it is done.
    this.pending = result.catch(() => undefined);
    return result;
  }

  private async saveNow(checkpoint: Checkpoint): Promise<{ path: string; bytes: number; sequence: number }> {
    const { header, pieces, bytes } = encodeCheckpoint(checkpoint);
    let path: string;
    let sequence: number;
    let older: string[];
    try {
      await mkdir(this.dir, { recursive: true });
      const listing = await this.list();
      for (const leftover of listing.temps) await unlink(join(this.dir, leftover));
      older = listing.checkpoints.map((c) => c.name);
      sequence = (listing.checkpoints[0]?.sequence ?? 0) + 1;
      path = join(this.dir, fileName(sequence));
      await writeFileAtomically(path, [header, ...pieces], { exclusive: true, warn: (message) => this.log('warn', message) });
    } catch (error) {
      throw new CheckpointError(`cannot save a checkpoint in ${this.dir}: ${(error as Error).message}`, { cause: error });
    }
    this.verdicts.set(fileName(sequence), USABLE);
    await this.prune([fileName(sequence), ...older]);
    return { path, bytes, sequence };
  }

  // Keeps the `keep` newest usable files and every unusable one. No directory fsync after
  // unlinking: if a crash brings an old file back, the next prune removes it again.
  private async prune(namesNewestFirst: string[]): Promise<void> {
    let usable = 0;
    for (const name of namesNewestFirst) {
      if (!(await this.knownUsable(name))) continue;
      if (++usable <= this.keep) continue;
      const path = join(this.dir, name);
      try {
        await unlink(path);
        this.verdicts.delete(name);
      } catch (error) {
        // The new checkpoint is already safe; a stale one left behind is not a failed save.
        this.log('warn', `could not remove old checkpoint ${path}: ${(error as Error).message}`);
      }
    }
  }

  /** Whether this store wrote or verified `name`; a file it has not seen yet (left by an earlier process) is verified once. */
  private async knownUsable(name: string): Promise<boolean> {
    let verdict = this.verdicts.get(name);
    if (!verdict) {
      const path = join(this.dir, name);
      try {
        await this.readUsable(path);
        verdict = USABLE;
      } catch (error) {
        const reason = error instanceof CheckpointError ? error.message : isIoError(error) ? `cannot be read (${error.message})` : null;
        if (reason === null) throw error;
        verdict = { usable: false, reason };
        this.log('warn', `keeping damaged checkpoint ${path}: ${reason}; it is never removed automatically`);
      }
      this.verdicts.set(name, verdict);
    }
    return verdict.usable;
  }

  /** Reads one file and passes it through verify. Damage of either kind throws CheckpointError; I/O errors pass through. */
  private async readUsable(path: string): Promise<Checkpoint> {
    const checkpoint = await readCheckpoint(path);
    this.verify(checkpoint);
    return checkpoint;
  }

  private async loadLatestNow(): Promise<{ checkpoint: Checkpoint; path: string; sequence: number } | null> {
    const { checkpoints } = await this.list();
    const refusals: { path: string; reason: string }[] = [];
    for (const { sequence, name } of checkpoints) {
      const path = join(this.dir, name);
      try {
        const checkpoint = await this.readUsable(path);
        // Only now, once one is found: when none is, the refusal says it all in one message.
        for (const refusal of refusals) this.log('warn', `skipping damaged checkpoint ${refusal.path}: ${refusal.reason}; trying the previous one`);
        this.log('info', `loaded checkpoint ${path}`);
        this.verdicts.set(name, USABLE);
        return { checkpoint, path, sequence };
      } catch (error) {
        if (isIoError(error)) {
          throw new UnusableCheckpointsError(this.withAdvice(`cannot read the checkpoint ${path} (${error.message}); nothing was deleted.`), [], { cause: error });
        }
        if (!(error instanceof CheckpointError)) throw error;
        refusals.push({ path, reason: error.message });
        this.verdicts.set(name, { usable: false, reason: error.message });
      }
    }
    if (refusals.length === 0) return null;
    const which = refusals.length === 1 ? `the only checkpoint in ${this.dir} cannot` : `none of the ${refusals.length} checkpoints in ${this.dir} can`;
    const lines = [`${which} be used (nothing was deleted):`, ...refusals.map((r) => `  ${r.path}: ${r.reason}`)];
    throw new UnusableCheckpointsError(this.withAdvice(lines.join('\n')), refusals);
  }

  private withAdvice(message: string): string {
    return this.advice ? `${message}\n${this.advice}` : message;
  }

  private async clearNow(): Promise<void> {
    const { checkpoints, temps } = await this.list();
    this.verdicts.clear();
    for (const name of [...checkpoints.map((c) => c.name), ...temps]) {
      const path = join(this.dir, name);
      try {
        await unlink(path);
      } catch (error) {
        // e.g. a directory by that name: removing it and what it holds is not the store's call.
        throw new CheckpointError(`cannot remove ${path}: ${(error as Error).message}; move it out of ${this.dir}`, { cause: error });
      }
    }
    // Without this a crash could bring back the run the user asked to forget.
    if (checkpoints.length + temps.length > 0) await syncDirectory(this.dir);
  }

  /** Checkpoints newest first, and leftover temp files; both empty when `dir` does not exist. */
  private async list(): Promise<{ checkpoints: { sequence: number; name: string }[]; temps: string[] }> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { checkpoints: [], temps: [] };
      throw error;
    }
    const checkpoints: { sequence: number; name: string }[] = [];
    for (const name of names) {
      const match = NAME_PATTERN.exec(name);
      if (match) checkpoints.push({ sequence: Number(match[1]), name });
    }
    checkpoints.sort((a, b) => b.sequence - a.sequence);
    return { checkpoints, temps: names.filter((name) => TEMP_PATTERN.test(name)) };
  }
}

interface ArrayEntry {
  name: string;
  length: number;
}

/** Header + body pieces; the arrays' bytes are written from the caller's memory, not copied. */
function encodeCheckpoint({ meta, arrays }: Checkpoint): { header: Uint8Array; pieces: Uint8Array[]; bytes: number } {
  if (meta === undefined) throw new CheckpointError('checkpoint meta is undefined: pass a JSON value (null if there is nothing)');
  const entries: ArrayEntry[] = [];
  const arrayBytes: Uint8Array[] = [];
  for (const [name, values] of Object.entries(arrays)) {
    if (!(values instanceof Float32Array)) {
      throw new CheckpointError(`checkpoint array "${name}" must be a Float32Array, got ${Object.prototype.toString.call(values)}`);
    }
    entries.push({ name, length: values.length });
    arrayBytes.push(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  let json: string;
  try {
    json = JSON.stringify({ meta, arrays: entries });
  } catch (error) {
    throw new CheckpointError(`checkpoint meta is not JSON-serialisable: ${(error as Error).message}`, { cause: error });
  }
  const metaBytes = new TextEncoder().encode(json);
  const padding = new Uint8Array(align4(HEADER_BYTES + metaBytes.byteLength) - HEADER_BYTES - metaBytes.byteLength);
  const pieces = [metaBytes, padding, ...arrayBytes];

  const hash = createHash('sha256');
  let bodyBytes = 0;
  for (const piece of pieces) {
    hash.update(piece);
    bodyBytes += piece.byteLength;
  }
  const header = new Uint8Array(HEADER_BYTES);
  const view = new DataView(header.buffer);
  header.set(MAGIC, 0);
  view.setUint32(8, FORMAT_VERSION, true);
  view.setUint32(12, metaBytes.byteLength, true);
  view.setBigUint64(16, BigInt(bodyBytes), true);
  header.set(hash.digest(), 24);
  return { header, pieces, bytes: HEADER_BYTES + bodyBytes };
}

/** An error of the file system (it has an errno code), as opposed to a bug. */
function isIoError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}

const NOT_A_FILE = 'a directory, not a checkpoint file';

/** Reads and verifies one file. Damage throws CheckpointError with the reason; I/O errors pass through. */
async function readCheckpoint(path: string): Promise<Checkpoint> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EISDIR') throw new CheckpointError(NOT_A_FILE);
    throw error;
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new CheckpointError(stats.isDirectory() ? NOT_A_FILE : 'not a regular file');
    const fileBytes = stats.size;
    const header = new Uint8Array(Math.min(HEADER_BYTES, fileBytes));
    await readFully(handle, header, 0);
    if (!MAGIC.subarray(0, header.byteLength).every((b, i) => header[i] === b)) {
      throw new CheckpointError('not a Flock checkpoint');
    }
    if (fileBytes < HEADER_BYTES) throw new CheckpointError(`truncated: ${fileBytes} of at least ${HEADER_BYTES} bytes (header incomplete)`);
    const view = new DataView(header.buffer);
    const version = view.getUint32(8, true);
    if (version !== FORMAT_VERSION) {
      throw new CheckpointError(`format version ${version} not supported (this Flock reads version ${FORMAT_VERSION})`);
    }
    const expectedBytes = HEADER_BYTES + Number(view.getBigUint64(16, true));
    if (fileBytes < expectedBytes) throw new CheckpointError(`truncated: ${fileBytes} of ${expectedBytes} bytes`);
    if (fileBytes > expectedBytes) throw new CheckpointError(`${fileBytes - expectedBytes} unexpected bytes after the end (${expectedBytes} bytes expected)`);
    const metaBytes = view.getUint32(12, true);
    if (metaBytes > expectedBytes - HEADER_BYTES) {
      throw new CheckpointError(`header claims ${metaBytes} bytes of metadata but the body has only ${expectedBytes - HEADER_BYTES}`);
    }
    // Only now is anything sized by the file allocated, and only as much as the file really holds.
    const body = new Uint8Array(expectedBytes - HEADER_BYTES);
    await readFully(handle, body, HEADER_BYTES);
    const digest = createHash('sha256').update(body).digest();
    if (!digest.equals(header.subarray(24, 56))) throw new CheckpointError('checksum mismatch');
    return decodeBody(body, metaBytes);
  } finally {
    await handle.close();
  }
}

function decodeBody(body: Uint8Array, metaBytes: number): Checkpoint {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(0, metaBytes)));
  } catch (error) {
    throw new CheckpointError(`metadata is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  const entries = arrayEntries(parsed);
  let at = align4(HEADER_BYTES + metaBytes) - HEADER_BYTES;
  const needed = entries.reduce((sum, e) => sum + 4 * e.length, at);
  if (needed !== body.byteLength) {
    throw new CheckpointError(`metadata lists arrays needing ${needed} body bytes, the body has ${body.byteLength}`);
  }
  const arrays = entries.map(({ name, length }): [string, Float32Array] => {
    // slice() of a same-type view copies bytes, so NaN payloads survive (the spec requires it).
    const values = new Float32Array(body.buffer, body.byteOffset + at, length).slice();
    at += 4 * length;
    return [name, values];
  });
  // fromEntries defines own properties, so even an array named "__proto__" comes back as saved.
  return { meta: (parsed as { meta: unknown }).meta, arrays: Object.fromEntries(arrays) };
}

function arrayEntries(parsed: unknown): ArrayEntry[] {
  if (typeof parsed !== 'object' || parsed === null || !('meta' in parsed) || !('arrays' in parsed) || !Array.isArray(parsed.arrays)) {
    throw new CheckpointError('metadata lacks "meta" and an "arrays" list');
  }
  const seen = new Set<string>();
  for (const entry of parsed.arrays as unknown[]) {
    const { name, length } = (entry ?? {}) as Partial<ArrayEntry>;
    if (typeof name !== 'string' || !Number.isSafeInteger(length) || (length as number) < 0) {
      throw new CheckpointError(`metadata has a bad array entry ${JSON.stringify(entry)} (expected {"name": string, "length": integer ≥ 0})`);
    }
    if (seen.has(name)) throw new CheckpointError(`metadata lists array "${name}" twice`);
    seen.add(name);
  }
  return parsed.arrays as ArrayEntry[];
}

async function readFully(handle: FileHandle, into: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < into.byteLength; ) {
    const { bytesRead } = await handle.read(into, done, into.byteLength - done, position + done);
    if (bytesRead === 0) throw new CheckpointError(`truncated while reading: file shrank to ${position + done} bytes`);
    done += bytesRead;
  }
}


// Writing a file so that a crash leaves either the old one or the new one, never half of one:
// a temp file in the same directory, written, fsynced, renamed over the target, then the directory
// fsynced so the rename itself is durable.
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface AtomicWriteOptions {
  /** Refuse to start when the temp file exists (another writer is at it); default: overwrite a leftover. */
  exclusive?: boolean;
  /** Told when the temp file of a failed write cannot be removed; default: the write's error says so. */
  warn?: (message: string) => void;
}

export async function writeFileAtomically(path: string, pieces: Uint8Array | Uint8Array[], options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tempPath = `${path}.tmp`;
  try {
    const handle = await open(tempPath, options.exclusive ? 'wx' : 'w');
    try {
      let position = 0;
      for (const piece of Array.isArray(pieces) ? pieces : [pieces]) {
        await writeFully(handle, piece, position);
        position += piece.byteLength;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tempPath, path);
  } catch (error) {
    await unlink(tempPath).catch((cleanup: NodeJS.ErrnoException) => {
      if (cleanup.code === 'ENOENT') return;
      if (!options.warn) throw new Error(`could not write ${path} (${(error as Error).message}), nor remove ${tempPath} (${cleanup.message})`);
      options.warn(`could not remove ${tempPath} (${cleanup.message}); the next save removes it`);
    });
    throw error;
  }
  await syncDirectory(dir);
}

async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.byteLength; ) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done, position + done);
    done += bytesWritten;
  }
}

/** Makes a rename or an unlink durable. Some platforms (Windows) cannot open or sync a directory; only those refusals are ignored. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM') throw error;
  } finally {
    await handle?.close();
  }
}

// The population's privacy ledger on disk: <dataDir>/privacy-ledger.json, beside the checkpoints
// but apart from them, because it outlives runs, resets and --fresh (one ledger per room). Every
// release is charged and written here before it goes out (persist), so a crash can only leave the
// ledger charged for a release that never happened, never the other way round.
//
// The file holds the ledger's JSON and its SHA-256: a file that is missing starts an empty ledger;
// one that is damaged stops the coordinator (falling back to an older one, or to nothing, would
// understate what was spent). Forgetting it is an explicit admin action (PrivacyLedger.reset).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PrivacyLedger, type PrivacyLedgerState } from '../shared/fl/privacy-ledger.ts';
import { writeFileAtomically } from './atomic-file.ts';

export const LEDGER_FILE = 'privacy-ledger.json';
const FORMAT = 'flock-privacy-ledger';
const VERSION = 1;

export class LedgerFileError extends Error {
  override name = 'LedgerFileError';
}

const digest = (ledger: PrivacyLedgerState) => createHash('sha256').update(JSON.stringify(ledger)).digest('hex');

export class LedgerFile {
  private writing: Promise<void> = Promise.resolve();
  private queued: Promise<void> | null = null;

  private constructor(
    readonly ledger: PrivacyLedger,
    /** null: kept in memory only (tests, and a coordinator without a data directory). */
    readonly path: string | null,
  ) {}

  /** A ledger that is never written (tests; a coordinator without a data directory). */
  static inMemory(): LedgerFile {
    return new LedgerFile(new PrivacyLedger(), null);
  }

  /** The ledger kept in `dataDir` (an empty one when there is no file yet), or one in memory only. */
  static async open(dataDir: string | null): Promise<LedgerFile> {
    if (!dataDir) return LedgerFile.inMemory();
    const path = join(dataDir, LEDGER_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new LedgerFile(new PrivacyLedger(), path);
      throw new LedgerFileError(`cannot read the privacy ledger ${path}: ${(error as Error).message}`);
    }
    return new LedgerFile(parseLedgerFile(path, text), path);
  }

  /** Writes the ledger as it is now; resolves once it is on disk. Writes follow one another in order. */
  persist(): Promise<void> {
    if (!this.path) return Promise.resolve();
    // One write at a time; a request while one runs is served by the next, which takes the state then.
    this.queued ??= this.writing.catch(() => {}).then(() => {
      this.queued = null;
      return this.write();
    });
    this.writing = this.queued;
    return this.queued;
  }

  /** persist() for charges that hold no release back (a noised upload under local DP); a failure goes to `onError`. */
  persistSoon(onError: (error: unknown) => void): void {
    this.persist().catch(onError);
  }

  private async write(): Promise<void> {
    const ledger = this.ledger.state();
    const text = `${JSON.stringify({ format: FORMAT, version: VERSION, sha256: digest(ledger), ledger }, null, 1)}\n`;
    await writeFileAtomically(this.path!, new TextEncoder().encode(text));
  }
}

function parseLedgerFile(path: string, text: string): PrivacyLedger {
  const refuse = (why: string): never => {
    throw new LedgerFileError(
      `the privacy ledger ${path} is unusable (${why}). It records the privacy this room's tabs have spent; starting without it would ` +
        `spend their budget again. Restore the file, or move it aside and start again to begin a new ledger (the ε shown will then leave out what was spent before).`,
    );
  };
  let parsed: { format?: unknown; version?: unknown; sha256?: unknown; ledger?: unknown };
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return refuse(`not JSON: ${(error as Error).message}`);
  }
  if (parsed?.format !== FORMAT || parsed.version !== VERSION) return refuse(`not a version-${VERSION} Flock privacy ledger`);
  const ledger = parsed.ledger as PrivacyLedgerState;
  if (typeof parsed.sha256 !== 'string' || digest(ledger) !== parsed.sha256) return refuse('checksum mismatch');
  try {
    return new PrivacyLedger(ledger);
  } catch (error) {
    return refuse((error as Error).message);
  }
}

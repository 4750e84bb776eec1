// A restarted coordinator keeps its room code and admin token, so the join QR on the projector,
// the tabs' ?room= links and the teacher's dashboard link keep working after a crash. Only what
// was generated is kept (a code or token given by flag or env always wins), in <dataDir>/access.json,
// readable by the owner only.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Access } from './access.ts';

const FILE = 'access.json';

export async function keepAccessAcrossRestarts(
  dataDir: string,
  access: Access,
  generated: { adminToken: boolean; roomCode: boolean },
  fresh: boolean,
): Promise<Access> {
  const path = join(dataDir, FILE);
  let saved: Partial<Access> = {};
  if (!fresh) {
    try {
      saved = JSON.parse(await readFile(path, 'utf8')) as Partial<Access>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${path}: ${(error as Error).message}; remove it or start with --fresh`);
    }
  }
  const kept: Access = {
    adminToken: generated.adminToken && typeof saved.adminToken === 'string' ? saved.adminToken : access.adminToken,
    roomCode: generated.roomCode && (typeof saved.roomCode === 'string' || saved.roomCode === null) ? saved.roomCode : access.roomCode,
  };
  await mkdir(dataDir, { recursive: true });
  await writeFile(path, `${JSON.stringify(kept)}\n`, { mode: 0o600 });
  return kept;
}

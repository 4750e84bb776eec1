// Who may steer: viewing is open; start, stop, reset and settings need the admin
// token; joining needs the room code. Both are printed by the coordinator at start.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { ClientFaultError } from './client-fault.ts';

export class AccessError extends ClientFaultError {
  override name = 'AccessError';
  constructor(
    message: string,
    readonly statusCode: 401 | 403,
  ) {
    super(message);
  }
}

export interface Access {
  adminToken: string;
  /** null: anyone with the URL may join. */
  roomCode: string | null;
}

// No 0/O or 1/I: codes are read off a projector.
const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

export function generateRoomCode(length = 6): string {
  return Array.from(randomBytes(length), (b) => CODE_ALPHABET[b % CODE_ALPHABET.length]).join('');
}

export function generateAdminToken(): string {
  return randomBytes(18).toString('base64url');
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether `token` is the admin token (a missing one is not). */
export function isAdminToken(access: Access, token: string | undefined): boolean {
  return token !== undefined && sameSecret(token, access.adminToken);
}

/** The token of an `Authorization: Bearer <token>` header, if it has one. */
export const bearerToken = (authorization: string | undefined): string | undefined => authorization?.match(/^Bearer\s+(.+)$/i)?.[1];

/** Checks an `Authorization: Bearer <token>` header. */
export function requireAdmin(access: Access, authorization: string | undefined): void {
  const token = bearerToken(authorization);
  if (!token) {
    throw new AccessError('admin token required: send "Authorization: Bearer <token>" (the coordinator prints it at start)', 401);
  }
  if (!isAdminToken(access, token)) throw new AccessError('wrong admin token: nothing was changed', 403);
}

export function requireRoomCode(access: Access, code: string | undefined): void {
  if (access.roomCode === null) return;
  if (!code) throw new AccessError('this room needs a code: open the join link or type the code shown on the dashboard', 401);
  if (!sameSecret(code.trim().toUpperCase(), access.roomCode)) {
    throw new AccessError(`wrong room code "${code}": check the code shown on the dashboard`, 403);
  }
}

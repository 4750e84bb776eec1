// What only the admin may do: start, stop and reset a run (POST /api/run/…), change
// settings (PUT /api/settings), switch a tab's attack simulation (PUT /api/clients/…/attack)
// and make the privacy ledger forget (POST /api/privacy/ledger/reset).
// All go over HTTP with `Authorization: Bearer <token>`, so each gets a status code and,
// on refusal, the coordinator's reason to show.
import type { AttackMode } from '../../shared/protocol/records.ts';
import type { Settings } from '../../shared/settings.ts';
import { shortClientId } from '../format.ts';

export type RunCommand = 'start' | 'stop' | 'reset';

export class AdminRequestError extends Error {
  override name = 'AdminRequestError';
  constructor(
    message: string,
    /** The HTTP status; 0 when the coordinator could not be reached. */
    readonly status: number,
    /** The coordinator's own `error` text, when it sent one. */
    readonly reason: string,
  ) {
    super(message);
  }

  /** 401 (no token) or 403 (wrong token): the page should ask for the token. */
  get needsToken(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

async function adminRequest(what: string, method: string, path: string, token: string | null, body?: unknown): Promise<unknown> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new AdminRequestError(`${what} failed: coordinator unreachable (${(error as Error).message})`, 0, '');
  }
  const text = await response.text();
  let reply: unknown = null;
  if (text !== '') {
    try {
      reply = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page?): fall through and report the status with the raw text.
    }
  }
  const error = typeof reply === 'object' && reply !== null && 'error' in reply ? String(reply.error) : null;
  if (!response.ok || error !== null) {
    const reason = error ?? (text.slice(0, 200) || response.statusText);
    // The coordinator's 401 text is written for API callers; the page says what to do on the page.
    const message =
      response.status === 401
        ? `${what} needs the admin token: enter the one the coordinator printed at start, or open the dashboard link it printed`
        : `${what} refused (HTTP ${response.status}): ${reason}`;
    throw new AdminRequestError(message, response.status, reason);
  }
  return reply;
}

export async function sendRunCommand(command: RunCommand, token: string | null): Promise<void> {
  await adminRequest(command, 'POST', `/api/run/${command}`, token);
}

/** Sends the changed settings; resolves with the coordinator's full settings after the change. */
export async function putSettings(changes: Partial<Settings>, token: string | null): Promise<Settings> {
  return (await adminRequest('saving settings', 'PUT', '/api/settings', token, changes)) as Settings;
}

/** Makes the population's privacy ledger forget what was spent: its own explicit confirmation, beside the admin token. */
export async function resetPrivacyLedger(token: string | null): Promise<void> {
  await adminRequest('resetting the privacy ledger', 'POST', '/api/privacy/ledger/reset', token, { forget: 'what the tabs have spent' });
}

/** Makes one tab an attacker (or honest again); the tab applies it from its next round. */
export async function putClientAttack(clientId: string, mode: AttackMode, token: string | null): Promise<void> {
  const path = `/api/clients/${encodeURIComponent(clientId)}/attack`;
  await adminRequest(`switching tab ${shortClientId(clientId)} to ${mode}`, 'PUT', path, token, { mode });
}

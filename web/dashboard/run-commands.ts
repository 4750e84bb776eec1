// Start and stop go over HTTP (POST /api/run/start|stop), not the socket, so the
// coordinator answers each with a status code and, on refusal, a reason to show.

export type RunCommand = 'start' | 'stop';

export class RunCommandError extends Error {
  override name = 'RunCommandError';
}

export async function sendRunCommand(command: RunCommand): Promise<void> {
  let response: Response;
  try {
    response = await fetch(`/api/run/${command}`, { method: 'POST' });
  } catch (error) {
    throw new RunCommandError(`${command} failed: coordinator unreachable (${(error as Error).message})`);
  }
  const body = await response.text();
  let reply: unknown = null;
  if (body !== '') {
    try {
      reply = JSON.parse(body);
    } catch {
      // Not JSON (a proxy's error page?): fall through and report the status with the raw text.
    }
  }
  const error = typeof reply === 'object' && reply !== null && 'error' in reply ? String(reply.error) : null;
  if (!response.ok || error !== null) {
    const reason = error ?? (body.slice(0, 200) || response.statusText);
    throw new RunCommandError(`${command} refused (HTTP ${response.status}): ${reason}`);
  }
}

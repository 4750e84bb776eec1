// Polls a coordinator's run state until a condition holds; on a time-out the error says what the
// state was, so a failing e2e test shows where the run got stuck.
import type { RunState } from '../shared/protocol/records.ts';

const POLL_MS = 100;

export async function waitForState(
  what: string,
  read: () => RunState | Promise<RunState>,
  predicate: (state: RunState) => boolean,
  timeoutMs: number,
): Promise<RunState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await read();
    if (predicate(state)) return state;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${describeState(state)}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function describeState({ phase, round, message, clients, history }: RunState): string {
  const tabs = clients.map((c) => `${c.backend ?? '-'}:${c.status}`).join(', ');
  return `phase ${phase}, round ${round}, "${message}", ${clients.length} tabs (${tabs}), ${history.length} rounds done`;
}

// The one error of secure aggregation's protocol logic: a threshold not reached, a roster or a
// message that breaks the protocol, a share that does not decrypt or does not reconstruct.
// Messages name the round and attempt and say what happened, e.g.
//   "round 3 attempt 1: only 2 of 3 needed tabs revealed their shares"
// so the coordinator's log and the tab's status line can show them as they are.

export class SecAggError extends Error {
  override name = 'SecAggError';
}

/** Which attempt of which round a step belongs to: every key, message and error is bound to it. */
export interface SecAggAttempt {
  round: number;
  attempt: number;
}

/** "round 3 attempt 1: " — the prefix of every protocol error. */
export function attemptLabel({ round, attempt }: SecAggAttempt): string {
  return `round ${round} attempt ${attempt}`;
}

/** A message a tab sent does not fit the step it claims (out of step, a second one, not its turn): the sender's fault. */
export class SecAggRefusal extends Error {
  override name = 'SecAggRefusal';
}

// Tabs that speak secure aggregation to a coordinator fixture without a network: every secure
// round start opens the tab's real protocol session (shared/secagg/upload-session.ts, WebCrypto
// in Node) and the coordinator's secure messages go to it. A test then submits each tab's delta
// through `sessions`. A silent tab never answers its round start (it sends no keys).
import type { RoundStart } from '../shared/protocol/messages.ts';
import { SecureUploadSession } from '../shared/secagg/upload-session.ts';
import type { CoordinatorFixture } from './coordinator-fixture.ts';

export function secureTabs(t: CoordinatorFixture, { silent = [] as string[] } = {}) {
  const { coordinator } = t;
  const sessions = new Map<string, SecureUploadSession>();
  const starts: RoundStart[] = [];
  const errors: unknown[] = [];
  const background = (work: Promise<unknown>) => work.catch((error: unknown) => errors.push(error));
  const tabOf = (connection: string) => connection.replace(/^conn-/, '');
  const step = (connection: string, refused: string) => {
    const { clientId, attempt } = coordinator.attemptFor(connection, refused);
    return attempt.secureRound(clientId);
  };
  coordinator.on('roundStart', (connections, start) => {
    starts.push(start);
    if (!start.config.secureAggregation) return;
    for (const clientId of connections.map(tabOf)) {
      const on = `conn-${clientId}`;
      background(
        SecureUploadSession.open({
          clientId,
          round: start.round,
          attempt: start.attempt,
          // As the transport hands each step over (server/plugins/socket.ts).
          transport: {
            sendKeys: (wire) => (silent.includes(clientId) ? undefined : step(on, 'keys refused').advertise(clientId, wire)),
            sendShares: (wire) => step(on, 'shares refused').submitShares(clientId, wire),
            sendMasked: async (wire) => (coordinator.attemptFor(on, 'masked update refused', true).attempt.acceptMasked(clientId, wire), { accepted: true }),
            sendReveal: (wire) => step(on, 'reveal refused').submitReveal(clientId, wire),
          },
        }).then((session) => {
          sessions.set(clientId, session);
          session.advertise();
        }),
      );
    }
  });
  coordinator.on('secureRoster', (connections, wire) => connections.forEach((c) => background(sessions.get(tabOf(c))!.onRoster(wire))));
  coordinator.on('secureForward', (connection, wire) => background(sessions.get(tabOf(connection))!.onForward(wire)));
  coordinator.on('secureUnmask', (connections, wire) => connections.forEach((c) => sessions.get(tabOf(c))!.onUnmask(wire)));
  /** The secure attempt's step, read off the run (tests wait for a step before acting). */
  const currentStep = () => (coordinator.run as unknown as { phase: { attempt?: { secure?: { step: string } | null } } } | null)?.phase.attempt?.secure?.step;
  return { sessions, starts, errors, step: currentStep };
}

/** Polls until `ready()` (WebCrypto work runs off the event loop's microtasks). */
export async function until(what: string, ready: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

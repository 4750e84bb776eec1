// The participant's connection to the coordinator: joins on every (re)connect with the secret
// resume token the host keeps (sessionStorage in the page, memory in Node), so a network blip or a
// coordinator restart keeps the tab's identity and shard; asks for the room code when the room
// wants one; and tells the rest of the loop, through whenJoined(), when it is joined again.
import type { JoinReply, JoinRequest } from '../protocol/messages.ts';
import { parseReply, ProtocolError } from '../protocol/parse.ts';
import type { ConnectionState } from './state.ts';
import type { Clock, ParticipantTransport } from './transport.ts';

const JOIN_ACK_TIMEOUT_MS = 15_000;
/**
 * Socket.IO retries by itself (at most every 2 s: the hosts' setting) except when the server
 * closed the session, which is also what a coordinator restart looks like: come back then too.
 */
export const SERVER_CLOSED_RETRY_MS = 2_000;
const ROOM_CODE_ERROR = /room needs a code|wrong room code/;

/** Where the host keeps the resume token (the tab's identity). */
export interface ResumeTokenStore {
  load(): string | null;
  save(token: string): void;
}

export interface ConnectionEvents {
  connectionChanged(state: ConnectionState): void;
  /** Loads what the reply asks for and reports ready; the join counts once this resolves. */
  joined(reply: JoinReply): Promise<void>;
  joinFailed(message: string): void;
  /** A connection attempt failed (the coordinator is down, or refused the handshake). */
  connectFailed(message: string): void;
  disconnected(reason: string): void;
  /** The room wants a code: resolves with what the person typed. Without it a refusal is final. */
  askForRoomCode?(message: string): Promise<string>;
  message(name: string, payload: unknown): void;
}

export class CoordinatorConnection {
  private joined = new Gate();
  private cancelRetry: (() => void) | null = null;
  private closed = false;

  constructor(
    readonly transport: ParticipantTransport,
    private readonly tokens: ResumeTokenStore,
    private readonly clock: Clock,
    private readonly events: ConnectionEvents,
    private roomCode: string | undefined,
  ) {}

  open(): void {
    const { transport, events } = this;
    transport.open(
      {
        connected: () => {
          events.connectionChanged('connected');
          void this.join();
        },
        disconnected: (reason) => {
          if (this.closed) return;
          if (reason === 'io server disconnect' && transport.reconnects) {
            this.cancelRetry = this.clock.after(SERVER_CLOSED_RETRY_MS, () => this.retry());
          }
          if (this.joined.settled) this.joined = new Gate();
          events.connectionChanged('disconnected');
          events.disconnected(reason);
        },
        connectFailed: (message, retrying) => {
          events.connectionChanged(retrying ? 'reconnecting' : 'disconnected');
          events.connectFailed(message);
        },
        reconnecting: () => events.connectionChanged('reconnecting'),
        message: (name, payload) => events.message(name, payload),
      },
      (): Record<string, string> => {
        const resumeToken = this.tokens.load();
        return resumeToken ? { resumeToken } : {};
      },
    );
  }

  close(): void {
    this.closed = true;
    this.cancelRetry?.();
    this.transport.close();
  }

  /** Resolves once this connection has joined and reported ready (again, after a reconnect). */
  whenJoined(): Promise<void> {
    return this.joined.promise;
  }

  /** Joins again on the same connection: the coordinator's model or split changed. */
  rejoin(): void {
    if (this.joined.settled) this.joined = new Gate();
    if (this.transport.connected) void this.join();
  }

  private retry(): void {
    this.cancelRetry = null;
    if (this.closed || this.transport.connected) return;
    this.events.connectionChanged('reconnecting');
    this.transport.reconnect();
  }

  private async join(): Promise<void> {
    const request: JoinRequest = {};
    const resumeToken = this.tokens.load();
    if (resumeToken) request.resumeToken = resumeToken;
    if (this.roomCode) request.roomCode = this.roomCode;
    let reply: JoinReply | { error: string };
    try {
      reply = parseReply('participant:join', await this.transport.request('participant:join', request, JOIN_ACK_TIMEOUT_MS));
    } catch (error) {
      if (error instanceof ProtocolError) return this.events.joinFailed(`the coordinator's join reply is unusable: ${error.message}`);
      if (!this.transport.connected) return; // the next 'connected' joins again
      return this.events.joinFailed(`the coordinator did not answer the join within ${JOIN_ACK_TIMEOUT_MS / 1000} s; reload to try again`);
    }
    if ('error' in reply) {
      if (ROOM_CODE_ERROR.test(reply.error) && this.events.askForRoomCode) {
        this.roomCode = await this.events.askForRoomCode(reply.error);
        return this.join();
      }
      return this.events.joinFailed(reply.error);
    }
    this.tokens.save(reply.resumeToken);
    try {
      await this.events.joined(reply);
    } catch (error) {
      return this.events.joinFailed((error as Error).message);
    }
    if (this.transport.connected) this.joined.resolve(); // else the next 'connected' joins again
  }
}

/** A promise with its resolve, and whether it has resolved. */
class Gate {
  settled = false;
  resolve!: () => void;
  readonly promise = new Promise<void>((resolve) => {
    this.resolve = () => {
      this.settled = true;
      resolve();
    };
  });
}

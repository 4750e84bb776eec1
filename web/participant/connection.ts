// The tab's Socket.IO connection to the coordinator: joins on every (re)connect
// with the secret resume token kept in sessionStorage, so a network blip (or a coordinator
// restart) keeps this tab's identity and shard, and tells the rest of the page when it is joined again.
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, JoinReply, ServerToClientEvents } from '../../shared/protocol/messages.ts';
import type { ConnectionState } from './tab-state.ts';

export type FlockSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const RESUME_TOKEN_KEY = 'flock.resumeToken';
const JOIN_ACK_TIMEOUT_MS = 15_000;
const SERVER_CLOSED_RETRY_MS = 2_000;
const ROOM_CODE_ERROR = /room needs a code|wrong room code/;

export interface ConnectionEvents {
  onConnectionChange(state: ConnectionState): void;
  /** Loads what the reply asks for and reports ready; the join counts once this resolves. */
  onJoined(reply: JoinReply): Promise<void>;
  onJoinFailed(message: string): void;
  /** The room wants a code: resolves with what the person typed. */
  askForRoomCode(message: string): Promise<string>;
}

export class Connection {
  // Retry at most every 2 s (Socket.IO's default backs off to 5 s): after a coordinator restart the
  // tabs are back within a couple of seconds of it listening again.
  readonly socket: FlockSocket = io({ transports: ['websocket', 'polling'], reconnectionDelay: 500, reconnectionDelayMax: 2000 });
  private joined = new Joined();

  constructor(
    private readonly events: ConnectionEvents,
    private roomCode: string | undefined,
  ) {
    this.socket.on('connect', () => {
      events.onConnectionChange('connected');
      void this.join();
    });
    this.socket.on('disconnect', (reason) => {
      // Socket.IO retries by itself except when the server closed the session, which is
      // also what a coordinator restart looks like: come back then too.
      if (reason === 'io server disconnect') setTimeout(() => this.retry(), SERVER_CLOSED_RETRY_MS);
      if (this.joined.settled) this.joined = new Joined();
      events.onConnectionChange('disconnected');
    });
    this.socket.on('connect_error', () => events.onConnectionChange(this.socket.active ? 'reconnecting' : 'disconnected'));
    this.socket.io.on('reconnect_attempt', () => events.onConnectionChange('reconnecting'));
  }

  /** Resolves once this connection has joined and reported ready (again, after a reconnect). */
  whenJoined(): Promise<void> {
    return this.joined.promise;
  }

  /** Joins again on the same connection: the coordinator's model or shard changed. */
  rejoin(): void {
    this.joined = this.joined.settled ? new Joined() : this.joined;
    if (this.socket.connected) void this.join();
  }

  private retry(): void {
    if (this.socket.connected) return;
    this.events.onConnectionChange('reconnecting');
    this.socket.connect();
  }

  private async join(): Promise<void> {
    let reply: JoinReply | { error: string };
    try {
      reply = await this.socket
        .timeout(JOIN_ACK_TIMEOUT_MS)
        .emitWithAck('participant:join', { resumeToken: sessionStorage.getItem(RESUME_TOKEN_KEY) ?? undefined, roomCode: this.roomCode });
    } catch {
      if (!this.socket.connected) return; // the next 'connect' joins again
      return this.events.onJoinFailed(`the coordinator did not answer the join within ${JOIN_ACK_TIMEOUT_MS / 1000} s; reload to try again`);
    }
    if ('error' in reply) {
      if (ROOM_CODE_ERROR.test(reply.error)) {
        this.roomCode = await this.events.askForRoomCode(reply.error);
        return this.join();
      }
      return this.events.onJoinFailed(reply.error);
    }
    sessionStorage.setItem(RESUME_TOKEN_KEY, reply.resumeToken);
    try {
      await this.events.onJoined(reply);
    } catch (error) {
      return this.events.onJoinFailed((error as Error).message);
    }
    this.joined.resolve();
  }
}

class Joined {
  settled = false;
  resolve!: () => void;
  readonly promise = new Promise<void>((resolve) => {
    this.resolve = () => {
      this.settled = true;
      resolve();
    };
  });
}

// The participant loop's I/O (shared/participant/transport.ts) in a real runtime: Socket.IO over
// its websocket transport, and the system clock. The same code in the page's training worker and
// in Node (harness/headless-participant.ts, harness/experiment/simulated-client.ts).
//
// Websocket only: the polling fallback needs XMLHttpRequest, which a Web Worker does not have.
import { io, type Socket } from 'socket.io-client';
import type { ResumeTokenStore } from '../../shared/participant/connection.ts';
import type { AckedName, Clock, ParticipantTransport, TransportListener } from '../../shared/participant/transport.ts';
import type { InboundName, Payload } from '../../shared/protocol/messages.ts';
import { resumeTokenHash, TOKEN_HASH_PARAM } from '../../shared/resume-token.ts';

/** Socket.IO's emitter, untyped: the transport's own methods are typed by the protocol table. */
interface Emitter {
  emit(event: string, payload: unknown): void;
  emitWithAck(event: string, payload: unknown): Promise<unknown>;
}

export interface SocketTransportOptions {
  /** Reconnect after a drop (the page: yes; a Node participant counts a drop as a drop). */
  reconnect: boolean;
}

export class SocketTransport implements ParticipantTransport {
  readonly reconnects: boolean;
  private socket: Socket | null = null;
  private auth: () => Record<string, string> = () => ({});

  constructor(
    private readonly url: string,
    options: SocketTransportOptions,
  ) {
    this.reconnects = options.reconnect;
  }

  get connected(): boolean {
    return this.socket?.connected ?? false;
  }

  open(listener: TransportListener, auth: () => Record<string, string>): void {
    if (this.socket) throw new Error('this transport is already open: one connection per participant loop');
    const socket = io(this.url, {
      transports: ['websocket'],
      forceNew: true, // one connection per participant, never one multiplexed for several
      reconnection: this.reconnects,
      // At most every 2 s (Socket.IO's default backs off to 5 s): after a coordinator restart the
      // tabs are back within a couple of seconds of it listening again.
      reconnectionDelay: 500,
      reconnectionDelayMax: 2000,
      auth: (answer) => answer(auth()),
      query: tokenHashQuery(auth()),
    });
    this.socket = socket;
    this.auth = auth;
    socket.io.on('reconnect_attempt', () => this.showTokenHash());
    socket.on('connect', () => listener.connected());
    socket.on('disconnect', (reason) => listener.disconnected(reason));
    socket.on('connect_error', (error) => listener.connectFailed(error.message, socket.active));
    socket.io.on('reconnect_attempt', () => listener.reconnecting());
    socket.onAny((name: string, payload: unknown) => listener.message(name, payload));
  }

  reconnect(): void {
    this.showTokenHash();
    this.socket?.connect();
  }

  /**
   * The token's hash in the handshake's URL, at every (re)connection: a known tab gets through its
   * address's connection cap (the hash lets nobody join as it; the token, in auth and the join, does).
   */
  private showTokenHash(): void {
    if (this.socket) this.socket.io.opts.query = tokenHashQuery(this.auth());
  }

  close(): void {
    this.socket?.disconnect();
  }

  send<K extends InboundName>(name: K, payload: Payload<K>, options?: { volatile?: boolean }): void {
    const socket = this.requireSocket();
    ((options?.volatile ? socket.volatile : socket) as unknown as Emitter).emit(name, payload);
  }

  request<K extends AckedName>(name: K, payload: Payload<K>, timeoutMs: number): Promise<unknown> {
    return (this.requireSocket().timeout(timeoutMs) as unknown as Emitter).emitWithAck(name, payload);
  }

  private requireSocket(): Socket {
    if (!this.socket) throw new Error('send before open()');
    return this.socket;
  }
}

const tokenHashQuery = ({ resumeToken }: Record<string, string>): Record<string, string> =>
  resumeToken ? { [TOKEN_HASH_PARAM]: resumeTokenHash(resumeToken) } : {};

export const systemClock: Clock = {
  now: () => performance.now(),
  after: (ms, run) => {
    const timer = setTimeout(run, ms);
    return () => clearTimeout(timer);
  },
};

/** The resume token in memory: a Node participant's identity lasts as long as its process. */
export function memoryTokens(initial: string | null = null): ResumeTokenStore & { token: string | null } {
  const store = {
    token: initial,
    load: () => store.token,
    save: (token: string) => {
      store.token = token;
    },
  };
  return store;
}

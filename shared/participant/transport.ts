// The participant loop's I/O, as small interfaces: the connection to the coordinator (Socket.IO in
// every host today: web/participant/socket-transport.ts; a fake in the tests) and a clock.
import type { AckReply, InboundName, Payload } from '../protocol/messages.ts';

/** Inbound events that carry an acknowledgement. */
export type AckedName = { [K in InboundName]: [AckReply<K>] extends [never] ? never : K }[InboundName];

/** What the transport tells the loop. */
export interface TransportListener {
  connected(): void;
  /** `reason` is Socket.IO's: 'io server disconnect' is the coordinator closing the session (or restarting). */
  disconnected(reason: string): void;
  /** A connection attempt failed; `retrying`: the transport tries again by itself. */
  connectFailed(message: string, retrying: boolean): void;
  reconnecting(): void;
  /** A message from the coordinator, as it came: the loop checks it against the protocol table. */
  message(name: string, payload: unknown): void;
}

export interface ParticipantTransport {
  /** Whether it reconnects by itself after a drop; the loop then also comes back after 'io server disconnect'. */
  readonly reconnects: boolean;
  readonly connected: boolean;
  /** Connects; `auth` is asked at every handshake (the resume token, so a known tab passes the per-address cap). */
  open(listener: TransportListener, auth: () => Record<string, string>): void;
  /** Connects again after the coordinator closed the session. */
  reconnect(): void;
  close(): void;
  /** `volatile`: dropped rather than queued while offline (a late progress report is worth nothing). */
  send<K extends InboundName>(name: K, payload: Payload<K>, options?: { volatile?: boolean }): void;
  /** Rejects when no acknowledgement comes within `timeoutMs` or the connection drops first. */
  request<K extends AckedName>(name: K, payload: Payload<K>, timeoutMs: number): Promise<unknown>;
}

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Runs `run` once after `ms`; the returned function cancels it. */
  after(ms: number, run: () => void): () => void;
}

// How much one stranger may ask of the coordinator. Each limit answers with a clear error.
import { ClientFaultError } from '../client-fault.ts';

export class RateLimitError extends ClientFaultError {
  override name = 'RateLimitError';
}

export interface TransportLimits {
  /** Open Socket.IO connections, all addresses together. */
  maxConnections: number;
  /** Open connections from one IP address (a classroom on one LAN has one address per device). */
  maxConnectionsPerAddress: number;
  /** Messages one socket may send per second (bursts of twice that are fine). */
  messagesPerSecond: number;
  /** Joins per minute from one IP address. */
  joinsPerMinute: number;
}

export const DEFAULT_LIMITS: TransportLimits = {
  maxConnections: 2_000,
  maxConnectionsPerAddress: 64,
  messagesPerSecond: 50,
  joinsPerMinute: 120,
};

/** A socket that keeps going after this many refusals in a row is cut off. */
export const REFUSALS_BEFORE_DISCONNECT = 100;

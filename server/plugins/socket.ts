// Socket.IO transport, kept thin: decode and validate what tabs send, call the coordinator's
// methods, and carry the coordinator's events back out. Refusals (the sender's fault) are
// answered with their message; anything else is a bug, logged with its stack.
import type { FastifyInstance } from 'fastify';
import { Server, type Socket } from 'socket.io';
import { modelSpec, MODEL_SPECS } from '../../shared/model-spec.ts';
import type { ClientToServerEvents, ServerToClientEvents } from '../../shared/protocol.ts';
import { encodedByteLength } from '../../shared/wire.ts';
import type { Coordinator } from '../coordinator.ts';
import { INTERNAL_ERROR_MESSAGE, isClientFault } from '../client-fault.ts';
import {
  parseEvaluation,
  parseJoin,
  parseProgress,
  parseReady,
  parseSecAggKeys,
  parseSecAggMasked,
  parseSecAggReveal,
  parseSecAggShares,
  parseUpdate,
  ProtocolError,
} from '../message-validation.ts';
import { boundedParser } from '../limits/bounded-parser.ts';
import { KeyedRateLimit, TokenBucket } from '../limits/rate-limit.ts';
import { DEFAULT_LIMITS, RateLimitError, REFUSALS_BEFORE_DISCONNECT, type TransportLimits } from '../limits/transport-limits.ts';

interface SocketData {
  role?: 'dashboard';
}

type FlockSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export interface IncomingMessage {
  socketId: string;
  event: string;
  args: unknown[];
}

export interface SocketPluginOptions {
  coordinator: Coordinator;
  limits?: TransportLimits;
  /** Sees every message a socket sends, before validation (audits and tests). */
  observeIncoming?: (message: IncomingMessage) => void;
}

const DASHBOARDS = 'dashboards';
const STATE_THROTTLE_MS = 100;
// The engine closes a connection whose single message exceeds this; the exact per-update limit
// (the encoded model size) is checked before decoding and answered with a clear error.
const MAX_SOCKET_MESSAGE_BYTES = Math.max(...Object.values(MODEL_SPECS).map(encodedByteLength)) + 64 * 1024;

export default async function socketTransport(app: FastifyInstance, options: SocketPluginOptions): Promise<void> {
  const { coordinator, observeIncoming } = options;
  const limits = options.limits ?? DEFAULT_LIMITS;
  const connectionsByAddress = new Map<string, number>();
  const joinsByAddress = new KeyedRateLimit(limits.joinsPerMinute / 60, limits.joinsPerMinute);

  const io = new Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>(app.server, {
    maxHttpBufferSize: MAX_SOCKET_MESSAGE_BYTES,
    parser: boundedParser,
    // A 4 MB upload on a slow link holds the tab's pong back: tolerate it.
    pingTimeout: 30_000,
    // Refused at the handshake, before any socket state exists.
    allowRequest: (request, answer) => {
      const address = request.socket.remoteAddress ?? 'unknown';
      if (io.engine.clientsCount >= limits.maxConnections) return answer(`the coordinator is full (${limits.maxConnections} connections)`, false);
      if ((connectionsByAddress.get(address) ?? 0) >= limits.maxConnectionsPerAddress) {
        return answer(`too many connections from ${address} (limit ${limits.maxConnectionsPerAddress}); close some tabs`, false);
      }
      answer(null, true);
    },
  });

  let stateTimer: NodeJS.Timeout | null = null;
  const pushState = () => {
    stateTimer = null;
    io.to(DASHBOARDS).emit('state', coordinator.runState());
  };
  const listeners = {
    roundStart: (connectionIds: string[], start: Parameters<ServerToClientEvents['round:start']>[0]) => {
      if (connectionIds.length > 0) io.to(connectionIds).emit('round:start', start);
    },
    roundDone: (metrics: Parameters<ServerToClientEvents['round:done']>[0]) => io.emit('round:done', metrics),
    evaluationRequest: (connectionIds: string[], request: Parameters<ServerToClientEvents['round:evaluate']>[0]) => {
      if (connectionIds.length > 0) io.to(connectionIds).emit('round:evaluate', request);
    },
    attackChanged: (connectionId: string, mode: Parameters<ServerToClientEvents['participant:attack']>[0]) =>
      io.to(connectionId).emit('participant:attack', mode),
    connectionReplaced: (connectionId: string) => io.sockets.sockets.get(connectionId)?.disconnect(true),
    secureRoster: (connectionIds: string[], roster: Parameters<ServerToClientEvents['secagg:roster']>[0]) => {
      if (connectionIds.length > 0) io.to(connectionIds).emit('secagg:roster', roster);
    },
    secureForward: (connectionId: string, forward: Parameters<ServerToClientEvents['secagg:shares']>[0]) => io.to(connectionId).emit('secagg:shares', forward),
    secureUnmask: (connectionIds: string[], request: Parameters<ServerToClientEvents['secagg:unmask']>[0]) => {
      if (connectionIds.length > 0) io.to(connectionIds).emit('secagg:unmask', request);
    },
    stateChanged: () => {
      stateTimer ??= setTimeout(pushState, STATE_THROTTLE_MS);
    },
  };
  for (const [event, listener] of Object.entries(listeners)) coordinator.on(event as keyof typeof listeners, listener as never);

  // Counted per engine connection, the unit allowRequest admits: the count rises before the next
  // handshake is checked, and a connection that never joins the namespace counts too.
  io.engine.on('connection', (conn: { remoteAddress?: string; once(event: 'close', listener: () => void): void }) => {
    const address = conn.remoteAddress ?? 'unknown';
    connectionsByAddress.set(address, (connectionsByAddress.get(address) ?? 0) + 1);
    conn.once('close', () => {
      const left = (connectionsByAddress.get(address) ?? 1) - 1;
      if (left > 0) connectionsByAddress.set(address, left);
      else connectionsByAddress.delete(address);
    });
  });

  io.on('connection', (socket: FlockSocket) => {
    const address = socket.conn.remoteAddress ?? 'unknown';
    const messages = new TokenBucket(limits.messagesPerSecond, limits.messagesPerSecond * 2, Date.now());
    let refusalsInARow = 0;

    const answer = (args: unknown[], error: unknown) => {
      const fault = isClientFault(error);
      const message = fault ? error.message : INTERNAL_ERROR_MESSAGE;
      if (fault) app.log.info({ socket: socket.id }, `refused: ${message}`);
      else app.log.error({ err: error, socket: socket.id }, 'bug while handling a tab message');
      socket.emit('flock:error', message);
      const ack = args[args.length - 1];
      if (typeof ack === 'function') ack({ accepted: false, error: message });
      if (++refusalsInARow >= REFUSALS_BEFORE_DISCONNECT) {
        app.log.warn({ socket: socket.id, address }, `cut off after ${refusalsInARow} refusals in a row`);
        socket.disconnect(true);
      }
    };
    // Every handler runs through this: nothing a tab sends can throw into Socket.IO.
    const guarded =
      <A extends unknown[]>(handler: (...args: A) => void) =>
      (...args: A) => {
        try {
          handler(...args);
          refusalsInARow = 0;
        } catch (error) {
          answer(args, error);
        }
      };

    // Count what crosses the wire at the engine level: binary attachments included.
    const packetBytes = ({ data }: { data?: unknown }) =>
      typeof data === 'string' ? Buffer.byteLength(data) : ArrayBuffer.isView(data) || data instanceof ArrayBuffer ? data.byteLength : 0;
    socket.conn.on('packet', (packet) => coordinator.recordTraffic(socket.id, 0, packetBytes(packet)));
    socket.conn.on('packetCreate', (packet) => coordinator.recordTraffic(socket.id, packetBytes(packet), 0));

    socket.use(([event, ...args], next) => {
      observeIncoming?.({ socketId: socket.id, event, args });
      if (!messages.take(Date.now())) return answer(args, new RateLimitError(`too many messages: at most ${limits.messagesPerSecond} per second`));
      // Here, not in onAny (which runs before this middleware): one answer per message, after the rate check.
      if (typeof event !== 'string' || !KNOWN_EVENTS.has(event)) {
        return answer(args, new ProtocolError(`unknown event ${JSON.stringify(String(event).slice(0, 40))}`));
      }
      next();
    });

    socket.on(
      'participant:join',
      guarded((request, ack) => {
        if (typeof ack !== 'function') throw new ProtocolError('participant:join needs an acknowledgement callback');
        if (!joinsByAddress.take(address, Date.now())) throw new RateLimitError(`too many joins from ${address}: at most ${limits.joinsPerMinute} per minute`);
        ack(coordinator.join(socket.id, parseJoin(request)));
      }),
    );

    socket.on(
      'participant:ready',
      guarded((report) => coordinator.ready(socket.id, parseReady(report))),
    );

    socket.on(
      'participant:progress',
      guarded((progress) => coordinator.reportProgress(socket.id, parseProgress(progress))),
    );

    socket.on(
      'participant:update',
      guarded((raw, ack) => {
        const update = parseUpdate(raw, modelSpec(coordinator.settings.model));
        coordinator.submitUpdate(socket.id, update, update.delta);
        if (typeof ack === 'function') ack({ accepted: true });
      }),
    );

    socket.on(
      'participant:evaluation',
      guarded((raw) => coordinator.submitEvaluation(socket.id, parseEvaluation(raw))),
    );

    socket.on(
      'secagg:keys',
      guarded((raw) => coordinator.advertiseKeys(socket.id, parseSecAggKeys(raw))),
    );
    socket.on(
      'secagg:shares',
      guarded((raw) => coordinator.submitShares(socket.id, parseSecAggShares(raw))),
    );
    socket.on(
      'secagg:masked-update',
      guarded((raw, ack) => {
        coordinator.submitMaskedUpdate(socket.id, parseSecAggMasked(raw, modelSpec(coordinator.settings.model)));
        if (typeof ack === 'function') ack({ accepted: true });
      }),
    );
    socket.on(
      'secagg:reveal',
      guarded((raw) => coordinator.submitReveal(socket.id, parseSecAggReveal(raw))),
    );

    socket.on('dashboard:join', () => {
      socket.data.role = 'dashboard';
      void socket.join(DASHBOARDS);
      socket.emit('state', coordinator.runState());
    });

    socket.on('disconnect', () => coordinator.disconnect(socket.id));
  });

  // preClose: open websockets would otherwise keep the HTTP server from closing.
  app.addHook('preClose', async () => {
    if (stateTimer) clearTimeout(stateTimer);
    for (const [event, listener] of Object.entries(listeners)) coordinator.off(event as keyof typeof listeners, listener as never);
    io.disconnectSockets(true);
    io.engine.close();
  });
}

const KNOWN_EVENTS = new Set([
  'participant:join',
  'participant:ready',
  'participant:progress',
  'participant:update',
  'participant:evaluation',
  'dashboard:join',
  'secagg:keys',
  'secagg:shares',
  'secagg:masked-update',
  'secagg:reveal',
]);

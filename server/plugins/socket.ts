// Socket.IO transport, kept thin: decode and validate what tabs send, call the coordinator's
// methods, and carry the coordinator's events back out. Refusals (the sender's fault) are
// answered with their message; anything else is a bug, logged with its stack.
import type { FastifyInstance } from 'fastify';
import { Server, type Socket } from 'socket.io';
import { modelSpec, type ModelSpec } from '../../shared/model-spec.ts';
import { INBOUND_EVENTS, MESSAGES, type AckReply, type ClientToServerEvents, type InboundName, type Payload, type ServerToClientEvents } from '../../shared/protocol/messages.ts';
import { parseInbound, ProtocolError } from '../../shared/protocol/parse.ts';
import { isBinarySchema } from '../../shared/protocol/binary.ts';
import { decodeWeights, encodedByteLength, WireError } from '../../shared/wire.ts';
import { SECURE_INPUT_EXTRA_VALUES } from '../../shared/secagg/messages.ts';
import { TOKEN_HASH_PARAM } from '../../shared/resume-token.ts';
import type { Coordinator } from '../coordinator.ts';
import { INTERNAL_ERROR_MESSAGE, isClientFault } from '../client-fault.ts';
import { AccessError, isAdminToken } from '../access.ts';
import { publicRound, stateFor as releaseView, type Audience } from '../release-view.ts';
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

/** Dashboards by what they may see (server/release-view.ts): the admin's, and everyone else's. */
const DASHBOARDS: Record<Audience, string> = { admin: 'dashboards:admin', public: 'dashboards:public' };
const STATE_THROTTLE_MS = 100;
// The engine closes a connection whose single message exceeds this: the largest binary field of any
// inbound row of the protocol table, plus room for the text. Each field's own limit (and the
// update's exact size for the run's model) is checked before decoding and answered with a clear error.
const MAX_SOCKET_MESSAGE_BYTES =
  Math.max(
    ...[...INBOUND_EVENTS].flatMap((name) =>
      Object.values((MESSAGES[name as InboundName].payload as { properties: Record<string, unknown> }).properties)
        .filter(isBinarySchema)
        .map((field) => field.maxBytes),
    ),
  ) + 64 * 1024;

/** A masked input is the model's values plus the weight and the clip bit, 4 bytes each: refused before anything reads it. */
function requireMaskedSize(spec: ModelSpec, masked: Payload<'secagg:masked-update'>['masked']): void {
  const expected = 4 * (spec.paramCount + SECURE_INPUT_EXTRA_VALUES);
  if (masked.byteLength !== expected) throw new ProtocolError(`masked update rejected: ${masked.byteLength} bytes, ${expected} expected for ${spec.name}`);
}

/** local − global for the run's model: its exact size checked before anything reads it. */
function decodeDelta(spec: ModelSpec, delta: Payload<'participant:update'>['delta']): Float32Array {
  const limit = encodedByteLength(spec);
  if (delta.byteLength > limit) throw new ProtocolError(`update rejected: ${delta.byteLength} bytes is over the ${limit}-byte limit for ${spec.name}`);
  try {
    return decodeWeights(spec, delta);
  } catch (error) {
    if (error instanceof WireError) throw new ProtocolError(`update rejected: ${error.message}`);
    throw error;
  }
}

export default async function socketTransport(app: FastifyInstance, options: SocketPluginOptions): Promise<void> {
  const { coordinator, observeIncoming } = options;
  const limits = options.limits ?? DEFAULT_LIMITS;
  const connectionsByAddress = new Map<string, number>();
  const joinsByAddress = new KeyedRateLimit(limits.joinsPerMinute / 60, limits.joinsPerMinute);

  const knownTab = (url: string | undefined) => {
    const hash = new URL(url ?? '/', 'http://handshake').searchParams.get(TOKEN_HASH_PARAM);
    return hash !== null && coordinator.room.knowsTokenHash(hash);
  };

  const io = new Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>(app.server, {
    maxHttpBufferSize: MAX_SOCKET_MESSAGE_BYTES,
    parser: boundedParser,
    // A 4 MB upload on a slow link holds the tab's pong back: tolerate it.
    pingTimeout: 30_000,
    // Refused at the handshake, before any socket state exists. A tab that joined before shows the
    // hash of its resume token in the handshake's URL: it is let through its address's cap, so a
    // stranger on the same address cannot lock it out (the hash lets nobody join as the tab).
    allowRequest: (request, answer) => {
      const address = request.socket.remoteAddress ?? 'unknown';
      if (io.engine.clientsCount >= limits.maxConnections) return answer(`the coordinator is full (${limits.maxConnections} connections)`, false);
      if ((connectionsByAddress.get(address) ?? 0) >= limits.maxConnectionsPerAddress && !knownTab(request.url)) {
        return answer(`too many connections from ${address} (limit ${limits.maxConnectionsPerAddress}); close some tabs`, false);
      }
      answer(null, true);
    },
  });

  let stateTimer: NodeJS.Timeout | null = null;
  const stateFor = (audience: Audience) => releaseView(coordinator.runState(), audience, coordinator.shownSettings);
  const pushState = () => {
    stateTimer = null;
    for (const audience of ['admin', 'public'] as const) io.to(DASHBOARDS[audience]).emit('state', stateFor(audience));
  };
  const listeners = {
    roundStart: (connectionIds: string[], start: Parameters<ServerToClientEvents['round:start']>[0]) => {
      if (connectionIds.length > 0) io.to(connectionIds).emit('round:start', start);
    },
    // To every socket: the public record (who took part stays with the admin under central DP).
    roundDone: (metrics: Parameters<ServerToClientEvents['round:done']>[0]) => io.emit('round:done', publicRound(metrics, coordinator.shownSettings)),
    evaluationRequest: (connectionIds: string[], request: Parameters<ServerToClientEvents['round:evaluate']>[0]) => {
      if (connectionIds.length > 0) io.to(connectionIds).emit('round:evaluate', request);
    },
    attackChanged: (connectionId: string, mode: Parameters<ServerToClientEvents['participant:attack']>[0]) =>
      io.to(connectionId).emit('participant:attack', mode),
    connectionReplaced: (connectionId: string) => io.sockets.sockets.get(connectionId)?.disconnect(true),
    secureRoster: (connectionIds: string[], roster: Parameters<ServerToClientEvents['secagg:roster']>[0]) => {
      if (connectionIds.length > 0) io.to(connectionIds).emit('secagg:roster', roster);
    },
    secureForward: (connectionId: string, forward: Parameters<ServerToClientEvents['secagg:forward']>[0]) => io.to(connectionId).emit('secagg:forward', forward),
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
      if (typeof event !== 'string' || !INBOUND_EVENTS.has(event)) {
        return answer(args, new ProtocolError(`unknown event ${JSON.stringify(String(event).slice(0, 40))}`));
      }
      next();
    });

    // One handler per inbound row of the protocol table; parseInbound has checked the payload.
    const handlers: { [K in InboundName]: (payload: Payload<K>, reply: (answer: AckReply<K>) => void) => void } = {
      'participant:join': (request, reply) => {
        // A known tab's token is the proof it is no stranger: its rejoin is not counted against its address.
        const known = request.resumeToken !== undefined && coordinator.room.knowsToken(request.resumeToken);
        if (!known && !joinsByAddress.take(address, Date.now())) throw new RateLimitError(`too many joins from ${address}: at most ${limits.joinsPerMinute} per minute`);
        reply(coordinator.join(socket.id, request));
      },
      'participant:ready': (report) => coordinator.ready(socket.id, report),
      'participant:progress': (progress) => coordinator.reportProgress(socket.id, progress),
      'participant:update': (update, reply) => {
        const { clientId, attempt } = coordinator.attemptFor(socket.id, `update for round ${update.round} rejected`, true);
        attempt.accept(clientId, update, decodeDelta(modelSpec(coordinator.shownSettings.model), update.delta));
        reply({ accepted: true });
      },
      'participant:evaluation': (report) => coordinator.submitEvaluation(socket.id, report),
      'dashboard:join': ({ adminToken }) => {
        const audience: Audience = isAdminToken(coordinator.access, adminToken) ? 'admin' : 'public';
        socket.data.role = 'dashboard';
        void socket.leave(DASHBOARDS[audience === 'admin' ? 'public' : 'admin']);
        void socket.join(DASHBOARDS[audience]);
        socket.emit('state', stateFor(audience));
        if (adminToken !== undefined && audience === 'public') throw new AccessError('wrong admin token: this dashboard shows the public view', 403);
      },
      'secagg:keys': (wire) => {
        const { clientId, attempt } = coordinator.attemptFor(socket.id, 'keys refused');
        attempt.secureRound(clientId).advertise(clientId, wire);
      },
      'secagg:shares': (wire) => {
        const { clientId, attempt } = coordinator.attemptFor(socket.id, 'shares refused');
        attempt.secureRound(clientId).submitShares(clientId, wire);
      },
      'secagg:masked-update': (wire, reply) => {
        requireMaskedSize(modelSpec(coordinator.shownSettings.model), wire.masked);
        const { clientId, attempt } = coordinator.attemptFor(socket.id, 'masked update refused', true);
        attempt.acceptMasked(clientId, wire);
        reply({ accepted: true });
      },
      'secagg:reveal': (wire) => {
        const { clientId, attempt } = coordinator.attemptFor(socket.id, 'reveal refused');
        attempt.secureRound(clientId).submitReveal(clientId, wire);
      },
    };
    for (const name of INBOUND_EVENTS as ReadonlySet<InboundName>) {
      const row = MESSAGES[name];
      const on = socket.on.bind(socket) as (event: string, listener: (...args: unknown[]) => void) => void;
      on(
        name,
        guarded((raw: unknown, ack?: unknown) => {
          if (row.ack?.required && typeof ack !== 'function') throw new ProtocolError(`${name} needs an acknowledgement callback`);
          const reply = typeof ack === 'function' ? (ack as (answer: unknown) => void) : () => {};
          (handlers[name] as (payload: unknown, reply: (answer: unknown) => void) => void)(parseInbound(name, raw), reply);
        }),
      );
    }

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

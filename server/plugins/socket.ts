// Socket.IO transport: decodes and validates what tabs send, hands it to the
// round state machine, and carries round starts, results and state back out.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Server, type Socket } from 'socket.io';
import { modelSpec, MODEL_SPECS } from '../../shared/model-spec.ts';
import type { ClientToServerEvents, ServerToClientEvents } from '../../shared/protocol.ts';
import { encodedByteLength } from '../../shared/wire.ts';
import type { Coordinator } from '../coordinator.ts';
import { parseJoin, parseProgress, parseReady, parseUpdate } from '../message-validation.ts';
import { requireRoomCode } from '../access.ts';

interface SocketData {
  clientId?: string;
  role?: 'dashboard';
}

type FlockSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export interface IncomingMessage {
  socketId: string;
  clientId: string | undefined;
  event: string;
  args: unknown[];
}

export interface SocketPluginOptions {
  coordinator: Coordinator;
  /** Sees every message a socket sends, before validation (audits and tests). */
  observeIncoming?: (message: IncomingMessage) => void;
}

const DASHBOARDS = 'dashboards';
const STATE_THROTTLE_MS = 100;
// Socket.IO closes a connection whose message exceeds this; our own per-update limit
// (the exact encoded model size) is checked first and answered with a clear error.
const MAX_SOCKET_MESSAGE_BYTES = Math.max(...Object.values(MODEL_SPECS).map(encodedByteLength)) * 2 + 1_000_000;

async function socketTransport(app: FastifyInstance, { coordinator, observeIncoming }: SocketPluginOptions): Promise<void> {
  const io = new Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>(app.server, {
    maxHttpBufferSize: MAX_SOCKET_MESSAGE_BYTES,
    pingTimeout: 30_000,
  });
  const socketsByClient = new Map<string, string>();
  const log = (message: string) => app.log.info(message);

  let stateTimer: NodeJS.Timeout | null = null;
  const pushState = () => {
    stateTimer = null;
    io.to(DASHBOARDS).emit('state', coordinator.runState());
  };

  coordinator.transport = {
    sendRoundStart(clientIds, start) {
      const socketIds = clientIds.map((id) => socketsByClient.get(id)).filter((id): id is string => id !== undefined);
      if (socketIds.length > 0) io.to(socketIds).emit('round:start', start);
    },
    publishRoundDone(metrics) {
      io.emit('round:done', metrics);
    },
    stateChanged() {
      stateTimer ??= setTimeout(pushState, STATE_THROTTLE_MS);
    },
  };

  io.on('connection', (socket: FlockSocket) => {
    const reject = (message: string) => {
      app.log.warn({ socket: socket.id, client: socket.data.clientId }, message);
      socket.emit('flock:error', message);
    };
    // Every handler runs through this: nothing a tab sends can throw into Socket.IO.
    const guarded =
      <A extends unknown[]>(handler: (...args: A) => void) =>
      (...args: A) => {
        try {
          handler(...args);
        } catch (error) {
          reject((error as Error).message);
          const ack = args[args.length - 1];
          if (typeof ack === 'function') ack({ accepted: false, error: (error as Error).message });
        }
      };
    const requireClient = (): string => {
      const id = socket.data.clientId;
      if (!id || !coordinator.room.get(id)) throw new Error('unknown client: send participant:join first');
      return id;
    };

    // Count what crosses the wire at the engine level: binary attachments included.
    const packetBytes = ({ data }: { data?: unknown }) =>
      typeof data === 'string' ? Buffer.byteLength(data) : ArrayBuffer.isView(data) || data instanceof ArrayBuffer ? data.byteLength : 0;
    socket.conn.on('packet', (packet) => coordinator.recordTraffic(socket.data.clientId, 0, packetBytes(packet)));
    socket.conn.on('packetCreate', (packet) => coordinator.recordTraffic(socket.data.clientId, packetBytes(packet), 0));

    if (observeIncoming) {
      socket.use(([event, ...args], next) => {
        observeIncoming({ socketId: socket.id, clientId: socket.data.clientId, event, args });
        next();
      });
    }

    socket.on(
      'participant:join',
      guarded((request, ack) => {
        if (typeof ack !== 'function') throw new Error('participant:join needs an acknowledgement callback');
        const { clientId, roomCode } = parseJoin(request);
        requireRoomCode(coordinator.access, roomCode);
        const settings = coordinator.settings;
        const client = coordinator.room.join(clientId, settings.shards);
        socket.data.clientId = client.clientId;
        socketsByClient.set(client.clientId, socket.id);
        ack({
          clientId: client.clientId,
          shard: { index: client.shard, count: settings.shards, url: `/api/shards/${client.shard}` },
          model: settings.model,
        });
        log(`tab ${client.clientId} joined (shard ${client.shard})`);
        coordinator.rounds.clientsChanged();
        if (client.backend) coordinator.rounds.resendRoundIfOwed(client.clientId);
      }),
    );

    socket.on(
      'participant:ready',
      guarded((report) => {
        const clientId = requireClient();
        const ready = parseReady(report);
        coordinator.room.markReady(clientId, ready);
        log(`tab ${clientId} ready: ${ready.backend}, ${ready.numExamples} examples`);
        coordinator.rounds.clientsChanged();
        coordinator.rounds.resendRoundIfOwed(clientId);
      }),
    );

    socket.on(
      'participant:progress',
      guarded((raw) => {
        const client = coordinator.room.get(requireClient());
        const progress = parseProgress(raw);
        if (client) {
          client.lastLoss = progress.loss;
          if (progress.uploading && client.status === 'training') client.status = 'uploading';
        }
        coordinator.transport?.stateChanged();
      }),
    );

    socket.on(
      'participant:update',
      guarded((raw, ack) => {
        const clientId = requireClient();
        const update = parseUpdate(raw, modelSpec(coordinator.settings.model));
        coordinator.rounds.acceptUpdate(clientId, update, update.delta);
        if (typeof ack === 'function') ack({ accepted: true });
      }),
    );

    socket.on('dashboard:join', () => {
      socket.data.role = 'dashboard';
      void socket.join(DASHBOARDS);
      socket.emit('state', coordinator.runState());
    });

    socket.on('disconnect', () => {
      const clientId = socket.data.clientId;
      if (!clientId || socketsByClient.get(clientId) !== socket.id) return;
      socketsByClient.delete(clientId);
      coordinator.room.disconnect(clientId);
      log(`tab ${clientId} left`);
      coordinator.rounds.clientsChanged();
    });
  });

  // preClose: open websockets would otherwise keep the HTTP server from closing.
  app.addHook('preClose', async () => {
    if (stateTimer) clearTimeout(stateTimer);
    coordinator.transport = null;
    io.disconnectSockets(true);
    io.engine.close();
  });
}

export default fp(socketTransport, { name: 'flock-socket' });

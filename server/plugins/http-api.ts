// The HTTP API: status, history, settings, global weights, shards, start/stop.
// Every route declares its schema; Fastify validates requests against it.
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Type } from '@sinclair/typebox';
import { modelSpec } from '../../shared/model-spec.ts';
import { resolveSettings, SettingsError, SettingsSchema } from '../../shared/settings.ts';
import { encodeWeights } from '../../shared/wire.ts';
import type { Coordinator } from '../coordinator.ts';
import { RunStateError } from '../round.ts';
import { AccessError, requireAdmin } from '../access.ts';
import { exportModel, WEIGHTS_FILE } from '../model-export.ts';

export interface HttpApiOptions {
  coordinator: Coordinator;
}

const ErrorReply = Type.Object({ error: Type.String() });
const OkReply = Type.Object({ ok: Type.Boolean(), phase: Type.String() });

async function httpApi(app: FastifyInstance, { coordinator }: HttpApiOptions): Promise<void> {
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (error instanceof AccessError) return reply.code(error.statusCode).send({ error: error.message });
    if (error instanceof RunStateError) return reply.code(409).send({ error: error.message });
    if (error instanceof SettingsError) return reply.code(400).send({ error: error.message });
    if (error.validation) return reply.code(400).send({ error: `invalid request: ${error.message}` });
    app.log.error(error);
    return reply.code(error.statusCode ?? 500).send({ error: error.message });
  });

  // Viewing is open; anything that steers the run needs the admin token.
  // onRequest: the token is checked before the body, so a stranger learns nothing from validation errors.
  const adminOnly = { onRequest: async (request: FastifyRequest) => requireAdmin(coordinator.access, request.headers.authorization) };

  app.get('/api/health', async () => ({ ok: true }));

  app.get('/api/status', async () => coordinator.runState());

  app.get('/api/history', async () => coordinator.rounds.history);

  app.get('/api/settings', { schema: { response: { 200: SettingsSchema } } }, async () => coordinator.settings);

  app.put(
    '/api/settings',
    { ...adminOnly, schema: { body: Type.Partial(SettingsSchema, { additionalProperties: false }), response: { 400: ErrorReply, 409: ErrorReply } } },
    async (request) => {
      const settings = resolveSettings(request.body, coordinator.settings);
      coordinator.rounds.updateSettings(settings);
      return settings;
    },
  );

  app.get('/api/weights', async (_request, reply) => {
    const spec = modelSpec(coordinator.settings.model);
    reply.header('content-type', 'application/octet-stream');
    reply.header('x-flock-round', String(coordinator.rounds.history.length));
    return Buffer.from(encodeWeights(spec, coordinator.rounds.global));
  });

  // The global model as a TensorFlow.js layers model: model.json names weights.bin beside it.
  app.get('/api/model/model.json', async (_request, reply) => {
    const { modelJson } = await exportModel(coordinator.settings.model, coordinator.rounds.global);
    reply.header('access-control-allow-origin', '*'); // tf.loadLayersModel from any page
    reply.header('content-disposition', 'attachment; filename="model.json"');
    return modelJson;
  });

  app.get(`/api/model/${WEIGHTS_FILE}`, async (_request, reply) => {
    const { weightData } = await exportModel(coordinator.settings.model, coordinator.rounds.global);
    reply.header('content-type', 'application/octet-stream');
    reply.header('access-control-allow-origin', '*');
    reply.header('content-disposition', `attachment; filename="${WEIGHTS_FILE}"`);
    return Buffer.from(weightData);
  });

  app.get(
    '/api/shards/:index',
    { schema: { params: Type.Object({ index: Type.Integer({ minimum: 0, maximum: 999 }) }), response: { 404: ErrorReply } } },
    async (request, reply) => {
      const { index } = request.params as { index: number };
      const settings = coordinator.settings;
      if (index >= settings.shards) return reply.code(404).send({ error: `shard ${index} does not exist (${settings.shards} shards)` });
      reply.header('content-type', 'application/octet-stream');
      return Buffer.from(coordinator.shards.shard(settings, index));
    },
  );

  app.post('/api/run/start', { ...adminOnly, schema: { response: { 200: OkReply, 409: ErrorReply } } }, async () => {
    coordinator.rounds.start();
    return { ok: true, phase: coordinator.rounds.phase };
  });

  app.post('/api/run/stop', { ...adminOnly, schema: { response: { 200: OkReply, 409: ErrorReply } } }, async () => {
    coordinator.rounds.stop();
    return { ok: true, phase: coordinator.rounds.phase };
  });

  app.post('/api/run/reset', { ...adminOnly, schema: { response: { 200: OkReply, 409: ErrorReply } } }, async () => {
    coordinator.rounds.reset();
    return { ok: true, phase: coordinator.rounds.phase };
  });
}

export default fp(httpApi, { name: 'flock-http-api' });

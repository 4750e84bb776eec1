// The HTTP API under /api: status, history, settings, global weights, shards, run control.
// Every route declares its schema; Fastify validates requests against it. Registered with a
// prefix in its own encapsulated scope (no fastify-plugin: it decorates nothing).
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { modelSpec } from '../../shared/model-spec.ts';
import { ATTACK_MODES, literals } from '../../shared/protocol/records.ts';
import { SettingsSchema } from '../../shared/settings.ts';
import { encodeWeights } from '../../shared/wire.ts';
import { RunStateError, UnknownClientError, type Coordinator } from '../coordinator.ts';
import { AccessError, bearerToken, isAdminToken, requireAdmin } from '../access.ts';
import { publicRound, stateFor, type Audience } from '../release-view.ts';
import { INTERNAL_ERROR_MESSAGE, isClientFault } from '../client-fault.ts';
import { exportModel, WEIGHTS_FILE } from '../model-export.ts';

export interface HttpApiOptions {
  coordinator: Coordinator;
}

const ErrorReply = Type.Object({ error: Type.String() });
const AttackRequestSchema = Type.Object({ mode: literals(ATTACK_MODES) }, { additionalProperties: false });
const OkReply = Type.Object({ ok: Type.Boolean(), phase: Type.String() });

function statusOf(error: FastifyError): number {
  if (error instanceof AccessError) return error.statusCode;
  if (error instanceof RunStateError) return 409;
  if (error instanceof UnknownClientError) return 404;
  if (isClientFault(error as unknown) || error.validation) return 400;
  return error.statusCode ?? 500;
}

export default async function httpApi(app: FastifyInstance, { coordinator }: HttpApiOptions): Promise<void> {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = statusOf(error);
    if (status < 500) {
      // A refusal: one short line, no stack, so strangers cannot flood the log with traces.
      request.log.info({ url: request.url, status }, `refused: ${error.message}`);
      const message = error.validation ? `invalid request: ${error.message}` : error.message;
      return reply.code(status).send({ error: message });
    }
    request.log.error({ err: error, url: request.url }, 'bug while handling an HTTP request');
    return reply.code(status).send({ error: INTERNAL_ERROR_MESSAGE });
  });

  // Viewing is open; anything that steers the run needs the admin token.
  // onRequest: the token is checked before the body, so a stranger learns nothing from validation errors.
  const adminOnly = { onRequest: async (request: FastifyRequest) => requireAdmin(coordinator.access, request.headers.authorization) };

  app.get('/health', async () => ({ ok: true }));

  // With the admin token the whole state; without it, what server/release-view.ts lets out.
  const audienceOf = (request: FastifyRequest): Audience => (isAdminToken(coordinator.access, bearerToken(request.headers.authorization)) ? 'admin' : 'public');

  app.get('/status', async (request) => stateFor(coordinator.runState(), audienceOf(request), coordinator.shownSettings));

  app.get('/history', async (request) =>
    audienceOf(request) === 'admin' ? coordinator.history : coordinator.history.map((m) => publicRound(m, coordinator.shownSettings)),
  );

  app.get('/settings', { schema: { response: { 200: SettingsSchema } } }, async () => coordinator.settings);

  app.put(
    '/settings',
    { ...adminOnly, schema: { body: Type.Partial(SettingsSchema, { additionalProperties: false }), response: { 400: ErrorReply, 409: ErrorReply } } },
    async (request) => coordinator.changeSettings(request.body),
  );

  app.put(
    '/clients/:clientId/attack',
    {
      ...adminOnly,
      schema: { params: Type.Object({ clientId: Type.String({ maxLength: 64 }) }), body: AttackRequestSchema, response: { 404: ErrorReply } },
    },
    async (request) => {
      const { clientId } = request.params as { clientId: string };
      const { mode } = request.body as { mode: Parameters<Coordinator['setAttack']>[1] };
      coordinator.setAttack(clientId, mode);
      return { ok: true, clientId, mode };
    },
  );

  app.get('/weights', async (_request, reply) => {
    const spec = modelSpec(coordinator.shownSettings.model);
    reply.header('content-type', 'application/octet-stream');
    reply.header('x-flock-round', String(coordinator.history.length));
    return Buffer.from(encodeWeights(spec, coordinator.global));
  });

  // The global model as a TensorFlow.js layers model: model.json names weights.bin beside it.
  app.get('/model/model.json', async (_request, reply) => {
    const { modelJson } = await exportModel(coordinator.shownSettings.model, coordinator.global);
    reply.header('access-control-allow-origin', '*'); // tf.loadLayersModel from any page
    reply.header('content-disposition', 'attachment; filename="model.json"');
    return modelJson;
  });

  app.get(`/model/${WEIGHTS_FILE}`, async (_request, reply) => {
    const { weightData } = await exportModel(coordinator.shownSettings.model, coordinator.global);
    reply.header('content-type', 'application/octet-stream');
    reply.header('access-control-allow-origin', '*');
    reply.header('content-disposition', `attachment; filename="${WEIGHTS_FILE}"`);
    return Buffer.from(weightData);
  });

  app.get(
    '/shards/:index',
    { schema: { params: Type.Object({ index: Type.Integer({ minimum: 0, maximum: 999 }) }), response: { 404: ErrorReply } } },
    async (request, reply) => {
      const { index } = request.params as { index: number };
      const bytes = coordinator.shardData(index);
      if (!bytes) return reply.code(404).send({ error: `shard ${index} does not exist (${coordinator.split().partition.shards} shards)` });
      reply.header('content-type', 'application/octet-stream');
      return Buffer.from(bytes);
    },
  );

  const control = { ...adminOnly, schema: { response: { 200: OkReply, 409: ErrorReply } } };
  app.post('/run/start', control, async () => {
    coordinator.start();
    return { ok: true, phase: coordinator.phase };
  });
  app.post('/run/stop', control, async () => {
    coordinator.stop();
    return { ok: true, phase: coordinator.phase };
  });
  app.post('/run/reset', control, async () => {
    await coordinator.reset();
    return { ok: true, phase: coordinator.phase };
  });
  // Forgetting the privacy the population has spent is its own action, with its own confirmation.
  app.post(
    '/privacy/ledger/reset',
    { ...adminOnly, schema: { body: Type.Object({ forget: Type.Literal('what the tabs have spent') }, { additionalProperties: false }), response: { 200: OkReply, 409: ErrorReply } } },
    async () => {
      await coordinator.resetLedger();
      return { ok: true, phase: coordinator.phase };
    },
  );
}

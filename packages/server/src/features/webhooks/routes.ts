import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { unwrap } from '../../http/failures.js';
import { bearerSecurity, problems } from '../../http/schemas.js';
import type { WebhookDeliveryStatus } from '../../store/types.js';
import { auditWebhookAction, webhookChanges } from '../audit/webhook-actions.js';
import { WEBHOOK_EVENT_TYPES } from './events.js';
import {
  createEndpoint,
  deleteEndpoint,
  getEndpoint,
  listDeliveries,
  publicDelivery,
  publicEndpoint,
  redeliver,
  rotateSecret,
  sendTestEvent,
  updateEndpoint,
  type EndpointInput,
  type EndpointPatchInput,
} from './service.js';

const description = 'Requires an access token of a user with the `admin` role (401 without a token, 403 without the role). See docs/webhooks.md.';

export const webhookEndpointSchema = {
  type: 'object',
  required: ['id', 'url', 'event_types', 'description', 'enabled', 'disabled_reason', 'failing_since', 'created_at', 'updated_at'],
  properties: {
    id: { type: 'string' },
    url: { type: 'string' },
    event_types: { type: 'array', items: { type: 'string' } },
    description: { type: ['string', 'null'] },
    enabled: { type: 'boolean' },
    disabled_reason: { type: ['string', 'null'], description: 'Why delivery disabled it (failing for WEBHOOK_DISABLE_AFTER); null otherwise' },
    failing_since: { type: ['string', 'null'], format: 'date-time', description: 'First failure since the last success' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
} as const;

export const webhookDeliverySchema = {
  type: 'object',
  required: ['id', 'event_id', 'event_type', 'status', 'attempts', 'last_status_code', 'last_error', 'latency_ms', 'created_at', 'next_attempt_at', 'delivered_at'],
  properties: {
    id: { type: 'string' },
    event_id: { type: 'string', description: 'The `webhook-id` header: the same for every attempt and redelivery' },
    event_type: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'succeeded', 'failed', 'exhausted'], description: 'failed: the last attempt failed, another is due at next_attempt_at' },
    attempts: { type: 'integer' },
    last_status_code: { type: ['integer', 'null'] },
    last_error: { type: ['string', 'null'] },
    latency_ms: { type: ['integer', 'null'] },
    created_at: { type: 'string', format: 'date-time' },
    next_attempt_at: { type: ['string', 'null'], format: 'date-time' },
    delivered_at: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

const endpointEnvelope = { type: 'object', required: ['endpoint'], properties: { endpoint: webhookEndpointSchema } } as const;
const deliveryEnvelope = { type: 'object', required: ['delivery'], properties: { delivery: webhookDeliverySchema } } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;
const deliveryParams = {
  type: 'object',
  required: ['id', 'deliveryId'],
  properties: { id: { type: 'string', maxLength: 64 }, deliveryId: { type: 'string', maxLength: 64 } },
} as const;
const urlProperty = { type: 'string', minLength: 1, maxLength: 2048, description: 'https (http only with WEBHOOK_ALLOW_PRIVATE=true), a public address' } as const;
const eventTypesProperty = { type: 'array', minItems: 1, maxItems: 64, items: { type: 'string', maxLength: 64 } } as const;
const descriptionProperty = { type: ['string', 'null'], maxLength: 500 } as const;

interface IdParams {
  id: string;
}

/**
 * The admin API of webhooks (docs/webhooks.md). Registered in the admin scope: the caller is an
 * authenticated admin (and recently re-authenticated for changes when STEP_UP_ADMIN is on).
 */
export async function webhookAdminRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;
  const common = { tags: ['webhooks'], security: bearerSecurity, description };

  app.get(
    '/admin/webhooks/event-types',
    {
      schema: {
        ...common,
        summary: 'The event types an endpoint may subscribe to',
        response: {
          200: { type: 'object', required: ['event_types'], properties: { event_types: { type: 'array', items: { type: 'string' } } } },
          ...problems(401, 403),
        },
      },
    },
    async () => ({ event_types: [...WEBHOOK_EVENT_TYPES] }),
  );

  app.post<{ Body: EndpointInput }>(
    '/admin/webhooks',
    {
      schema: {
        ...common,
        summary: 'Register an endpoint (its signing secret is in this answer only)',
        body: {
          type: 'object',
          required: ['url', 'event_types'],
          additionalProperties: false,
          properties: { url: urlProperty, event_types: eventTypesProperty, description: descriptionProperty, enabled: { type: 'boolean' } },
        },
        response: {
          201: {
            type: 'object',
            required: ['endpoint', 'secret'],
            properties: { endpoint: webhookEndpointSchema, secret: { type: 'string', description: '`whsec_<base64>`: shown once' } },
          },
          ...problems(400, 401, 403, 422),
        },
      },
    },
    async (request, reply) => {
      const created = unwrap(await createEndpoint(ctx, request.body));
      await auditWebhookAction(ctx, request, 'admin.webhook.created', created.endpoint.id, { ...webhookChanges(null, created.endpoint), secret: { set: true } });
      return reply.code(201).send({ endpoint: publicEndpoint(created.endpoint), secret: created.secret });
    },
  );

  app.get(
    '/admin/webhooks',
    {
      schema: {
        ...common,
        summary: 'List endpoints',
        response: { 200: { type: 'object', required: ['endpoints'], properties: { endpoints: { type: 'array', items: webhookEndpointSchema } } }, ...problems(401, 403) },
      },
    },
    async () => ({ endpoints: (await ctx.store.listWebhookEndpoints()).map(publicEndpoint) }),
  );

  app.get<{ Params: IdParams }>(
    '/admin/webhooks/:id',
    { schema: { ...common, summary: 'One endpoint', params: idParams, response: { 200: endpointEnvelope, ...problems(401, 403, 404) } } },
    async (request) => ({ endpoint: publicEndpoint(unwrap(await getEndpoint(ctx, request.params.id))) }),
  );

  app.patch<{ Params: IdParams; Body: EndpointPatchInput }>(
    '/admin/webhooks/:id',
    {
      schema: {
        ...common,
        summary: 'Change an endpoint (enabling it clears disabled_reason and the failure clock)',
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { url: urlProperty, event_types: eventTypesProperty, description: descriptionProperty, enabled: { type: 'boolean' } },
        },
        response: { 200: endpointEnvelope, ...problems(400, 401, 403, 404, 422) },
      },
    },
    async (request) => {
      const before = await ctx.store.findWebhookEndpoint(request.params.id);
      const endpoint = unwrap(await updateEndpoint(ctx, request.params.id, request.body));
      const changes = webhookChanges(before, endpoint);
      if (Object.keys(changes).length > 0) await auditWebhookAction(ctx, request, 'admin.webhook.updated', endpoint.id, changes);
      return { endpoint: publicEndpoint(endpoint) };
    },
  );

  app.delete<{ Params: IdParams }>(
    '/admin/webhooks/:id',
    { schema: { ...common, summary: 'Delete an endpoint with its delivery log', params: idParams, response: { 204: { type: 'null' }, ...problems(401, 403, 404) } } },
    async (request, reply) => {
      const before = await ctx.store.findWebhookEndpoint(request.params.id);
      unwrap(await deleteEndpoint(ctx, request.params.id));
      await auditWebhookAction(ctx, request, 'admin.webhook.deleted', request.params.id, webhookChanges(before, null));
      return reply.code(204).send();
    },
  );

  app.post<{ Params: IdParams; Body: { overlap?: string } | undefined }>(
    '/admin/webhooks/:id/rotate-secret',
    {
      schema: {
        ...common,
        summary: 'New signing secret; the old one also signs until previous_expires_at',
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { overlap: { type: 'string', maxLength: 16, description: 'How long the old secret keeps signing: 24h (default), 30m, 0; at most 7d' } },
        },
        response: {
          200: {
            type: 'object',
            required: ['secret', 'previous_expires_at'],
            properties: { secret: { type: 'string' }, previous_expires_at: { type: 'string', format: 'date-time' } },
          },
          ...problems(401, 403, 404, 422),
        },
      },
    },
    async (request) => {
      const rotated = unwrap(await rotateSecret(ctx, request.params.id, request.body?.overlap));
      await auditWebhookAction(ctx, request, 'admin.webhook.secret_rotated', request.params.id, {
        secret: { rotated: true },
        previous_expires_at: new Date(rotated.previousExpiresAt).toISOString(),
      });
      return { secret: rotated.secret, previous_expires_at: new Date(rotated.previousExpiresAt).toISOString() };
    },
  );

  app.get<{ Params: IdParams; Querystring: { status?: WebhookDeliveryStatus; cursor?: string; limit?: string } }>(
    '/admin/webhooks/:id/deliveries',
    {
      schema: {
        ...common,
        summary: 'The delivery log of an endpoint, newest first',
        params: idParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: ['pending', 'succeeded', 'failed', 'exhausted'] },
            cursor: { type: 'string', maxLength: 200 },
            limit: { type: 'string', pattern: '^[0-9]{1,3}$', description: '1..200, default 50' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['deliveries', 'next_cursor'],
            properties: { deliveries: { type: 'array', items: webhookDeliverySchema }, next_cursor: { type: ['string', 'null'] } },
          },
          ...problems(401, 403, 404, 422),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const page = unwrap(
        await listDeliveries(ctx, request.params.id, { status: q.status ?? null, cursor: q.cursor ?? null, limit: Math.min(200, Math.max(1, Number(q.limit ?? 50))) }),
      );
      return { deliveries: page.deliveries.map(publicDelivery), next_cursor: page.nextCursor };
    },
  );

  app.post<{ Params: { id: string; deliveryId: string } }>(
    '/admin/webhooks/:id/deliveries/:deliveryId/redeliver',
    {
      schema: {
        ...common,
        summary: 'Send a delivery again (a new delivery, same webhook-id and body)',
        params: deliveryParams,
        response: { 202: deliveryEnvelope, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const delivery = unwrap(await redeliver(ctx, request.params.id, request.params.deliveryId));
      await auditWebhookAction(ctx, request, 'admin.webhook.redelivered', request.params.id, { delivery_id: request.params.deliveryId, event_id: delivery.eventId });
      return reply.code(202).send({ delivery: publicDelivery(delivery) });
    },
  );

  app.post<{ Params: IdParams }>(
    '/admin/webhooks/:id/test',
    {
      schema: { ...common, summary: 'Send a webhook.test event to this endpoint', params: idParams, response: { 202: deliveryEnvelope, ...problems(401, 403, 404) } },
    },
    async (request, reply) => {
      const delivery = unwrap(await sendTestEvent(ctx, request.params.id));
      await auditWebhookAction(ctx, request, 'admin.webhook.tested', request.params.id, { event_id: delivery.eventId });
      return reply.code(202).send({ delivery: publicDelivery(delivery) });
    },
  );
}

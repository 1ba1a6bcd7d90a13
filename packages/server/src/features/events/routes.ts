import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { bearerSecurity, problems } from '../../http/schemas.js';
import type { SecurityEvent } from '../../store/types.js';
import { recentEvents } from './service.js';

export const securityEventSchema = {
  type: 'object',
  required: ['id', 'type', 'created_at', 'ip', 'user_agent'],
  properties: {
    id: { type: 'string' },
    type: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
    ip: { type: ['string', 'null'] },
    user_agent: { type: ['string', 'null'] },
    detail: { type: ['object', 'null'], additionalProperties: true },
  },
} as const;

/** An event as its owner (or an admin) sees it. */
export function publicEvent(e: SecurityEvent) {
  return {
    id: e.id,
    type: e.type,
    created_at: new Date(e.createdAt).toISOString(),
    ip: e.ip,
    user_agent: e.userAgent,
    detail: e.detail,
  };
}

/** GET /auth/events. Registered in the signed-in scope: its preHandler has set `request.auth`. */
export async function eventRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;
  app.get<{ Querystring: { limit?: string } }>(
    '/auth/events',
    {
      schema: {
        tags: ['sessions'],
        summary: 'The current user’s recent security events, newest first',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'string', pattern: '^[0-9]{1,3}$', description: '1..100, default 50' } },
        },
        response: {
          200: { type: 'object', required: ['events'], properties: { events: { type: 'array', items: securityEventSchema } } },
          ...problems(401, 422),
        },
      },
    },
    async (request) => {
      const limit = Math.min(100, Math.max(1, Number(request.query.limit ?? 50)));
      const events = await recentEvents(ctx, request.auth!.user.id, limit);
      return { events: events.map(publicEvent) };
    },
  );
}

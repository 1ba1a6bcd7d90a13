import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { AppError } from '../../errors.js';
import { problems } from '../../http/schemas.js';

const statusSchema = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string' }, database: { type: 'string' } },
} as const;

export async function healthRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;

  app.get(
    '/health/live',
    { schema: { tags: ['health'], summary: 'The process is up', response: { 200: statusSchema } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'The server can serve: database reachable and keys loaded',
        response: { 200: statusSchema, ...problems(503) },
      },
    },
    async () => {
      try {
        await ctx.store.ping();
        if (ctx.keys.jwks.keys.length === 0 && ctx.config.jwtAlg !== 'HS256') throw new Error('no keys');
        return { status: 'ok', database: ctx.store.kind };
      } catch {
        throw new AppError('SERVICE_UNAVAILABLE', {
          detail: 'The database is unreachable or no signing key is loaded.',
          headers: { 'retry-after': '5' },
        });
      }
    },
  );
}

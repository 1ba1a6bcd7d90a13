import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { unwrap } from '../../http/failures.js';
import { problems } from '../../http/schemas.js';
import { readiness } from './service.js';

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
    async () => unwrap(await readiness(ctx)),
  );
}

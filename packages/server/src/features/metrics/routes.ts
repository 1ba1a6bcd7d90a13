import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { refuse } from '../../http/failures.js';
import { bearerToken } from '../../http/request.js';
import { failure } from '../../outcome.js';

/** Constant-time comparison of the scrape token: it is a secret. */
function tokenMatches(sent: string | null, expected: string): boolean {
  if (!sent) return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function sendMetrics(ctx: LatchkeyContext, reply: FastifyReply): Promise<FastifyReply> {
  const registry = ctx.metrics.registry;
  if (!registry) refuse(failure('NOT_FOUND', 'Metrics are not enabled.'));
  const text = await registry.metrics();
  return reply.header('cache-control', 'no-store').type(registry.contentType).send(text);
}

/**
 * GET /metrics on the main port, only when METRICS_TOKEN is set, and only with
 * `Authorization: Bearer <METRICS_TOKEN>`. (METRICS_PORT serves it on a separate listener instead.)
 */
export async function metricsRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;
  const token = ctx.config.metrics.metricsToken;
  if (!token) return;
  app.get('/metrics', { schema: { hide: true } }, async (request: FastifyRequest, reply) => {
    if (!tokenMatches(bearerToken(request), token)) {
      refuse(failure('UNAUTHORIZED', 'Send Authorization: Bearer <METRICS_TOKEN>.'));
    }
    return sendMetrics(ctx, reply);
  });
}

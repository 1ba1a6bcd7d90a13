import type { LatchkeyContext } from '../../context.js';
import { retryLater, success, type Outcome } from '../../outcome.js';

/**
 * Whether this instance can serve: the database answers and a signing key is loaded (HS256 has
 * no published keys). SERVICE_UNAVAILABLE with Retry-After otherwise, whatever the cause.
 *
 * @example
 * const ready = await readiness(ctx); // GET /health/ready
 */
export async function readiness(ctx: Pick<LatchkeyContext, 'store' | 'keys' | 'config'>): Promise<Outcome<{ status: 'ok'; database: string }>> {
  try {
    await ctx.store.ping();
    if (ctx.keys.jwks.keys.length === 0 && ctx.config.jwtAlg !== 'HS256') throw new Error('no keys');
    return success({ status: 'ok', database: ctx.store.kind });
  } catch {
    return retryLater('SERVICE_UNAVAILABLE', 'The database is unreachable or no signing key is loaded.', 5);
  }
}

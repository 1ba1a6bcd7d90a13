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
  let databaseUp = true;
  try {
    await ctx.store.ping();
  } catch {
    databaseUp = false;
  }
  const keysLoaded = ctx.keys.jwks.keys.length > 0 || ctx.config.tokens.jwtAlg === 'HS256';
  if (!databaseUp || !keysLoaded) return retryLater('SERVICE_UNAVAILABLE', 'The database is unreachable or no signing key is loaded.', 5);
  return success({ status: 'ok', database: ctx.store.kind });
}

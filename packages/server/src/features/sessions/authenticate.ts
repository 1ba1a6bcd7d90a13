import type { FastifyBaseLogger } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { failure, success, type Failure, type Outcome } from '../../outcome.js';
import type { AuthUser, SessionRecord } from '../../store/types.js';
import { InvalidTokenError, type AccessTokenClaims } from '../../tokens/access-token.js';

/** What an authenticated request knows about its caller (`request.auth`). */
export interface AuthState {
  claims: AccessTokenClaims;
  /** The caller's user record without its password hash (change-password loads that itself). */
  user: AuthUser;
  session: SessionRecord;
}

/** True when a session can still authenticate requests at `now`. */
export function sessionIsLive(s: SessionRecord, now: number): boolean {
  return s.revokedAt === null && now < s.expiresAt && now < s.idleExpiresAt;
}

// The same two answers for every refusal: nothing tells a caller which check failed.
const NO_TOKEN: Readonly<Failure> = Object.freeze(failure('UNAUTHORIZED', 'Send an access token as Authorization: Bearer <token>.'));
const INVALID_TOKEN: Readonly<Failure> = Object.freeze(failure('INVALID_TOKEN', 'The access token is invalid or has expired.'));

/**
 * Verifies an access token and then the session behind it, so that a logout or a revocation
 * takes effect at once on every stateful route. UNAUTHORIZED without a token, INVALID_TOKEN for
 * any other refusal (its reason goes to `log` at debug level only); never a thrown error for a
 * bad token.
 *
 * @example
 * const auth = await authenticateAccessToken(ctx, bearerToken(request), request.log);
 * if (auth.ok) request.auth = auth.value;
 */
export async function authenticateAccessToken(
  ctx: Pick<LatchkeyContext, 'tokens' | 'store' | 'clock'>,
  token: string | null,
  log: Pick<FastifyBaseLogger, 'debug'>,
): Promise<Outcome<AuthState>> {
  if (!token) return NO_TOKEN;
  let claims: AccessTokenClaims;
  try {
    claims = await ctx.tokens.verify(token);
  } catch (err) {
    if (err instanceof InvalidTokenError) {
      log.debug({ reason: err.message }, 'access token refused');
      return INVALID_TOKEN;
    }
    throw err;
  }
  const found = await ctx.store.getSessionWithUser(claims.sid);
  if (!found || found.user.id !== claims.sub || !sessionIsLive(found.session, ctx.clock())) return INVALID_TOKEN;
  if (found.user.disabled) return INVALID_TOKEN;
  return success({ claims, user: found.user, session: found.session });
}

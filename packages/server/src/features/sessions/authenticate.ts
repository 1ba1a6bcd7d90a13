import type { FastifyBaseLogger } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { failure, success, type Failure, type Outcome } from '../../outcome.js';
import type { AuthUser, SessionRecord } from '../../store/types.js';
import { InvalidTokenError, type AccessTokenClaims } from '../../tokens/access-token.js';
import { endedSessionToken, sessionEndReason } from './end-reasons.js';

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
 * A verified token of an ended session or a disabled account: its holder is told why (the
 * `reason` member), as a refresh would tell them. An expired session stays a plain INVALID_TOKEN.
 */
function endedSession(session: SessionRecord, disabled: boolean): Failure {
  if (disabled) return endedSessionToken('account_disabled');
  if (session.revokedAt !== null) return endedSessionToken(sessionEndReason(session.revokedReason));
  return INVALID_TOKEN;
}

/**
 * Verifies an access token and then the session behind it, so that a logout or a revocation
 * takes effect at once on every stateful route. UNAUTHORIZED without a token, INVALID_TOKEN for
 * any other refusal (why a token is bad goes to `log` at debug level only; a good token of an
 * ended session carries the `reason` member); never a thrown error for a bad token.
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
  if (!found || found.user.id !== claims.sub) return INVALID_TOKEN;
  if (!sessionIsLive(found.session, ctx.clock()) || found.user.disabled) return endedSession(found.session, found.user.disabled);
  return success({ claims, user: found.user, session: found.session });
}

import type { FastifyRequest } from 'fastify';
import type { LatchkeyContext, RequestMeta } from '../context.js';
import { AppError } from '../errors.js';
import { sessionIsLive } from '../features/sessions/service.js';
import type { AuthUser, SessionRecord } from '../store/types.js';
import { InvalidTokenError, type AccessTokenClaims } from '../tokens/access-token.js';

/** What an authenticated request knows about its caller. */
export interface AuthState {
  claims: AccessTokenClaims;
  /** The caller's user record without its password hash (change-password loads that itself). */
  user: AuthUser;
  session: SessionRecord;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireUser` on routes that need a logged-in caller. */
    auth: AuthState | null;
  }
}

/** The token from `Authorization: Bearer <token>`; a token in the URL is never read. */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') return null;
  const token = header.slice(space + 1).trim();
  return token || null;
}

export function requestMeta(request: FastifyRequest): RequestMeta {
  const ua = request.headers['user-agent'];
  return { ip: request.ip ?? null, userAgent: typeof ua === 'string' ? ua : null };
}

const invalidToken = () => new AppError('INVALID_TOKEN', { detail: 'The access token is invalid or has expired.' });

/**
 * Verifies the bearer token and then the session behind it, so that a logout or a revocation
 * takes effect at once on every stateful route. Throws 401 on any failure, never 500.
 */
export async function authenticate(ctx: LatchkeyContext, request: FastifyRequest): Promise<AuthState> {
  const token = bearerToken(request);
  if (!token) throw new AppError('UNAUTHORIZED', { detail: 'Send an access token as Authorization: Bearer <token>.' });
  let claims: AccessTokenClaims;
  try {
    claims = await ctx.tokens.verify(token);
  } catch (err) {
    if (err instanceof InvalidTokenError) {
      request.log.debug({ reason: err.message }, 'access token refused');
      throw invalidToken();
    }
    throw err;
  }
  const found = await ctx.store.getSessionWithUser(claims.sid);
  if (!found || found.user.id !== claims.sub || !sessionIsLive(found.session, ctx.clock())) throw invalidToken();
  if (found.user.disabled) throw invalidToken();
  return { claims, user: found.user, session: found.session };
}

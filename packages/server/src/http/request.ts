import type { FastifyRequest } from 'fastify';
import type { RequestMeta } from '../context.js';

/**
 * The token from `Authorization: Bearer <token>`; a token in the URL is never read.
 *
 * @example
 * const token = bearerToken(request); // null without the header
 */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') return null;
  const token = header.slice(space + 1).trim();
  return token || null;
}

/**
 * Who sent the request, as sessions, security events and the audit log record it: the address,
 * the user agent, the request's id (the access log's `reqId`) and the signed-in caller, if the
 * route's scope authenticated one.
 *
 * @example
 * await recordEvent(ctx, userId, 'logout', requestMeta(request));
 */
export function requestMeta(request: FastifyRequest): RequestMeta {
  const ua = request.headers['user-agent'];
  const languages = request.headers['accept-language'];
  const user = request.auth?.user;
  return {
    ip: request.ip ?? null,
    userAgent: typeof ua === 'string' ? ua : null,
    acceptLanguage: typeof languages === 'string' ? languages : null,
    requestId: request.id,
    caller: user ? { id: user.id, email: user.email } : null,
  };
}

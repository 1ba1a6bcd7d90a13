import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { AppError } from '../../errors.js';
import { newOpaqueToken } from '../../lib/ids.js';
import type { IssuedTokens } from './service.js';

/** The HttpOnly cookie holding the refresh token in cookie mode (scoped to the auth routes). */
export const REFRESH_COOKIE = 'lk_refresh';
/** The script-readable double-submit cookie; its value must come back as X-CSRF-Token. */
export const CSRF_COOKIE = 'lk_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/** Cookie mode is asked for per request with `X-Auth-Mode: cookie`. */
export function wantsCookieMode(request: FastifyRequest): boolean {
  return request.headers['x-auth-mode'] === 'cookie';
}

function cookiePath(request: FastifyRequest): string {
  // The auth routes' own prefix: "/auth" standalone, "<prefix>/auth" when mounted.
  const url = request.routeOptions.url ?? '/auth';
  return url.slice(0, url.indexOf('/auth') + '/auth'.length) || '/auth';
}

function cookieOptions(ctx: LatchkeyContext, path: string, maxAgeSeconds: number, httpOnly: boolean) {
  return {
    path,
    httpOnly,
    secure: ctx.config.cookieSecure,
    sameSite: ctx.config.cookieSameSite,
    maxAge: maxAgeSeconds,
  } as const;
}

/**
 * Answers login/refresh with a TokenResponse. In cookie mode the refresh token goes only into
 * the HttpOnly cookie and a fresh CSRF token into the double-submit cookie.
 */
export function sendTokens(
  ctx: LatchkeyContext,
  request: FastifyRequest,
  reply: FastifyReply,
  tokens: IssuedTokens,
  cookieMode: boolean,
): FastifyReply {
  void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  const body: Record<string, unknown> = {
    access_token: tokens.access_token,
    token_type: tokens.token_type,
    expires_in: tokens.expires_in,
  };
  if (cookieMode) {
    const maxAge = Math.floor(ctx.config.sessionMaxAgeMs / 1000);
    const path = cookiePath(request);
    void reply.setCookie(REFRESH_COOKIE, tokens.refresh_token, cookieOptions(ctx, path, maxAge, true));
    void reply.setCookie(CSRF_COOKIE, newOpaqueToken(), cookieOptions(ctx, '/', maxAge, false));
  } else {
    body.refresh_token = tokens.refresh_token;
  }
  return reply.code(200).send(body);
}

export function clearAuthCookies(ctx: LatchkeyContext, request: FastifyRequest, reply: FastifyReply): void {
  void reply.clearCookie(REFRESH_COOKIE, cookieOptions(ctx, cookiePath(request), 0, true));
  void reply.clearCookie(CSRF_COOKIE, cookieOptions(ctx, '/', 0, false));
}

/** The refresh token from the cookie, or null. */
export function refreshCookie(request: FastifyRequest): string | null {
  const value = request.cookies[REFRESH_COOKIE];
  return value ? value : null;
}

/**
 * Double-submit check for requests authenticated by cookie: the X-CSRF-Token header must equal
 * the CSRF cookie. A cross-site page can make the browser send the cookie but can neither read
 * it nor set a custom header without a CORS preflight we refuse.
 */
export function assertCsrf(request: FastifyRequest): void {
  const header = request.headers[CSRF_HEADER];
  const cookie = request.cookies[CSRF_COOKIE];
  if (typeof header !== 'string' || !cookie || header.length !== cookie.length) {
    throw new AppError('CSRF_FAILED', { detail: 'Send the lk_csrf cookie value in the X-CSRF-Token header.' });
  }
  // Constant-time: the token is a secret a timing oracle must not reveal byte by byte.
  if (!timingSafeEqual(Buffer.from(header), Buffer.from(cookie))) {
    throw new AppError('CSRF_FAILED', { detail: 'Send the lk_csrf cookie value in the X-CSRF-Token header.' });
  }
}

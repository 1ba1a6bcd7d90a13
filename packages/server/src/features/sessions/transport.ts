import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { isTrustedOrigin } from '../../http/cross-site.js';
import { newOpaqueToken } from '../../lib/ids.js';
import { failure, success, type Outcome } from '../../outcome.js';
import type { IssuedTokens } from './service.js';

/** The HttpOnly cookie holding the refresh token in cookie mode (scoped to the auth routes). */
export const REFRESH_COOKIE = 'lk_refresh';
/** The double-submit cookie; its value must come back as X-CSRF-Token. */
export const CSRF_COOKIE = 'lk_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/** Our CSRF tokens are 32 random bytes in base64url: 43 characters. Anything else is not ours. */
const CSRF_TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** Cookie mode is asked for per request with `X-Auth-Mode: cookie` (case-insensitive). */
export function wantsCookieMode(request: FastifyRequest): boolean {
  const mode = request.headers['x-auth-mode'];
  return typeof mode === 'string' && mode.trim().toLowerCase() === 'cookie';
}

/**
 * The refresh cookie's Path: exactly the auth routes' prefix, `<mount prefix>/auth` ("/auth"
 * standalone). Worked out once per mount from the prefix itself, never by searching the request
 * URL for "/auth": under "/authn" that search gave "/auth", a path a browser does not send with
 * "/authn/auth/refresh" (RFC 6265 5.1.4 matches on "/" boundaries) but does send to a host's own
 * "/auth/..." routes.
 */
export function refreshCookiePath(mountPrefix: string): string {
  return `${mountPrefix.replace(/\/+$/, '')}/auth`;
}

function cookieOptions(ctx: LatchkeyContext, path: string, maxAgeSeconds: number, httpOnly: boolean) {
  return {
    path,
    httpOnly,
    secure: ctx.config.sessions.cookieSecure,
    sameSite: ctx.config.sessions.cookieSameSite,
    maxAge: maxAgeSeconds,
  } as const;
}

/** The CSRF cookie's value when it has our shape, else null. */
function csrfCookie(request: FastifyRequest): string | null {
  const value = request.cookies[CSRF_COOKIE];
  return value && CSRF_TOKEN_SHAPE.test(value) ? value : null;
}

/** Sets the script-readable CSRF cookie (Path=/ so that a same-origin page can read it). */
function setCsrfCookie(ctx: LatchkeyContext, reply: FastifyReply, token: string, maxAgeSeconds: number): void {
  void reply.setCookie(CSRF_COOKIE, token, cookieOptions(ctx, '/', maxAgeSeconds, false));
}

export interface SendTokensOptions {
  /**
   * Keep the caller's CSRF token instead of minting a new one. Refresh passes true when the
   * request was CSRF-checked: concurrent tabs then keep one stable token (a new value per
   * refresh would leave every tab but the last holding a stale one). Login always mints.
   */
  keepCsrf?: boolean;
  /** Members answered beside the tokens (the recovery codes of an enrolment that ends a login), shown once. */
  extra?: Readonly<Record<string, unknown>>;
}

/**
 * Answers login/refresh with a TokenResponse (`Cache-Control: no-store`). In cookie mode the
 * refresh token goes only into the HttpOnly cookie, and the CSRF token is both set as the
 * double-submit cookie and returned as `csrf_token` (a cross-origin SDK cannot read the cookie).
 */
export function sendTokens(
  ctx: LatchkeyContext,
  refreshPath: string,
  request: FastifyRequest,
  reply: FastifyReply,
  tokens: IssuedTokens,
  cookieMode: boolean,
  options: SendTokensOptions = {},
): FastifyReply {
  void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  const body: Record<string, unknown> = {
    access_token: tokens.access_token,
    token_type: tokens.token_type,
    expires_in: tokens.expires_in,
  };
  if (cookieMode) {
    // The cookie lives exactly as long as the session can (its absolute end); never longer.
    const maxAge = Math.max(0, Math.floor((tokens.session_expires_at - ctx.clock()) / 1000));
    void reply.setCookie(REFRESH_COOKIE, tokens.refresh_token, cookieOptions(ctx, refreshPath, maxAge, true));
    const csrf = (options.keepCsrf ? csrfCookie(request) : null) ?? newOpaqueToken();
    setCsrfCookie(ctx, reply, csrf, maxAge);
    body.csrf_token = csrf;
  } else {
    body.refresh_token = tokens.refresh_token;
  }
  if (options.extra) Object.assign(body, options.extra);
  return reply.code(200).send(body);
}

/**
 * The CSRF token for GET /auth/csrf: the current cookie's value (so that open tabs stay valid),
 * or a new one when there is none. Sets the cookie either way.
 */
export function issueCsrfToken(ctx: LatchkeyContext, reply: FastifyReply, request: FastifyRequest): string {
  const token = csrfCookie(request) ?? newOpaqueToken();
  setCsrfCookie(ctx, reply, token, Math.floor(ctx.config.sessions.sessionMaxAgeMs / 1000));
  return token;
}

/** Expires both cookies (same name, path and attributes as when they were set). */
export function clearAuthCookies(ctx: LatchkeyContext, refreshPath: string, reply: FastifyReply): void {
  void reply.clearCookie(REFRESH_COOKIE, cookieOptions(ctx, refreshPath, 0, true));
  void reply.clearCookie(CSRF_COOKIE, cookieOptions(ctx, '/', 0, false));
}

/** The refresh token from the cookie, or null. */
export function refreshCookie(request: FastifyRequest): string | null {
  const value = request.cookies[REFRESH_COOKIE];
  return value ? value : null;
}

const CSRF_PASSED: Outcome<void> = Object.freeze(success(undefined));
const CSRF_MISSING = 'Send the lk_csrf cookie value (or the csrf_token from login/refresh, GET /auth/csrf) in X-CSRF-Token.';

/**
 * CSRF proof for requests authenticated by the refresh cookie (refresh, logout):
 * 1. the X-CSRF-Token header must equal the lk_csrf cookie (double submit). A cross-site page
 *    can make the browser send the cookies but can neither read them nor add a custom header
 *    without a CORS preflight, which only CORS_ORIGINS pass;
 * 2. a browser-sent Origin, when present, must be ours, ISSUER's or in CORS_ORIGINS. This also
 *    stops a sibling subdomain that planted its own lk_csrf cookie (cookie tossing).
 *
 * @example
 * unwrap(checkCsrf(ctx, request), true);
 */
export function checkCsrf(ctx: LatchkeyContext, request: FastifyRequest): Outcome<void> {
  const header = request.headers[CSRF_HEADER];
  const cookie = csrfCookie(request);
  // Shape first: both are then 43 ASCII bytes, which timingSafeEqual needs (equal lengths).
  if (typeof header !== 'string' || !CSRF_TOKEN_SHAPE.test(header) || !cookie) return failure('CSRF_FAILED', CSRF_MISSING);
  // Constant-time: the token is a secret a timing oracle must not reveal byte by byte.
  if (!timingSafeEqual(Buffer.from(header), Buffer.from(cookie))) return failure('CSRF_FAILED', CSRF_MISSING);
  if (!isTrustedOrigin(request, ctx.config)) {
    return failure('CSRF_FAILED', 'This Origin may not use the refresh cookie; add it to CORS_ORIGINS.');
  }
  return CSRF_PASSED;
}

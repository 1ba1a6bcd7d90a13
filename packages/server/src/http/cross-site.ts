import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';

/** What decides which origins are trusted: CORS_ORIGINS (`http`) and the ISSUER (`tokens`). */
type TrustConfig = Pick<Config, 'http' | 'tokens'>;

/** The request headers a page of another site cannot add without a CORS preflight. */
const PREFLIGHTED_HEADERS = ['authorization', 'x-csrf-token', 'x-auth-mode'] as const;

/** The Content-Types a page may send cross-origin without a preflight (Fetch's CORS-safelist). */
const SIMPLE_MEDIA_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);

let issuerSeen = '';
let issuerOriginSeen = '';
function issuerOrigin(issuer: string): string {
  // One config per process in practice: remember the last one instead of parsing per request.
  if (issuer !== issuerSeen) {
    issuerOriginSeen = new URL(issuer).origin;
    issuerSeen = issuer;
  }
  return issuerOriginSeen;
}

/**
 * True when the request's Origin (if the browser sent one) is this server's own origin, the
 * ISSUER's, or one of CORS_ORIGINS. A request without Origin (curl, a server, a same-origin GET)
 * is not judged here.
 *
 * @example
 * if (!isTrustedOrigin(request, ctx.config)) throw new AppError('CSRF_FAILED');
 */
export function isTrustedOrigin(request: FastifyRequest, config: TrustConfig): boolean {
  return trustedOrigin(request, config.http.corsOrigins, config.tokens.issuer);
}

function trustedOrigin(request: FastifyRequest, corsOrigins: readonly string[], issuer: string): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (corsOrigins.includes(origin)) return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, opaque redirects) and garbage
  }
  if (parsed.origin === issuerOrigin(issuer)) return true;
  // Same origin: the Host the request was sent to, read with the Origin's scheme so that a
  // default port (":80" in Host, absent from Origin) compares equal.
  try {
    return new URL(`${parsed.protocol}//${request.host}`).host === parsed.host;
  } catch {
    return false;
  }
}

/**
 * True when a page could have made a browser send this request without a CORS preflight, as far
 * as Latchkey's headers tell: none of its credential headers, and no Content-Type or one of the
 * three a form can send (compared as a media type: case and parameters do not matter). A type
 * Fastify cannot parse counts as simple too (it is refused later anyway).
 */
function couldSkipPreflight(request: FastifyRequest): boolean {
  for (const name of PREFLIGHTED_HEADERS) if (request.headers[name] !== undefined) return false;
  if (request.headers['content-type'] === undefined) return true;
  const type = request.mediaType;
  return type === undefined || SIMPLE_MEDIA_TYPES.has(type);
}

/** True when a browser says the request comes from a page of another site. */
function fromAnotherSite(request: FastifyRequest, corsOrigins: readonly string[], issuer: string): boolean {
  if (request.headers.origin !== undefined) return !trustedOrigin(request, corsOrigins, issuer);
  // Browsers send Origin with every POST; Sec-Fetch-Site covers one that was stripped.
  return request.headers['sec-fetch-site'] === 'cross-site';
}

/**
 * Route-level onRequest hook for the state-changing POST routes: a request that a page of another
 * site could make a browser send without a CORS preflight (a form, text/plain, multipart or no
 * body, no Authorization / X-CSRF-Token / X-Auth-Mode) is refused with 403 CSRF_FAILED before
 * its body is read. "Another site": an Origin that is not this server's own, ISSUER's or in
 * CORS_ORIGINS, or no Origin with `Sec-Fetch-Site: cross-site`.
 *
 * Requests that need a preflight are left to CORS (only CORS_ORIGINS pass Latchkey's; a host app
 * in embedded mode decides its own) and to their credentials, which a page cannot forge. PATCH and
 * DELETE always need a preflight cross-origin, so only POST routes get this hook; GET /auth/me
 * pays nothing.
 *
 * @example
 * route.onRequest = [refuseCrossSiteSimpleRequests(config), ...hooks];
 */
export function refuseCrossSiteSimpleRequests(config: TrustConfig) {
  const { corsOrigins } = config.http;
  const { issuer } = config.tokens;
  return function crossSiteGuard(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (couldSkipPreflight(request) && fromAnotherSite(request, corsOrigins, issuer)) {
      done(new AppError('CSRF_FAILED', { detail: 'A page of another site may not send this request; use CORS_ORIGINS for your app.' }));
      return;
    }
    done();
  };
}

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { sendProblem } from './error-handler.js';

const ALLOW_METHODS = 'GET, POST, PATCH, DELETE';
const ALLOW_HEADERS = 'Authorization, Content-Type, X-Auth-Mode, X-CSRF-Token';
const MAX_AGE_SECONDS = '600';

/**
 * CORS for a fixed list of origins, with credentials: an allowed origin is echoed with
 * `Access-Control-Allow-Credentials: true`; any other origin gets no CORS header at all, and
 * its preflight is refused with 403 CORS_ORIGIN_DENIED. Every response carries `Vary: Origin`.
 * A preflight from an allowed origin must name its method (else 400) and is answered 204 with
 * the allowed methods and headers, cached 10 minutes.
 *
 * One callback-style onRequest hook. It replaces @fastify/cors, which (configured the same way)
 * copied its options object and built a closure on every request: about 1.5 % of a
 * `GET /auth/me` in profiles, for a check that is a Set lookup.
 *
 * @example
 * registerCors(app, ['https://app.example.com']);
 */
export function registerCors(app: FastifyInstance, origins: readonly string[], options: { oauthProvider?: boolean } = {}): void {
  const allowed = new Set(origins);
  const oauthProvider = options.oauthProvider === true;

  app.addHook('onRequest', function cors(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
    // The OAuth provider answers CORS for its endpoints itself (a public client's redirect
    // origins, docs/oauth-provider.md); its interaction pages are same-origin pages.
    if (oauthProvider && isOAuthProviderPath(request.url)) return done();
    void reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    const preflight = request.method === 'OPTIONS';
    if (origin === undefined) return done();
    if (!allowed.has(origin)) {
      // A preflight from an origin we do not trust is refused outright, not just left bare.
      if (preflight) {
        sendProblem(reply, new AppError('CORS_ORIGIN_DENIED', { detail: 'This origin is not allowed.' }));
        return;
      }
      return done();
    }
    void reply.header('access-control-allow-origin', origin);
    void reply.header('access-control-allow-credentials', 'true');
    if (!preflight) return done();
    if (!request.headers['access-control-request-method']) {
      sendProblem(reply, new AppError('INVALID_REQUEST', { detail: 'A preflight must name its method in Access-Control-Request-Method.' }));
      return;
    }
    void reply
      .header('access-control-allow-methods', ALLOW_METHODS)
      .header('access-control-allow-headers', ALLOW_HEADERS)
      .header('access-control-max-age', MAX_AGE_SECONDS)
      .header('content-length', '0')
      .code(204)
      .send();
  });

  // Gives every path an OPTIONS route, so that a preflight reaches the hook above; an OPTIONS
  // request the hook did not answer (no Origin) is not a preflight: 404 as before.
  app.options('*', { schema: { hide: true } }, (_request, reply) => {
    reply.callNotFound();
  });
}

/** The OAuth provider's endpoints and discovery (standalone server: no prefix), not its interaction pages. */
function isOAuthProviderPath(url: string): boolean {
  if (url.startsWith('/oauth/')) return !url.startsWith('/oauth/interaction/');
  return url.startsWith('/.well-known/openid-configuration') || url.startsWith('/.well-known/oauth-authorization-server');
}

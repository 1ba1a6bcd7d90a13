/**
 * Fastify ↔ oidc-provider (docs/oauth-provider.md, "Endpoints"). With OAUTH_PROVIDER on, under
 * the mount prefix:
 * - `/oauth/*` (but the interaction pages, interaction-routes.ts) and the two discovery documents
 *   are handed to oidc-provider's own request handler (`reply.hijack()`): it parses its bodies
 *   itself, so this scope's content-type parser reads nothing, and answers CORS for its endpoints
 *   itself (clientBasedCORS: a public client's redirect origins);
 * - the headers oidc-provider reads behind a proxy (X-Forwarded-Proto/-Host/-For) are replaced:
 *   protocol and host by ISSUER's, the address by what Fastify made of it under TRUST_PROXY, so a
 *   client cannot forge them.
 * Latchkey's hooks still run before: the rate limit (POST /oauth/token has its own bucket), the
 * NUL check; not the cross-site POST check (no cookie authenticates these endpoints, and a
 * browser app posts its token request from its own origin).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LatchkeyContext } from '../../context.js';
import { interactionRoutes } from './interaction-routes.js';
import { registerOAuthProvider } from './interactions.js';

const DISCOVERY = '/.well-known/openid-configuration';
const RFC8414 = '/.well-known/oauth-authorization-server';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export async function oauthProviderRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext; mountPrefix: string }): Promise<void> {
  const { ctx, mountPrefix } = opts;
  // Loaded only here, with OAUTH_PROVIDER on: oidc-provider and Koa cost start-up time and memory,
  // and oidc-provider prints its "Unsupported runtime" warning on Node 20 when imported.
  const { OAuthProvider } = await import('./provider.js');
  const oauth = await OAuthProvider.create(ctx, mountPrefix);
  registerOAuthProvider(ctx, oauth);
  const handlers = new WeakMap<object, Handler>();
  const issuer = new URL(ctx.config.tokens.issuer);

  async function handOver(request: FastifyRequest, reply: FastifyReply, path?: string): Promise<void> {
    const provider = await oauth.current();
    let handler = handlers.get(provider);
    if (!handler) {
      handler = provider.callback();
      handlers.set(provider, handler);
    }
    const raw = request.raw as IncomingMessage & { originalUrl?: string };
    const url = raw.url ?? '/';
    const query = url.includes('?') ? url.slice(url.indexOf('?')) : '';
    // oidc-provider sees the path below the prefix and the prefix as its mount path (originalUrl).
    raw.originalUrl = url;
    raw.url = (path ?? url.split('?')[0]!.slice(mountPrefix.length)) + query;
    // oidc-provider builds its endpoint URLs (discovery, redirects) from these: they come from
    // ISSUER, never from the request's Host, or a forged Host would put another origin in the
    // discovery document (a cache in front would then hand it to every client).
    raw.headers['x-forwarded-proto'] = issuer.protocol.slice(0, -1);
    raw.headers['x-forwarded-host'] = issuer.host;
    raw.headers['x-forwarded-for'] = request.ip;
    reply.hijack();
    // What Latchkey's hooks set on the reply (RateLimit-*, Cache-Control) goes out with
    // oidc-provider's answer, which may override it.
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) reply.raw.setHeader(name, value as string | string[]);
    reply.raw.setHeader('x-content-type-options', 'nosniff');
    handler(raw, reply.raw);
  }

  await app.register(interactionRoutes, { ctx });

  await app.register(async (scope) => {
    // oidc-provider reads the bodies itself: nothing here may consume the stream.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    const config = { oauth: true, crossSiteAllowed: true };
    const hide = { hide: true };
    // Its own route: the rate limit's oauth_token bucket is chosen by the route's URL.
    scope.route({ method: ['POST', 'OPTIONS'], url: '/oauth/token', config, schema: hide, handler: (request, reply) => handOver(request, reply) });
    scope.route({ method: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'], url: '/oauth/*', config, schema: hide, handler: (request, reply) => handOver(request, reply) });
    scope.route({ method: ['GET', 'OPTIONS'], url: DISCOVERY, config, schema: hide, handler: (request, reply) => handOver(request, reply) });
    // RFC 8414's path: the same document.
    scope.route({ method: ['GET', 'OPTIONS'], url: RFC8414, config, schema: hide, handler: (request, reply) => handOver(request, reply, DISCOVERY) });
  });
}

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { DOCS_FAVICON_SVG, DOCS_LOGO_SVG, DOCS_STYLE_SHEET, DOCS_TITLE } from './branding.js';

export interface ApiDocsOptions {
  /** ISSUER: listed as the second server of the document, after the page's own origin. */
  issuer: string;
}

/** The document's fixed part: what @fastify/swagger is given. */
export function openApiDefinition(issuer: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Latchkey',
      version: '0.1.0',
      description: 'Authentication server: register, login, refresh rotation, sessions and JWKS.',
    },
    // Relative first: the docs page (and its Authorize button, whose tokenUrl resolves against
    // the selected server) then calls the origin it was loaded from. With the issuer first, a
    // page opened at http://127.0.0.1:3000/docs posted to http://localhost:3000 and CORS failed.
    servers: [
      { url: '/', description: 'The server this page was loaded from' },
      { url: issuer, description: 'ISSUER' },
    ],
    components: {
      securitySchemes: {
        OAuth2PasswordBearer: {
          type: 'oauth2' as const,
          description: 'Sign in with your email (as username) and password; the access token is then sent with every request.',
          flows: { password: { tokenUrl: '/auth/login', scopes: {} } },
        },
        BearerAuth: {
          type: 'http' as const,
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'Or an access token you already have (the `access_token` of POST /auth/login or /auth/refresh).',
        },
        RevocationFeedToken: {
          type: 'http' as const,
          scheme: 'bearer',
          description: 'REVOCATION_FEED_TOKEN, for services that follow the revocation feed (not an access token; docs/verify.md).',
        },
        RefreshCookie: {
          type: 'apiKey' as const,
          in: 'cookie' as const,
          name: 'lk_refresh',
          description: 'Cookie mode: the HttpOnly refresh cookie, with the X-CSRF-Token header.',
        },
      },
    },
  };
}

/**
 * The one inline <style> element of Swagger UI: the colours of the logo in its top bar
 * (swagger-ui-standalone-preset.js). Allowed by its hash; the Chromium test of the docs page
 * fails on any CSP violation, so a Swagger UI update that changes it is noticed.
 */
const SWAGGER_UI_LOGO_STYLE = '.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}';

/**
 * The policy of the docs pages (Swagger UI): its own scripts and style sheets only (no inline
 * script; one inline style element, by hash; the styles it sets from script are CSSOM, which
 * style-src does not govern), images from itself and data: URLs (its icons), calls to the page's
 * own origin and to ISSUER (the document's two servers), no plugin, no <base>, forms only to
 * itself, and no framing: the Authorize form cannot be overlaid by another site (clickjacking).
 */
export function docsContentSecurityPolicy(issuer: string): string {
  const issuerOrigin = new URL(issuer).origin;
  const logoStyle = `'sha256-${createHash('sha256').update(SWAGGER_UI_LOGO_STYLE).digest('base64')}'`;
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' ${logoStyle}`,
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src 'self' ${issuerOrigin}`,
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** A security requirement list of an operation: each entry names the schemes that satisfy it together. */
type SecurityRequirements = Array<Record<string, string[]>>;

/**
 * Schemes the docs page leaves out: the refresh cookie (a page cannot set an HttpOnly cookie, so
 * its field in the Authorize dialog would do nothing; the browser sends the cookie it has anyway)
 * and the revocation feed's credential (for services, not for people trying the API; a second
 * bearer field would only confuse the dialog). /openapi.json keeps both: they are true for tools.
 */
const NOT_ON_THE_PAGE = ['RefreshCookie', 'RevocationFeedToken'];

/** The document as the docs page gets it (/docs/json), without the schemes of NOT_ON_THE_PAGE. */
export function forTheDocsPage(document: Record<string, unknown>): Record<string, unknown> {
  const components = document.components as { securitySchemes?: Record<string, unknown> } | undefined;
  for (const scheme of NOT_ON_THE_PAGE) if (components?.securitySchemes) delete components.securitySchemes[scheme];
  for (const operations of Object.values((document.paths ?? {}) as Record<string, Record<string, { security?: SecurityRequirements }>>)) {
    for (const operation of Object.values(operations)) {
      if (!Array.isArray(operation.security)) continue;
      const kept = operation.security.filter((requirement) => !NOT_ON_THE_PAGE.some((scheme) => scheme in requirement));
      // Only such schemes: nothing the page can send (refresh and logout take the token in the body too).
      operation.security = kept.length > 0 ? kept : [{}];
    }
  }
  return document;
}

/** Request headers not passed on to the docs instance: they belong to the client's connection. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);
/** Response headers of the docs instance not copied to the real reply (the server sets its own). */
const NOT_COPIED = new Set([...HOP_BY_HOP, 'date', 'content-length']);

/**
 * The docs instance: a Fastify app that only knows the routes' method, URL and schema (no
 * validation or serialisation code is compiled for them), with @fastify/swagger and
 * @fastify/swagger-ui as the standalone server used to register them directly.
 */
async function buildDocsApp(routes: readonly RouteOptions[], options: ApiDocsOptions): Promise<FastifyInstance> {
  const [{ default: fastifySwagger }, { default: fastifySwaggerUi }] = await Promise.all([
    import('@fastify/swagger'),
    import('@fastify/swagger-ui'),
  ]);
  const docs = Fastify({ logger: false, exposeHeadRoutes: true });
  docs.setValidatorCompiler(() => () => true);
  docs.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await docs.register(fastifySwagger, { openapi: openApiDefinition(options.issuer) });
  const unused = async () => undefined;
  for (const route of routes) {
    const { method, url, schema, config, links } = route as RouteOptions & { links?: unknown };
    docs.route({ method, url, schema, config, links, handler: unused } as RouteOptions);
  }
  await docs.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    uiConfig: { persistAuthorization: false },
    logo: { type: 'image/svg+xml', content: DOCS_LOGO_SVG },
    theme: {
      title: DOCS_TITLE,
      css: [{ filename: 'latchkey.css', content: DOCS_STYLE_SHEET }],
      favicon: [{ filename: 'favicon.svg', rel: 'icon', type: 'image/svg+xml', sizes: 'any', content: DOCS_FAVICON_SVG }],
    },
    // A copy each time (the default): the cached document of /openapi.json stays whole.
    transformSpecification: (document) => forTheDocsPage(document),
  });
  await docs.ready();
  return docs;
}

/**
 * GET /openapi.json and the interactive page at /docs, loaded on the first request for them.
 *
 * @fastify/swagger and @fastify/swagger-ui (with @fastify/static, yaml, a JSON-schema resolver)
 * cost about 100-190 ms of start-up and a few MB of memory that most running servers never use.
 * Here the app only records every route as it is registered; the first request for the document
 * or the page builds a small Fastify instance with those routes (method, URL, schema only) and
 * the two plugins, which answers from then on: /openapi.json is its `swagger()` document, /docs
 * and /docs/* are passed to it with `inject`. The document is the one the plugins would have
 * produced inside the app itself (test/openapi.test.ts compares them).
 *
 * @example
 * if (config.http.docsEnabled) await app.register(apiDocs, { issuer: config.tokens.issuer });
 * await app.register(latchkey, { config });
 */
async function apiDocsPlugin(app: FastifyInstance, options: ApiDocsOptions): Promise<void> {
  const routes: RouteOptions[] = [];
  let docs: Promise<FastifyInstance> | undefined;
  const load = (): Promise<FastifyInstance> => {
    docs ??= buildDocsApp(routes, options);
    // A failure is not cached: the next request tries again.
    docs.catch(() => {
      docs = undefined;
    });
    return docs;
  };
  app.addHook('onClose', async () => {
    if (docs) await (await docs.catch(() => undefined))?.close();
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => (await load()).swagger());

  // Set on every /docs answer (the pages, their assets and redirects), never on other routes.
  const pageHeaders = {
    'content-security-policy': docsContentSecurityPolicy(options.issuer),
    'x-frame-options': 'DENY',
  };
  const forward = async (request: FastifyRequest, reply: FastifyReply) => {
    const headers: IncomingHttpHeaders = {};
    for (const [name, value] of Object.entries(request.headers)) if (!HOP_BY_HOP.has(name)) headers[name] = value;
    const res = await (await load()).inject({ method: request.method as 'GET' | 'HEAD', url: request.url, headers });
    void reply.code(res.statusCode);
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined && !NOT_COPIED.has(name)) void reply.header(name, value);
    }
    return reply.headers(pageHeaders).send(res.rawPayload);
  };
  app.get('/docs', { schema: { hide: true } }, forward);
  app.get('/docs/*', { schema: { hide: true } }, forward);

  // Every route registered from here on (after the three above, which the docs instance has
  // itself). HEAD routes are made by Fastify from the GET ones, here and in the docs instance.
  app.addHook('onRoute', (route) => {
    if (route.method !== 'HEAD') routes.push(route);
  });
}

/** The OpenAPI document and docs page of the standalone server, loaded on first use; see `apiDocsPlugin`. */
export const apiDocs = fp(apiDocsPlugin, { fastify: '5.x', name: 'latchkey-api-docs' });

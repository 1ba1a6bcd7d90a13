import Fastify, { type FastifyInstance } from 'fastify';
import { latchkey, latchkeyClientErrorHandler, latchkeyFrameworkErrors, type ConfigSections, type LogLevel } from '@latchkey/server';

/** An order of the shop; a real app would keep these in its own database. */
interface Order {
  id: string;
  item: string;
  quantity: number;
}

export interface ShopOptions {
  /**
   * Latchkey's settings, by section, each partial and typed: what is not set is Latchkey's default
   * (README of this example). For instance `{ tokens: { issuer }, store: { databaseUrl } }`.
   */
  latchkey?: ConfigSections;
  /** Where Latchkey's routes are mounted; default "/identity". */
  authPrefix?: string;
  /** The shop's log level (its logger is Latchkey's too); default "info". */
  logLevel?: LogLevel;
}

/**
 * A user's own Fastify app with Latchkey mounted inside it: the auth routes live under
 * `/identity` (register, login, refresh, logout, sessions, JWKS), and the shop's business route
 * `GET /api/orders` is protected by one decorator, `app.requireUser`.
 *
 * @example
 * const app = await buildShop({ latchkey: { tokens: { issuer: 'https://shop.example' }, store: { databaseUrl: 'sqlite:./data/shop.db' } } });
 * await app.listen({ port: 3000 });
 */
export async function buildShop(options: ShopOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: options.logLevel ?? 'info' },
    // What Node's parser (a bad Content-Length, headers over the limit) and Fastify's router (a
    // badly percent-encoded URL, a path parameter over maxParamLength) refuse before any route is
    // chosen: problem+json like Latchkey's own refusals, instead of Fastify's default JSON.
    clientErrorHandler: latchkeyClientErrorHandler,
    frameworkErrors: latchkeyFrameworkErrors,
    routerOptions: { maxParamLength: 200 },
  });

  // Same routes, storage and keys as the standalone server, mounted under a prefix. A bad
  // setting stops registration with a message naming it (e.g. "tokens.accessTokenTtlMs: ...").
  await app.register(latchkey, { ...options.latchkey, prefix: options.authPrefix ?? '/identity' });

  const orders = new Map<string, Order[]>();

  app.get('/', async () => ({ shop: 'open', login: `${options.authPrefix ?? '/identity'}/auth/login` }));

  // The business route: a valid access token of a live session, or 401 with WWW-Authenticate.
  // `request.auth` then holds the verified claims, the user and the session.
  app.get('/api/orders', { preHandler: app.requireUser }, async (request) => {
    const { user, session } = request.auth!;
    let mine = orders.get(user.id);
    if (!mine) {
      // Every new customer starts with a welcome order, so the route has something to show.
      mine = [{ id: `welcome-${user.id}`, item: 'welcome tea', quantity: 1 }];
      orders.set(user.id, mine);
    }
    return { customer: { id: user.id, email: user.email, roles: user.roles }, session: session.id, orders: mine };
  });

  return app;
}

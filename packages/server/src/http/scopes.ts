import type { FastifyInstance, FastifyPluginAsync, preHandlerHookHandler } from 'fastify';

/**
 * A scope (Fastify encapsulation) whose every route runs `guard` as its preHandler before the
 * handler: authentication is declared once on the scope instead of called in each handler, so
 * a route added to `routes` cannot forget it.
 *
 * @example
 * await app.register(guardedScope(authGuard(ctx), eventRoutes), { ctx });
 */
export function guardedScope<O extends object>(guard: preHandlerHookHandler, routes: FastifyPluginAsync<O>): FastifyPluginAsync<O> {
  return async function scope(app: FastifyInstance, opts: O): Promise<void> {
    app.addHook('preHandler', guard);
    await app.register(routes, opts);
  };
}

import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, preHandlerAsyncHookHandler } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { errorHandler } from '../../http/error-handler.js';
import { failureToError } from '../../http/failures.js';
import { bearerToken } from '../../http/request.js';
import { failure, type Outcome } from '../../outcome.js';
import { authenticateAccessToken, type AuthState } from './authenticate.js';

export type { AuthState } from './authenticate.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, set by the signed-in and admin scopes' preHandler (and by `requireUser`); else null. */
    auth: AuthState | null;
  }
}

/**
 * The caller of a request with a bearer token, or why it is refused (UNAUTHORIZED, INVALID_TOKEN).
 *
 * @example
 * const auth = await authenticateRequest(ctx, request); // logout: a valid token is optional there
 */
export function authenticateRequest(ctx: LatchkeyContext, request: FastifyRequest): Promise<Outcome<AuthState>> {
  return authenticateAccessToken(ctx, bearerToken(request), request.log);
}

export interface GuardOptions {
  /** A role the caller's stored user must hold (403 FORBIDDEN otherwise), e.g. `admin`. */
  role?: string;
}

/**
 * The preHandler of a scope whose routes need a signed-in caller: 401 unless the request carries
 * a valid access token of a live session, 403 when `role` is given and the stored user lacks it;
 * otherwise it sets `request.auth`. Declared once on the scope (see http/scopes.ts), so a route
 * added there cannot skip it.
 *
 * Callback-style, not async: an async hook would add a promise and a microtask hop to every
 * request of GET /auth/me, the hottest route.
 *
 * @example
 * await app.register(guardedScope(authGuard(ctx, { role: ADMIN_ROLE }), adminRoutes), { ctx });
 */
export function authGuard(ctx: LatchkeyContext, options: GuardOptions = {}) {
  const { role } = options;
  return function guard(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    authenticateRequest(ctx, request).then((outcome) => {
      if (!outcome.ok) return done(failureToError(outcome));
      if (role !== undefined && !outcome.value.user.roles.includes(role)) {
        return done(failureToError(failure('FORBIDDEN', `This route requires the ${role} role.`)));
      }
      request.auth = outcome.value;
      done();
    }, done);
  };
}

/**
 * The `requireUser` decorator of embedded mode, for a host app's own routes: the same check as
 * `authGuard`, answered here (not by the host's error handler), so host routes get the same
 * problem+json and WWW-Authenticate challenge as Latchkey's own routes.
 *
 * @example
 * app.get('/orders', { preHandler: app.requireUser }, async (request) => request.auth!.user.id);
 */
export function requireUser(ctx: LatchkeyContext): preHandlerAsyncHookHandler {
  return async function requireUser(request, reply) {
    let outcome: Outcome<AuthState>;
    try {
      outcome = await authenticateRequest(ctx, request);
    } catch (err) {
      return errorHandler(err as Error, request, reply);
    }
    if (!outcome.ok) return errorHandler(failureToError(outcome), request, reply);
    request.auth = outcome.value;
    return undefined;
  } as preHandlerAsyncHookHandler;
}

import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestHookHandler,
  RouteOptions,
} from 'fastify';
import fp from 'fastify-plugin';
import { authenticationShortfall, checkRequirement, type AuthenticationRequirement } from './authentication.js';
import type { AccessTokenClaims } from './claims.js';
import { InvalidTokenError } from './errors.js';
import { bearerToken, buildRefusals, hasRoles, refusalFor, type Refusal, type Refusals } from './http.js';
import { Verifier, type VerifierOptions } from './verifier.js';

/** What a protected route demands beyond a valid token. */
export interface RouteAuthOptions extends AuthenticationRequirement {
  /** The caller must have every one of these roles (else 403 insufficient_scope). */
  roles?: readonly string[];
}

/** Either a verifier you built, or the options to build one. */
export type LatchkeyVerifyOptions = (VerifierOptions | { verifier: Verifier }) & {
  /** `realm` of the WWW-Authenticate challenges; omitted by default. */
  realm?: string;
};

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified claims on routes protected by `@latchkey/verify/fastify`; null elsewhere. */
    auth: AccessTokenClaims | null;
  }
  interface FastifyInstance {
    /** The verifier behind the plugin (its `stats` are useful for metrics). */
    latchkeyVerifier: Verifier;
    /** An onRequest/preHandler hook that demands a valid token (and `roles`), for manual wiring. */
    requireAuth(options?: RouteAuthOptions): onRequestHookHandler;
  }
  interface FastifyContextConfig {
    /**
     * `true`: a valid access token is required; `{ roles }`: and these roles too; `{ maxAge, amr }`:
     * and a recent (seconds) or strong enough authentication (403 REAUTHENTICATION_REQUIRED otherwise).
     */
    auth?: boolean | RouteAuthOptions;
  }
}

function send(reply: FastifyReply, refusal: Refusal): void {
  void reply.code(refusal.status).headers(refusal.headers).send(refusal.body);
}

function makeHook(verifier: Verifier, refusals: Refusals, roles: readonly string[], requirement: AuthenticationRequirement): onRequestHookHandler {
  const forbidden = roles.length > 0 ? refusals.forbidden(roles) : undefined;
  const stepUp = requirement.maxAge !== undefined || requirement.amr !== undefined ? refusals.reauthenticate(requirement.maxAge) : undefined;
  const accept = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction, claims: AccessTokenClaims) => {
    if (forbidden !== undefined && !hasRoles(claims, roles)) return send(reply, forbidden);
    if (stepUp !== undefined && authenticationShortfall(claims, requirement, verifier.now()) !== null) return send(reply, stepUp);
    request.auth = claims;
    done();
  };
  // Callback style on purpose: a cached token is accepted synchronously, without a promise.
  return function latchkeyAuth(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const token = bearerToken(request.headers.authorization);
    if (token === null) return send(reply, refusals.missing);
    const cached = verifier.peek(token);
    if (cached !== undefined) return accept(request, reply, done, cached);
    verifier.verify(token).then(
      (claims) => accept(request, reply, done, claims),
      (err: unknown) => {
        request.log.debug({ reason: err instanceof InvalidTokenError ? err.reason : (err as Error).name }, 'access token refused');
        send(reply, refusalFor(refusals, err));
      },
    );
  };
}

const HOOK_MARK = Symbol('latchkey-verify-hook');

const plugin: FastifyPluginCallback<LatchkeyVerifyOptions> = (app: FastifyInstance, options, done) => {
  // A verifier the plugin builds is the plugin's: it stops following the revocation feed with the
  // app, and reports the feed's outages through the app's logger.
  const owned = !('verifier' in options);
  const verifier =
    'verifier' in options
      ? options.verifier
      : new Verifier(
          options.revocations === undefined || options.revocations.log !== undefined
            ? options
            : { ...options, revocations: { ...options.revocations, log: (message: string) => app.log.warn(message) } },
        );
  if (owned) app.addHook('onClose', () => verifier.close());
  const refusals = buildRefusals(options.realm, verifier.jwksCooldownMs / 1000);
  const hookFor = (routeOptions: RouteAuthOptions = {}): onRequestHookHandler => {
    checkRequirement(routeOptions);
    const hook = makeHook(verifier, refusals, [...(routeOptions.roles ?? [])], { maxAge: routeOptions.maxAge, amr: routeOptions.amr });
    Object.defineProperty(hook, HOOK_MARK, { value: true });
    return hook;
  };

  app.decorate('latchkeyVerifier', verifier);
  app.decorate('requireAuth', hookFor);
  app.decorateRequest('auth', null);

  // Routes declared with `config: { auth }` get the hook first in their onRequest list, so no
  // other route code (and no body parsing) runs for a request without a valid token.
  app.addHook('onRoute', (route: RouteOptions) => {
    const auth = route.config?.auth;
    if (auth === undefined || auth === false) return;
    const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    if (existing.some((h) => (h as unknown as Record<symbol, unknown>)[HOOK_MARK] === true)) return;
    route.onRequest = [hookFor(auth === true ? {} : auth), ...existing] as RouteOptions['onRequest'];
  });
  done();
};

/**
 * Fastify plugin: verifies Latchkey access tokens on the routes that ask for it. Register it
 * before the routes it protects; `request.auth` then holds the verified claims.
 *
 * Answers 401 with `WWW-Authenticate: Bearer` (no token) or `error="invalid_token"`, 403 with
 * `error="insufficient_scope"` (missing role), 403 REAUTHENTICATION_REQUIRED with
 * `error="insufficient_user_authentication"` (authentication too old or too weak), 503 with `Retry-After` (key unknown and the JWKS
 * unreachable) — all as application/problem+json, like the Latchkey server. With `revocations`
 * (follow Latchkey's revocation feed), a revoked token gets the 401 with
 * `error_description="The access token has been revoked"`, and under `refuseAfterSeconds` a silent
 * feed a 503; the verifier the plugin built stops following when the app closes.
 *
 * @example
 * import latchkeyVerify from '@latchkey/verify/fastify';
 * await app.register(latchkeyVerify, {
 *   issuer: 'https://auth.example.com',
 *   audience: 'latchkey',
 *   jwksUrl: 'https://auth.example.com/.well-known/jwks.json',
 * });
 * app.get('/orders', { config: { auth: true } }, async (req) => ({ owner: req.auth!.sub }));
 * app.delete('/orders/:id', { config: { auth: { roles: ['admin'] } } }, async () => ({ ok: true }));
 * app.post('/payouts', { config: { auth: { maxAge: 300, amr: 'mfa' } } }, async () => ({ ok: true }));
 */
export const latchkeyVerify = fp(plugin, { fastify: '5.x', name: '@latchkey/verify' });
export default latchkeyVerify;

export type { AccessTokenClaims } from './claims.js';
export { Verifier, createVerifier, type VerifierOptions } from './verifier.js';

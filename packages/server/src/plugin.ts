import fastifyCookie from '@fastify/cookie';
import cluster from 'node:cluster';
import fastifyFormbody from '@fastify/formbody';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestHookHandler,
  preHandlerAsyncHookHandler,
} from 'fastify';
import fp from 'fastify-plugin';
import { systemClock, type Clock } from './clock.js';
import { CONFIG_SECTIONS, configFromSections, type Config, type ConfigSections, type RateLimitConfig } from './config.js';
import type { LatchkeyContext } from './context.js';
import { adminRoutes } from './features/admin/routes.js';
import { auditRoutes } from './features/audit/routes.js';
import { consoleRoutes } from './features/console/routes.js';
import { authRoutes } from './features/auth/routes.js';
import { MailDispatcher } from './features/email/dispatcher.js';
import { createMailer, type Mailer } from './features/email/mailer.js';
import { loadMailTemplatesOrFail } from './features/email/load-templates.js';
import { inviteRoutes } from './features/email/invite-routes.js';
import { emailRoutes, verificationRequestRoutes } from './features/email/routes.js';
import { emailSignInRoutes } from './features/email/sign-in-routes.js';
import { eventRoutes } from './features/events/routes.js';
import { passkeyLoginRoutes, passkeyRoutes } from './features/factors/passkey-routes.js';
import { mfaEnrollmentRoutes } from './features/factors/enrollment-routes.js';
import { factorRoutes, mfaRoutes } from './features/factors/routes.js';
import { reauthenticationRoutes } from './features/factors/step-up-routes.js';
import { withStepUp } from './features/factors/step-up.js';
import { healthRoutes } from './features/health/routes.js';
import { oauthProviderRoutes } from './features/oauth-provider/mount.js';
import { startHousekeeping } from './features/housekeeping/purge.js';
import { createMetrics } from './features/metrics/registry.js';
import { metricsRoutes } from './features/metrics/routes.js';
import { startMetricsServer } from './features/metrics/server.js';
import { counterBackend } from './features/ratelimit/backend.js';
import { BatchedDatabaseCounters, canBatchRateCounts } from './features/ratelimit/batched-counters.js';
import { DatabaseCounters, MemoryCounters, RedisCounters, type CounterStore } from './features/ratelimit/counters.js';
import { rateLimitHook } from './features/ratelimit/limits.js';
import { LoginBackoff } from './features/ratelimit/login-backoff.js';
import { PRIMARY_COUNTERS_ENV, PrimaryCounters } from './features/ratelimit/primary-counters.js';
import { authGuard, requireUser } from './features/sessions/guard.js';
import { ownSessionRoutes, sessionRoutes } from './features/sessions/routes.js';
import { revocationRoutes } from './features/sessions/revocation-routes.js';
import { adminIdentityRoutes, identityRoutes, socialRoutes } from './features/social/routes.js';
import { ADMIN_ROLE } from './features/users/fields.js';
import { profileRoutes } from './features/users/routes.js';
import { oauthClientAdminRoutes } from './features/oauth-provider/client-routes.js';
import { connectedAppRoutes, oauthGrantAdminRoutes } from './features/oauth-provider/grant-routes.js';
import { webhookAdminRoutes } from './features/webhooks/routes.js';
import { WebhookWorker } from './features/webhooks/worker.js';
import { wellKnownRoutes } from './features/wellknown/routes.js';
import { refuseFormsOutsideOAuth, refuseNulCharacters } from './http/content-type.js';
import { refuseCrossSiteSimpleRequests } from './http/cross-site.js';
import { errorHandler } from './http/error-handler.js';
import { guardedScope } from './http/scopes.js';
import { passwordHasherFor } from './passwords/hasher.js';
import { openStore } from './store/index.js';
import type { Store } from './store/types.js';
import { AccessTokens } from './tokens/access-token.js';
import { KeyRing, configuredSigningKey, retiredKeyLifetimeMs, secretBoxFor } from './tokens/keys.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/**
 * The plugin's options: the configuration, as sections (each partial, typed, validated like the
 * environment) and/or a loaded `config`, and the parts a host may supply itself.
 *
 * What no section sets comes from `config` when it is given, else it is the default: the plugin
 * never reads the environment. To configure from the environment and adjust a few settings,
 * pass both: `{ config: loadConfig(readEnvironment()), rateLimit: { rateLimitEnabled: false } }`.
 */
export interface LatchkeyOptions extends ConfigSections {
  /** A configuration from `loadConfig`; the sections given beside it override its values. */
  config?: Config;
  /** A store to use instead of opening `store.databaseUrl` (the caller then owns closing it). */
  storeInstance?: Store;
  clock?: Clock;
  /** Where mail goes instead of SMTP_URL / the outbox, e.g. `new SmtpMailer(transport, from)`; closed with the app. */
  mailer?: Mailer;
  /** Mount point of the routes, e.g. "/identity"; default none. */
  prefix?: string;
  /**
   * Serve the admin console at `<prefix>/console/` (default false here; the standalone server
   * passes true). CONSOLE_ENABLED=false turns it off either way.
   */
  console?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Latchkey's services, for routes of the host app that need them. */
    latchkey: LatchkeyContext;
    /** preHandler: 401 unless the request carries a valid access token of a live session; sets request.auth. */
    requireUser: preHandlerAsyncHookHandler;
  }
}

/**
 * Builds the services: store (migrated), hasher, keys (created on first start) and tokens.
 * The caller closes the store when it opened it (see `ownsStore`).
 */
export async function createContext(
  options: LatchkeyOptions,
  log: FastifyInstance['log'],
): Promise<{ ctx: LatchkeyContext; ownsStore: boolean }> {
  const config = configOf(options);
  // Before anything opens: a broken template stops start-up at once, naming its file.
  const mailTemplates = loadMailTemplatesOrFail(config.mail);
  const clock = options.clock ?? systemClock;
  const ownsStore = !options.storeInstance;
  const store = options.storeInstance ?? (await openStore(config.store.databaseUrl, { poolSize: config.store.databasePoolSize }));
  const { passwords, tokens: tokenConfig, mail: mailConfig, rateLimit, metrics: metricsConfig } = config;
  const hasher = passwordHasherFor(passwords, passwords.hashConcurrency, passwords.hashQueueMax);
  // The unknown-email dummy hash is built now, so that even the first such login costs one
  // verification; it runs while the migrations and keys load and is awaited before returning.
  const prepared = hasher.prepare();
  prepared.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"
  try {
    await store.migrate();
    const secrets = secretBoxFor(tokenConfig);
    const keys = new KeyRing(store, tokenConfig.jwtAlg, clock, retiredKeyLifetimeMs(tokenConfig), secrets);
    await keys.init(tokenConfig.keyReloadIntervalMs, await configuredSigningKey(tokenConfig, clock()));
    const tokens = new AccessTokens(tokenConfig, keys, clock);
    const mail = new MailDispatcher(options.mailer ?? (await createMailer(mailConfig)), log, mailConfig.mailRetryDelaysMs);
    if (!options.mailer && !mailConfig.smtpUrl) {
      log.warn({ outbox: mail.mailer.description }, 'SMTP_URL is not set: mail is written to MAIL_OUTBOX_DIR instead of being sent');
    }
    const counters = await openCounters(rateLimit, store, clock, log);
    const backoff = new LoginBackoff(rateLimit, counters, clock);
    const metrics = await createMetrics(metricsConfig.metricsToken !== null || metricsConfig.metricsPort !== null, {
      hashQueue: () => ({ depth: hasher.queue.depth, active: hasher.queue.active }),
      pool: () => store.poolStats?.() ?? null,
    });
    const webhooks = new WebhookWorker({ store, clock, log, secrets, config: config.webhooks });
    await prepared;
    return { ctx: { config, clock, store, hasher, keys, secrets, tokens, log, mail, mailTemplates, counters, backoff, metrics, webhooks }, ownsStore };
  } catch (err) {
    await hasher.close();
    if (ownsStore) await store.close();
    throw err;
  }
}

/**
 * The configuration the options give: `config` itself when no section is given beside it (the
 * very object, parsed once), else the sections on top of it or of the defaults
 * (`configFromSections`). A bad value throws a ConfigError naming its path, so registration fails.
 */
function configOf(options: LatchkeyOptions): Config {
  const sections: Record<string, unknown> = {};
  for (const section of CONFIG_SECTIONS) if (options[section] !== undefined) sections[section] = options[section];
  if (options.config && Object.keys(sections).length === 0) return options.config;
  return configFromSections(sections as ConfigSections, options.config);
}

/**
 * Opens the counter backend `counterBackend` picks (features/ratelimit/backend.ts). In a worker of
 * `serve --workers N` memory is the primary's (PrimaryCounters), shared by the workers; in a
 * worker of a host app's own cluster `auto` means the database. In the database, a store with a
 * batch upsert (PostgreSQL: a round trip per statement) counts the per-IP limits in batches;
 * SQLite's local statements count each hit exactly, across processes on the one file.
 */
async function openCounters(config: RateLimitConfig, store: Store, clock: Clock, log: FastifyInstance['log']): Promise<CounterStore> {
  const mode = !cluster.isWorker ? 'none' : process.env[PRIMARY_COUNTERS_ENV] === '1' ? 'latchkey' : 'foreign';
  const kind = counterBackend(config, store.kind, mode);
  if (kind === 'primary') return new PrimaryCounters();
  if (kind === 'redis') return RedisCounters.connect(config.redisUrl!, clock);
  if (kind === 'database') {
    if (!canBatchRateCounts(store)) return new DatabaseCounters(store, clock);
    return new BatchedDatabaseCounters(store, clock, {
      onFlushError: (err) => log.warn({ err: { message: err.message } }, 'rate-limit counters could not be saved; counting locally until the database answers'),
      onFlushRecovered: () => log.info('rate-limit counters saved again'),
    });
  }
  return new MemoryCounters(clock);
}

/**
 * One Ajv for Latchkey's routes, the same in standalone and embedded mode: no type coercion.
 * The route schemas are fixed in the code, so they are checked against the JSON Schema
 * meta-schema by a test (test/route-schemas.test.ts) instead of at every start (`validateSchema`
 * was about a third of the routes' compile time, 40-60 ms of start-up).
 */
function validatorCompiler() {
  const ajv = addFormats(
    new Ajv({ allErrors: true, coerceTypes: false, removeAdditional: false, useDefaults: true, strict: false, validateSchema: false }),
  );
  return ({ schema }: { schema: object }) => ajv.compile(schema);
}

const latchkeyPlugin: FastifyPluginAsync<LatchkeyOptions> = async (app, options) => {
  const { ctx, ownsStore } = await createContext(options, app.log);
  const stopHousekeeping = startHousekeeping(ctx);
  if (ctx.config.webhooks.workerEnabled) ctx.webhooks.start();

  app.decorate('latchkey', ctx);
  app.decorateRequest('auth', null);
  app.decorate('requireUser', requireUser(ctx));

  let metricsServer: import('node:http').Server | undefined;
  if (ctx.config.metrics.metricsPort !== null) {
    const port = ctx.config.metrics.metricsPort;
    app.addHook('onListen', async () => {
      metricsServer = await startMetricsServer(ctx, port, ctx.config.http.host);
      ctx.log.info({ port }, 'metrics listening');
    });
  }

  app.addHook('onClose', async () => {
    metricsServer?.close();
    stopHousekeeping();
    // Before the store closes: the pass in flight records its attempts (an attempt cut short
    // would be sent again once its lease ran out, never lost).
    await ctx.webhooks.stop();
    ctx.keys.stop();
    await ctx.counters.close();
    // Before the store closes: a message being prepared may still write its token.
    await ctx.mail.close();
    await ctx.hasher.close();
    if (ownsStore) await ctx.store.close();
  });

  await app.register(
    async (scope) => {
      // Where the routes really are: the prefix as given, inside any prefix the host registered
      // Latchkey under, without a trailing slash (Fastify joins "/identity/" + "/auth/login" as
      // "/identity/auth/login"). Rate-limit buckets, discovery URLs and the refresh cookie's
      // Path are worked out from it.
      const prefix = scope.prefix.replace(/\/+$/, '');
      scope.setErrorHandler(errorHandler);
      scope.setValidatorCompiler(validatorCompiler());
      if (!scope.hasRequestDecorator('cookies')) await scope.register(fastifyCookie);
      if (!scope.hasContentTypeParser('application/x-www-form-urlencoded')) await scope.register(fastifyFormbody);
      // Latchkey speaks JSON; the OAuth2 endpoints (login, refresh) also take the form encoding.
      // Any other body is 415 UNSUPPORTED_MEDIA_TYPE, not a confusing 422 (this scope only).
      if (scope.hasContentTypeParser('text/plain')) scope.removeContentTypeParser('text/plain');
      // Callback-style hooks on every request (no promise, no microtask hop per hook).
      scope.addHook('preValidation', refuseFormsOutsideOAuth);
      scope.addHook('preValidation', refuseNulCharacters);
      scope.addHook('onRequest', rateLimitHook(ctx.config.rateLimit, ctx.counters, ctx.clock, prefix, ctx.metrics));
      if (ctx.config.metrics.metricsToken !== null || ctx.config.metrics.metricsPort !== null) {
        scope.addHook('onResponse', (request, reply, done) => {
          const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) };
          ctx.metrics.httpRequests.inc(labels);
          ctx.metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
          done();
        });
      }
      const crossSiteGuard = refuseCrossSiteSimpleRequests(ctx.config);
      const { bodyLimitBytes } = ctx.config.http;
      scope.addHook('onRoute', (route) => {
        route.bodyLimit ??= bodyLimitBytes;
        // One static-header hook per route, no per-request hook on the scope. Answers about a
        // user, a session or a credential are never stored by a browser or a shared cache
        // (`Cache-Control: no-store`); only the public documents may be cached. Every answer
        // says `nosniff` (also set by sendProblem for refusals that come before these hooks).
        const own: onRequestHookHandler[] = [isPublicDocument(route.url.slice(prefix.length)) ? publicHeaders : privateHeaders];
        // A POST that a page of another site can send without a preflight is refused (CSRF).
        // (Not the OAuth provider's endpoints: no cookie authenticates them, and a browser app
        // posts its token request from its own origin; mount.ts.)
        const crossSiteAllowed = (route.config as { crossSiteAllowed?: boolean } | undefined)?.crossSiteAllowed === true;
        if (!crossSiteAllowed && (route.method === 'POST' || (Array.isArray(route.method) && route.method.includes('POST')))) own.push(crossSiteGuard);
        route.onRequest = [...own, ...hookList(route.onRequest)];
      });
      // Authentication is declared by the scope a route is registered in, never called by a
      // handler: the signed-in scope's preHandler authenticates the caller and sets
      // request.auth, the admin scope's also requires the `admin` role of the stored user.
      const signedIn = authGuard(ctx);
      const adminRole = authGuard(ctx, { role: ADMIN_ROLE });
      // STEP_UP_ADMIN=true: every state-changing admin request also needs a recent authentication.
      const admin = ctx.config.factors.stepUpAdmin ? withStepUp(ctx, adminRole) : adminRole;
      const routeOpts = { ctx, mountPrefix: prefix };
      // In this order: it is the order of the OpenAPI document's paths.
      const rooms: Array<FastifyPluginAsync<typeof routeOpts>> = [
        authRoutes, // register, login
        mfaRoutes, // mfa/verify: the second half of a login with a second factor
        passkeyLoginRoutes, // passkeys/login/*: a sign-in with a passkey alone; mfa/passkey/options
        mfaEnrollmentRoutes, // mfa/enroll/*: the enrolment MFA_REQUIRED_ROLES demands before a session
        guardedScope(signedIn, profileRoutes), // GET, PATCH /auth/me
        sessionRoutes, // refresh, csrf, logout (with an access token or a refresh token)
        guardedScope(signedIn, ownSessionRoutes), // logout-all, sessions, change-password
        guardedScope(signedIn, factorRoutes), // factors: list, TOTP enrolment and removal, recovery codes
        guardedScope(signedIn, passkeyRoutes), // passkeys: register, list, rename, remove
        guardedScope(signedIn, reauthenticationRoutes), // reauthenticate: step-up of the session
        guardedScope(signedIn, verificationRequestRoutes), // email/verify-request
        emailRoutes, // email/verify, email/verify-resend, password/forgot, password/reset
        inviteRoutes, // invite/accept
        emailSignInRoutes, // email/sign-in, email/sign-in/verify (EMAIL_SIGN_IN)
        guardedScope(signedIn, eventRoutes),
        guardedScope(admin, adminRoutes),
        socialRoutes, // oauth: providers, start, callback, exchange (docs/social-login.md)
        guardedScope(signedIn, identityRoutes), // identities: list, link, unlink
        guardedScope(admin, adminIdentityRoutes), // admin/users/{id}/identities
        guardedScope(admin, auditRoutes), // admin/audit, admin/audit/export
        guardedScope(admin, webhookAdminRoutes), // admin/webhooks (docs/webhooks.md)
        guardedScope(admin, oauthClientAdminRoutes), // admin/oauth/clients (docs/oauth-provider.md)
        guardedScope(admin, oauthGrantAdminRoutes), // admin/oauth/clients/{id}/grants
        guardedScope(signedIn, connectedAppRoutes), // connected-apps: the OAuth clients a user granted access
        revocationRoutes, // revocations, revocations/stream: its own REVOCATION_FEED_TOKEN
        metricsRoutes, // its own METRICS_TOKEN
        wellKnownRoutes,
        healthRoutes,
      ];
      for (const routes of rooms) await scope.register(routes, routeOpts);
      // OAUTH_PROVIDER: /oauth/* and the provider's discovery (docs/oauth-provider.md).
      if (ctx.config.oauth.provider) await scope.register(oauthProviderRoutes, routeOpts);
    },
    { prefix: options.prefix ?? '' },
  );
  // Outside the scope above: static files from memory, with no rate limit, cookie or body parsing.
  if (options.console === true && ctx.config.http.consoleEnabled) await app.register(consoleRoutes, { prefix: options.prefix ?? '' });
};

/** Routes whose answers are the same for everyone and may be cached: keys, discovery, API docs. */
function isPublicDocument(path: string): boolean {
  return path.startsWith('/.well-known/') || path === '/openapi.json' || path === '/docs' || path.startsWith('/docs/');
}

function privateHeaders(_request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  void reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff');
  done();
}

function publicHeaders(_request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  void reply.header('x-content-type-options', 'nosniff');
  done();
}

function hookList<T>(hooks: T | T[] | undefined): T[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];
}

/**
 * Latchkey as a Fastify plugin: `app.register(latchkey, { prefix, ...sections })` mounts the auth
 * routes, storage and keys inside a host app and decorates it with `requireUser`. The
 * configuration is given as sections (see LatchkeyOptions) or as a loaded `config`.
 *
 * @example
 * const app = Fastify();
 * await app.register(latchkey, { prefix: '/identity', tokens: { issuer: 'https://shop.example' }, store: { databaseUrl: 'sqlite:./data/shop.db' } });
 * // or from the environment: await app.register(latchkey, { config: loadConfig(readEnvironment()), prefix: '/identity' });
 * app.get('/orders', { preHandler: app.requireUser }, async (req) => ({ owner: req.auth!.user.id }));
 */
export const latchkey = fp(latchkeyPlugin, { fastify: '5.x', name: 'latchkey' });

import Fastify, { LogController, type FastifyInstance } from 'fastify';
import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Config, HttpConfig } from './config.js';
import type { Mailer } from './features/email/mailer.js';
import { latchkeyClientErrorHandler } from './http/client-error.js';
import { registerCors } from './http/cors.js';
import { errorHandler, latchkeyFrameworkErrors } from './http/error-handler.js';
import { notFoundHandler, pathOf } from './http/not-found.js';
import { apiDocs } from './features/api-docs/routes.js';
import { latchkey } from './plugin.js';
import type { Store } from './store/types.js';
import { accessLogWriter } from './lib/access-log.js';
import { LazyRequestLogger } from './lib/lazy-request-logger.js';
import { stdoutLogDestination } from './lib/log-destination.js';
import { PrettyLogDestination } from './lib/log-pretty.js';
import { redactChildBindings, redactLogObject } from './lib/log-redaction.js';

export interface AppDeps {
  store?: Store;
  clock?: Clock;
  /** Where mail goes instead of SMTP_URL / the outbox (tests pass a real nodemailer transport). */
  mailer?: Mailer;
  /** Where log lines go, as JSON (tests capture them); default stdout, in `http.logFormat`. */
  logStream?: DestinationStream;
}

/**
 * The server's logger at `http.logLevel`, secrets masked. To stdout, as `http.logFormat` says:
 * one JSON object per line, or one readable line per event (`pretty`). A `stream` given gets the
 * JSON lines (tests parse them; wrap it in a PrettyLogDestination for pretty ones).
 */
export function createLogger(http: Pick<HttpConfig, 'logLevel'> & Partial<Pick<HttpConfig, 'logFormat'>>, stream?: DestinationStream): Logger {
  // stdout: asynchronous, one write per event-loop turn, flushed on exit (lib/log-destination.ts).
  // Pretty lines are made from the JSON lines, after redaction; the workers of `serve --workers`
  // share the terminal, so their lines keep the pid.
  const target =
    stream ?? (http.logFormat === 'pretty' ? new PrettyLogDestination(stdoutLogDestination(), { pid: cluster.isWorker }) : stdoutLogDestination());
  return redactChildBindings(pino(
    {
      level: http.logLevel,
      // Belt and braces: nothing logs secrets, and if something ever did they would be masked
      // (passwords, hashes, tokens, credential headers: see lib/log-redaction.ts, which is also
      // much cheaper per line than pino's `redact` option).
      formatters: { log: redactLogObject, bindings: redactLogObject },
    },
    target,
  ));
}

/**
 * Builds the standalone server: Latchkey's routes plus CORS, OpenAPI (/openapi.json, /docs), the
 * admin console (/console), one log line per request and problem+json for unknown routes. Never
 * listens.
 *
 * @example
 * const app = await buildApp(loadConfig(readEnvironment()));
 * await app.listen({ port: 3000 });
 */
export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const { http } = config;
  const log = createLogger(http, deps.logStream);
  const app = Fastify({
    loggerInstance: log,
    // One line per request is written by the onResponse hook below, not fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // request.log is built only if something logs through it (the access line does not).
    childLoggerFactory: (parent, bindings, options) => new LazyRequestLogger(parent as Logger, bindings, options),
    bodyLimit: http.bodyLimitBytes,
    trustProxy: http.trustProxy.length > 0 ? [...http.trustProxy] : false,
    genReqId: () => randomUUID(),
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    http: { maxHeaderSize: http.headerLimitBytes },
    clientErrorHandler: latchkeyClientErrorHandler,
    // The router's refusals (bad percent-encoding, a path parameter past maxParamLength) as problem+json.
    frameworkErrors: latchkeyFrameworkErrors,
    ajv: { customOptions: { coerceTypes: false, allErrors: true } },
  }) as unknown as FastifyInstance;

  app.setErrorHandler(errorHandler);

  // Graceful shutdown: once closing, every response asks the client to close its connection, and
  // idle kept-alive sockets are closed as they appear, so close() waits for in-flight requests
  // only, not for keep-alive timeouts.
  let closing = false;
  let sweeper: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    closing = true;
    sweeper = setInterval(() => app.server.closeIdleConnections?.(), 50);
    sweeper.unref();
  });
  app.addHook('onClose', async () => {
    if (sweeper) clearInterval(sweeper);
  });
  // The per-request hooks here are callback-style, not async: each async hook costs a promise
  // and a microtask hop on every request. Every answer of the server says `nosniff`: a JSON or
  // problem body is never sniffed into HTML or script (the docs, 404s and preflights included).
  app.addHook('onSend', (_request, reply, payload, done) => {
    void reply.header('x-content-type-options', 'nosniff');
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });
  app.setNotFoundHandler(notFoundHandler);

  // One access line per request, with the reqId that request.log would bind: the same line,
  // without building the request's child logger (lib/access-log.ts).
  const writeAccess = accessLogWriter(log);
  // Without TRUST_PROXY, a request through a proxy has the proxy's address: every client behind it
  // shares one rate-limit budget. Said once, at the first request that shows it (doctor can only
  // guess from ISSUER); a boolean test per request afterwards, in a hook that runs anyway.
  let proxyUnnoticed = config.http.trustProxy.length === 0;
  app.addHook('onResponse', (request, reply, done) => {
    if (proxyUnnoticed && (request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined)) {
      proxyUnnoticed = false;
      log.warn(
        { ip: request.ip },
        'a request came through a proxy (X-Forwarded-For or Forwarded) but TRUST_PROXY is not set: every client behind it is counted as the proxy and shares one rate-limit budget; set TRUST_PROXY to the proxy address (docs/deploy.md)',
      );
    }
    writeAccess({
      reqId: request.id,
      method: request.method,
      path: pathOf(request.url),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      ip: request.ip,
    });
    done();
  });

  // Only configured origins are echoed, with credentials; others get no CORS headers, and
  // their preflights a 403.
  registerCors(app, http.corsOrigins, { oauthProvider: config.oauth.provider });

  // /openapi.json and /docs: the plugins behind them load on the first request for them.
  if (http.docsEnabled) await app.register(apiDocs, { issuer: config.tokens.issuer });

  // The admin console (/console) is part of the standalone server; CONSOLE_ENABLED=false removes it.
  await app.register(latchkey, { config, storeInstance: deps.store, clock: deps.clock, mailer: deps.mailer, console: true });

  return app;
}

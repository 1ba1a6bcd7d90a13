import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { systemClock } from './clock.js';
import type { Config } from './config.js';
import { counterBackend } from './features/ratelimit/backend.js';
import { PRIMARY_COUNTERS_ENV, serveCountersToWorkers } from './features/ratelimit/primary-counters.js';
import { openStore } from './store/index.js';
import { generateKeyPairAhead } from './tokens/key-pair-ahead.js';
import { KeyRing, configuredSigningKey, retiredKeyLifetimeMs, secretBoxFor } from './tokens/keys.js';

/** The most workers `--workers` accepts; more than a few per core only adds contention. */
export const MAX_WORKERS = 256;

/** Header naming the worker (its pid) that answered; sent only when serving with several workers. */
export const WORKER_HEADER = 'x-latchkey-worker';

/**
 * Parses the value of `--workers`: a whole number from 1 to 256, or `auto` for one worker per
 * core (os.availableParallelism()). Undefined means the default, 1.
 *
 * @example
 * parseWorkers('auto'); // 2 on a two-core machine
 */
export function parseWorkers(raw: string | undefined): number {
  if (raw === undefined) return 1;
  const value = raw.trim().toLowerCase();
  if (value === 'auto') return availableParallelism();
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_WORKERS) {
    throw new Error(`--workers: expected a number from 1 to ${MAX_WORKERS} or "auto", got "${raw}"`);
  }
  return Number(value);
}

/** True in a process forked by `latchkey serve --workers N` with N > 1. */
export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/** In a cluster worker: every response names the worker, so that balancing can be observed. */
export function tagWorkerResponses(app: FastifyInstance): void {
  if (!cluster.isWorker) return;
  const pid = String(process.pid);
  app.addHook('onRequest', async (_request, reply) => {
    void reply.header(WORKER_HEADER, pid);
  });
}

/**
 * Everything that must happen once before the workers start, so that they do not race each
 * other: migrations, and the first signing key (or the key for a newly configured JWT_ALG).
 * `serve` also runs it while the HTTP stack loads, so that generating the first key overlaps
 * module loading; on a database that has its key it only reads the keys (a few ms).
 *
 * @example
 * const prepared = prepareDatabase(config);
 * const { buildApp } = await import('./app.js');
 * await prepared;
 */
export async function prepareDatabase(config: Pick<Config, 'store' | 'tokens'>): Promise<void> {
  const { tokens } = config;
  const store = await openStore(config.store.databaseUrl, { poolSize: 2 });
  try {
    if (tokens.jwtSecret === null && tokens.jwtPrivateKeyFile === null && (await store.pendingMigrations()).includes(1)) {
      // A database without even the first migration has no key: its key pair is made during
      // the migrations (on PostgreSQL, a few hundred ms of DDL round trips) instead of after.
      generateKeyPairAhead(tokens.jwtAlg);
    }
    await store.migrate();
    const ring = new KeyRing(store, tokens.jwtAlg, systemClock, retiredKeyLifetimeMs(tokens), secretBoxFor(tokens));
    await ring.init(0, await configuredSigningKey(tokens, Date.now()));
    ring.stop();
  } finally {
    await store.close();
  }
}

/** How long the primary waits for workers to finish their graceful shutdown before SIGKILL. */
const WORKER_STOP_GRACE_MS = 30_000;
/** A worker that dies sooner than this after its start counts as a failed start (backoff). */
const EARLY_EXIT_MS = 5_000;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * The primary of `latchkey serve --workers N`: prepares the database once, forks N workers
 * (node:cluster; they share the listening port, connections are dealt round-robin), restarts a
 * worker that dies, and on SIGTERM or SIGINT stops every worker gracefully before exiting.
 * Never resolves while serving; the process exits when shutdown completes.
 */
export async function servePrimary(config: Config, workers: number, logger?: Logger): Promise<number> {
  // The backend every worker will pick, for the start-up line. With memory (the SQLite default)
  // the counters are this process's, answered to the workers over IPC: limits and the login
  // backoff count once for the whole server, not once per worker.
  const counters = counterBackend(config.rateLimit, config.store.databaseUrl.startsWith('sqlite:') ? 'sqlite' : 'postgres', 'latchkey');
  serveCountersToWorkers(cluster, systemClock);
  const log = logger ?? (await import('./app.js')).createLogger(config.http);
  await prepareDatabase(config);

  let shuttingDown = false;
  let failedStarts = 0;
  const startedAt = new Map<number, number>();

  const fork = (): Worker => {
    const worker = cluster.fork({ [PRIMARY_COUNTERS_ENV]: '1' });
    startedAt.set(worker.id, Date.now());
    return worker;
  };

  cluster.on('listening', (worker, address) => {
    failedStarts = 0;
    log.info({ worker: worker.process.pid, port: address.port }, 'worker listening');
  });

  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker.id) ?? 0);
    startedAt.delete(worker.id);
    if (shuttingDown) return;
    // A worker that keeps failing at start-up (database down, port taken) is restarted with a
    // growing delay instead of in a tight fork loop; one that ran for a while comes back at once.
    const early = lived < EARLY_EXIT_MS;
    if (early) failedStarts++;
    const delay = early ? Math.min(MAX_RESTART_DELAY_MS, 250 * 2 ** failedStarts) : 0;
    log.warn({ worker: worker.process.pid, code, signal, restartInMs: delay }, 'worker exited; restarting it');
    setTimeout(() => {
      if (!shuttingDown) fork();
    }, delay).unref();
  });

  const stopAll = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      log.warn({ signal }, 'second signal: killing workers now');
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(1);
    }
    shuttingDown = true;
    log.info({ signal, workers: Object.keys(cluster.workers ?? {}).length }, 'shutting down workers');
    const living = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
    if (living.length === 0) process.exit(0);
    let remaining = living.length;
    const deadline = setTimeout(() => {
      log.error('workers did not stop in time; killing them');
      for (const w of living) if (!w.isDead()) w.process.kill('SIGKILL');
      process.exit(1);
    }, WORKER_STOP_GRACE_MS);
    deadline.unref();
    for (const w of living) {
      w.once('exit', () => {
        remaining--;
        if (remaining === 0) {
          log.info('all workers stopped');
          process.exit(0);
        }
      });
      w.process.kill('SIGTERM');
    }
  };
  process.on('SIGTERM', () => stopAll('SIGTERM'));
  process.on('SIGINT', () => stopAll('SIGINT'));

  log.info({ workers, port: config.http.port, host: config.http.host, rateLimitStore: config.rateLimit.rateLimitEnabled ? counters : 'off' }, 'starting workers');
  for (let i = 0; i < workers; i++) fork();
  return new Promise<number>(() => undefined);
}

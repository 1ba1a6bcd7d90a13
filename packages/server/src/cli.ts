import cluster from 'node:cluster';
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, loadConfig, readEnvironment, type Config, type StoreConfig } from './config.js';
import { parseCommandArgs, UsageError } from './lib/cli-args.js';
import { NoPasswordError } from './lib/terminal.js';
import { describeDatabaseUrl, sqlitePathFromUrl } from './store/database-url.js';
import type { Store } from './store/types.js';
import { generateKeyPairAhead } from './tokens/key-pair-ahead.js';

// Every other module is imported by the command that needs it: `serve` never loads the import,
// backup or doctor code, and starts making the first signing key before the HTTP stack has
// loaded (see `serve`).
const USAGE = `Usage: latchkey <command>

Commands:
  serve                       start the server (PORT, HOST, DATABASE_URL, ...)
    [--workers N|auto]        N processes sharing the port (auto: one per core; default 1)
  migrate                     apply pending database migrations
  keys rotate                 make a new signing key active; old keys stay published until their tokens expire
  keys list                   list signing keys (never the private parts)
  users list [--search TEXT] [--role ROLE] [--disabled|--enabled] [--verified|--unverified] [--limit N]
  users show USER             one user (USER: email or id) with live sessions and recent events
  users create --email E [--name N] [--role R]... [--verified]
                              create a user (password from LATCHKEY_PASSWORD, a prompt or stdin)
  users create-admin --email E [--name N]
                              create an admin (password from LATCHKEY_ADMIN_PASSWORD, a prompt or stdin)
  users disable USER | users enable USER
                              disabling ends the user's sessions
  users set-roles USER ROLE... | --none [--end-sessions]
  users reset-password USER   set a new password (LATCHKEY_PASSWORD, a prompt or stdin); ends every session
  users delete USER --yes     delete the user with their sessions and events
  users import FILE --format mongo|sql|kv|jsonl [--dry-run] [--on-conflict skip|update]
                              bring users over with their password hashes (docs/import.md)
  users export --format jsonl [--output FILE]
                              every user with hash and metadata, one JSON object per line
  webhooks create --url URL --events TYPE,...  [--description D]
                              register a webhook endpoint; prints its signing secret once (docs/webhooks.md)
  webhooks list | webhooks delete ID | webhooks deliveries ID [--status S]
  webhooks rotate-secret ID [--overlap 24h]
                              new secret; the old one also signs for the overlap
  clients create --name N --redirect-uri URI [--redirect-uri URI...] [--public] [--grant TYPE...] [--scope S...] [--first-party]
                              register an OAuth client; prints its client_id and secret once (docs/oauth-provider.md)
  clients list | clients delete ID
  clients rotate-secret ID    new client secret, printed once; the old one stops working
  backup FILE                 online backup of the SQLite database (safe while serving)
  restore FILE                replace the SQLite database with a backup (stop the server first)
  mail preview TEMPLATE [--locale L] [--format text|html|subject]
                              print a mail as it would be sent, with sample values (MAIL_TEMPLATES_DIR applied)
  doctor                      check configuration, file permissions, database, migrations, keys, clock and mail
  help                        this text
  --version                   the version of latchkey

Every command that uses the database names it on stderr (DATABASE_URL; default sqlite:./data/latchkey.db).
`;

function out(line: string): void {
  process.stdout.write(line + '\n');
}

function fail(message: string): number {
  process.stderr.write(`latchkey: ${message}\n`);
  return 1;
}

/** The package's version, from its package.json (one directory above dist/). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Says which database a command uses, on stderr: stdout stays the command's output. */
function announceDatabase(config: StoreConfig): void {
  process.stderr.write(`latchkey: database ${describeDatabaseUrl(config.databaseUrl)}\n`);
}

async function withStore<T>(config: StoreConfig, fn: (store: Store) => Promise<T>): Promise<T> {
  const { openStore } = await import('./store/index.js');
  announceDatabase(config);
  const store = await openStore(config.databaseUrl, { poolSize: 2 });
  try {
    await store.migrate();
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** True for a SQLite database file that does not exist yet (the first start). */
function isNewDatabase(config: StoreConfig): boolean {
  if (!config.databaseUrl.startsWith('sqlite:')) return false;
  const path = sqlitePathFromUrl(config.databaseUrl);
  return path !== ':memory:' && !existsSync(path);
}

/** The arguments after the command word, without the holes of a short argv. */
function argsOf(...args: Array<string | undefined>): string[] {
  return args.filter((a): a is string => a !== undefined);
}

/**
 * Runs the server until SIGTERM/SIGINT. Graceful shutdown: stop accepting connections, let
 * in-flight requests finish (new requests on kept-alive connections get 503), close the
 * database, exit 0. Past SHUTDOWN_TIMEOUT, or at a second signal, exit 1 at once.
 */
async function serve(config: Config): Promise<number> {
  const { isClusterWorker, prepareDatabase, tagWorkerResponses } = await import('./serve-cluster.js');
  // Migrations and the first signing key start before the HTTP stack loads: an RSA key takes
  // 100-400 ms on libuv's thread pool, which now overlaps the ~300 ms of loading Fastify and the
  // routes on the main thread instead of following it. buildApp then finds the key in the store.
  const prepared = prepareDatabase(config);
  prepared.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"
  const { buildApp } = await import('./app.js');
  await prepared;
  const app = await buildApp(config);
  tagWorkerResponses(app);
  app.log.info({ database: describeDatabaseUrl(config.store.databaseUrl) }, 'database ready');
  // From here on libuv's pool (token signatures, file system calls) runs below the event loop's
  // priority (THREAD_POOL_NICE, src/lib/pool-priority.ts). Not before: start-up work on the pool
  // (a first RSA key, the dummy hash) would then wait behind the main thread loading the server,
  // and a pool thread busy with it would hold up finding the pool's threads. It is done by now.
  if (config.http.threadPoolNice > 0) {
    const { lowerThreadPoolPriority } = await import('./lib/pool-priority.js');
    const started = performance.now();
    const pool = await lowerThreadPoolPriority(config.http.threadPoolNice);
    const ms = Math.round(performance.now() - started);
    app.log.info({ threads: pool.length, nice: config.http.threadPoolNice, ms }, 'thread pool priority lowered');
  }
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) {
      app.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    app.log.info({ signal, deadlineMs: config.http.shutdownTimeoutMs }, 'shutting down');
    const deadline = setTimeout(() => {
      app.log.error('in-flight requests did not finish before SHUTDOWN_TIMEOUT; exiting');
      process.exit(1);
    }, config.http.shutdownTimeoutMs);
    deadline.unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // A cluster worker is stopped by its primary (SIGTERM). Ctrl-C reaches the whole process
  // group, so a worker leaves SIGINT to the primary instead of counting it as a second signal.
  process.on('SIGINT', () => (isClusterWorker() ? undefined : shutdown('SIGINT')));
  await app.listen({ port: config.http.port, host: config.http.host });
  return new Promise<number>(() => undefined);
}

const KEYS_USAGE = 'usage: latchkey keys rotate|list';

async function keys(config: Config, sub: string | undefined, args: string[]): Promise<number> {
  if (sub !== 'rotate' && sub !== 'list') throw new UsageError(sub ? `unknown command "keys ${sub}"` : 'which keys command?', KEYS_USAGE);
  parseCommandArgs(args, {}, `usage: latchkey keys ${sub}`);
  const { KeyRing, retiredKeyLifetimeMs, secretBoxFor } = await import('./tokens/keys.js');
  const { systemClock } = await import('./clock.js');
  return withStore(config.store, async (store) => {
    if (sub === 'rotate') {
      if (config.tokens.jwtPrivateKeyFile !== null || config.tokens.jwtSecret !== null) {
        return fail('the signing key is configured (JWT_PRIVATE_KEY_FILE / JWT_SECRET): rotate by configuring a new key and restarting');
      }
      const ring = new KeyRing(store, config.tokens.jwtAlg, systemClock, retiredKeyLifetimeMs(config.tokens), secretBoxFor(config.tokens));
      await ring.init(0);
      const key = await ring.rotate();
      out(`new active key ${key.kid} (${key.alg}); previous keys stay published until their tokens expire`);
      out(`running servers pick it up within KEY_RELOAD_INTERVAL (${config.tokens.keyReloadIntervalMs / 1000}s)`);
      return 0;
    }
    const now = Date.now();
    const stored = await store.listSigningKeys();
    if (stored.length === 0) {
      out(
        config.tokens.jwtPrivateKeyFile !== null || config.tokens.jwtSecret !== null
          ? 'no signing keys stored yet: the configured key (JWT_PRIVATE_KEY_FILE / JWT_SECRET) is stored at the first start of the server'
          : 'no signing keys yet: the server creates one at its first start (or run `latchkey keys rotate`)',
      );
      return 0;
    }
    for (const k of stored) {
      const state = k.retiredAt === null ? 'active' : k.expiresAt !== null && k.expiresAt <= now ? 'expired' : 'retired';
      const until = k.expiresAt ? ` until ${new Date(k.expiresAt).toISOString()}` : '';
      out(`${k.kid}\t${k.alg}\t${state}${until}\tcreated ${new Date(k.createdAt).toISOString()}`);
    }
    return 0;
  });
}

/** `latchkey users ...`: import and export are the user-transfer room's, the rest the users room's. */
async function users(config: Config, sub: string | undefined, args: string[]): Promise<number> {
  if (sub === 'import' || sub === 'export') {
    const transfer = await import('./features/user-transfer/command.js');
    announceDatabase(config.store);
    return sub === 'import' ? transfer.runUsersImport(config.store, args) : transfer.runUsersExport(config.store, args);
  }
  const { runUsersCommand } = await import('./features/users/command.js');
  const { systemClock } = await import('./clock.js');
  return runUsersCommand(
    {
      config,
      clock: systemClock,
      withStore: (fn) => withStore(config.store, fn),
      hasher: async () => {
        const { passwordHasherFor } = await import('./passwords/hasher.js');
        // One hash at a time, none waiting: a command hashes one password.
        return passwordHasherFor(config.passwords, 1, 0);
      },
      out,
      fail,
    },
    sub,
    args,
  );
}

/** `latchkey webhooks ...`: the webhooks room's endpoint management. */
async function webhooks(config: Config, sub: string | undefined, args: string[]): Promise<number> {
  const { runWebhooksCommand } = await import('./features/webhooks/command.js');
  const { systemClock } = await import('./clock.js');
  return runWebhooksCommand({ config, clock: systemClock, withStore: (fn) => withStore(config.store, fn), out, fail }, sub, args);
}

/** `latchkey clients ...`: the OAuth provider's client management. */
async function clients(config: Config, sub: string | undefined, args: string[]): Promise<number> {
  const { runClientsCommand } = await import('./features/oauth-provider/command.js');
  const { systemClock } = await import('./clock.js');
  return runClientsCommand({ config, clock: systemClock, withStore: (fn) => withStore(config.store, fn), out, fail }, sub, args);
}

/**
 * A failure of a command as one message: a database that cannot be used names DATABASE_URL and
 * what to check (store/startup-errors.ts); anything else is its message.
 */
async function describeError(err: unknown, config: Config): Promise<string> {
  const { explainDatabaseError } = await import('./store/startup-errors.js');
  return explainDatabaseError(err, config.store.databaseUrl) ?? (err instanceof Error ? err.message : String(err));
}

/** The `latchkey` command line. Returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    out(USAGE);
    return command ? 0 : 1;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    out(`latchkey ${version()}`);
    return 0;
  }
  if (command === 'doctor') {
    if (sub !== undefined) return fail(`unexpected argument "${sub}"\nusage: latchkey doctor`);
    const { formatDoctor, runDoctor } = await import('./ops/doctor.js');
    const results = await runDoctor(readEnvironment());
    out(formatDoctor(results));
    return results.some((r) => r.status === 'fail') ? 1 : 0;
  }
  let config: Config;
  try {
    config = loadConfig(readEnvironment());
  } catch (err) {
    if (err instanceof ConfigError) return fail(`invalid configuration: ${err.message}`);
    throw err;
  }
  try {
    switch (command) {
      case 'serve': {
        const { values } = parseCommandArgs(argsOf(sub, ...rest), { workers: { type: 'string' } }, 'usage: latchkey serve [--workers N|auto]');
        if (isNewDatabase(config.store) && config.tokens.jwtSecret === null && config.tokens.jwtPrivateKeyFile === null) {
          // The first signing key is certainly needed: its key pair starts now, before even the
          // database and key code load (see prepareDatabase for the rest of the overlap).
          generateKeyPairAhead(config.tokens.jwtAlg);
        }
        if (!cluster.isWorker && config.mail.mailTemplatesDir !== null) {
          // A broken template of the operator's stops start-up before the database is touched or
          // workers fork: said once, naming the file (the app reads them again; a few ms).
          const { loadMailTemplatesOrFail } = await import('./features/email/load-templates.js');
          loadMailTemplatesOrFail(config.mail);
        }
        const { isClusterWorker, parseWorkers, servePrimary } = await import('./serve-cluster.js');
        const workers = parseWorkers(values.workers);
        if (workers > 1 && !isClusterWorker()) return await servePrimary(config, workers);
        return await serve(config);
      }
      case 'migrate': {
        parseCommandArgs(argsOf(sub, ...rest), {}, 'usage: latchkey migrate');
        // Not through withStore, which migrates first: this command reports what it applied.
        const { openStore } = await import('./store/index.js');
        announceDatabase(config.store);
        const store = await openStore(config.store.databaseUrl, { poolSize: 2 });
        try {
          const applied = await store.migrate();
          out(applied.length ? `applied migrations ${applied.join(', ')}` : 'database is up to date');
          return 0;
        } finally {
          await store.close();
        }
      }
      case 'keys':
        return await keys(config, sub, rest);
      case 'users':
        return await users(config, sub, rest);
      case 'webhooks':
        return await webhooks(config, sub, rest);
      case 'clients':
        return await clients(config, sub, rest);
      case 'backup': {
        const file = parseCommandArgs(argsOf(sub, ...rest), {}, 'usage: latchkey backup FILE', { min: 1, max: 1 }).positionals[0]!;
        const { backupSqlite } = await import('./ops/backup.js');
        announceDatabase(config.store);
        const done = await backupSqlite(config.store.databaseUrl, file);
        out(`backup written to ${file}: ${done.users} users, ${done.bytes} bytes`);
        return 0;
      }
      case 'restore': {
        const file = parseCommandArgs(argsOf(sub, ...rest), {}, 'usage: latchkey restore FILE', { min: 1, max: 1 }).positionals[0]!;
        const { restoreSqlite } = await import('./ops/backup.js');
        announceDatabase(config.store);
        const done = restoreSqlite(config.store.databaseUrl, file);
        out(`restored ${done.users} users from ${file}; the previous database is kept as *.before-restore`);
        return 0;
      }
      case 'mail': {
        const { runMailCommand } = await import('./features/email/preview.js');
        return await runMailCommand(config, sub, rest, (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`));
      }
      default:
        return fail(`unknown command "${command}"\n${USAGE}`);
    }
  } catch (err) {
    if (err instanceof UsageError) return fail(`${err.message}\n${err.usage}`);
    // A setting checked when it is used (a broken MAIL_TEMPLATES_DIR template), as loadConfig's are.
    if (err instanceof ConfigError) return fail(`invalid configuration: ${err.message}`);
    if (err instanceof NoPasswordError) return fail(err.message);
    return fail(await describeError(err, config));
  }
}

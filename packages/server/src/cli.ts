import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, readEnvironment, type Config } from './config.js';
import type { Failure } from './outcome.js';
import { sqlitePathFromUrl } from './store/database-url.js';
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
  users create-admin --email E [--name N]
                              create an admin (password from LATCHKEY_ADMIN_PASSWORD or a prompt)
  users import FILE --format mongo|sql|kv|jsonl [--dry-run] [--on-conflict skip|update]
                              bring users over with their password hashes (docs/import.md)
  users export --format jsonl [--output FILE]
                              every user with hash and metadata, one JSON object per line
  backup FILE                 online backup of the SQLite database (safe while serving)
  restore FILE                replace the SQLite database with a backup (stop the server first)
  doctor                      check configuration, file permissions, database, migrations, keys, clock and mail
  help                        this text
`;

function out(line: string): void {
  process.stdout.write(line + '\n');
}

function fail(message: string): number {
  process.stderr.write(`latchkey: ${message}\n`);
  return 1;
}

async function withStore<T>(config: Config, fn: (store: Store) => Promise<T>): Promise<T> {
  const { openStore } = await import('./store/index.js');
  const store = await openStore(config.databaseUrl, { poolSize: 2 });
  try {
    await store.migrate();
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** True for a SQLite database file that does not exist yet (the first start). */
function isNewDatabase(config: Config): boolean {
  if (!config.databaseUrl.startsWith('sqlite:')) return false;
  const path = sqlitePathFromUrl(config.databaseUrl);
  return path !== ':memory:' && !existsSync(path);
}

/** Reads a password without echoing it; never from argv, where `ps` and shell history see it. */
async function promptPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  const rlo = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WriteStream };
  let muted = false;
  rlo._writeToOutput = (s: string) => {
    if (!muted) rlo.output.write(s);
  };
  return new Promise((resolve) => {
    rl.question(prompt, (answer) => {
      rl.close();
      process.stdout.write('\n');
      resolve(answer);
    });
    muted = true;
  });
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
  // From here on libuv's pool (token signatures, file system calls) runs below the event loop's
  // priority (THREAD_POOL_NICE, src/lib/pool-priority.ts). Not before: start-up work on the pool
  // (a first RSA key, the dummy hash) would then wait behind the main thread loading the server,
  // and a pool thread busy with it would hold up finding the pool's threads. It is done by now.
  if (config.threadPoolNice > 0) {
    const { lowerThreadPoolPriority } = await import('./lib/pool-priority.js');
    const started = performance.now();
    const pool = await lowerThreadPoolPriority(config.threadPoolNice);
    const ms = Math.round(performance.now() - started);
    app.log.info({ threads: pool.length, nice: config.threadPoolNice, ms }, 'thread pool priority lowered');
  }
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) {
      app.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    app.log.info({ signal, deadlineMs: config.shutdownTimeoutMs }, 'shutting down');
    const deadline = setTimeout(() => {
      app.log.error('in-flight requests did not finish before SHUTDOWN_TIMEOUT; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
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
  await app.listen({ port: config.port, host: config.host });
  return new Promise<number>(() => undefined);
}

async function keys(config: Config, sub: string | undefined): Promise<number> {
  const { KeyRing, retiredKeyLifetimeMs, secretBoxFor } = await import('./tokens/keys.js');
  const { systemClock } = await import('./clock.js');
  return withStore(config, async (store) => {
    const ring = new KeyRing(store, config.jwtAlg, systemClock, retiredKeyLifetimeMs(config), secretBoxFor(config));
    if (sub === 'rotate') {
      if (config.jwtPrivateKeyFile !== null || config.jwtSecret !== null) {
        return fail('the signing key is configured (JWT_PRIVATE_KEY_FILE / JWT_SECRET): rotate by configuring a new key and restarting');
      }
      await ring.init(0);
      const key = await ring.rotate();
      out(`new active key ${key.kid} (${key.alg}); previous keys stay published until their tokens expire`);
      out(`running servers pick it up within KEY_RELOAD_INTERVAL (${config.keyReloadIntervalMs / 1000}s)`);
      return 0;
    }
    if (sub === 'list') {
      const now = Date.now();
      for (const k of await store.listSigningKeys()) {
        const state = k.retiredAt === null ? 'active' : k.expiresAt !== null && k.expiresAt <= now ? 'expired' : 'retired';
        const until = k.expiresAt ? ` until ${new Date(k.expiresAt).toISOString()}` : '';
        out(`${k.kid}\t${k.alg}\t${state}${until}\tcreated ${new Date(k.createdAt).toISOString()}`);
      }
      return 0;
    }
    return fail('usage: latchkey keys rotate|list');
  });
}

/** A service failure as one line for the terminal: the field errors, else the detail. */
function describeFailure(f: Failure): string {
  return f.fields?.map((e) => e.message).join(" ") || f.detail || f.code;
}

/**
 * `latchkey users create-admin`: a new admin through the users room (the one way a user is
 * created, with the server's rules and hasher), or the admin role for an existing account.
 */
async function createAdmin(config: Config, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { email: { type: 'string' }, name: { type: 'string' } } });
  if (!values.email) return fail('usage: latchkey users create-admin --email EMAIL [--name NAME]');
  const { ADMIN_ROLE, isValidEmail, normaliseEmail } = await import('./features/users/fields.js');
  // Checked before asking for the password: the rule the API applies, so that the admin can log
  // in and re-import from an export.
  if (!isValidEmail(normaliseEmail(values.email))) return fail(`not an email address: ${values.email}`);
  const { checkPasswordPolicy } = await import('./passwords/policy.js');
  const password = process.env.LATCHKEY_ADMIN_PASSWORD ?? (await promptPassword('Password: '));
  // Also before the database is opened (createUser checks it again).
  const policy = checkPasswordPolicy('password', password);
  if (policy) return fail(policy.message);
  const { createUser, grantRole } = await import('./features/users/service.js');
  const { passwordHasherFor } = await import('./passwords/hasher.js');
  const { systemClock } = await import('./clock.js');
  return withStore(config, async (store) => {
    // One hash at a time, none waiting: the command hashes one password.
    const hasher = passwordHasherFor(config, 1, 0);
    try {
      const deps = { store, hasher, clock: systemClock };
      const created = await createUser(deps, { email: values.email!, password, name: values.name, roles: [ADMIN_ROLE], emailVerified: true });
      if (created.ok) {
        out(`admin ${created.value.email} created (id ${created.value.id})`);
        return 0;
      }
      if (created.code !== 'EMAIL_TAKEN') return fail(describeFailure(created));
      const granted = await grantRole(deps, values.email!, ADMIN_ROLE);
      if (!granted.ok) return fail(describeFailure(granted));
      out(`${granted.value.email} already exists; role admin granted (password unchanged)`);
      return 0;
    } finally {
      await hasher.close();
    }
  });
}

/** The `latchkey` command line. Returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    out(USAGE);
    return command ? 0 : 1;
  }
  if (command === 'doctor') {
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
        if (isNewDatabase(config) && config.jwtSecret === null && config.jwtPrivateKeyFile === null) {
          // The first signing key is certainly needed: its key pair starts now, before even the
          // database and key code load (see prepareDatabase for the rest of the overlap).
          generateKeyPairAhead(config.jwtAlg);
        }
        const { values } = parseArgs({ args: [sub, ...rest].filter((a): a is string => a !== undefined), options: { workers: { type: 'string' } } });
        const { isClusterWorker, parseWorkers, servePrimary } = await import('./serve-cluster.js');
        const workers = parseWorkers(values.workers);
        if (workers > 1 && !isClusterWorker()) return await servePrimary(config, workers);
        return await serve(config);
      }
      case 'migrate': {
        // Not through withStore, which migrates first: this command reports what it applied.
        const { openStore } = await import('./store/index.js');
        const store = await openStore(config.databaseUrl, { poolSize: 2 });
        try {
          const applied = await store.migrate();
          out(applied.length ? `applied migrations ${applied.join(', ')}` : 'database is up to date');
          return 0;
        } finally {
          await store.close();
        }
      }
      case 'keys':
        return await keys(config, sub);
      case 'users':
        if (sub === 'create-admin') return await createAdmin(config, rest);
        if (sub === 'import') return await (await import('./features/user-transfer/command.js')).runUsersImport(config, rest);
        if (sub === 'export') return await (await import('./features/user-transfer/command.js')).runUsersExport(config, rest);
        return fail('usage: latchkey users create-admin|import|export ...');
      case 'backup': {
        if (!sub) return fail('usage: latchkey backup FILE');
        const { backupSqlite } = await import('./ops/backup.js');
        const done = await backupSqlite(config.databaseUrl, sub);
        out(`backup written to ${sub}: ${done.users} users, ${done.bytes} bytes`);
        return 0;
      }
      case 'restore': {
        if (!sub) return fail('usage: latchkey restore FILE');
        const { restoreSqlite } = await import('./ops/backup.js');
        const done = restoreSqlite(config.databaseUrl, sub);
        out(`restored ${done.users} users from ${sub}; the previous database is kept as *.before-restore`);
        return 0;
      }
      default:
        return fail(`unknown command "${command}"\n${USAGE}`);
    }
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
}

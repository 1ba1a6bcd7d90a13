import { importJWK, type JWK } from 'jose';
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import nodemailer from 'nodemailer';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { loadMailTemplatesOrFail } from '../features/email/load-templates.js';
import { describeSmtpUrl } from '../features/email/mailer.js';
import { modeOf, shellQuote } from '../lib/private-files.js';
import { openStore } from '../store/index.js';
import { isSealed } from '../lib/secret-box.js';
import { describeDatabaseUrl, sqlitePathFromUrl } from '../store/database-url.js';
import { explainDatabaseError } from '../store/startup-errors.js';
import type { Store } from '../store/types.js';
import { KeyEncryptionError, openPrivateJwk, secretBoxFor } from '../tokens/keys.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  message: string;
  /** How to fix it, for warn and fail. */
  fix?: string;
}

type Env = Record<string, string | undefined>;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function configChecks(config: Config): CheckResult[] {
  const out: CheckResult[] = [{ name: 'config', status: 'ok', message: 'every setting parses and validates' }];
  const issuer = new URL(config.tokens.issuer);
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(issuer.hostname);
  if (issuer.protocol !== 'https:' && !local) {
    out.push({
      name: 'config.tokens.issuer',
      status: 'warn',
      message: `ISSUER ${config.tokens.issuer} is not https`,
      fix: 'serve Latchkey behind TLS and set ISSUER=https://...',
    });
  }
  if (!config.sessions.cookieSecure) {
    out.push({
      name: 'config.cookies',
      status: 'warn',
      message: 'COOKIE_SECURE=false: refresh cookies are sent over plain http',
      fix: 'set COOKIE_SECURE=true outside local development',
    });
  }
  if (!config.rateLimit.rateLimitEnabled) {
    out.push({ name: 'config.rate-limits', status: 'warn', message: 'RATE_LIMIT_ENABLED=false', fix: 'enable rate limits in production' });
  }
  const proxy = proxyCheck(config);
  if (proxy) out.push(proxy);
  if (config.tokens.jwtAlg === 'HS256') {
    out.push({
      name: 'config.jwt',
      status: 'warn',
      message: 'JWT_ALG=HS256: tokens cannot be verified offline through the JWKS',
      fix: 'use RS256, ES256 or EdDSA unless every verifier shares the secret',
    });
  }
  return out;
}

/**
 * Requests through a proxy without TRUST_PROXY: every client has the proxy's address, so all of
 * them share one per-IP rate-limit budget and one login backoff per account. Doctor reads the
 * configuration only: Latchkey serves plain HTTP, so an https ISSUER, or one on another port
 * than PORT, means something else answers the clients. (The server itself warns once in its log
 * at the first request that carries X-Forwarded-For or Forwarded while TRUST_PROXY is unset.)
 */
function proxyCheck(config: Config): CheckResult | null {
  if (config.http.trustProxy.length > 0) return null;
  const issuer = new URL(config.tokens.issuer);
  const issuerPort = Number(issuer.port || (issuer.protocol === 'https:' ? 443 : 80));
  if (issuer.protocol !== 'https:' && issuerPort === config.http.port) return null;
  return {
    name: 'config.proxy',
    status: 'warn',
    message:
      `ISSUER ${config.tokens.issuer} is not where Latchkey listens (plain http, port ${config.http.port}), so a proxy is in front, ` +
      'and TRUST_PROXY is not set: every client would be counted as the proxy and share one rate-limit budget',
    fix: "set TRUST_PROXY to the proxy's address (e.g. TRUST_PROXY=loopback for a proxy on this machine; docs/deploy.md)",
  };
}

async function databaseChecks(store: Store, databaseUrl: string): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const described = describeDatabaseUrl(databaseUrl);
  try {
    await withTimeout(store.ping(), 5000, 'the database');
    out.push({ name: 'database', status: 'ok', message: `${described} reachable` });
  } catch (err) {
    // What to check for this cause (refused, unknown host, wrong password, ...), as at start-up.
    const advice = explainDatabaseError(err, databaseUrl)?.split('\n  ')[1];
    return [
      {
        name: 'database',
        status: 'fail',
        message: `cannot reach the database (${described}): ${(err as Error).message}`,
        fix: advice ?? (store.kind === 'postgres' ? 'check DATABASE_URL, that PostgreSQL runs and accepts this user' : 'check DATABASE_URL and file permissions'),
      },
    ];
  }
  try {
    const pending = await store.pendingMigrations();
    out.push(
      pending.length === 0
        ? { name: 'migrations', status: 'ok', message: 'schema is up to date' }
        : {
            name: 'migrations',
            status: 'warn',
            message: `pending migrations: ${pending.join(', ')}`,
            fix: 'run `latchkey migrate` (serve also applies them at start-up)',
          },
    );
  } catch (err) {
    out.push({ name: 'migrations', status: 'fail', message: (err as Error).message, fix: 'run `latchkey migrate`' });
  }
  return out;
}

async function keyChecks(config: Config, store: Store, now: number): Promise<CheckResult[]> {
  let keys;
  try {
    keys = await store.listSigningKeys();
  } catch {
    return [{ name: 'keys', status: 'warn', message: 'no key table yet', fix: 'run `latchkey migrate`; keys are created at first start' }];
  }
  const live = keys.filter((k) => k.expiresAt === null || k.expiresAt > now);
  const active = live.filter((k) => k.retiredAt === null).sort((a, b) => b.createdAt - a.createdAt)[0];
  if (!active) {
    return [{ name: 'keys', status: 'warn', message: 'no active signing key yet', fix: 'start the server once (or run `latchkey keys rotate`) to create one' }];
  }
  const out: CheckResult[] = [];
  const sealed = keys.filter((k) => isSealed(k.privateJwk)).length;
  const atRest =
    sealed === keys.length
      ? 'private keys encrypted at rest'
      : sealed === 0
        ? 'private keys stored unencrypted (KEY_ENCRYPTION_KEY not set)'
        : `${keys.length - sealed} of ${keys.length} private keys unencrypted (the server encrypts them at start-up)`;
  try {
    const privateJwk = openPrivateJwk(secretBoxFor(config.tokens), active);
    await importJWK(JSON.parse(privateJwk) as JWK, active.alg === 'EdDSA' ? 'Ed25519' : active.alg);
    out.push({ name: 'keys', status: 'ok', message: `active key ${active.kid} (${active.alg}); ${live.length} key(s) published or verifying; ${atRest}` });
  } catch (err) {
    if (err instanceof KeyEncryptionError) {
      out.push({
        name: 'keys',
        status: 'fail',
        message: err.message,
        fix: 'set KEY_ENCRYPTION_KEY to the key the signing keys were encrypted with (docs/deploy.md, "Secrets at rest")',
      });
    } else {
      out.push({ name: 'keys', status: 'fail', message: `the active key does not load: ${(err as Error).message}`, fix: 'run `latchkey keys rotate`' });
    }
  }
  if (active.alg !== config.tokens.jwtAlg) {
    out.push({
      name: 'keys.alg',
      status: 'warn',
      message: `the active key is ${active.alg} but JWT_ALG=${config.tokens.jwtAlg}`,
      fix: 'the server rotates to a new key at start-up; or run `latchkey keys rotate`',
    });
  }
  const future = keys.find((k) => k.createdAt > now + 60_000);
  if (future) {
    out.push({
      name: 'clock',
      status: 'fail',
      message: `key ${future.kid} was created ${Math.round((future.createdAt - now) / 1000)} s in the future: the clock went backwards`,
      fix: 'synchronise the system clock (NTP); token lifetimes depend on it',
    });
  }
  return out;
}

async function clockChecks(store: Store, now: number): Promise<CheckResult[]> {
  if (now < Date.UTC(2024, 0, 1)) {
    return [{ name: 'clock', status: 'fail', message: `the system clock reads ${new Date(now).toISOString()}`, fix: 'synchronise the system clock (NTP)' }];
  }
  if (!store.serverTime) return [{ name: 'clock', status: 'ok', message: `system clock ${new Date(now).toISOString()}` }];
  const db = await store.serverTime();
  const skew = Math.abs(db - Date.now());
  if (skew > 5_000) {
    return [
      {
        name: 'clock',
        status: 'warn',
        message: `this machine and the database disagree by ${Math.round(skew / 1000)} s`,
        fix: 'synchronise the clocks (NTP); several instances must agree on token expiry',
      },
    ];
  }
  return [{ name: 'clock', status: 'ok', message: `within ${skew} ms of the database clock` }];
}

/** The directory itself, or the nearest existing one above it (where it would be created). */
function nearestExisting(dir: string): string {
  let d = dir;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  return d;
}

/** MAIL_TEMPLATES_DIR and DEFAULT_LOCALE, checked as start-up checks them (a broken file stops it). */
function templateCheck(config: Config): CheckResult {
  try {
    const templates = loadMailTemplatesOrFail(config.mail);
    const from = config.mail.mailTemplatesDir ? `built-in and ${resolve(config.mail.mailTemplatesDir)}` : 'built-in';
    return { name: 'mail templates', status: 'ok', message: `languages ${templates.locales.join(', ')} (${from}); default ${templates.defaultLocale}` };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { name: 'mail templates', status: 'fail', message: err.message, fix: 'correct the file named (docs/email.md, "Languages and templates"); `latchkey mail preview` shows the result' };
  }
}

async function mailChecks(config: Config): Promise<CheckResult[]> {
  if (!config.mail.smtpUrl) {
    const dir = resolve(config.mail.mailOutboxDir);
    try {
      // Never created here: the server makes it with the first message.
      accessSync(nearestExisting(dir), constants.W_OK);
      return [
        {
          name: 'mail',
          status: 'warn',
          message: `no SMTP_URL: mail is written to ${dir} and not delivered`,
          fix: 'set SMTP_URL and MAIL_FROM to send verification and reset mails',
        },
      ];
    } catch {
      return [{ name: 'mail', status: 'fail', message: `no SMTP_URL and the outbox ${dir} is not writable`, fix: 'set SMTP_URL, or MAIL_OUTBOX_DIR to a writable directory' }];
    }
  }
  const transport = nodemailer.createTransport({ url: config.mail.smtpUrl, connectionTimeout: 5000, greetingTimeout: 5000, socketTimeout: 5000 });
  try {
    await withTimeout(transport.verify(), 8000, 'the SMTP server');
    return [{ name: 'mail', status: 'ok', message: `SMTP ${describeSmtpUrl(config.mail.smtpUrl)} accepts connections; from ${config.mail.mailFrom}` }];
  } catch (err) {
    return [
      {
        name: 'mail',
        status: 'fail',
        message: `SMTP ${describeSmtpUrl(config.mail.smtpUrl)}: ${(err as Error).message}`,
        fix: 'check SMTP_URL (host, port, credentials) and that the mail server is up',
      },
    ];
  } finally {
    transport.close();
  }
}

/**
 * The database directory, file, -wal and -shm must not be readable by others: the file holds the
 * signing keys and password hashes. Latchkey creates them private; existing ones (older
 * versions, a copy, a directory the operator made) are reported here, each with its command.
 */
function permissionChecks(path: string): CheckResult[] {
  const out: CheckResult[] = [];
  const dir = dirname(path);
  const dirMode = modeOf(dir);
  if (dirMode !== null && (dirMode & 0o077) !== 0) {
    out.push({
      name: 'database.permissions',
      status: 'warn',
      message: `${dir} is mode ${dirMode.toString(8)}: other users can list the database directory`,
      fix: `chmod 700 ${shellQuote(dir)}`,
    });
  }
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    const mode = modeOf(file);
    if (mode === null || (mode & 0o077) === 0) continue;
    out.push({
      name: 'database.permissions',
      status: 'warn',
      message: `${file} is mode ${mode.toString(8)}: other users can read the signing keys and password hashes`,
      fix: `chmod 600 ${shellQuote(file)}`,
    });
  }
  return out;
}

/** The SQLite file: its directory writable and private; a file not made yet is said, never created. */
function fileChecks(config: Config): { results: CheckResult[]; openable: boolean } {
  if (!config.store.databaseUrl.startsWith('sqlite:')) return { results: [], openable: true };
  const path = sqlitePathFromUrl(config.store.databaseUrl);
  if (path === ':memory:') return { results: [], openable: true };
  const file = resolve(path);
  const dir = dirname(file);
  const described = describeDatabaseUrl(config.store.databaseUrl);
  if (!existsSync(dir)) {
    if (dir === resolve('data')) {
      return {
        results: [{ name: 'database', status: 'warn', message: `${described} does not exist yet`, fix: 'start the server or run `latchkey migrate`: it creates ./data and the file' }],
        openable: false,
      };
    }
    return {
      results: [
        {
          name: 'database',
          status: 'fail',
          message: `${described}: the directory ${dir} does not exist`,
          fix: `create it (mkdir -p -m 700 ${shellQuote(dir)}) or correct DATABASE_URL; only ./data is created on its own`,
        },
      ],
      openable: false,
    };
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    return { results: [{ name: 'database.file', status: 'fail', message: `${dir} is not writable`, fix: 'fix the permissions or point DATABASE_URL elsewhere' }], openable: false };
  }
  if (!existsSync(file)) {
    return {
      results: [{ name: 'database', status: 'warn', message: `${described} does not exist yet`, fix: 'start the server or run `latchkey migrate`: it creates the file' }],
      openable: false,
    };
  }
  return { results: permissionChecks(file), openable: true };
}

/** Which checks a bad variable makes meaningless (they would run against its default). */
const GROUP_OF: Array<[RegExp, 'database' | 'keys' | 'mail']> = [
  [/^DATABASE_/, 'database'],
  [/^(JWT_|KEY_ENCRYPTION_KEY)/, 'keys'],
  [/^(SMTP_URL|MAIL_|APP_URL|PRODUCT_NAME)/, 'mail'],
];

/**
 * Every invalid setting, not only the first: loadConfig stops at the first bad variable, so it
 * is run again without each one found (that variable then takes its default), until the rest
 * parses. Returns the errors and the configuration with the defaults in their place.
 */
function configErrors(env: Env): { errors: ConfigError[]; config: Config | null } {
  const errors: ConfigError[] = [];
  const rest = { ...env };
  // Each round drops one variable: at most as many rounds as there are variables.
  for (let round = 0; round <= Object.keys(env).length; round++) {
    try {
      return { errors, config: loadConfig(rest) };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      errors.push(err);
      if (!(err.variable in rest)) return { errors, config: null };
      delete rest[err.variable];
    }
  }
  return { errors, config: null };
}

/**
 * `latchkey doctor`: checks configuration, database and migrations, keys, clock, mail and the
 * proxy settings, lists every problem it finds (not only the first) and says how to fix each.
 * Never migrates, creates keys, or creates a file or directory: a SQLite database not made yet
 * is reported as such.
 */
export async function runDoctor(env: Env): Promise<CheckResult[]> {
  const { errors, config } = configErrors(env);
  const results: CheckResult[] = errors.map((err) => ({
    name: 'config',
    status: 'fail',
    message: err.message,
    fix: `correct ${err.variable} (see the README's configuration table)`,
  }));
  if (!config) return results;
  const skipped = new Set(errors.flatMap((err) => GROUP_OF.filter(([re]) => re.test(err.variable)).map(([, group]) => group)));
  results.push(...(errors.length === 0 ? configChecks(config) : configChecks(config).slice(1)));
  if (!skipped.has('database')) {
    const files = fileChecks(config);
    results.push(...files.results);
    if (files.openable) results.push(...(await storeChecks(config, skipped.has('keys'))));
  }
  if (!skipped.has('mail')) results.push(templateCheck(config), ...(await mailChecks(config)));
  return results;
}

/** The checks that need the database open: reachable, migrated, keys and the clock. */
async function storeChecks(config: Config, skipKeys: boolean): Promise<CheckResult[]> {
  let store: Store;
  try {
    store = await openStore(config.store.databaseUrl, { poolSize: 1 });
  } catch (err) {
    const explained = explainDatabaseError(err, config.store.databaseUrl);
    return [{ name: 'database', status: 'fail', message: explained ?? (err as Error).message, fix: 'check DATABASE_URL' }];
  }
  const results: CheckResult[] = [];
  try {
    const db = await databaseChecks(store, config.store.databaseUrl);
    results.push(...db);
    if (!db.some((r) => r.status === 'fail')) {
      const now = Date.now();
      if (!skipKeys) results.push(...(await keyChecks(config, store, now)));
      results.push(...(await clockChecks(store, now)));
    }
  } finally {
    await store.close().catch(() => undefined);
  }
  return results;
}

export function formatDoctor(results: CheckResult[]): string {
  const tag: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };
  const lines = results.map((r) => `${tag[r.status]} ${r.name}: ${r.message}${r.fix ? `\n     fix: ${r.fix}` : ''}`);
  const fails = results.filter((r) => r.status === 'fail').length;
  const warns = results.filter((r) => r.status === 'warn').length;
  lines.push(fails ? `${fails} problem(s), ${warns} warning(s)` : `no problems${warns ? `, ${warns} warning(s)` : ''}`);
  return lines.join('\n');
}

import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { parseEnv } from 'node:util';
import { parseKeyEncryptionKey } from './lib/secret-box.js';
import { HASH_COST_LIMITS } from './passwords/hash-costs.js';

/** Signing algorithms Latchkey can issue access tokens with. */
export const SIGNING_ALGORITHMS = ['RS256', 'ES256', 'EdDSA', 'HS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export type SameSite = 'lax' | 'strict' | 'none';

/** A rate limit: at most `limit` requests per `windowMs`. */
export interface RateRule {
  readonly limit: number;
  readonly windowMs: number;
}

/** The per-IP rate-limit buckets (docs/abuse.md); each has its RATE_LIMIT_<BUCKET> variable. */
export type RateLimitBucket = 'login' | 'register' | 'refresh' | 'mail' | 'reset' | 'verify' | 'change_password' | 'default';

/** The validated, frozen configuration every component receives. Durations are milliseconds. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string;
  readonly databasePoolSize: number;
  readonly issuer: string;
  readonly audience: string;
  readonly accessTokenTtlMs: number;
  readonly jwtAlg: SigningAlgorithm;
  readonly jwtLeewayMs: number;
  readonly keyReloadIntervalMs: number;
  readonly sessionIdleTimeoutMs: number;
  readonly sessionMaxAgeMs: number;
  readonly refreshGraceMs: number;
  readonly corsOrigins: readonly string[];
  readonly cookieSecure: boolean;
  readonly cookieSameSite: SameSite;
  readonly logLevel: string;
  readonly trustProxy: readonly string[];
  readonly hashConcurrency: number;
  /** Linux nice of libuv's pool threads under `latchkey serve` (0 = unchanged; never in embedded use). */
  readonly threadPoolNice: number;
  readonly hashQueueMax: number;
  readonly argon2MemoryKib: number;
  readonly argon2TimeCost: number;
  readonly argon2Parallelism: number;
  readonly bodyLimitBytes: number;
  readonly headerLimitBytes: number;
  readonly docsEnabled: boolean;
  /** Serve the admin console at /console (standalone server; an embedded host opts in too). */
  readonly consoleEnabled: boolean;
  readonly purgeIntervalMs: number;
  /** smtp:// or smtps:// URL (may carry credentials: never logged); null writes mail to `mailOutboxDir`. */
  readonly smtpUrl: string | null;
  readonly mailFrom: string;
  /** Base URL of the web app; mailed links point below it (`/verify-email`, `/reset-password`). */
  readonly appUrl: string;
  readonly productName: string;
  readonly requireVerifiedEmail: boolean;
  readonly mailOutboxDir: string;
  readonly verifyEmailTtlMs: number;
  readonly resetTokenTtlMs: number;
  /** Waits between delivery attempts; its length + 1 is the number of attempts. */
  readonly mailRetryDelaysMs: readonly number[];
  readonly redisUrl: string | null;
  readonly rateLimitEnabled: boolean;
  readonly rateLimitStore: 'auto' | 'memory' | 'redis' | 'database';
  readonly rateLimits: Readonly<Record<RateLimitBucket, RateRule>>;
  /** IPv6 clients are counted per network of this prefix length (64: one /64 is one client). */
  readonly rateLimitIpv6Prefix: number;
  readonly loginBackoffThreshold: number;
  readonly loginBackoffBaseMs: number;
  readonly loginBackoffMaxMs: number;
  readonly loginFailureWindowMs: number;
  readonly eventsRetentionMs: number;
  readonly metricsToken: string | null;
  readonly metricsPort: number | null;
  readonly shutdownTimeoutMs: number;
  /** PEM (PKCS#8) file with the signing key for RS256/ES256/EdDSA; null = generated and stored. */
  readonly jwtPrivateKeyFile: string | null;
  /** The HS256 secret (32+ characters); null = generated and stored. */
  readonly jwtSecret: string | null;
  /** 32 bytes: secrets at rest (the signing keys' private parts) are encrypted with it; null = stored in plaintext. */
  readonly keyEncryptionKey: Uint8Array | null;
  /** Earlier keys, only to decrypt (a rotation); values they sealed are re-encrypted at start-up. */
  readonly keyEncryptionKeyPrevious: readonly Uint8Array[];
  // --- Issue 25, "the first hour" (readFirstHourSettings) ---
  /** `pretty`: one human-readable line per event (default when stdout is a terminal); `json` otherwise. */
  readonly logFormat: 'json' | 'pretty';
  /** End a user's sessions when an admin changes their roles (default false: new roles arrive at the next refresh). */
  readonly roleChangeEndsSessions: boolean;
  // --- end of issue 25 ---
}

/** Thrown when a setting is invalid; the message names the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Record<string, string | undefined>;

const DURATION = /^(\d+)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "900", "900s", "15m", "7d", "250ms" (a bare number is seconds). */
export function parseDuration(variable: string, raw: string): number {
  const m = DURATION.exec(raw.trim());
  if (!m) throw new ConfigError(variable, `expected a duration like 900, 15m, 7d or 250ms, got "${raw}"`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return n * UNIT_MS[unit]!;
}

function readInt(env: Env, variable: string, fallback: number, min: number, max: number): number {
  const raw = env[variable];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(variable, `expected an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(variable, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function readDuration(env: Env, variable: string, fallback: string, minMs: number, maxMs: number): number {
  const raw = env[variable];
  const ms = parseDuration(variable, raw === undefined || raw === '' ? fallback : raw);
  if (ms < minMs || ms > maxMs) {
    throw new ConfigError(variable, `must be between ${minMs / 1000}s and ${maxMs / 1000}s`);
  }
  return ms;
}

function readBool(env: Env, variable: string, fallback: boolean): boolean {
  const raw = env[variable];
  if (raw === undefined || raw === '') return fallback;
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(variable, `expected true or false, got "${raw}"`);
}

function readEnum<T extends string>(env: Env, variable: string, allowed: readonly T[], fallback: T): T {
  const raw = env[variable];
  if (raw === undefined || raw === '') return fallback;
  const hit = allowed.find((a) => a.toLowerCase() === raw.trim().toLowerCase());
  if (!hit) throw new ConfigError(variable, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  return hit;
}

/** The proxy-addr names Fastify's trustProxy understands besides addresses and CIDRs. */
const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * TRUST_PROXY entries: an IP, IP/prefix, IP/netmask or a proxy-addr name. Checked here so that
 * a typo stops start-up naming the variable instead of crashing inside Fastify.
 */
function readTrustProxy(env: Env): string[] {
  const entries = readList(env, 'TRUST_PROXY');
  for (const entry of entries) {
    if (PROXY_NAMES.has(entry)) continue;
    const [address = '', range, ...rest] = entry.split('/');
    const family = isIP(address);
    const validRange =
      range === undefined ||
      (/^\d{1,3}$/.test(range) && Number(range) <= (family === 4 ? 32 : 128)) ||
      (family === 4 && isIP(range) === 4);
    if (family === 0 || rest.length > 0 || !validRange) {
      throw new ConfigError('TRUST_PROXY', `expected IP addresses or CIDR ranges (or loopback, linklocal, uniquelocal), got "${entry}"`);
    }
  }
  return entries;
}

function readList(env: Env, variable: string): string[] {
  const raw = env[variable];
  if (!raw) return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function readUrl(variable: string, raw: string): string {
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    return raw.replace(/\/+$/, '');
  } catch {
    throw new ConfigError(variable, `expected an http(s) URL, got "${raw}"`);
  }
}

function readDatabaseUrl(env: Env): string {
  const raw = env.DATABASE_URL?.trim() || 'sqlite:./data/latchkey.db';
  if (raw.startsWith('sqlite:') || raw.startsWith('postgres://') || raw.startsWith('postgresql://')) return raw;
  throw new ConfigError('DATABASE_URL', `expected sqlite:PATH or postgres://..., got a value with another scheme`);
}

/** Parses "10/1m" (10 requests a minute) or "30/60s". */
function readRateRule(env: Env, variable: string, fallback: string): RateRule {
  const raw = (env[variable] ?? '').trim() || fallback;
  const m = /^(\d+)\s*\/\s*(\S+)$/.exec(raw);
  if (!m) throw new ConfigError(variable, `expected LIMIT/WINDOW like 10/1m, got "${raw}"`);
  const limit = Number(m[1]);
  if (limit < 1 || limit > 1_000_000) throw new ConfigError(variable, 'the limit must be between 1 and 1000000');
  const windowMs = parseDuration(variable, m[2]!);
  if (windowMs < 1000 || windowMs > 86_400_000) throw new ConfigError(variable, 'the window must be between 1s and 1d');
  return Object.freeze({ limit, windowMs });
}

function readRedisUrl(env: Env): string | null {
  const raw = env.REDIS_URL?.trim();
  if (!raw) return null;
  if (!/^rediss?:\/\//.test(raw)) throw new ConfigError('REDIS_URL', 'expected redis://host:port or rediss://...');
  return raw;
}

function readSmtpUrl(env: Env): string | null {
  const raw = env.SMTP_URL?.trim();
  if (!raw) return null;
  // The URL may hold a password, so no message below echoes it.
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('SMTP_URL', 'expected smtp://[user:pass@]host[:port] or smtps://...; the value is not a URL');
  }
  if ((url.protocol !== 'smtp:' && url.protocol !== 'smtps:') || !url.hostname) {
    throw new ConfigError('SMTP_URL', 'expected smtp://[user:pass@]host[:port] or smtps://...');
  }
  return raw;
}

const PLAIN_ADDRESS = /^[^\s<>@",;]+@[^\s<>@",;]+$/;
const NAMED_ADDRESS = /^[^<>\r\n]*<[^\s<>@",;]+@[^\s<>@",;]+>$/;

/**
 * The domain of the default sender: APP_URL's host, else ISSUER's, else `localhost`. Never an IP
 * address (`no-reply@127.0.0.1` is not an address mail servers and clients accept as one).
 */
function defaultMailDomain(appUrl: string, issuer: string): string {
  for (const url of [appUrl, issuer]) {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) === 0) return host;
  }
  return 'localhost';
}

function readMailFrom(env: Env, productName: string, appUrl: string, issuer: string): string {
  const raw = env.MAIL_FROM?.trim();
  if (!raw) return `"${productName.replace(/["\\]/g, '')}" <no-reply@${defaultMailDomain(appUrl, issuer)}>`;
  if (!PLAIN_ADDRESS.test(raw) && !NAMED_ADDRESS.test(raw)) {
    throw new ConfigError('MAIL_FROM', `expected an address like no-reply@example.com or "Name <no-reply@example.com>", got "${raw}"`);
  }
  return raw;
}

function readProductName(env: Env): string {
  const raw = env.PRODUCT_NAME?.trim() || 'Latchkey';
  // It goes into mail subjects and headers: one line, printable.
  if (raw.length > 100 || /[\u0000-\u001f\u007f]/.test(raw)) {
    throw new ConfigError('PRODUCT_NAME', 'expected one line of at most 100 printable characters');
  }
  return raw;
}

function readDurationList(env: Env, variable: string, fallback: string, minMs: number, maxMs: number): number[] {
  const raw = env[variable]?.trim() || fallback;
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.length > 10) throw new ConfigError(variable, 'at most 10 durations');
  return parts.map((p) => {
    const ms = parseDuration(variable, p);
    if (ms < minMs || ms > maxMs) throw new ConfigError(variable, `each duration must be between ${minMs}ms and ${maxMs / 1000}s`);
    return ms;
  });
}

/** Mail settings (docs/email.md). */
function readMailConfig(env: Env, issuer: string) {
  const appUrl = readUrl('APP_URL', env.APP_URL?.trim() || issuer);
  const productName = readProductName(env);
  return {
    smtpUrl: readSmtpUrl(env),
    mailFrom: readMailFrom(env, productName, appUrl, issuer),
    appUrl,
    productName,
    requireVerifiedEmail: readBool(env, 'REQUIRE_VERIFIED_EMAIL', false),
    mailOutboxDir: env.MAIL_OUTBOX_DIR?.trim() || './data/outbox',
    verifyEmailTtlMs: readDuration(env, 'VERIFY_EMAIL_TTL', '24h', 300_000, 30 * 86_400_000),
    resetTokenTtlMs: readDuration(env, 'RESET_TOKEN_TTL', '30m', 60_000, 86_400_000),
    mailRetryDelaysMs: Object.freeze(readDurationList(env, 'MAIL_RETRY_DELAYS', '10s,1m', 10, 3_600_000)),
  };
}

/** KEY_ENCRYPTION_KEY (one key) and KEY_ENCRYPTION_KEY_PREVIOUS (comma-separated); messages never echo a value. */
function readKeyEncryptionKeys(env: Env): { keyEncryptionKey: Uint8Array | null; keyEncryptionKeyPrevious: readonly Uint8Array[] } {
  const parse = (variable: string, raw: string): Uint8Array => {
    const key = parseKeyEncryptionKey(raw);
    if (!key) {
      throw new ConfigError(variable, 'expected 32 random bytes in base64 (openssl rand -base64 32) or as 64 hex digits (openssl rand -hex 32)');
    }
    return key;
  };
  const current = env.KEY_ENCRYPTION_KEY?.trim() ? parse('KEY_ENCRYPTION_KEY', env.KEY_ENCRYPTION_KEY) : null;
  const previous = readList(env, 'KEY_ENCRYPTION_KEY_PREVIOUS').map((raw) => parse('KEY_ENCRYPTION_KEY_PREVIOUS', raw));
  return { keyEncryptionKey: current, keyEncryptionKeyPrevious: Object.freeze(previous) };
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

// --- Issue 25, "the first hour": settings of that issue, in one block ---
/** LOG_FORMAT (pretty by default on a terminal, json otherwise) and ROLE_CHANGE_ENDS_SESSIONS. */
function readFirstHourSettings(env: Env): Pick<Config, 'logFormat' | 'roleChangeEndsSessions'> {
  return {
    logFormat: readEnum(env, 'LOG_FORMAT', ['json', 'pretty'] as const, process.stdout.isTTY ? 'pretty' : 'json'),
    roleChangeEndsSessions: readBool(env, 'ROLE_CHANGE_ENDS_SESSIONS', false),
  };
}
// --- end of issue 25 ---

/**
 * Reads an optional `.env` file (variables already in the environment win) and returns the
 * merged variables. Never writes to process.env.
 */
export function readEnvironment(env: Env = process.env, envFile = '.env'): Env {
  if (!existsSync(envFile)) return { ...env };
  const fromFile = parseEnv(readFileSync(envFile, 'utf8')) as Env;
  return { ...fromFile, ...env };
}

/**
 * Parses and validates the configuration once; the result is frozen.
 *
 * @example
 * const config = loadConfig(readEnvironment());
 */
export function loadConfig(env: Env): Config {
  const port = readInt(env, 'PORT', 3000, 0, 65535);
  const host = env.HOST?.trim() || '127.0.0.1';
  const issuer = readUrl('ISSUER', env.ISSUER?.trim() || `http://localhost:${port}`);
  const audience = env.AUDIENCE?.trim() || 'latchkey';
  const cookieSameSite = readEnum<SameSite>(env, 'COOKIE_SAMESITE', ['lax', 'strict', 'none'], 'lax');
  const cookieSecure = readBool(env, 'COOKIE_SECURE', true);
  if (cookieSameSite === 'none' && !cookieSecure) {
    throw new ConfigError('COOKIE_SAMESITE', 'SameSite=None requires COOKIE_SECURE=true');
  }
  const corsOrigins = readList(env, 'CORS_ORIGINS');
  for (const origin of corsOrigins) {
    if (origin === '*') throw new ConfigError('CORS_ORIGINS', 'a wildcard cannot be used with credentials; list origins');
    readUrl('CORS_ORIGINS', origin);
  }
  const cores = availableParallelism();
  const sessionIdleTimeoutMs = readDuration(env, 'SESSION_IDLE_TIMEOUT', '7d', 60_000, 365 * 86_400_000);
  const sessionMaxAgeMs = readDuration(env, 'SESSION_MAX_AGE', '30d', 60_000, 365 * 86_400_000);
  if (sessionIdleTimeoutMs > sessionMaxAgeMs) {
    throw new ConfigError('SESSION_IDLE_TIMEOUT', 'must not exceed SESSION_MAX_AGE');
  }
  const config: Config = {
    port,
    host,
    databaseUrl: readDatabaseUrl(env),
    databasePoolSize: readInt(env, 'DATABASE_POOL_SIZE', 10, 1, 200),
    issuer,
    audience,
    accessTokenTtlMs: readDuration(env, 'ACCESS_TOKEN_TTL', '15m', 1000, 86_400_000),
    jwtAlg: readEnum(env, 'JWT_ALG', SIGNING_ALGORITHMS, 'RS256'),
    jwtLeewayMs: readDuration(env, 'JWT_LEEWAY', '5s', 0, 60_000),
    keyReloadIntervalMs: readDuration(env, 'KEY_RELOAD_INTERVAL', '30s', 1000, 3_600_000),
    sessionIdleTimeoutMs,
    sessionMaxAgeMs,
    refreshGraceMs: readDuration(env, 'REFRESH_GRACE', '10s', 0, 300_000),
    corsOrigins,
    cookieSecure,
    cookieSameSite,
    logLevel: readEnum(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    trustProxy: readTrustProxy(env),
    hashConcurrency: readInt(env, 'HASH_CONCURRENCY', cores, 1, 64),
    threadPoolNice: readInt(env, 'THREAD_POOL_NICE', 10, 0, 19),
    hashQueueMax: readInt(env, 'HASH_QUEUE_MAX', 64, 0, 10_000),
    // At most the caps a stored hash may have (passwords/hash-costs.ts), so that Latchkey's own hashes always verify.
    argon2MemoryKib: readInt(env, 'ARGON2_MEMORY_KIB', 19_456, 19_456, HASH_COST_LIMITS.argon2.maxMemoryKib),
    argon2TimeCost: readInt(env, 'ARGON2_TIME_COST', 2, 2, HASH_COST_LIMITS.argon2.maxTimeCost),
    argon2Parallelism: readInt(env, 'ARGON2_PARALLELISM', 1, 1, 16),
    bodyLimitBytes: readInt(env, 'BODY_LIMIT', 16_384, 1024, 1_048_576),
    headerLimitBytes: readInt(env, 'HEADER_LIMIT', 16_384, 4096, 262_144),
    docsEnabled: readBool(env, 'DOCS_ENABLED', true),
    consoleEnabled: readBool(env, 'CONSOLE_ENABLED', true),
    purgeIntervalMs: readDuration(env, 'PURGE_INTERVAL', '10m', 1000, 86_400_000),
    ...readMailConfig(env, issuer),
    redisUrl: readRedisUrl(env),
    rateLimitEnabled: readBool(env, 'RATE_LIMIT_ENABLED', true),
    rateLimitStore: readEnum(env, 'RATE_LIMIT_STORE', ['auto', 'memory', 'redis', 'database'] as const, 'auto'),
    rateLimits: Object.freeze({
      login: readRateRule(env, 'RATE_LIMIT_LOGIN', '10/1m'),
      register: readRateRule(env, 'RATE_LIMIT_REGISTER', '10/1m'),
      refresh: readRateRule(env, 'RATE_LIMIT_REFRESH', '30/1m'),
      mail: readRateRule(env, 'RATE_LIMIT_MAIL', '3/1m'),
      // Sized for what they cost (docs/abuse.md, "Per-IP hash budget"): a reset with a live token
      // costs one hash, as a login costs one verification; verify costs a token lookup and a
      // write, like refresh; change-password a verification and, when it succeeds, a hash.
      reset: readRateRule(env, 'RATE_LIMIT_RESET', '10/1m'),
      verify: readRateRule(env, 'RATE_LIMIT_VERIFY', '30/1m'),
      change_password: readRateRule(env, 'RATE_LIMIT_CHANGE_PASSWORD', '5/1m'),
      default: readRateRule(env, 'RATE_LIMIT_DEFAULT', '120/1m'),
    }),
    rateLimitIpv6Prefix: readInt(env, 'RATE_LIMIT_IPV6_PREFIX', 64, 32, 128),
    loginBackoffThreshold: readInt(env, 'LOGIN_BACKOFF_THRESHOLD', 5, 1, 1000),
    loginBackoffBaseMs: readDuration(env, 'LOGIN_BACKOFF_BASE', '1s', 1000, 3_600_000),
    loginBackoffMaxMs: readDuration(env, 'LOGIN_BACKOFF_MAX', '15m', 1000, 86_400_000),
    loginFailureWindowMs: readDuration(env, 'LOGIN_FAILURE_WINDOW', '15m', 1000, 86_400_000),
    eventsRetentionMs: readDuration(env, 'EVENTS_RETENTION', '90d', 3_600_000, 3650 * 86_400_000),
    metricsToken: env.METRICS_TOKEN?.trim() || null,
    metricsPort: env.METRICS_PORT ? readInt(env, 'METRICS_PORT', 0, 1, 65535) : null,
    shutdownTimeoutMs: readDuration(env, 'SHUTDOWN_TIMEOUT', '10s', 100, 600_000),
    jwtPrivateKeyFile: env.JWT_PRIVATE_KEY_FILE?.trim() || null,
    jwtSecret: env.JWT_SECRET || null,
    ...readKeyEncryptionKeys(env),
    ...readFirstHourSettings(env),
  };
  if (config.jwtSecret !== null && config.jwtAlg !== 'HS256') {
    throw new ConfigError('JWT_SECRET', 'is only used with JWT_ALG=HS256; use JWT_PRIVATE_KEY_FILE for asymmetric keys');
  }
  if (config.jwtSecret !== null && config.jwtSecret.length < 32) {
    throw new ConfigError('JWT_SECRET', 'must be at least 32 characters (256 bits)');
  }
  if (config.jwtPrivateKeyFile !== null && config.jwtAlg === 'HS256') {
    throw new ConfigError('JWT_PRIVATE_KEY_FILE', 'is for RS256, ES256 or EdDSA; HS256 takes JWT_SECRET');
  }
  if (config.metricsToken !== null && config.metricsToken.length < 16) {
    throw new ConfigError('METRICS_TOKEN', 'must be at least 16 characters');
  }
  if (config.rateLimitStore === 'redis' && !config.redisUrl) {
    throw new ConfigError('RATE_LIMIT_STORE', 'redis needs REDIS_URL');
  }
  return Object.freeze(config);
}

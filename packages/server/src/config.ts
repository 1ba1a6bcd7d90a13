import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { parseEnv } from 'node:util';
import { parseKeyEncryptionKey } from './lib/secret-box.js';
import { HASH_COST_LIMITS } from './passwords/hash-costs.js';
import { normaliseLocale, ROLE_PATTERN } from './features/users/fields.js';

const ROLE_REGEXP = new RegExp(ROLE_PATTERN);

/** Signing algorithms Latchkey can issue access tokens with. */
export const SIGNING_ALGORITHMS = ['RS256', 'ES256', 'EdDSA', 'HS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export type SameSite = 'lax' | 'strict' | 'none';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A rate limit: at most `limit` requests per `windowMs`. */
export interface RateRule {
  readonly limit: number;
  readonly windowMs: number;
}

/** The per-IP rate-limit buckets (docs/abuse.md); each has its RATE_LIMIT_<BUCKET> variable. */
export type RateLimitBucket = 'login' | 'register' | 'refresh' | 'mail' | 'reset' | 'verify' | 'change_password' | 'passkey_options' | 'oauth_token' | 'default';

// Each section is what one part of the server is given (docs/architecture.md, "Configuration").
// Durations are milliseconds.

/**
 * The standalone server and its HTTP edge: where it listens, which proxies it trusts, CORS, body
 * and header limits, the API docs and console, its log level and shutdown. In embedded mode the
 * host's Fastify owns the listener, logger and proxies; Latchkey's scope still reads
 * `corsOrigins` (the cross-site guard), `bodyLimitBytes` and `consoleEnabled`.
 */
export interface HttpConfig {
  readonly port: number;
  readonly host: string;
  readonly trustProxy: readonly string[];
  readonly corsOrigins: readonly string[];
  readonly bodyLimitBytes: number;
  readonly headerLimitBytes: number;
  readonly docsEnabled: boolean;
  /** Serve the admin console at /console (standalone server; an embedded host opts in too). */
  readonly consoleEnabled: boolean;
  readonly logLevel: LogLevel;
  /** `pretty`: one human-readable line per event (default when stdout is a terminal); `json` otherwise. */
  readonly logFormat: 'json' | 'pretty';
  readonly shutdownTimeoutMs: number;
  /** Linux nice of libuv's pool threads under `latchkey serve` (0 = unchanged; never in embedded use). */
  readonly threadPoolNice: number;
}

/** The database the store opens. */
export interface StoreConfig {
  readonly databaseUrl: string;
  readonly databasePoolSize: number;
}

/** Access tokens and the signing keys behind them, with the key that encrypts them at rest. */
export interface TokensConfig {
  readonly issuer: string;
  readonly audience: string;
  readonly accessTokenTtlMs: number;
  readonly jwtAlg: SigningAlgorithm;
  readonly jwtLeewayMs: number;
  readonly keyReloadIntervalMs: number;
  /** PEM (PKCS#8) file with the signing key for RS256/ES256/EdDSA; null = generated and stored. */
  readonly jwtPrivateKeyFile: string | null;
  /** The HS256 secret (32+ characters); null = generated and stored. */
  readonly jwtSecret: string | null;
  /** 32 bytes: secrets at rest (the signing keys' private parts) are encrypted with it; null = stored in plaintext. */
  readonly keyEncryptionKey: Uint8Array | null;
  /** Earlier keys, only to decrypt (a rotation); values they sealed are re-encrypted at start-up. */
  readonly keyEncryptionKeyPrevious: readonly Uint8Array[];
}

/** Sessions, refresh tokens and the cookies that carry them. */
export interface SessionsConfig {
  readonly sessionIdleTimeoutMs: number;
  readonly sessionMaxAgeMs: number;
  readonly refreshGraceMs: number;
  readonly cookieSecure: boolean;
  readonly cookieSameSite: SameSite;
  /** End a user's sessions when an admin changes their roles (default false: new roles arrive at the next refresh). */
  readonly roleChangeEndsSessions: boolean;
  /**
   * REVOCATION_FEED_TOKEN (32+ characters): the credential of GET /auth/revocations and its
   * stream (docs/verify.md, "Revocation feed"); null = the feed's routes answer 404.
   */
  readonly revocationFeedToken: string | null;
  /** REVOCATION_FEED_MAX_STREAMS: open feed streams per instance at most; one more is refused with 503. */
  readonly revocationFeedMaxStreams: number;
}

/** Password hashing: the argon2id cost and the worker threads and queue it runs on. */
export interface PasswordsConfig {
  readonly hashConcurrency: number;
  readonly hashQueueMax: number;
  readonly argon2MemoryKib: number;
  readonly argon2TimeCost: number;
  readonly argon2Parallelism: number;
}

/** Mail (docs/email.md): delivery, the links it carries, and verified email at login. */
export interface MailConfig {
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
  /** INVITE_TTL: how long an admin's invitation link works (default 7 days; docs/admin.md). */
  readonly inviteTtlMs: number;
  // Email sign-in (docs/email.md, "Email sign-in").
  /** EMAIL_SIGN_IN: POST /auth/email/sign-in and /verify exist (default true: mail always goes, by SMTP or to the outbox). */
  readonly emailSignIn: boolean;
  /** EMAIL_SIGN_IN_TTL: how long a sign-in mail's link and code work (default 15 minutes). */
  readonly emailSignInTtlMs: number;
  /** EMAIL_SIGN_IN_CREATES_USERS: a sign-in mail goes to an unknown address too, and answering it creates the account. */
  readonly emailSignInCreatesUsers: boolean;
  /** DEFAULT_LOCALE: the language of mail when neither the user nor the request names one we have (default `en`). */
  readonly defaultLocale: string;
  /** MAIL_TEMPLATES_DIR: the operator's templates (`<dir>/<locale>/<template>.subject.txt|.text.txt|.html`); null = built-in only. */
  readonly mailTemplatesDir: string | null;
}

/** Per-IP rate limits, the login backoff, and where their counters live (docs/abuse.md). */
export interface RateLimitConfig {
  readonly rateLimitEnabled: boolean;
  readonly rateLimitStore: 'auto' | 'memory' | 'redis' | 'database';
  readonly rateLimits: Readonly<Record<RateLimitBucket, RateRule>>;
  /** IPv6 clients are counted per network of this prefix length (64: one /64 is one client). */
  readonly rateLimitIpv6Prefix: number;
  /** The counters' Redis (RATE_LIMIT_STORE=redis, or auto); null = none. */
  readonly redisUrl: string | null;
  readonly loginBackoffThreshold: number;
  readonly loginBackoffBaseMs: number;
  readonly loginBackoffMaxMs: number;
  readonly loginFailureWindowMs: number;
}

/** Second factors (docs/factors.md). */
export interface FactorsConfig {
  /** How long the `mfa_token` of a login that needs a second factor stays usable. */
  readonly mfaChallengeTtlMs: number;
  /** Users holding any of these roles must have a second factor to get a session (MFA_REQUIRED_ROLES). */
  readonly mfaRequiredRoles: readonly string[];
  /** The WebAuthn relying party id of passkeys (docs/passkeys.md): a host name, ISSUER's by default. */
  readonly webauthnRpId: string;
  /** The name a browser shows when it creates a passkey: PRODUCT_NAME by default. */
  readonly webauthnRpName: string;
  /** Origins a passkey ceremony may come from (scheme://host[:port]), each on the RP ID or a subdomain of it. */
  readonly webauthnOrigins: readonly string[];
  /** How recent a session's authentication must be for a sensitive action (docs/factors.md, Step-up). */
  readonly stepUpMaxAgeMs: number;
  /** Whether every state-changing /admin route demands a recent authentication too. */
  readonly stepUpAdmin: boolean;
}

/** How a social provider is spoken to: OpenID Connect discovery, or GitHub's OAuth 2.0 and user API. */
export type SocialProviderType = 'oidc' | 'github';

/** One sign-in provider (docs/social-login.md): SOCIAL_<ID>_* in the environment. */
export interface SocialProviderConfig {
  /** Lowercase [a-z0-9-]{1,32}: the path segment of its routes. */
  readonly id: string;
  readonly type: SocialProviderType;
  /** Display name (Google, GitHub, Microsoft, or the id). */
  readonly name: string;
  readonly clientId: string;
  /** Never logged, never answered. */
  readonly clientSecret: string;
  /** OIDC: the issuer whose discovery document is read (null for github). */
  readonly issuer: string | null;
  /** Space-separated scopes asked for. */
  readonly scopes: string;
  /** GitHub: the authorize and token endpoints and the REST API (overridable for tests and GitHub Enterprise). */
  readonly authorizeUrl: string | null;
  readonly tokenUrl: string | null;
  readonly apiUrl: string | null;
}

/** Social sign-in (docs/social-login.md). */
export interface SocialConfig {
  /** The configured providers by id, in the order of SOCIAL_PROVIDERS. */
  readonly providers: Readonly<Record<string, SocialProviderConfig>>;
  /** REDIRECT_ALLOWED_URLS: exact URLs, or prefixes ending in `/` (origin + path prefix). */
  readonly redirectAllowedUrls: readonly string[];
}

/** Prometheus metrics: served only when one of these is set. */
export interface MetricsConfig {
  readonly metricsToken: string | null;
  readonly metricsPort: number | null;
}

/** What the purge timer deletes, and how often it runs. */
export interface HousekeepingConfig {
  readonly purgeIntervalMs: number;
  readonly eventsRetentionMs: number;
  /**
   * ACCOUNT_DELETION_GRACE: how long a self-service deletion (DELETE /auth/me) waits before the
   * purge deletes the account; a sign-in meanwhile cancels it. 0 (default): deleted at once
   * (docs/account.md).
   */
  readonly accountDeletionGraceMs: number;
  /** AUDIT_RETENTION: audit entries older than this are purged; null keeps them all (`0` or `forever`). */
  readonly auditRetentionMs: number | null;
}

/** Webhook delivery (docs/webhooks.md). */
export interface WebhooksConfig {
  /** WEBHOOK_ALLOW_PRIVATE: endpoints may be http:// and resolve to private, loopback or link-local addresses. */
  readonly allowPrivate: boolean;
  /** WEBHOOK_TIMEOUT: one attempt's limit, connect to last byte. */
  readonly timeoutMs: number;
  /** WEBHOOK_RETRY_FOR: no attempt is started later than this after a delivery was made. */
  readonly retryForMs: number;
  /** WEBHOOK_DISABLE_AFTER: an endpoint failing this long without a success is disabled. */
  readonly disableAfterMs: number;
  /** WEBHOOK_WORKER: this instance delivers (the outbox is filled either way). */
  readonly workerEnabled: boolean;
  /** WEBHOOK_POLL_INTERVAL: how often the worker looks at the outbox and the due deliveries. */
  readonly pollIntervalMs: number;
}

/** Latchkey as an OAuth 2.1 / OpenID Connect provider (docs/oauth-provider.md). */
export interface OAuthConfig {
  /** OAUTH_PROVIDER: mounts the provider's endpoints (/oauth/*, its discovery). */
  readonly provider: boolean;
  /** OAUTH_DYNAMIC_REGISTRATION: RFC 7591 registration at POST /oauth/register. */
  readonly dynamicRegistration: boolean;
  /** OAUTH_SCOPES: custom scopes beside openid, profile, email, offline_access and roles. */
  readonly scopes: readonly string[];
  /** OAUTH_RESOURCES: the APIs (absolute URLs) that take the provider's JWT access tokens as audience. */
  readonly resources: readonly string[];
  /** OAUTH_ACCESS_TOKEN_TTL (default ACCESS_TOKEN_TTL). */
  readonly accessTokenTtlMs: number;
  /** OAUTH_REFRESH_TOKEN_TTL: a refresh token's life, renewed by every rotation, capped by its grant. */
  readonly refreshTokenTtlMs: number;
  /** OAUTH_CONSENT_TTL: how long a remembered consent (a Grant) lasts. */
  readonly consentTtlMs: number;
}

/** The scopes every provider knows; OAUTH_SCOPES adds to them. */
export const OAUTH_BUILTIN_SCOPES = ['openid', 'profile', 'email', 'offline_access', 'roles'] as const;
const OAUTH_SCOPE = /^[A-Za-z0-9:._-]{1,64}$/;

/**
 * The validated, frozen configuration, one section per part of the server; every section is
 * frozen too. A component is given its section (`new AccessTokens(config.tokens, ...)`); a
 * service reads `ctx.config.<section>.<field>`.
 */
export interface Config {
  readonly http: HttpConfig;
  readonly store: StoreConfig;
  readonly tokens: TokensConfig;
  readonly sessions: SessionsConfig;
  readonly passwords: PasswordsConfig;
  readonly mail: MailConfig;
  readonly rateLimit: RateLimitConfig;
  readonly factors: FactorsConfig;
  readonly metrics: MetricsConfig;
  readonly housekeeping: HousekeepingConfig;
  readonly social: SocialConfig;
  readonly webhooks: WebhooksConfig;
  readonly oauth: OAuthConfig;
}

/** The names of the sections, in the order of `Config`. */
export const CONFIG_SECTIONS = ['http', 'store', 'tokens', 'sessions', 'passwords', 'mail', 'rateLimit', 'factors', 'metrics', 'housekeeping', 'social', 'webhooks', 'oauth'] as const;
// Does not compile while a section of Config is missing from the list above.
true satisfies [Exclude<keyof Config, (typeof CONFIG_SECTIONS)[number]>] extends [never] ? true : false;

/**
 * Settings given as options (the embedded plugin's): any sections, each partial; what is not
 * given is the default (or the value of a `Config` they are applied to). The rate limits may
 * name only some buckets.
 *
 * @example
 * const sections: ConfigSections = { tokens: { issuer: 'https://shop.example', accessTokenTtlMs: 300_000 } };
 */
export type ConfigSections = {
  readonly [S in Exclude<keyof Config, 'rateLimit' | 'social'>]?: Partial<Config[S]>;
} & {
  readonly rateLimit?: Partial<Omit<RateLimitConfig, 'rateLimits'>> & { readonly rateLimits?: Partial<RateLimitConfig['rateLimits']> };
  /** Providers by id, each with what SOCIAL_<ID>_* would say (clientId and clientSecret required). */
  readonly social?: {
    readonly providers?: Readonly<Record<string, Partial<Omit<SocialProviderConfig, 'id'>>>>;
    readonly redirectAllowedUrls?: readonly string[];
  };
};

/**
 * Thrown when a setting is invalid; the message names it: the environment variable
 * (`ACCESS_TOKEN_TTL: ...`), or for the plugin's options the option's path (`tokens.accessTokenTtlMs: ...`).
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    /** The variable, or the option's path. */
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

/** A typed option's value in a message (never used for settings that may hold a secret). */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : String(value);
}

function isWholeNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** The value at a dotted path of nested objects, or undefined. */
function at(root: unknown, path: string): unknown {
  let node = root;
  for (const key of path.split('.')) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/**
 * Reads settings from one source by one set of rules. From the environment a setting is a string
 * named by its variable; from the plugin's options it is a typed value (a number of milliseconds,
 * a boolean, an array) named by its path. Each method below holds the rule of one kind of setting
 * (format, range, default) for both, so the two sources cannot drift apart; strings (URLs,
 * names, enums) go through the very same parsing either way.
 */
class SettingReader {
  /** variable -> path of the settings read so far, to name them in checks across settings. */
  private readonly paths = new Map<string, string>();

  private constructor(
    private readonly fromEnv: boolean,
    private readonly lookup: (path: string, variable: string) => unknown,
  ) {}

  static environment(env: Env): SettingReader {
    // An empty variable is an unset one, as before; what a blank (whitespace) one means is each kind's rule.
    return new SettingReader(true, (_path, variable) => (env[variable] === '' ? undefined : env[variable]));
  }

  static options(sections: ConfigSections, base: Config | undefined): SettingReader {
    return new SettingReader(false, (path) => {
      const own = at(sections, path);
      return own !== undefined ? own : base === undefined ? undefined : at(base, path);
    });
  }

  /** How a message names the setting read from `variable`: the variable, or the option's path. */
  name(variable: string): string {
    return this.fromEnv ? variable : (this.paths.get(variable) ?? variable);
  }

  private given(path: string, variable: string): { name: string; value: unknown } {
    this.paths.set(variable, path);
    return { name: this.fromEnv ? variable : path, value: this.lookup(path, variable) };
  }

  /** A string setting's value: the variable as set, or an option that must be a string (or null where that means none). */
  private string(g: { name: string; value: unknown }, nullable: boolean): string | null | undefined {
    const v = g.value;
    if (v === undefined || typeof v === 'string') return v;
    if (v === null && nullable) return null;
    throw new ConfigError(g.name, nullable ? 'expected a string or null' : 'expected a string');
  }

  /** A string, trimmed; blank means `fallback`. `check` validates (and may normalise) the result, the fallback too. */
  text(path: string, variable: string, fallback: string, check?: (value: string, name: string) => string): string {
    const g = this.given(path, variable);
    const value = this.string(g, false)?.trim() || fallback;
    return check ? check(value, g.name) : value;
  }

  /** A string, trimmed (unless `trim` is false); blank, or null as an option, means none. */
  optionalText(path: string, variable: string, check?: (value: string, name: string) => string, trim = true): string | null {
    const g = this.given(path, variable);
    const raw = this.string(g, true);
    const value = trim ? raw?.trim() : raw;
    if (!value) return null;
    return check ? check(value, g.name) : value;
  }

  /** An integer between `min` and `max` when given (the fallback is not checked: HASH_CONCURRENCY's is the number of cores). */
  int(path: string, variable: string, fallback: number, min: number, max: number): number {
    const g = this.given(path, variable);
    const n = this.integer(g);
    return n === undefined ? fallback : inRange(g.name, n, min, max);
  }

  /** An integer, or null when unset (or null as an option). */
  optionalInt(path: string, variable: string, min: number, max: number): number | null {
    const g = this.given(path, variable);
    if (g.value === null && !this.fromEnv) return null;
    const n = this.integer(g);
    return n === undefined ? null : inRange(g.name, n, min, max);
  }

  private integer(g: { name: string; value: unknown }): number | undefined {
    const v = g.value;
    if (v === undefined) return undefined;
    if (this.fromEnv) {
      if (!/^\d+$/.test((v as string).trim())) throw new ConfigError(g.name, `expected an integer, got "${v as string}"`);
      return Number(v);
    }
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new ConfigError(g.name, `expected an integer, got ${describe(v)}`);
    return v;
  }

  /** A duration: "15m" and the like in the environment, milliseconds as an option; `fallback` is written like the former. */
  duration(path: string, variable: string, fallback: string, minMs: number, maxMs: number): number {
    const g = this.given(path, variable);
    const ms = g.value === undefined ? parseDuration(g.name, fallback) : this.milliseconds(g.name, g.value);
    if (ms < minMs || ms > maxMs) throw new ConfigError(g.name, `must be between ${minMs / 1000}s and ${maxMs / 1000}s`);
    return ms;
  }

  /**
   * A retention: a duration, or `0` / `forever` in the environment (0 or null as an option) for
   * "keep everything", which is null.
   */
  retention(path: string, variable: string, fallback: string, minMs: number, maxMs: number): number | null {
    const g = this.given(path, variable);
    const v = g.value;
    if (this.fromEnv && typeof v === 'string' && ['0', 'forever'].includes(v.trim().toLowerCase())) return null;
    if (!this.fromEnv && (v === null || v === 0)) return null;
    const ms = v === undefined ? parseDuration(g.name, fallback) : this.milliseconds(g.name, v);
    if (ms < minMs || ms > maxMs) throw new ConfigError(g.name, `must be 0 or forever (keep everything), or between ${minMs / 1000}s and ${maxMs / 1000}s`);
    return ms;
  }

  private milliseconds(name: string, value: unknown): number {
    if (this.fromEnv) return parseDuration(name, value as string);
    if (!isWholeNumber(value)) throw new ConfigError(name, `expected a duration in milliseconds (a whole number), got ${describe(value)}`);
    return value;
  }

  /** Up to 10 durations: comma-separated in the environment, an array of milliseconds as an option. */
  durations(path: string, variable: string, fallback: string, minMs: number, maxMs: number): readonly number[] {
    const g = this.given(path, variable);
    let values: unknown[];
    if (this.fromEnv || g.value === undefined) {
      values = ((g.value as string | undefined)?.trim() || fallback).split(',').map((s) => s.trim());
    } else {
      if (!Array.isArray(g.value)) throw new ConfigError(g.name, `expected an array of durations in milliseconds, got ${describe(g.value)}`);
      if (g.value.length === 0) throw new ConfigError(g.name, 'at least one duration');
      values = g.value;
    }
    if (values.length > 10) throw new ConfigError(g.name, 'at most 10 durations');
    return Object.freeze(
      values.map((value) => {
        const ms = typeof value === 'string' && (this.fromEnv || g.value === undefined) ? parseDuration(g.name, value) : this.milliseconds(g.name, value);
        if (ms < minMs || ms > maxMs) throw new ConfigError(g.name, `each duration must be between ${minMs}ms and ${maxMs / 1000}s`);
        return ms;
      }),
    );
  }

  bool(path: string, variable: string, fallback: boolean): boolean {
    const g = this.given(path, variable);
    const v = g.value;
    if (v === undefined) return fallback;
    if (typeof v === 'boolean' && !this.fromEnv) return v;
    if (typeof v !== 'string' || !this.fromEnv) throw new ConfigError(g.name, `expected true or false, got ${describe(v)}`);
    const word = v.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(word)) return true;
    if (['0', 'false', 'no', 'off'].includes(word)) return false;
    throw new ConfigError(g.name, `expected true or false, got "${v}"`);
  }

  /** One of `allowed`, compared without case (as a variable or an option). */
  oneOf<T extends string>(path: string, variable: string, allowed: readonly T[], fallback: T): T {
    const g = this.given(path, variable);
    const raw = g.value;
    if (raw === undefined) return fallback;
    const hit = typeof raw === 'string' ? allowed.find((a) => a.toLowerCase() === raw.trim().toLowerCase()) : undefined;
    if (!hit) throw new ConfigError(g.name, `expected one of ${allowed.join(', ')}, got ${typeof raw === 'string' ? `"${raw}"` : describe(raw)}`);
    return hit;
  }

  /** A list: comma-separated in the environment, an array of strings as an option; each entry trimmed, blanks dropped, then checked. */
  list(path: string, variable: string, checkEntry: (entry: string, name: string) => void): readonly string[] {
    const g = this.given(path, variable);
    const entries = this.entries(g).map((s) => s.trim()).filter(Boolean);
    for (const entry of entries) checkEntry(entry, g.name);
    return Object.freeze(entries);
  }

  private entries(g: { name: string; value: unknown }): string[] {
    const v = g.value;
    if (v === undefined) return [];
    if (this.fromEnv) return (v as string).split(',');
    if (!Array.isArray(v) || !v.every((e) => typeof e === 'string')) throw new ConfigError(g.name, 'expected an array of strings');
    return v as string[];
  }

  /**
   * The ids of a keyed group of settings: a comma list in the environment (SOCIAL_PROVIDERS), the
   * keys of the object at `objectPath` as an option (`social.providers`).
   */
  ids(objectPath: string, variable: string): string[] {
    if (this.fromEnv) return this.entries(this.given(objectPath, variable)).map((s) => s.trim()).filter(Boolean);
    const g = this.given(objectPath, objectPath);
    if (g.value === undefined) return [];
    if (typeof g.value !== 'object' || g.value === null || Array.isArray(g.value)) throw new ConfigError(g.name, 'expected an object of providers by id');
    return Object.keys(g.value);
  }

  /** "10/1m" (10 requests a minute) in the environment, `{ limit, windowMs }` as an option. */
  rateRule(path: string, variable: string, fallback: string): RateRule {
    const g = this.given(path, variable);
    let limit: number;
    let windowMs: number;
    if (this.fromEnv || g.value === undefined) {
      const raw = ((g.value as string | undefined) ?? '').trim() || fallback;
      const m = /^(\d+)\s*\/\s*(\S+)$/.exec(raw);
      if (!m) throw new ConfigError(g.name, `expected LIMIT/WINDOW like 10/1m, got "${raw}"`);
      limit = Number(m[1]);
      windowMs = parseDuration(g.name, m[2]!);
    } else {
      const v = g.value as Partial<RateRule> | null;
      if (typeof v !== 'object' || v === null || !Number.isSafeInteger(v.limit) || !isWholeNumber(v.windowMs)) {
        throw new ConfigError(g.name, 'expected { limit, windowMs } (whole numbers: requests, milliseconds)');
      }
      limit = v.limit!;
      windowMs = v.windowMs;
    }
    if (limit < 1 || limit > 1_000_000) throw new ConfigError(g.name, 'the limit must be between 1 and 1000000');
    if (windowMs < 1000 || windowMs > 86_400_000) throw new ConfigError(g.name, 'the window must be between 1s and 1d');
    return Object.freeze({ limit, windowMs });
  }

  /** A 32-byte key: base64 or hex in the environment, a Uint8Array (or null) as an option. Messages never echo a value. */
  key(path: string, variable: string): Uint8Array | null {
    const g = this.given(path, variable);
    const v = g.value;
    if (this.fromEnv) return (v as string | undefined)?.trim() ? parseKey(g.name, v as string) : null;
    return v === undefined || v === null ? null : keyBytes(g.name, v);
  }

  /** Keys as `key`: comma-separated in the environment, an array as an option. */
  keys(path: string, variable: string): readonly Uint8Array[] {
    const g = this.given(path, variable);
    const v = g.value;
    if (this.fromEnv) return Object.freeze(this.entries(g).map((s) => s.trim()).filter(Boolean).map((raw) => parseKey(g.name, raw)));
    if (v === undefined) return Object.freeze([]);
    if (!Array.isArray(v)) throw new ConfigError(g.name, 'expected an array of 32-byte keys (Uint8Array)');
    return Object.freeze(v.map((k: unknown) => keyBytes(g.name, k)));
  }
}

function inRange(name: string, n: number, min: number, max: number): number {
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function parseKey(name: string, raw: string): Uint8Array {
  const key = parseKeyEncryptionKey(raw);
  if (!key) {
    throw new ConfigError(name, 'expected 32 random bytes in base64 (openssl rand -base64 32) or as 64 hex digits (openssl rand -hex 32)');
  }
  return key;
}

function keyBytes(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== 32) throw new ConfigError(name, 'expected 32 random bytes (a Uint8Array)');
  return value;
}

/** The proxy-addr names Fastify's trustProxy understands besides addresses and CIDRs. */
const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * A TRUST_PROXY entry: an IP, IP/prefix, IP/netmask or a proxy-addr name. Checked here so that
 * a typo stops start-up naming the variable instead of crashing inside Fastify.
 */
function trustedProxy(entry: string, name: string): void {
  if (PROXY_NAMES.has(entry)) return;
  const [address = '', range, ...rest] = entry.split('/');
  const family = isIP(address);
  const validRange =
    range === undefined ||
    (/^\d{1,3}$/.test(range) && Number(range) <= (family === 4 ? 32 : 128)) ||
    (family === 4 && isIP(range) === 4);
  if (family === 0 || rest.length > 0 || !validRange) {
    throw new ConfigError(name, `expected IP addresses or CIDR ranges (or loopback, linklocal, uniquelocal), got "${entry}"`);
  }
}

/** A CORS origin: credentials are allowed, so never the wildcard. The entry is kept as written. */
function corsOrigin(origin: string, name: string): void {
  if (origin === '*') throw new ConfigError(name, 'a wildcard cannot be used with credentials; list origins');
  httpUrl(origin, name);
}

/** An http(s) URL, without trailing slashes. */
function httpUrl(raw: string, name: string): string {
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    return raw.replace(/\/+$/, '');
  } catch {
    throw new ConfigError(name, `expected an http(s) URL, got "${raw}"`);
  }
}

function databaseUrl(raw: string, name: string): string {
  if (raw.startsWith('sqlite:') || raw.startsWith('postgres://') || raw.startsWith('postgresql://')) return raw;
  // Never echoed: it may hold a password.
  throw new ConfigError(name, `expected sqlite:PATH or postgres://..., got a value with another scheme`);
}

function redisUrl(raw: string, name: string): string {
  if (!/^rediss?:\/\//.test(raw)) throw new ConfigError(name, 'expected redis://host:port or rediss://...');
  return raw;
}

function smtpUrl(raw: string, name: string): string {
  // The URL may hold a password, so no message below echoes it.
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'expected smtp://[user:pass@]host[:port] or smtps://...; the value is not a URL');
  }
  if ((url.protocol !== 'smtp:' && url.protocol !== 'smtps:') || !url.hostname) {
    throw new ConfigError(name, 'expected smtp://[user:pass@]host[:port] or smtps://...');
  }
  return raw;
}

const PLAIN_ADDRESS = /^[^\s<>@",;]+@[^\s<>@",;]+$/;
const NAMED_ADDRESS = /^[^<>\r\n]*<[^\s<>@",;]+@[^\s<>@",;]+>$/;

function mailAddress(raw: string, name: string): string {
  if (!PLAIN_ADDRESS.test(raw) && !NAMED_ADDRESS.test(raw)) {
    throw new ConfigError(name, `expected an address like no-reply@example.com or "Name <no-reply@example.com>", got "${raw}"`);
  }
  return raw;
}

function localeTag(raw: string, name: string): string {
  const tag = normaliseLocale(raw);
  if (!tag) throw new ConfigError(name, `expected a BCP 47 language tag such as en, de or de-AT, got "${raw}"`);
  return tag;
}

function productName(raw: string, name: string): string {
  // It goes into mail subjects and headers: one line, printable.
  if (raw.length > 100 || /[\u0000-\u001f\u007f]/.test(raw)) {
    throw new ConfigError(name, 'expected one line of at most 100 printable characters');
  }
  return raw;
}

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
 * Parses and validates the configuration once; the result and each of its sections are frozen.
 *
 * @example
 * const config = loadConfig(readEnvironment());
 * config.tokens.accessTokenTtlMs; // 900000 unless ACCESS_TOKEN_TTL says otherwise
 */
export function loadConfig(env: Env): Config {
  return buildConfig(SettingReader.environment(env));
}

/**
 * The configuration of the embedded plugin's options: `sections` (each partial) applied on top of
 * `base` when given, else on top of the defaults, by the same rules as the environment. A bad
 * value, or a setting no section has, throws a ConfigError naming its path
 * (`tokens.accessTokenTtlMs`). The environment is never read.
 *
 * @example
 * configFromSections({ tokens: { issuer: 'https://shop.example' }, store: { databaseUrl: 'sqlite:./shop.db' } });
 * configFromSections({ rateLimit: { rateLimitEnabled: false } }, loadConfig(readEnvironment()));
 */
export function configFromSections(sections: ConfigSections, base?: Config): Config {
  for (const section of CONFIG_SECTIONS) {
    const given: unknown = sections[section];
    if (given !== undefined && (typeof given !== 'object' || given === null || Array.isArray(given))) {
      throw new ConfigError(section, 'expected an object of settings');
    }
  }
  const config = buildConfig(SettingReader.options(sections, base));
  // A misspelt setting would otherwise be silently the default.
  for (const section of CONFIG_SECTIONS) {
    for (const field of Object.keys(sections[section] ?? {})) {
      if (!Object.hasOwn(config[section], field)) throw new ConfigError(`${section}.${field}`, `not a setting of the ${section} section`);
    }
  }
  for (const [id, fields] of Object.entries(sections.social?.providers ?? {})) {
    for (const field of Object.keys(fields ?? {})) {
      if (!Object.hasOwn(config.social.providers[id] ?? {}, field)) throw new ConfigError(`social.providers.${id}.${field}`, 'not a setting of a social provider');
    }
  }
  const rules: unknown = sections.rateLimit?.rateLimits;
  if (rules !== undefined && (typeof rules !== 'object' || rules === null || Array.isArray(rules))) {
    throw new ConfigError('rateLimit.rateLimits', 'expected an object of rules by bucket');
  }
  for (const bucket of Object.keys(rules ?? {})) {
    if (!Object.hasOwn(config.rateLimit.rateLimits, bucket)) {
      throw new ConfigError(`rateLimit.rateLimits.${bucket}`, `not a rate-limit bucket (${Object.keys(config.rateLimit.rateLimits).join(', ')})`);
    }
  }
  return config;
}

/** Every setting, its default and its rule; the sections are assembled at the end. */
function buildConfig(r: SettingReader): Config {
  const port = r.int('http.port', 'PORT', 3000, 0, 65535);
  const host = r.text('http.host', 'HOST', '127.0.0.1');
  const issuer = r.text('tokens.issuer', 'ISSUER', `http://localhost:${port}`, httpUrl);
  const audience = r.text('tokens.audience', 'AUDIENCE', 'latchkey');
  const cookieSameSite = r.oneOf<SameSite>('sessions.cookieSameSite', 'COOKIE_SAMESITE', ['lax', 'strict', 'none'], 'lax');
  const cookieSecure = r.bool('sessions.cookieSecure', 'COOKIE_SECURE', true);
  if (cookieSameSite === 'none' && !cookieSecure) {
    throw new ConfigError(r.name('COOKIE_SAMESITE'), `SameSite=None requires ${r.name('COOKIE_SECURE')}=true`);
  }
  const corsOrigins = r.list('http.corsOrigins', 'CORS_ORIGINS', corsOrigin);
  const sessionIdleTimeoutMs = r.duration('sessions.sessionIdleTimeoutMs', 'SESSION_IDLE_TIMEOUT', '7d', 60_000, 365 * 86_400_000);
  const sessionMaxAgeMs = r.duration('sessions.sessionMaxAgeMs', 'SESSION_MAX_AGE', '30d', 60_000, 365 * 86_400_000);
  if (sessionIdleTimeoutMs > sessionMaxAgeMs) {
    throw new ConfigError(r.name('SESSION_IDLE_TIMEOUT'), `must not exceed ${r.name('SESSION_MAX_AGE')}`);
  }
  const store: StoreConfig = {
    databaseUrl: r.text('store.databaseUrl', 'DATABASE_URL', 'sqlite:./data/latchkey.db', databaseUrl),
    databasePoolSize: r.int('store.databasePoolSize', 'DATABASE_POOL_SIZE', 10, 1, 200),
  };
  const accessTokenTtlMs = r.duration('tokens.accessTokenTtlMs', 'ACCESS_TOKEN_TTL', '15m', 1000, 86_400_000);
  const jwtAlg = r.oneOf('tokens.jwtAlg', 'JWT_ALG', SIGNING_ALGORITHMS, 'RS256');
  const jwtLeewayMs = r.duration('tokens.jwtLeewayMs', 'JWT_LEEWAY', '5s', 0, 60_000);
  const keyReloadIntervalMs = r.duration('tokens.keyReloadIntervalMs', 'KEY_RELOAD_INTERVAL', '30s', 1000, 3_600_000);
  const sessions: SessionsConfig = {
    sessionIdleTimeoutMs,
    sessionMaxAgeMs,
    refreshGraceMs: r.duration('sessions.refreshGraceMs', 'REFRESH_GRACE', '10s', 0, 300_000),
    cookieSecure,
    cookieSameSite,
    roleChangeEndsSessions: r.bool('sessions.roleChangeEndsSessions', 'ROLE_CHANGE_ENDS_SESSIONS', false),
    // Not trimmed: the secret is what was given.
    revocationFeedToken: r.optionalText('sessions.revocationFeedToken', 'REVOCATION_FEED_TOKEN', undefined, false),
    revocationFeedMaxStreams: r.int('sessions.revocationFeedMaxStreams', 'REVOCATION_FEED_MAX_STREAMS', 1000, 1, 100_000),
  };
  if (sessions.revocationFeedToken !== null && sessions.revocationFeedToken.length < 32) {
    throw new ConfigError(r.name('REVOCATION_FEED_TOKEN'), 'must be at least 32 characters');
  }
  const logLevel = r.oneOf('http.logLevel', 'LOG_LEVEL', LOG_LEVELS, 'info');
  const trustProxy = r.list('http.trustProxy', 'TRUST_PROXY', trustedProxy);
  const hashConcurrency = r.int('passwords.hashConcurrency', 'HASH_CONCURRENCY', availableParallelism(), 1, 64);
  const threadPoolNice = r.int('http.threadPoolNice', 'THREAD_POOL_NICE', 10, 0, 19);
  const passwords: PasswordsConfig = {
    hashConcurrency,
    hashQueueMax: r.int('passwords.hashQueueMax', 'HASH_QUEUE_MAX', 64, 0, 10_000),
    // At most the caps a stored hash may have (passwords/hash-costs.ts), so that Latchkey's own hashes always verify.
    argon2MemoryKib: r.int('passwords.argon2MemoryKib', 'ARGON2_MEMORY_KIB', 19_456, 19_456, HASH_COST_LIMITS.argon2.maxMemoryKib),
    argon2TimeCost: r.int('passwords.argon2TimeCost', 'ARGON2_TIME_COST', 2, 2, HASH_COST_LIMITS.argon2.maxTimeCost),
    argon2Parallelism: r.int('passwords.argon2Parallelism', 'ARGON2_PARALLELISM', 1, 1, 16),
  };
  const bodyLimitBytes = r.int('http.bodyLimitBytes', 'BODY_LIMIT', 16_384, 1024, 1_048_576);
  const headerLimitBytes = r.int('http.headerLimitBytes', 'HEADER_LIMIT', 16_384, 4096, 262_144);
  const docsEnabled = r.bool('http.docsEnabled', 'DOCS_ENABLED', true);
  const consoleEnabled = r.bool('http.consoleEnabled', 'CONSOLE_ENABLED', true);
  const purgeIntervalMs = r.duration('housekeeping.purgeIntervalMs', 'PURGE_INTERVAL', '10m', 1000, 86_400_000);
  const mail = readMail(r, issuer);
  const redis = r.optionalText('rateLimit.redisUrl', 'REDIS_URL', redisUrl);
  const rateLimit: RateLimitConfig = {
    rateLimitEnabled: r.bool('rateLimit.rateLimitEnabled', 'RATE_LIMIT_ENABLED', true),
    rateLimitStore: r.oneOf('rateLimit.rateLimitStore', 'RATE_LIMIT_STORE', ['auto', 'memory', 'redis', 'database'] as const, 'auto'),
    rateLimits: Object.freeze({
      login: r.rateRule('rateLimit.rateLimits.login', 'RATE_LIMIT_LOGIN', '10/1m'),
      register: r.rateRule('rateLimit.rateLimits.register', 'RATE_LIMIT_REGISTER', '10/1m'),
      refresh: r.rateRule('rateLimit.rateLimits.refresh', 'RATE_LIMIT_REFRESH', '30/1m'),
      mail: r.rateRule('rateLimit.rateLimits.mail', 'RATE_LIMIT_MAIL', '3/1m'),
      // Sized for what they cost (docs/abuse.md, "Per-IP hash budget"): a reset with a live token
      // costs one hash, as a login costs one verification; verify costs a token lookup and a
      // write, like refresh; change-password a verification and, when it succeeds, a hash.
      reset: r.rateRule('rateLimit.rateLimits.reset', 'RATE_LIMIT_RESET', '10/1m'),
      verify: r.rateRule('rateLimit.rateLimits.verify', 'RATE_LIMIT_VERIFY', '30/1m'),
      change_password: r.rateRule('rateLimit.rateLimits.change_password', 'RATE_LIMIT_CHANGE_PASSWORD', '5/1m'),
      // Passkey sign-in options cost a stored challenge and no hash; a sign-in page with passkey
      // autofill asks for them at every view, which must not eat the password attempts' budget.
      passkey_options: r.rateRule('rateLimit.rateLimits.passkey_options', 'RATE_LIMIT_PASSKEY_OPTIONS', '30/1m'),
      // The OAuth provider's token endpoint (code exchange, refresh, client credentials): services
      // behind one address call it often, and each call costs a client authentication and a write.
      oauth_token: r.rateRule('rateLimit.rateLimits.oauth_token', 'RATE_LIMIT_OAUTH_TOKEN', '60/1m'),
      default: r.rateRule('rateLimit.rateLimits.default', 'RATE_LIMIT_DEFAULT', '120/1m'),
    }),
    rateLimitIpv6Prefix: r.int('rateLimit.rateLimitIpv6Prefix', 'RATE_LIMIT_IPV6_PREFIX', 64, 32, 128),
    redisUrl: redis,
    loginBackoffThreshold: r.int('rateLimit.loginBackoffThreshold', 'LOGIN_BACKOFF_THRESHOLD', 5, 1, 1000),
    loginBackoffBaseMs: r.duration('rateLimit.loginBackoffBaseMs', 'LOGIN_BACKOFF_BASE', '1s', 1000, 3_600_000),
    loginBackoffMaxMs: r.duration('rateLimit.loginBackoffMaxMs', 'LOGIN_BACKOFF_MAX', '15m', 1000, 86_400_000),
    loginFailureWindowMs: r.duration('rateLimit.loginFailureWindowMs', 'LOGIN_FAILURE_WINDOW', '15m', 1000, 86_400_000),
  };
  const housekeeping: HousekeepingConfig = {
    purgeIntervalMs,
    eventsRetentionMs: r.duration('housekeeping.eventsRetentionMs', 'EVENTS_RETENTION', '90d', 3_600_000, 3650 * 86_400_000),
    accountDeletionGraceMs: r.duration('housekeeping.accountDeletionGraceMs', 'ACCOUNT_DELETION_GRACE', '0', 0, 365 * 86_400_000),
    auditRetentionMs: r.retention('housekeeping.auditRetentionMs', 'AUDIT_RETENTION', '365d', 86_400_000, 36500 * 86_400_000),
  };
  const factors: FactorsConfig = {
    mfaChallengeTtlMs: r.duration('factors.mfaChallengeTtlMs', 'MFA_CHALLENGE_TTL', '5m', 30_000, 1_800_000),
    stepUpMaxAgeMs: r.duration('factors.stepUpMaxAgeMs', 'STEP_UP_MAX_AGE', '10m', 1000, 86_400_000),
    stepUpAdmin: r.bool('factors.stepUpAdmin', 'STEP_UP_ADMIN', false),
    mfaRequiredRoles: r.list('factors.mfaRequiredRoles', 'MFA_REQUIRED_ROLES', (entry, name) => {
      if (!ROLE_REGEXP.test(entry)) throw new ConfigError(name, `"${entry}" is not a role name (lower-case letters, digits, _ . : -, up to 64)`);
    }),
    ...readWebAuthn(r, issuer, corsOrigins, mail),
  };
  const metrics: MetricsConfig = {
    metricsToken: r.optionalText('metrics.metricsToken', 'METRICS_TOKEN'),
    metricsPort: r.optionalInt('metrics.metricsPort', 'METRICS_PORT', 1, 65535),
  };
  const social = readSocial(r, mail.appUrl, corsOrigins);
  const webhooks: WebhooksConfig = {
    allowPrivate: r.bool('webhooks.allowPrivate', 'WEBHOOK_ALLOW_PRIVATE', false),
    timeoutMs: r.duration('webhooks.timeoutMs', 'WEBHOOK_TIMEOUT', '10s', 1000, 60_000),
    retryForMs: r.duration('webhooks.retryForMs', 'WEBHOOK_RETRY_FOR', '24h', 60_000, 30 * 86_400_000),
    disableAfterMs: r.duration('webhooks.disableAfterMs', 'WEBHOOK_DISABLE_AFTER', '24h', 60_000, 30 * 86_400_000),
    workerEnabled: r.bool('webhooks.workerEnabled', 'WEBHOOK_WORKER', true),
    pollIntervalMs: r.duration('webhooks.pollIntervalMs', 'WEBHOOK_POLL_INTERVAL', '1s', 100, 60_000),
  };
  const oauth = readOAuth(r, accessTokenTtlMs, audience);
  if (oauth.provider && jwtAlg === 'HS256') {
    throw new ConfigError(
      r.name('OAUTH_PROVIDER'),
      `needs an asymmetric ${r.name('JWT_ALG')} (RS256, ES256 or EdDSA): with HS256 the ID tokens would be signed with a secret the apps cannot have, so they could not verify them`,
    );
  }
  const shutdownTimeoutMs = r.duration('http.shutdownTimeoutMs', 'SHUTDOWN_TIMEOUT', '10s', 100, 600_000);
  const tokens: TokensConfig = {
    issuer,
    audience,
    accessTokenTtlMs,
    jwtAlg,
    jwtLeewayMs,
    keyReloadIntervalMs,
    jwtPrivateKeyFile: r.optionalText('tokens.jwtPrivateKeyFile', 'JWT_PRIVATE_KEY_FILE'),
    // Not trimmed: the secret is what was given.
    jwtSecret: r.optionalText('tokens.jwtSecret', 'JWT_SECRET', undefined, false),
    keyEncryptionKey: r.key('tokens.keyEncryptionKey', 'KEY_ENCRYPTION_KEY'),
    keyEncryptionKeyPrevious: r.keys('tokens.keyEncryptionKeyPrevious', 'KEY_ENCRYPTION_KEY_PREVIOUS'),
  };
  if (tokens.jwtSecret !== null && tokens.jwtAlg !== 'HS256') {
    throw new ConfigError(r.name('JWT_SECRET'), `is only used with ${r.name('JWT_ALG')}=HS256; use ${r.name('JWT_PRIVATE_KEY_FILE')} for asymmetric keys`);
  }
  if (tokens.jwtSecret !== null && tokens.jwtSecret.length < 32) {
    throw new ConfigError(r.name('JWT_SECRET'), 'must be at least 32 characters (256 bits)');
  }
  if (tokens.jwtPrivateKeyFile !== null && tokens.jwtAlg === 'HS256') {
    throw new ConfigError(r.name('JWT_PRIVATE_KEY_FILE'), `is for RS256, ES256 or EdDSA; HS256 takes ${r.name('JWT_SECRET')}`);
  }
  if (metrics.metricsToken !== null && metrics.metricsToken.length < 16) {
    throw new ConfigError(r.name('METRICS_TOKEN'), 'must be at least 16 characters');
  }
  if (rateLimit.rateLimitStore === 'redis' && !rateLimit.redisUrl) {
    throw new ConfigError(r.name('RATE_LIMIT_STORE'), `redis needs ${r.name('REDIS_URL')}`);
  }
  const http: HttpConfig = {
    port,
    host,
    trustProxy,
    corsOrigins,
    bodyLimitBytes,
    headerLimitBytes,
    docsEnabled,
    consoleEnabled,
    logLevel,
    logFormat: r.oneOf('http.logFormat', 'LOG_FORMAT', ['json', 'pretty'] as const, process.stdout.isTTY ? 'pretty' : 'json'),
    shutdownTimeoutMs,
    threadPoolNice,
  };
  return Object.freeze({
    http: Object.freeze(http),
    store: Object.freeze(store),
    tokens: Object.freeze(tokens),
    sessions: Object.freeze(sessions),
    passwords: Object.freeze(passwords),
    mail: Object.freeze(mail),
    rateLimit: Object.freeze(rateLimit),
    factors: Object.freeze(factors),
    metrics: Object.freeze(metrics),
    housekeeping: Object.freeze(housekeeping),
    social,
    webhooks: Object.freeze(webhooks),
    oauth: Object.freeze(oauth),
  });
}

/** The OAUTH_* settings (docs/oauth-provider.md, "Configuration"). */
function readOAuth(r: SettingReader, accessTokenTtlMs: number, audience: string): OAuthConfig {
  const scopes: string[] = [];
  // Space- or comma-separated: the list's entries are split once more on spaces.
  r.list('oauth.scopes', 'OAUTH_SCOPES', (entry, name) => {
    for (const scope of entry.split(/\s+/).filter(Boolean)) {
      if (!OAUTH_SCOPE.test(scope)) throw new ConfigError(name, `"${scope}" is not a scope (letters, digits, : . _ -, up to 64)`);
      if (!(OAUTH_BUILTIN_SCOPES as readonly string[]).includes(scope) && !scopes.includes(scope)) scopes.push(scope);
    }
  });
  const resources = r.list('oauth.resources', 'OAUTH_RESOURCES', (entry, name) => {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new ConfigError(name, `"${entry}" is not an absolute URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(name, `"${entry}" must be an http(s) URL`);
    if (url.hash !== '' || entry.includes('#')) throw new ConfigError(name, `"${entry}" must not have a fragment`);
    // A third-party app's token must never pass for a Latchkey token on /auth/*.
    if (entry === audience) throw new ConfigError(name, `"${entry}" is ${r.name('AUDIENCE')}: the provider's tokens must not be accepted by Latchkey's own routes`);
  });
  return {
    provider: r.bool('oauth.provider', 'OAUTH_PROVIDER', false),
    dynamicRegistration: r.bool('oauth.dynamicRegistration', 'OAUTH_DYNAMIC_REGISTRATION', false),
    scopes: Object.freeze(scopes),
    resources,
    accessTokenTtlMs: r.duration('oauth.accessTokenTtlMs', 'OAUTH_ACCESS_TOKEN_TTL', `${accessTokenTtlMs}ms`, 1000, 86_400_000),
    refreshTokenTtlMs: r.duration('oauth.refreshTokenTtlMs', 'OAUTH_REFRESH_TOKEN_TTL', '30d', 60_000, 365 * 86_400_000),
    consentTtlMs: r.duration('oauth.consentTtlMs', 'OAUTH_CONSENT_TTL', '365d', 60_000, 3650 * 86_400_000),
  };
}

const SOCIAL_ID = /^[a-z0-9-]{1,32}$/;
const SOCIAL_DEFAULTS: Record<string, { name: string; issuer?: string }> = {
  google: { name: 'Google', issuer: 'https://accounts.google.com' },
  github: { name: 'GitHub' },
  microsoft: { name: 'Microsoft' },
};

/**
 * An http(s) URL for a provider endpoint. Plain http only for loopback hosts (tests, local dev):
 * anything else would carry the client secret and the user's tokens in clear.
 */
function providerUrl(raw: string, name: string): string {
  const value = httpUrl(raw, name);
  const u = new URL(value);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (u.protocol === 'http:' && !loopback) throw new ConfigError(name, `must be https (plain http only for loopback hosts), got "${raw}"`);
  return value;
}

/** An entry of REDIRECT_ALLOWED_URLS: an absolute http(s) URL without credentials or fragment. */
function redirectEntry(entry: string, name: string): void {
  let u: URL;
  try {
    u = new URL(entry);
  } catch {
    throw new ConfigError(name, `expected absolute http(s) URLs, got "${entry}"`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password || u.hash) {
    throw new ConfigError(name, `expected absolute http(s) URLs without credentials or fragment, got "${entry}"`);
  }
}

/**
 * Social sign-in (docs/social-login.md): SOCIAL_PROVIDERS names the providers, SOCIAL_<ID>_*
 * configures each (`<ID>` upper-cased, `-` as `_`); as options, `social.providers.<id>.<field>`.
 * Discovery is not fetched here: an unreachable provider must not stop start-up.
 */
function readSocial(r: SettingReader, appUrl: string, corsOrigins: readonly string[]): SocialConfig {
  const providers: Record<string, SocialProviderConfig> = {};
  for (const id of r.ids('social.providers', 'SOCIAL_PROVIDERS')) {
    if (!SOCIAL_ID.test(id)) throw new ConfigError(r.name('SOCIAL_PROVIDERS'), `provider ids are lowercase [a-z0-9-]{1,32}, got "${id}"`);
    if (providers[id]) throw new ConfigError(r.name('SOCIAL_PROVIDERS'), `"${id}" is listed twice`);
    const v = `SOCIAL_${id.toUpperCase().replace(/-/g, '_')}_`;
    const p = `social.providers.${id}.`;
    const defaults = Object.hasOwn(SOCIAL_DEFAULTS, id) ? SOCIAL_DEFAULTS[id] : undefined;
    const type = r.oneOf<SocialProviderType>(`${p}type`, `${v}TYPE`, ['oidc', 'github'], id === 'github' ? 'github' : 'oidc');
    const clientId = r.optionalText(`${p}clientId`, `${v}CLIENT_ID`);
    if (!clientId) throw new ConfigError(r.name(`${v}CLIENT_ID`), `is required for the provider "${id}"`);
    // Not trimmed: the secret is what was given.
    const clientSecret = r.optionalText(`${p}clientSecret`, `${v}CLIENT_SECRET`, undefined, false);
    if (!clientSecret) throw new ConfigError(r.name(`${v}CLIENT_SECRET`), `is required for the provider "${id}"`);
    const issuer = type === 'oidc' ? r.optionalText(`${p}issuer`, `${v}ISSUER`, providerUrl) ?? defaults?.issuer ?? null : null;
    if (type === 'oidc' && issuer === null) {
      const hint = id === 'microsoft' ? ' (https://login.microsoftonline.com/<tenant>/v2.0)' : '';
      throw new ConfigError(r.name(`${v}ISSUER`), `is required for the OpenID Connect provider "${id}"${hint}`);
    }
    // Entra's multi-tenant endpoints publish an issuer with a {tenantid} placeholder that no ID
    // token matches: every sign-in would fail at discovery; say so at start-up instead.
    if (issuer !== null && /^https:\/\/login\.microsoftonline\.com\/(common|organizations|consumers)(\/|$)/i.test(issuer)) {
      throw new ConfigError(r.name(`${v}ISSUER`), 'needs a tenant id (https://login.microsoftonline.com/<tenant-id>/v2.0), not common, organizations or consumers');
    }
    const github = type === 'github';
    providers[id] = Object.freeze({
      id,
      type,
      name: r.text(`${p}name`, `${v}NAME`, defaults?.name ?? id),
      clientId,
      clientSecret,
      issuer,
      scopes: r.text(`${p}scopes`, `${v}SCOPES`, github ? 'read:user user:email' : 'openid email profile').split(/[\s,]+/).filter(Boolean).join(' '),
      authorizeUrl: github ? r.text(`${p}authorizeUrl`, `${v}AUTHORIZE_URL`, 'https://github.com/login/oauth/authorize', providerUrl) : null,
      tokenUrl: github ? r.text(`${p}tokenUrl`, `${v}TOKEN_URL`, 'https://github.com/login/oauth/access_token', providerUrl) : null,
      apiUrl: github ? r.text(`${p}apiUrl`, `${v}API_URL`, 'https://api.github.com', providerUrl) : null,
    });
  }
  const given = r.list('social.redirectAllowedUrls', 'REDIRECT_ALLOWED_URLS', redirectEntry);
  const fallback = [appUrl, ...corsOrigins].map((u) => `${new URL(u).origin}/`);
  return Object.freeze({
    providers: Object.freeze(providers),
    redirectAllowedUrls: Object.freeze(given.length > 0 ? [...given] : [...new Set(fallback)]),
  });
}

/**
 * The passkeys' relying party (docs/passkeys.md). An origin given in WEBAUTHN_ORIGINS must be on
 * the RP ID or a subdomain of it (a browser refuses any other, so it is a mistake to stop on);
 * the default list (ISSUER, CORS_ORIGINS, APP_URL) keeps only those that are.
 */
function readWebAuthn(
  r: SettingReader,
  issuer: string,
  corsOrigins: readonly string[],
  mail: MailConfig,
): Pick<FactorsConfig, 'webauthnRpId' | 'webauthnRpName' | 'webauthnOrigins'> {
  // Browsers refuse WebAuthn on an IP address, and an RP ID cannot be one: with ISSUER at an IP
  // (http://127.0.0.1:3000, http://[::1]:3000) the default is `localhost`, which start-up accepts;
  // passkeys then need a host name (docs/passkeys.md). An unset variable never stops start-up.
  const issuerHost = new URL(issuer).hostname;
  const rpDefault = isIP(issuerHost.replace(/^\[|\]$/g, '')) === 0 ? issuerHost : 'localhost';
  const rpId = r.text('factors.webauthnRpId', 'WEBAUTHN_RP_ID', rpDefault, rpIdValue);
  const rpName = r.text('factors.webauthnRpName', 'WEBAUTHN_RP_NAME', mail.productName, productName);
  const onRpId = (origin: string): boolean => {
    const host = new URL(origin).hostname;
    return host === rpId || host.endsWith(`.${rpId}`);
  };
  const given = r.list('factors.webauthnOrigins', 'WEBAUTHN_ORIGINS', (entry, name) => {
    httpUrl(entry, name);
    if (!onRpId(entry)) throw new ConfigError(name, `"${entry}" is not on the RP ID ${rpId} or a subdomain of it`);
  });
  const origins = given.length > 0 ? given : [issuer, ...corsOrigins, mail.appUrl].filter(onRpId);
  return {
    webauthnRpId: rpId,
    webauthnRpName: rpName,
    webauthnOrigins: Object.freeze([...new Set(origins.map((o) => new URL(o).origin))]),
  };
}

/** A WebAuthn RP ID: a lower-case host name (no scheme, port or path). */
function rpIdValue(raw: string, name: string): string {
  if (isIP(raw) !== 0) throw new ConfigError(name, `expected a host name such as example.com, not an IP address ("${raw}"): browsers refuse passkeys on IP addresses`);
  if (!/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(raw)) {
    throw new ConfigError(name, `expected a host name such as example.com (no scheme, port or path), got "${raw}"`);
  }
  return raw;
}

/** Mail settings (docs/email.md); APP_URL defaults to the issuer, MAIL_FROM to the product at its host. */
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

function readMail(r: SettingReader, issuer: string): MailConfig {
  const appUrl = r.text('mail.appUrl', 'APP_URL', issuer, httpUrl);
  const product = r.text('mail.productName', 'PRODUCT_NAME', 'Latchkey', productName);
  return {
    smtpUrl: r.optionalText('mail.smtpUrl', 'SMTP_URL', smtpUrl),
    mailFrom:
      r.optionalText('mail.mailFrom', 'MAIL_FROM', mailAddress) ?? `"${product.replace(/["\\]/g, '')}" <no-reply@${defaultMailDomain(appUrl, issuer)}>`,
    appUrl,
    productName: product,
    requireVerifiedEmail: r.bool('mail.requireVerifiedEmail', 'REQUIRE_VERIFIED_EMAIL', false),
    mailOutboxDir: r.text('mail.mailOutboxDir', 'MAIL_OUTBOX_DIR', './data/outbox'),
    verifyEmailTtlMs: r.duration('mail.verifyEmailTtlMs', 'VERIFY_EMAIL_TTL', '24h', 300_000, 30 * 86_400_000),
    resetTokenTtlMs: r.duration('mail.resetTokenTtlMs', 'RESET_TOKEN_TTL', '30m', 60_000, 86_400_000),
    mailRetryDelaysMs: r.durations('mail.mailRetryDelaysMs', 'MAIL_RETRY_DELAYS', '10s,1m', 10, 3_600_000),
    // 5 minutes to 30 days; longer than a reset link, since the invitee may not be expecting it.
    inviteTtlMs: r.duration('mail.inviteTtlMs', 'INVITE_TTL', '7d', 300_000, 30 * 86_400_000),
    // Email sign-in: a 1-minute to 24-hour lifetime, as a reset link's; the code's attempt limit,
    // not the lifetime, bounds how many codes can be tried.
    emailSignIn: r.bool('mail.emailSignIn', 'EMAIL_SIGN_IN', true),
    emailSignInTtlMs: r.duration('mail.emailSignInTtlMs', 'EMAIL_SIGN_IN_TTL', '15m', 60_000, 86_400_000),
    emailSignInCreatesUsers: r.bool('mail.emailSignInCreatesUsers', 'EMAIL_SIGN_IN_CREATES_USERS', false),
    // Whether templates serve it is checked when they load (features/email/template-catalog.ts).
    defaultLocale: r.text('mail.defaultLocale', 'DEFAULT_LOCALE', 'en', localeTag),
    mailTemplatesDir: r.optionalText('mail.mailTemplatesDir', 'MAIL_TEMPLATES_DIR'),
  };
}

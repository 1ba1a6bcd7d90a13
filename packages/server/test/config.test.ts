import Fastify from 'fastify';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CONFIG_SECTIONS,
  ConfigError,
  configFromSections,
  loadConfig,
  parseDuration,
  readEnvironment,
  type Config,
  type ConfigSections,
} from '../src/config.js';
import { latchkey, type LatchkeyOptions } from '../src/plugin.js';
import { createTestApp, tempDir } from './support/helpers.js';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const CONFIG_SOURCE = readFileSync(new URL('../src/config.ts', import.meta.url), 'utf8');

/** The rows of the README's configuration table: variable -> default cell. */
function readmeTable(): Map<string, string> {
  const section = README.slice(README.indexOf('## Configuration'));
  const rows = new Map<string, string>();
  for (const m of section.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \| ([^|]+) \|/gm)) rows.set(m[1]!, m[2]!.trim());
  return rows;
}

/** Every variable config.ts reads from the environment: `r.int('http.port', 'PORT', ...)` and the like. */
function variablesReadByConfig(): Set<string> {
  const names = new Set<string>();
  for (const m of CONFIG_SOURCE.matchAll(/\br\.\w+(?:<[^>]*>)?\(\s*'[\w.]+',\s*'([A-Z][A-Z0-9_]*)'/g)) names.add(m[1]!);
  return names;
}

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('defaults', () => {
  const config = loadConfig({});

  it('starts on embedded SQLite on 127.0.0.1:3000 with RS256 and no further setup', () => {
    expect(config.http.port).toBe(3000);
    expect(config.http.host).toBe('127.0.0.1');
    expect(config.store.databaseUrl).toBe('sqlite:./data/latchkey.db');
    expect(config.tokens.issuer).toBe('http://localhost:3000');
    expect(config.tokens.audience).toBe('latchkey');
    expect(config.tokens.jwtAlg).toBe('RS256');
    expect(config.tokens.accessTokenTtlMs).toBe(15 * 60_000);
    expect(config.tokens.jwtLeewayMs).toBe(5000);
    expect(config.passwords.argon2MemoryKib).toBeGreaterThanOrEqual(19_456);
    expect(config.passwords.argon2TimeCost).toBeGreaterThanOrEqual(2);
    expect(config.passwords.argon2Parallelism).toBe(1);
    expect(config.sessions.cookieSecure).toBe(true);
    expect(config.http.corsOrigins).toEqual([]);
  });

  it('ISSUER follows PORT when unset', () => {
    expect(loadConfig({ PORT: '8080' }).tokens.issuer).toBe('http://localhost:8080');
  });

  it('holds no secret at all: signing keys are generated per installation', () => {
    // Nothing in the configuration is a secret with a default value: the secret-like settings
    // (a configured key file, an HS256 secret, the metrics and revocation feed tokens, the key encryption keys) are all unset by default.
    const settings = CONFIG_SECTIONS.flatMap((section) => Object.entries(config[section]).map(([k, value]) => ({ path: `${section}.${k}`, k, value: value as unknown })));
    const secretLike = settings.filter(({ k }) => /secret|key(?!Reload)|password|token(?!Ttl)/i.test(k));
    expect(secretLike.map((s) => s.path).sort()).toEqual([
      'metrics.metricsToken',
      'sessions.revocationFeedToken',
      'tokens.jwtPrivateKeyFile',
      'tokens.jwtSecret',
      'tokens.keyEncryptionKey',
      'tokens.keyEncryptionKeyPrevious',
    ]);
    for (const { path, value } of secretLike) {
      expect(Array.isArray(value) ? value : [value], path).toEqual(Array.isArray(value) ? [] : [null]);
    }
  });
});

describe('the README configuration table', () => {
  const table = readmeTable();

  it('lists every variable config.ts reads, and nothing else', () => {
    const read = [...variablesReadByConfig()].sort();
    expect(read.length).toBeGreaterThan(20);
    expect([...table.keys()].sort()).toEqual(read);
  });

  it('states each default truthfully: setting a variable to its documented default changes nothing', () => {
    const defaults = loadConfig({});
    for (const [variable, cell] of table) {
      let value: string;
      if (cell === '(none)') value = '';
      else if (cell === 'CPU cores') value = String(availableParallelism());
      else {
        const literal = /^`([^`]*)`$/.exec(cell);
        expect(literal, `${variable}: default cell ${cell} is neither a literal nor a known phrase`).not.toBeNull();
        value = literal![1]!.replace('$PORT', '3000');
      }
      expect(loadConfig({ [variable]: value }), `${variable}=${value}`).toEqual(defaults);
    }
  });
});

describe('validation', () => {
  const bad: Array<[string, string, Record<string, string>?]> = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['DATABASE_URL', 'mysql://root@localhost/db'],
    ['DATABASE_POOL_SIZE', '0'],
    ['ISSUER', 'ftp://example.com'],
    ['ISSUER', 'not a url'],
    ['ACCESS_TOKEN_TTL', 'forever'],
    ['REVOCATION_FEED_TOKEN', 'x'.repeat(31)],
    ['REVOCATION_FEED_MAX_STREAMS', '0'],
    ['ACCESS_TOKEN_TTL', '2d'],
    ['ACCESS_TOKEN_TTL', '0'],
    ['JWT_ALG', 'none'],
    ['JWT_ALG', 'HS512'],
    ['JWT_LEEWAY', '2m'],
    ['KEY_RELOAD_INTERVAL', '0'],
    ['SESSION_IDLE_TIMEOUT', 'soon'],
    ['SESSION_IDLE_TIMEOUT', '60d'],
    ['SESSION_MAX_AGE', '1s'],
    ['REFRESH_GRACE', '1h'],
    ['CORS_ORIGINS', '*'],
    ['CORS_ORIGINS', 'https://ok.example, not an origin'],
    ['COOKIE_SECURE', 'maybe'],
    ['COOKIE_SAMESITE', 'sideways'],
    ['COOKIE_SAMESITE', 'none', { COOKIE_SECURE: 'false' }],
    ['TRUST_PROXY', 'the load balancer'],
    ['TRUST_PROXY', '10.0.0.0/99'],
    ['LOG_LEVEL', 'verbose'],
    ['HASH_CONCURRENCY', '0'],
    ['HASH_QUEUE_MAX', '-1'],
    ['THREAD_POOL_NICE', '20'],
    ['THREAD_POOL_NICE', '-5'],
    ['ARGON2_MEMORY_KIB', '4096'],
    ['ARGON2_MEMORY_KIB', '19MiB'],
    ['ARGON2_TIME_COST', '1'],
    ['ARGON2_PARALLELISM', '0'],
    ['BODY_LIMIT', '10'],
    ['DOCS_ENABLED', 'perhaps'],
    ['PURGE_INTERVAL', '10 minutes'],
    ['INVITE_TTL', '1m'],
    ['INVITE_TTL', '31d'],
    ['EMAIL_SIGN_IN', 'sometimes'],
    ['EMAIL_SIGN_IN_TTL', '30s'],
    ['EMAIL_SIGN_IN_TTL', '2d'],
    ['EMAIL_SIGN_IN_CREATES_USERS', 'yes please'],
    ['ACCOUNT_DELETION_GRACE', 'a week'],
    ['ACCOUNT_DELETION_GRACE', '366d'],
    ['ACCOUNT_DELETION_GRACE', '-1d'],
    ['RATE_LIMIT_RESET', 'ten a minute'],
    ['RATE_LIMIT_VERIFY', '0/1m'],
    ['RATE_LIMIT_CHANGE_PASSWORD', '5/2d'],
    ['RATE_LIMIT_IPV6_PREFIX', '31'],
    ['RATE_LIMIT_IPV6_PREFIX', '129'],
    ['RATE_LIMIT_IPV6_PREFIX', '/64'],
  ];

  it.each(bad)('%s=%s is refused with a message naming the variable', (variable, value, extra) => {
    const err = configError({ ...extra, [variable]: value });
    expect(err.variable).toBe(variable);
    expect(err.message.startsWith(`${variable}: `)).toBe(true);
  });

  it('ACCOUNT_DELETION_GRACE: 0 (delete at once) by default, a duration up to 365d otherwise', () => {
    expect(loadConfig({}).housekeeping.accountDeletionGraceMs).toBe(0);
    expect(loadConfig({ ACCOUNT_DELETION_GRACE: '7d' }).housekeeping.accountDeletionGraceMs).toBe(7 * 86_400_000);
    expect(loadConfig({ ACCOUNT_DELETION_GRACE: '365d' }).housekeeping.accountDeletionGraceMs).toBe(365 * 86_400_000);
  });

  it('never echoes a DATABASE_URL, which may hold a password', () => {
    const err = configError({ DATABASE_URL: 'mysql://admin:hunter2-secret@db/prod' });
    expect(err.message).not.toContain('hunter2-secret');
  });

  it('accepts the documented duration forms', () => {
    expect(parseDuration('X', '900')).toBe(900_000);
    expect(parseDuration('X', '900s')).toBe(900_000);
    expect(parseDuration('X', '15m')).toBe(900_000);
    expect(parseDuration('X', '12h')).toBe(43_200_000);
    expect(parseDuration('X', '7d')).toBe(604_800_000);
    expect(parseDuration('X', '250ms')).toBe(250);
  });

  it('accepts proxy addresses, CIDRs and the proxy-addr names in TRUST_PROXY', () => {
    const config = loadConfig({ TRUST_PROXY: '10.0.0.1, 192.168.0.0/16, ::1, fd00::/8, loopback' });
    expect(config.http.trustProxy).toEqual(['10.0.0.1', '192.168.0.0/16', '::1', 'fd00::/8', 'loopback']);
  });

  it('parses booleans, enums and lists', () => {
    const config = loadConfig({
      COOKIE_SECURE: 'false',
      JWT_ALG: 'eddsa',
      CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
      LOG_LEVEL: 'warn',
    });
    expect(config.sessions.cookieSecure).toBe(false);
    expect(config.tokens.jwtAlg).toBe('EdDSA');
    expect(config.http.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(config.http.logLevel).toBe('warn');
  });
});

describe('frozen', () => {
  it('cannot be changed after parsing: neither the object nor any of its sections', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    for (const section of CONFIG_SECTIONS) expect(Object.isFrozen(config[section]), section).toBe(true);
    expect(Object.isFrozen(config.http.corsOrigins)).toBe(true);
    expect(Object.isFrozen(config.rateLimit.rateLimits.login)).toBe(true);
    expect(() => {
      (config.http as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config as { http: unknown }).http = { port: 1 };
    }).toThrow(TypeError);
    expect(config.http.port).toBe(3000);
  });

  it('has exactly the sections CONFIG_SECTIONS names', () => {
    expect(Object.keys(loadConfig({}))).toEqual([...CONFIG_SECTIONS]);
  });

  it('is the very object the app runs with (parsed once, passed in)', async () => {
    const t = await createTestApp();
    try {
      const running: Config = t.app.latchkey.config;
      expect(running).toBe(t.config);
      expect(Object.isFrozen(running)).toBe(true);
    } finally {
      await t.close();
    }
  });
});

describe('.env file', () => {
  const { dir, cleanup } = tempDir('latchkey-env-');
  afterAll(cleanup);

  it('is read when present, and the environment wins over it', () => {
    const file = join(dir, '.env');
    writeFileSync(file, '# comment\nPORT=4321\nJWT_ALG=ES256\nAUDIENCE="orders api"\n');
    const env = readEnvironment({ PORT: '5555' }, file);
    const config = loadConfig(env);
    expect(config.http.port).toBe(5555);
    expect(config.tokens.jwtAlg).toBe('ES256');
    expect(config.tokens.audience).toBe('orders api');
  });

  it('is optional', () => {
    expect(readEnvironment({ PORT: '1' }, join(dir, 'missing.env'))).toEqual({ PORT: '1' });
  });

  it('does not write into process.env', () => {
    const file = join(dir, 'other.env');
    writeFileSync(file, 'LATCHKEY_TEST_ONLY_VARIABLE=1\n');
    readEnvironment({}, file);
    expect(process.env.LATCHKEY_TEST_ONLY_VARIABLE).toBeUndefined();
  });

  it('a bad value in it is named like one in the environment', () => {
    const file = join(dir, 'bad.env');
    writeFileSync(file, 'ARGON2_TIME_COST=1\n');
    expect(configError(readEnvironment({}, file) as Record<string, string>).variable).toBe('ARGON2_TIME_COST');
  });
});

/** `{ a: { b: value } }` for the path "a.b" (and deeper). */
function optionAt(path: string, value: unknown): ConfigSections {
  const keys = path.split('.');
  let node: unknown = value;
  for (const key of keys.reverse()) node = { [key]: node };
  return node as ConfigSections;
}

function optionError(sections: ConfigSections, base?: Config): ConfigError {
  try {
    configFromSections(sections, base);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(sections)} to be refused`);
}

describe('sections given as options (configFromSections, the embedded plugin)', () => {
  const defaults = loadConfig({});

  it('nothing given is the defaults, the same as an empty environment', () => {
    expect(configFromSections({})).toEqual(defaults);
  });

  it('a partial section is merged with the defaults; the other sections are the defaults', () => {
    const config = configFromSections({ tokens: { audience: 'shop', accessTokenTtlMs: 300_000 }, rateLimit: { rateLimits: { login: { limit: 3, windowMs: 60_000 } } } });
    expect(config.tokens).toEqual({ ...defaults.tokens, audience: 'shop', accessTokenTtlMs: 300_000 });
    expect(config.rateLimit.rateLimits).toEqual({ ...defaults.rateLimit.rateLimits, login: { limit: 3, windowMs: 60_000 } });
    // OAUTH_ACCESS_TOKEN_TTL's default is ACCESS_TOKEN_TTL: it follows the tokens section.
    expect(config.oauth).toEqual({ ...defaults.oauth, accessTokenTtlMs: 300_000 });
    for (const section of CONFIG_SECTIONS.filter((s) => s !== 'tokens' && s !== 'rateLimit' && s !== 'oauth')) expect(config[section], section).toEqual(defaults[section]);
    expect(Object.isFrozen(config)).toBe(true);
    for (const section of CONFIG_SECTIONS) expect(Object.isFrozen(config[section]), section).toBe(true);
  });

  it('defaults that follow other settings follow them as in the environment (issuer from the port, mail from the issuer)', () => {
    expect(configFromSections({ http: { port: 8080 } }).tokens.issuer).toBe(loadConfig({ PORT: '8080' }).tokens.issuer);
    const fromOptions = configFromSections({ tokens: { issuer: 'https://id.example.com/' } });
    const fromEnv = loadConfig({ ISSUER: 'https://id.example.com/' });
    expect(fromOptions.tokens.issuer).toBe('https://id.example.com');
    expect(fromOptions.mail).toEqual(fromEnv.mail);
    expect(fromOptions.mail.mailFrom).toBe('"Latchkey" <no-reply@id.example.com>');
  });

  it('a value equal to the environment\'s gives the same configuration', () => {
    const fromOptions = configFromSections({
      http: { corsOrigins: ['https://app.example.com'], logLevel: 'warn' },
      sessions: { cookieSecure: false, cookieSameSite: 'strict', sessionIdleTimeoutMs: 3_600_000 },
      tokens: { jwtAlg: 'EdDSA', jwtLeewayMs: 0 },
      mail: { mailRetryDelaysMs: [20, 30_000], inviteTtlMs: 2 * 86_400_000 },
      metrics: { metricsPort: 9100 },
    });
    const fromEnv = loadConfig({
      CORS_ORIGINS: 'https://app.example.com',
      LOG_LEVEL: 'warn',
      COOKIE_SECURE: 'false',
      COOKIE_SAMESITE: 'strict',
      SESSION_IDLE_TIMEOUT: '1h',
      JWT_ALG: 'EdDSA',
      JWT_LEEWAY: '0',
      MAIL_RETRY_DELAYS: '20ms,30s',
      INVITE_TTL: '2d',
      METRICS_PORT: '9100',
    });
    expect(fromOptions).toEqual(fromEnv);
  });

  // The environment's rules, held against typed values; the message names the option's path.
  const bad: Array<[string, unknown, ConfigSections?]> = [
    ['http.port', 70_000],
    ['http.port', '3000'],
    ['http.port', 3000.5],
    ['http.corsOrigins', ['*']],
    ['http.corsOrigins', 'https://app.example.com'],
    ['http.trustProxy', ['the load balancer']],
    ['http.logLevel', 'verbose'],
    ['http.bodyLimitBytes', 10],
    ['http.docsEnabled', 'true'],
    ['store.databaseUrl', 'mysql://root@localhost/db'],
    ['store.databasePoolSize', 0],
    ['tokens.issuer', 'ftp://example.com'],
    ['tokens.accessTokenTtlMs', 0],
    ['tokens.accessTokenTtlMs', 2 * 86_400_000],
    ['tokens.accessTokenTtlMs', '15m'],
    ['tokens.jwtAlg', 'none'],
    ['tokens.jwtLeewayMs', -1],
    ['tokens.keyEncryptionKey', new Uint8Array(16)],
    ['tokens.keyEncryptionKeyPrevious', ['not bytes']],
    ['sessions.sessionMaxAgeMs', 1000],
    ['sessions.cookieSameSite', 'sideways'],
    ['sessions.cookieSecure', 'no'],
    ['passwords.argon2TimeCost', 1],
    ['passwords.hashQueueMax', -1],
    ['mail.smtpUrl', 'http://mail.example.com'],
    ['mail.mailFrom', 'not an address'],
    ['mail.mailRetryDelaysMs', []],
    ['mail.mailRetryDelaysMs', [5]],
    ['mail.mailRetryDelaysMs', ['10s']],
    ['mail.inviteTtlMs', 60_000],
    ['mail.inviteTtlMs', '7d'],
    ['rateLimit.rateLimits', 'x'],
    ['rateLimit.rateLimits.login', { limit: 0, windowMs: 60_000 }],
    ['rateLimit.rateLimits.login', '10/1m'],
    ['rateLimit.rateLimitIpv6Prefix', 129],
    ['rateLimit.rateLimitStore', 'redis'],
    ['metrics.metricsPort', 0],
    ['metrics.metricsToken', 'short'],
    ['housekeeping.eventsRetentionMs', 1000],
  ];

  it.each(bad)('%s = %j is refused with a message naming the path', (path, value, extra) => {
    const err = optionError({ ...extra, ...optionAt(path, value) });
    expect(err.variable).toBe(path);
    expect(err.message.startsWith(`${path}: `)).toBe(true);
  });

  it('rules across settings name the options involved', () => {
    const sameSite = optionError({ sessions: { cookieSameSite: 'none', cookieSecure: false } });
    expect(sameSite.message).toBe('sessions.cookieSameSite: SameSite=None requires sessions.cookieSecure=true');
    const idle = optionError({ sessions: { sessionIdleTimeoutMs: 2 * 86_400_000, sessionMaxAgeMs: 86_400_000 } });
    expect(idle.message).toBe('sessions.sessionIdleTimeoutMs: must not exceed sessions.sessionMaxAgeMs');
    const secret = optionError({ tokens: { jwtSecret: 'x'.repeat(40) } });
    expect(secret.message).toBe('tokens.jwtSecret: is only used with tokens.jwtAlg=HS256; use tokens.jwtPrivateKeyFile for asymmetric keys');
    expect(optionError({ rateLimit: { rateLimitStore: 'redis' } }).message).toBe('rateLimit.rateLimitStore: redis needs rateLimit.redisUrl');
  });

  it('a setting no section has, or a bucket that does not exist, is refused (not silently the default)', () => {
    expect(optionError({ tokens: { issuerr: 'https://x.example' } } as unknown as ConfigSections).variable).toBe('tokens.issuerr');
    expect(optionError({ rateLimit: { rateLimits: { logins: { limit: 1, windowMs: 60_000 } } } } as unknown as ConfigSections).variable).toBe('rateLimit.rateLimits.logins');
    expect(optionError({ tokens: 'https://x.example' } as unknown as ConfigSections).variable).toBe('tokens');
  });

  it('never echoes a value that may be a secret', () => {
    expect(optionError({ store: { databaseUrl: 'mysql://admin:hunter2-secret@db/prod' } }).message).not.toContain('hunter2-secret');
    expect(optionError({ mail: { smtpUrl: 'http://u:hunter2-secret@mail' } }).message).not.toContain('hunter2-secret');
    expect(optionError({ tokens: { jwtAlg: 'HS256', jwtSecret: 'hunter2-secret' } }).message).not.toContain('hunter2-secret');
  });

  it('on top of a loaded configuration: what the sections set replaces its values, the rest is its own', () => {
    const base = loadConfig({ AUDIENCE: 'orders', ACCESS_TOKEN_TTL: '5m', RATE_LIMIT_LOGIN: '3/1m' });
    const config = configFromSections({ tokens: { accessTokenTtlMs: 60_000 }, rateLimit: { rateLimitEnabled: false } }, base);
    expect(config.tokens).toEqual({ ...base.tokens, accessTokenTtlMs: 60_000 });
    expect(config.rateLimit).toEqual({ ...base.rateLimit, rateLimitEnabled: false });
    expect(config.http).toEqual(base.http);
    // null turns off a setting the base has.
    const withSmtp = loadConfig({ SMTP_URL: 'smtp://mail.example.com' });
    expect(configFromSections({ mail: { smtpUrl: null } }, withSmtp).mail.smtpUrl).toBeNull();
  });
});

describe('the embedded plugin\'s options', () => {
  const { dir, cleanup } = tempDir('latchkey-plugin-options-');
  afterAll(cleanup);
  let n = 0;
  const database = () => `sqlite:${join(dir, `db-${++n}.sqlite`)}`;

  async function host(options: LatchkeyOptions) {
    const app = Fastify();
    await app.register(latchkey, options);
    await app.ready();
    return app;
  }

  it('takes typed sections, partial, with defaults for the rest; the routes run with them', async () => {
    const app = await host({
      prefix: '/identity',
      store: { databaseUrl: database() },
      tokens: { issuer: 'https://shop.example', audience: 'shop' },
      mail: { mailOutboxDir: join(dir, 'outbox') },
      rateLimit: { rateLimitEnabled: false },
    });
    try {
      const config = app.latchkey.config;
      expect(config.tokens.audience).toBe('shop');
      expect(config.tokens.accessTokenTtlMs).toBe(15 * 60_000);
      expect(config.sessions).toEqual(loadConfig({}).sessions);
      const credentials = { email: 'ada@shop.example', password: 'correct horse battery staple' };
      expect((await app.inject({ method: 'POST', url: '/identity/auth/register', payload: credentials })).statusCode).toBe(201);
      const login = await app.inject({ method: 'POST', url: '/identity/auth/login', payload: credentials });
      expect(login.statusCode).toBe(200);
      const claims = JSON.parse(Buffer.from((login.json().access_token as string).split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      expect(claims).toMatchObject({ iss: 'https://shop.example', aud: 'shop' });
      expect(login.json().expires_in).toBe(900);
    } finally {
      await app.close();
    }
  });

  it('a bad option stops registration with a message naming its path, before any database is opened', async () => {
    const file = join(dir, 'never-opened.sqlite');
    const app = Fastify();
    const err = await (async () => {
      await app.register(latchkey, { store: { databaseUrl: `sqlite:${file}` }, tokens: { accessTokenTtlMs: 0 } });
      await app.ready();
    })().then(
      () => null,
      (e: unknown) => e,
    );
    await app.close();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe('tokens.accessTokenTtlMs');
    expect((err as ConfigError).message).toMatch(/^tokens\.accessTokenTtlMs: must be between 1s and 86400s$/);
    expect(existsSync(file)).toBe(false);
  });

  it('a full Config still works, as the very object; sections beside it override it', async () => {
    const config = loadConfig({ DATABASE_URL: database(), LOG_LEVEL: 'silent', AUDIENCE: 'orders', MAIL_OUTBOX_DIR: join(dir, 'outbox') });
    const plain = await host({ config });
    try {
      expect(plain.latchkey.config).toBe(config);
    } finally {
      await plain.close();
    }
    const adjusted = await host({ config, rateLimit: { rateLimitEnabled: false } });
    try {
      expect(adjusted.latchkey.config.tokens).toEqual(config.tokens);
      expect(adjusted.latchkey.config.rateLimit.rateLimitEnabled).toBe(false);
      expect(config.rateLimit.rateLimitEnabled).toBe(true);
    } finally {
      await adjusted.close();
    }
  });

  it('does not read the environment: what no section sets is the default', async () => {
    const saved = process.env.AUDIENCE;
    process.env.AUDIENCE = 'from-the-environment';
    try {
      const app = await host({ store: { databaseUrl: database() }, mail: { mailOutboxDir: join(dir, 'outbox') } });
      try {
        expect(app.latchkey.config.tokens.audience).toBe('latchkey');
      } finally {
        await app.close();
      }
    } finally {
      if (saved === undefined) delete process.env.AUDIENCE;
      else process.env.AUDIENCE = saved;
    }
  });
});

describe('the passkeys relying party (WEBAUTHN_*)', () => {
  it('defaults to the ISSUER host, PRODUCT_NAME and the ISSUER, CORS_ORIGINS and APP_URL origins on that host', () => {
    const c = loadConfig({
      ISSUER: 'https://auth.example.com/base',
      CORS_ORIGINS: 'https://app.auth.example.com,https://other.example.org',
      APP_URL: 'https://auth.example.com/app',
      PRODUCT_NAME: 'Shop',
    });
    expect(c.factors.webauthnRpId).toBe('auth.example.com');
    expect(c.factors.webauthnRpName).toBe('Shop');
    // other.example.org cannot use passkeys of auth.example.com: left out; one origin per host.
    expect(c.factors.webauthnOrigins).toEqual(['https://auth.example.com', 'https://app.auth.example.com']);
    const local = loadConfig({ PORT: '3000', CORS_ORIGINS: 'http://localhost:5173' });
    expect(local.factors.webauthnRpId).toBe('localhost');
    expect(local.factors.webauthnOrigins).toEqual(['http://localhost:3000', 'http://localhost:5173']);
  });

  it('starts with ISSUER at an IP address: the RP ID defaults to localhost (an RP ID cannot be an IP), no error for an unset variable', () => {
    for (const issuer of ['http://127.0.0.1:3000', 'http://[::1]:3000', 'http://192.168.1.20:3000']) {
      const c = loadConfig({ ISSUER: issuer, CORS_ORIGINS: 'http://localhost:5173' });
      expect(c.factors.webauthnRpId).toBe('localhost');
      // The IP origin is not on localhost: only the origins that can use passkeys are listed.
      expect(c.factors.webauthnOrigins).toEqual(['http://localhost:5173']);
    }
    expect(() => loadConfig({ ISSUER: 'http://127.0.0.1:3000', WEBAUTHN_RP_ID: '127.0.0.1' })).toThrow(/WEBAUTHN_RP_ID/);
  });

  it('takes a parent domain as RP ID and origins on it', () => {
    const c = loadConfig({ ISSUER: 'https://auth.example.com', WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://app.example.com, https://example.com/' });
    expect(c.factors.webauthnOrigins).toEqual(['https://app.example.com', 'https://example.com']);
  });

  it('stops start-up on an RP ID that is not a host name, or an origin off the RP ID, naming the variable', () => {
    for (const rpId of ['https://example.com', 'example.com:443', 'Example.com', 'a/b', '-x.com']) {
      expect(() => loadConfig({ WEBAUTHN_RP_ID: rpId })).toThrow(/WEBAUTHN_RP_ID/);
    }
    expect(() => loadConfig({ WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://evil.com' })).toThrow(/WEBAUTHN_ORIGINS.*not on the RP ID/);
    expect(() => loadConfig({ WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://notexample.com' })).toThrow(/WEBAUTHN_ORIGINS/);
    expect(() => loadConfig({ WEBAUTHN_ORIGINS: 'ftp://localhost' })).toThrow(/WEBAUTHN_ORIGINS/);
    expect(() => configFromSections({ factors: { webauthnOrigins: 'https://x' as never } })).toThrow(ConfigError);
  });
});

describe('the OAuth provider (OAUTH_*)', () => {
  it('defaults: off, no custom scopes or resources, the access token TTL of ACCESS_TOKEN_TTL', () => {
    const c = loadConfig({ ACCESS_TOKEN_TTL: '10m' });
    expect(c.oauth).toEqual({ provider: false, dynamicRegistration: false, scopes: [], resources: [], accessTokenTtlMs: 600_000, refreshTokenTtlMs: 30 * 86_400_000, consentTtlMs: 365 * 86_400_000 });
  });

  it('takes scopes space- or comma-separated, built-in ones and duplicates dropped', () => {
    expect(loadConfig({ OAUTH_SCOPES: 'read:things write:things, admin.all,read:things openid' }).oauth.scopes).toEqual(['read:things', 'write:things', 'admin.all']);
  });

  it('stops start-up on a bad scope, a resource that is not an absolute URL or is AUDIENCE, naming the variable', () => {
    expect(configError({ OAUTH_SCOPES: 'ok bad/scope' }).message).toMatch(/^OAUTH_SCOPES: "bad\/scope" is not a scope/);
    expect(configError({ OAUTH_SCOPES: 'x'.repeat(65) }).variable).toBe('OAUTH_SCOPES');
    expect(configError({ OAUTH_RESOURCES: 'api.example.com' }).message).toMatch(/^OAUTH_RESOURCES: .*not an absolute URL/);
    expect(configError({ OAUTH_RESOURCES: 'https://api.example.com/#x' }).variable).toBe('OAUTH_RESOURCES');
    expect(configError({ OAUTH_RESOURCES: 'urn:x:y' }).variable).toBe('OAUTH_RESOURCES');
    expect(configError({ AUDIENCE: 'https://api.example.com', OAUTH_RESOURCES: 'https://api.example.com' }).message).toMatch(/^OAUTH_RESOURCES: .*AUDIENCE/);
    expect(configError({ OAUTH_PROVIDER: 'maybe' }).variable).toBe('OAUTH_PROVIDER');
    expect(configError({ OAUTH_PROVIDER: 'true', JWT_ALG: 'HS256', JWT_SECRET: 's'.repeat(32) }).message).toMatch(/^OAUTH_PROVIDER: needs an asymmetric JWT_ALG/);
    expect(configError({ OAUTH_REFRESH_TOKEN_TTL: '10s' }).variable).toBe('OAUTH_REFRESH_TOKEN_TTL');
    expect(loadConfig({ OAUTH_RESOURCES: 'https://api.example.com, https://other.example/v1' }).oauth.resources).toEqual(['https://api.example.com', 'https://other.example/v1']);
  });
});

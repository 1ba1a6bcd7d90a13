import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseDuration, readEnvironment, type Config } from '../src/config.js';
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

/** Every variable config.ts reads from the environment. */
function variablesReadByConfig(): Set<string> {
  const names = new Set<string>();
  for (const m of CONFIG_SOURCE.matchAll(/env(?:\.|, ')([A-Z][A-Z0-9_]*)/g)) names.add(m[1]!);
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
    expect(config.port).toBe(3000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.databaseUrl).toBe('sqlite:./data/latchkey.db');
    expect(config.issuer).toBe('http://localhost:3000');
    expect(config.audience).toBe('latchkey');
    expect(config.jwtAlg).toBe('RS256');
    expect(config.accessTokenTtlMs).toBe(15 * 60_000);
    expect(config.jwtLeewayMs).toBe(5000);
    expect(config.argon2MemoryKib).toBeGreaterThanOrEqual(19_456);
    expect(config.argon2TimeCost).toBeGreaterThanOrEqual(2);
    expect(config.argon2Parallelism).toBe(1);
    expect(config.cookieSecure).toBe(true);
    expect(config.corsOrigins).toEqual([]);
  });

  it('ISSUER follows PORT when unset', () => {
    expect(loadConfig({ PORT: '8080' }).issuer).toBe('http://localhost:8080');
  });

  it('holds no secret at all: signing keys are generated per installation', () => {
    // Nothing in the configuration is a secret with a default value: the secret-like settings
    // (a configured key file, an HS256 secret, the metrics token, the key encryption keys) are all unset by default.
    const secretLike = Object.keys(config).filter((k) => /secret|key(?!Reload)|password|token(?!Ttl)/i.test(k));
    expect(secretLike.sort()).toEqual(['jwtPrivateKeyFile', 'jwtSecret', 'keyEncryptionKey', 'keyEncryptionKeyPrevious', 'metricsToken']);
    for (const k of secretLike) {
      const value = config[k as keyof typeof config];
      expect(Array.isArray(value) ? value : [value], k).toEqual(Array.isArray(value) ? [] : [null]);
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
    expect(config.trustProxy).toEqual(['10.0.0.1', '192.168.0.0/16', '::1', 'fd00::/8', 'loopback']);
  });

  it('parses booleans, enums and lists', () => {
    const config = loadConfig({
      COOKIE_SECURE: 'false',
      JWT_ALG: 'eddsa',
      CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
      LOG_LEVEL: 'warn',
    });
    expect(config.cookieSecure).toBe(false);
    expect(config.jwtAlg).toBe('EdDSA');
    expect(config.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(config.logLevel).toBe('warn');
  });
});

describe('frozen', () => {
  it('cannot be changed after parsing', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(config.port).toBe(3000);
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
    expect(config.port).toBe(5555);
    expect(config.jwtAlg).toBe('ES256');
    expect(config.audience).toBe('orders api');
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

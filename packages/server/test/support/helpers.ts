import type { FastifyInstance } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createTestDatabase, dropTestDatabase } from './postgres.js';

/** A clock tests can move: `clock.now` is read, `clock.advance(ms)` steps it. */
export interface TestClock {
  (): number;
  set(ms: number): void;
  advance(ms: number): void;
}

export function testClock(start = Date.UTC(2026, 0, 1)): TestClock {
  let now = start;
  const clock = (() => now) as TestClock;
  clock.set = (ms) => {
    now = ms;
  };
  clock.advance = (ms) => {
    now += ms;
  };
  return clock;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'latchkey-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  clock: TestClock | undefined;
  logs: string[];
  dir: string;
  close(): Promise<void>;
}

/** Which adapter createTestApp uses by default: LATCHKEY_TEST_DB=postgres runs a suite on PostgreSQL. */
export type TestDb = 'sqlite' | 'postgres';

function defaultTestDb(): TestDb {
  return process.env.LATCHKEY_TEST_DB === 'postgres' ? 'postgres' : 'sqlite';
}

/**
 * Builds the real app on a real SQLite file in a temp directory (or on `env.DATABASE_URL`),
 * capturing log lines. Pass `clock: true` for a steppable clock. With `db: 'postgres'` (or
 * LATCHKEY_TEST_DB=postgres in the environment) the app gets a fresh database of its own on the
 * run's throwaway PostgreSQL cluster, dropped again by close().
 */
export async function createTestApp(
  env: Record<string, string> = {},
  opts: { clock?: boolean | TestClock; db?: TestDb } = {},
): Promise<TestApp> {
  const { dir, cleanup } = tempDir();
  const pgUrl = (opts.db ?? defaultTestDb()) === 'postgres' && !env.DATABASE_URL ? await createTestDatabase() : undefined;
  const config = loadConfig({
    DATABASE_URL: pgUrl ?? `sqlite:${join(dir, 'latchkey.db')}`,
    ISSUER: 'http://latchkey.test',
    LOG_LEVEL: 'info',
    // No SMTP in tests unless one sets SMTP_URL: mail goes to the temp directory, not ./data/outbox.
    MAIL_OUTBOX_DIR: join(dir, 'outbox'),
    // Tests log in far more often than a person; the rate-limit tests turn this back on.
    RATE_LIMIT_ENABLED: 'false',
    ...env,
  });
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const clock = opts.clock === true ? testClock() : opts.clock || undefined;
  const app = await buildApp(config, { clock, logStream });
  await app.ready();
  return {
    app,
    config,
    clock,
    logs,
    dir,
    async close() {
      await app.close();
      cleanup();
      if (pgUrl) await dropTestDatabase(pgUrl);
    },
  };
}

/** Registers a user and logs in over HTTP; returns the token response and the credentials. */
export async function registerAndLogin(
  app: FastifyInstance,
  email = `user-${Math.random().toString(36).slice(2)}@example.com`,
  password = 'correct horse battery staple',
): Promise<{ email: string; password: string; access: string; refresh: string; userId: string }> {
  const reg = await app.inject({ method: 'POST', url: '/auth/register', payload: { email, password } });
  if (reg.statusCode !== 201) throw new Error(`register failed: ${reg.statusCode} ${reg.body}`);
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.statusCode} ${login.body}`);
  const body = login.json() as { access_token: string; refresh_token: string };
  return { email, password, access: body.access_token, refresh: body.refresh_token, userId: reg.json().user.id };
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

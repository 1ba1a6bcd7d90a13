import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';

import Fastify from 'fastify';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { latchkey } from '../../../src/plugin.js';
import { BatchedDatabaseCounters, RATE_COUNT_FLUSH_MS } from '../../../src/features/ratelimit/batched-counters.js';
import { createTestApp, registerAndLogin, tempDir, testClock, type TestApp } from '../../support/helpers.js';
import { freePort } from '../../support/server-process.js';

const PASSWORD = 'correct horse battery staple';


async function login(t: TestApp, email: string, password: string, ip?: string) {
  return t.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password },
    ...(ip ? { headers: { 'x-forwarded-for': ip } } : {}),
  });
}

describe('per-IP rate limits', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_REGISTER: '3/1m', TRUST_PROXY: '127.0.0.1' });
  });
  afterAll(() => t.close());

  it('answers 429 with Retry-After and RateLimit headers past the limit, per client IP', async () => {
    const register = (i: number, ip: string) =>
      t.app.inject({
        method: 'POST',
        url: '/auth/register',
        headers: { 'x-forwarded-for': ip },
        payload: { email: `rl-${ip}-${i}@example.com`, password: PASSWORD },
      });
    const first = await register(0, '203.0.113.1');
    expect(first.statusCode).toBe(201);
    expect(first.headers['ratelimit-limit']).toBe('3');
    expect(first.headers['ratelimit-remaining']).toBe('2');
    expect(Number(first.headers['ratelimit-reset'])).toBeGreaterThan(0);
    expect((await register(1, '203.0.113.1')).statusCode).toBe(201);
    expect((await register(2, '203.0.113.1')).statusCode).toBe(201);
    const limited = await register(3, '203.0.113.1');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['content-type']).toContain('application/problem+json');
    expect(limited.json().code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.headers['ratelimit-remaining']).toBe('0');
    // Another client (as told by the trusted proxy) has its own budget.
    expect((await register(0, '203.0.113.2')).statusCode).toBe(201);
  });

  it("passkey sign-in options have their own bucket: page views of a sign-in form with passkey autofill leave the password budget alone", async () => {
    const ip = { 'x-forwarded-for': '203.0.113.9' };
    // The autofill asks for options at every view of the sign-in page (docs/passkeys.md).
    for (let i = 0; i < 12; i++) {
      const options = await t.app.inject({ method: 'POST', url: '/auth/passkeys/login/options', headers: ip });
      expect(options.statusCode, `options call ${i + 1}`).toBe(200);
      expect(options.headers['ratelimit-limit']).toBe('30');
    }
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', headers: ip, payload: { email: 'nobody@example.com', password: PASSWORD } });
    expect(login.statusCode).toBe(400);
    expect(login.headers['ratelimit-remaining']).toBe('9');
  });

  it('does not limit discovery and health routes', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: '/health/live' })).headers['ratelimit-limit']).toBeUndefined();
    }
  });
});

describe('rate limits of an embedded Latchkey', () => {
  // The buckets are found by the route's path below the mount point; a prefix given with a
  // trailing slash, or Latchkey registered inside a host scope with its own prefix, must not
  // leave the auth routes unlimited.
  it.each([
    { prefix: '/identity', host: undefined, auth: '/identity/auth' },
    { prefix: '/identity/', host: undefined, auth: '/identity/auth' },
    { prefix: '/identity', host: '/api', auth: '/api/identity/auth' },
  ])('mounted at $prefix inside host prefix $host: the auth routes keep their limits', async ({ prefix, host: hostPrefix, auth }) => {
    const { dir, cleanup } = tempDir();
    const host = Fastify();
    try {
      const config = loadConfig({
        DATABASE_URL: `sqlite:${join(dir, 'latchkey.db')}`,
        ISSUER: 'http://latchkey.test',
        LOG_LEVEL: 'silent',
        RATE_LIMIT_ENABLED: 'true',
        RATE_LIMIT_LOGIN: '2/1m',
      });
      if (hostPrefix) await host.register(async (api) => api.register(latchkey, { config, prefix }), { prefix: hostPrefix });
      else await host.register(latchkey, { config, prefix });
      await host.ready();
      const attempt = () => host.inject({ method: 'POST', url: `${auth}/login`, payload: { email: 'nobody@example.com', password: PASSWORD } });
      const first = await attempt();
      expect(first.statusCode).toBe(400);
      expect(first.headers['ratelimit-limit']).toBe('2');
      await attempt();
      expect((await attempt()).statusCode).toBe(429);
    } finally {
      await host.close();
      cleanup();
    }
  });
});

describe('client IP and X-Forwarded-For', () => {
  it('ignores X-Forwarded-For unless the peer is a trusted proxy', async () => {
    const untrusted = await createTestApp({ RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_LOGIN: '2/1m' });
    try {
      // Rotating the header does not buy a new budget: the peer address is what counts.
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) codes.push((await login(untrusted, 'a@example.com', 'wrong password', `198.51.100.${i}`)).statusCode);
      expect(codes).toEqual([400, 400, 429]);
    } finally {
      await untrusted.close();
    }
    const trusted = await createTestApp({ RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_LOGIN: '2/1m', TRUST_PROXY: '127.0.0.1' });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) codes.push((await login(trusted, 'a@example.com', 'wrong password', `198.51.100.${i}`)).statusCode);
      expect(codes).toEqual([400, 400, 400]);
    } finally {
      await trusted.close();
    }
  });
});

describe('login backoff per account', () => {
  let t: TestApp;
  const clock = testClock();
  beforeAll(async () => {
    t = await createTestApp(
      {
        RATE_LIMIT_ENABLED: 'true',
        RATE_LIMIT_LOGIN: '1000/1m',
        TRUST_PROXY: '127.0.0.1',
        LOGIN_BACKOFF_THRESHOLD: '3',
        LOGIN_BACKOFF_BASE: '2s',
        LOGIN_BACKOFF_MAX: '30s',
      },
      { clock },
    );
  });
  afterAll(() => t.close());

  it('locks an (account, IP) pair with growing delays, then lets the real user back in', async () => {
    const { email } = await registerAndLogin(t.app, 'victim@example.com', PASSWORD);
    const attacker = '192.0.2.66';
    const codes: number[] = [];
    for (let i = 0; i < 2; i++) codes.push((await login(t, email, 'not the password', attacker)).statusCode);
    expect(codes).toEqual([400, 400]);
    // The third failure reaches the threshold: it is answered 429 with the lock's wait (2 s), the
    // same answer the next attempt gets, and for an unknown account alike (below).
    const engaging = await login(t, email, 'not the password', attacker);
    expect(engaging.statusCode).toBe(429);
    expect(engaging.json()).toMatchObject({ code: 'RATE_LIMITED', error: 'invalid_grant', detail: 'Too many failed logins; retry in 2 s.' });
    expect(engaging.headers['retry-after']).toBe('2');
    let locked = await login(t, email, PASSWORD, attacker);
    expect(locked.statusCode).toBe(429);
    expect(locked.json().code).toBe('RATE_LIMITED');
    expect(locked.headers['retry-after']).toBe('2');

    // Past the lock, one more failure doubles it (4 s), then 8 s ... capped at 30 s.
    clock.advance(2_001);
    const doubled = await login(t, email, 'not the password', attacker);
    expect(doubled.statusCode).toBe(429);
    expect(doubled.headers['retry-after']).toBe('4');
    locked = await login(t, email, 'not the password', attacker);
    expect(locked.headers['retry-after']).toBe('4');
    for (const expected of ['8', '16', '30', '30']) {
      clock.advance(31_000);
      await login(t, email, 'not the password', attacker);
      expect((await login(t, email, PASSWORD, attacker)).headers['retry-after']).toBe(expected);
    }

    // The real user, from their own address, is not locked out by the attacker's failures.
    const fromHome = await login(t, email, PASSWORD, '198.51.100.7');
    expect(fromHome.statusCode).toBe(200);

    // And even from the attacker's address the lock ends by itself; a success resets the count.
    clock.advance(30_001);
    const after = await login(t, email, PASSWORD, attacker);
    expect(after.statusCode).toBe(200);
    expect((await login(t, email, 'not the password', attacker)).statusCode).toBe(400);
    expect((await login(t, email, PASSWORD, attacker)).statusCode).toBe(200);
  });

  it('treats unknown accounts the same way (no enumeration through the lock)', async () => {
    const ip = '192.0.2.77';
    const codes: number[] = [];
    const details: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await login(t, 'nobody@example.com', 'whatever123', ip);
      codes.push(res.statusCode);
      details.push(`${res.json().detail} ${res.headers['retry-after']}`);
    }
    expect(codes).toEqual([400, 400, 429, 429]);
    expect(details.slice(2)).toEqual(['Too many failed logins; retry in 2 s. 2', 'Too many failed logins; retry in 2 s. 2']);
  });

  it('records the backoff as a security event of the account', async () => {
    const { email, access } = await registerAndLogin(t.app, 'evented@example.com', PASSWORD);
    for (let i = 0; i < 3; i++) await login(t, email, 'not the password', '192.0.2.88');
    const res = await t.app.inject({ method: 'GET', url: '/auth/events', headers: { authorization: `Bearer ${access}` } });
    expect(res.statusCode).toBe(200);
    const types = (res.json().events as Array<{ type: string }>).map((e) => e.type);
    expect(types).toContain('login_backoff');
    expect(types.filter((x) => x === 'login_failed')).toHaveLength(3);
    expect(types).toContain('login_succeeded');
    expect(types).toContain('register');
  });
});

describe('shared counters', () => {
  let redis: ChildProcess;
  let redisUrl: string;
  const dir = tempDir('latchkey-redis-');

  beforeAll(async () => {
    const port = await freePort();
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir.dir], {
      stdio: 'ignore',
    });
    redisUrl = `redis://127.0.0.1:${port}`;
    const { Redis } = await import('ioredis');
    for (let i = 0; i < 100; i++) {
      const probe = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error('redis-server did not start');
  });
  afterAll(() => {
    redis.kill('SIGTERM');
    dir.cleanup();
  });

  async function twoInstances(env: Record<string, string>) {
    const a = await createTestApp({ RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_LOGIN: '4/1m', ...env });
    // Second instance on the same database file: what a second worker or node would see.
    const b = await createTestApp({
      RATE_LIMIT_ENABLED: 'true',
      RATE_LIMIT_LOGIN: '4/1m',
      ...env,
      DATABASE_URL: a.config.store.databaseUrl,
    });
    return { a, b };
  }

  /**
   * On PostgreSQL the database counters are batched (BatchedDatabaseCounters): an instance sees
   * the other's hits once they are sent and its own total is stale. Send this instance's hits and
   * wait out the staleness, so that the next hit on either instance counts exactly; the bound on
   * what batching lets through between two flushes has its own cases (batched-counters.postgres).
   */
  async function settle(instance: { app: { latchkey: { counters: unknown } } }) {
    const counters = instance.app.latchkey.counters;
    if (!(counters instanceof BatchedDatabaseCounters)) return;
    await counters.flush();
    await new Promise((r) => setTimeout(r, 2 * RATE_COUNT_FLUSH_MS + 20));
  }

  for (const backend of ['redis', 'database'] as const) {
    it(`${backend}: two instances share one budget`, async () => {
      const env: Record<string, string> = { RATE_LIMIT_STORE: backend };
      if (backend === 'redis') env.REDIS_URL = redisUrl;
      const { a, b } = await twoInstances(env);
      try {
        expect(a.app.latchkey.counters.kind).toBe(backend);
        const codes: number[] = [];
        for (let i = 0; i < 3; i++) {
          codes.push((await login(a, 'x@example.com', 'wrong password')).statusCode);
          await settle(a);
          codes.push((await login(b, 'x@example.com', 'wrong password')).statusCode);
          await settle(b);
        }
        // 4 allowed in total across both instances, not 4 each.
        expect(codes.filter((c) => c === 429)).toHaveLength(2);
      } finally {
        await a.close();
        await b.close();
      }
    });
  }

  it('redis: the login backoff is shared too and a lock expires on its own (Redis TTL)', async () => {
    const { a, b } = await twoInstances({
      RATE_LIMIT_STORE: 'redis',
      REDIS_URL: redisUrl,
      RATE_LIMIT_LOGIN: '100/1m',
      LOGIN_BACKOFF_THRESHOLD: '2',
      LOGIN_BACKOFF_BASE: '1s',
    });
    try {
      await registerAndLogin(a.app, 'shared@example.com', PASSWORD);
      expect((await login(a, 'shared@example.com', 'wrong password')).statusCode).toBe(400);
      // The second failure, on the other instance, engages the shared lock.
      expect((await login(b, 'shared@example.com', 'wrong password')).statusCode).toBe(429);
      expect((await login(a, 'shared@example.com', PASSWORD)).statusCode).toBe(429);
      expect((await login(b, 'shared@example.com', PASSWORD)).statusCode).toBe(429);
      await new Promise((r) => setTimeout(r, 1_100));
      expect((await login(b, 'shared@example.com', PASSWORD)).statusCode).toBe(200);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('fails open when Redis goes away: logins still work, nothing answers 500', async () => {
    const port = await freePort();
    const extra = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir.dir], {
      stdio: 'ignore',
    });
    await new Promise((r) => setTimeout(r, 300));
    const t = await createTestApp({ RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_STORE: 'redis', REDIS_URL: `redis://127.0.0.1:${port}` });
    try {
      await registerAndLogin(t.app, 'open@example.com', PASSWORD);
      extra.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      const res = await login(t, 'open@example.com', PASSWORD);
      expect(res.statusCode).toBe(200);
      expect(t.logs.join('')).toContain('request allowed');
    } finally {
      extra.kill('SIGKILL');
      await t.close();
    }
  });
});

describe('hashing load shedding', () => {
  it('200 concurrent logins with 256-character passwords: 400 or 503 with Retry-After, never 500', async () => {
    const t = await createTestApp({ HASH_CONCURRENCY: '2', HASH_QUEUE_MAX: '16' });
    try {
      await registerAndLogin(t.app, 'load@example.com', PASSWORD);
      const long = 'x'.repeat(200) + 'y'.repeat(56);
      const rssBefore = process.memoryUsage().rss;
      let peak = rssBefore;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 5);
      const results = await Promise.all(
        Array.from({ length: 200 }, () => login(t, 'load@example.com', long)),
      );
      clearInterval(sampler);
      const byStatus = new Map<number, number>();
      for (const r of results) byStatus.set(r.statusCode, (byStatus.get(r.statusCode) ?? 0) + 1);
      expect([...byStatus.keys()].sort()).toEqual([400, 503]);
      // At least 2 running + 16 waiting are served (more if a hash finished before the burst had
      // fully arrived); the rest are shed at once.
      expect(byStatus.get(400)).toBeGreaterThanOrEqual(18);
      expect(byStatus.get(503)).toBeGreaterThan(0);
      const shed = results.find((r) => r.statusCode === 503)!;
      expect(shed.json().code).toBe('OVERLOADED');
      expect(shed.headers['retry-after']).toBe('1');
      // Documented bound (docs/abuse.md): HASH_CONCURRENCY x 19 MiB of argon2 memory plus
      // request buffers; here well under 150 MiB above the starting point.
      expect(peak - rssBefore).toBeLessThan(150 * 1024 * 1024);
      // The server still answers normally afterwards.
      expect((await login(t, 'load@example.com', PASSWORD)).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('request size limits', () => {
  let t: TestApp;
  let base: { host: string; port: number };
  beforeAll(async () => {
    t = await createTestApp({ HEADER_LIMIT: '8192' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = t.app.server.address() as { port: number };
    base = { host: '127.0.0.1', port: addr.port };
  });
  afterAll(() => t.close());

  it('answers 413 problem+json to a body over BODY_LIMIT', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ email: 'big@example.com', password: 'p'.repeat(20_000) }),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers 431 problem+json to oversized headers on a real socket', async () => {
    const res = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      const req = httpRequest(
        { ...base, path: '/auth/me', method: 'GET', headers: { 'x-padding': 'a'.repeat(10_000) } },
        (r) => {
          let body = '';
          r.on('data', (c: Buffer) => (body += c.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, type: String(r.headers['content-type']), body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(res.status).toBe(431);
    expect(res.type).toBe('application/problem+json');
    expect(JSON.parse(res.body).code).toBe('HEADERS_TOO_LARGE');
  });

  it('answers 401 to an oversized bearer token, not 500', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${'a'.repeat(9000)}` } });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('INVALID_TOKEN');
  });
});

describe('security events', () => {
  it('records login, password change and logout-all, and keeps them within the retention', async () => {
    const clock = testClock();
    const t = await createTestApp({ EVENTS_RETENTION: '1d' }, { clock });
    try {
      const u = await registerAndLogin(t.app, 'audit@example.com', PASSWORD);
      clock.advance(1000);
      await login(t, u.email, 'wrong password');
      clock.advance(1000);
      const changed = await t.app.inject({
        method: 'POST',
        url: '/auth/change-password',
        headers: { authorization: `Bearer ${u.access}`, 'user-agent': 'audit-agent/1.0' },
        payload: { current_password: PASSWORD, new_password: 'a much better passphrase' },
      });
      expect(changed.statusCode).toBe(204);
      clock.advance(1000);
      expect((await t.app.inject({ method: 'POST', url: '/auth/logout-all', headers: { authorization: `Bearer ${u.access}` } })).statusCode).toBe(204);
      clock.advance(1000);
      const relog = await login(t, u.email, 'a much better passphrase');
      const access = relog.json().access_token as string;
      const res = await t.app.inject({ method: 'GET', url: '/auth/events?limit=50', headers: { authorization: `Bearer ${access}` } });
      const events = res.json().events as Array<{ type: string; ip: string; user_agent: string | null; created_at: string }>;
      expect(events.map((e) => e.type)).toEqual(
        expect.arrayContaining(['register', 'login_succeeded', 'login_failed', 'password_changed', 'logout_all']),
      );
      const change = events.find((e) => e.type === 'password_changed')!;
      expect(change.ip).toBe('127.0.0.1');
      expect(change.user_agent).toBe('audit-agent/1.0');
      // Newest first.
      expect(events[0]!.type).toBe('login_succeeded');
      // Bad query → 422, not 500.
      expect((await t.app.inject({ method: 'GET', url: '/auth/events?limit=abc', headers: { authorization: `Bearer ${access}` } })).statusCode).toBe(422);

      // Retention: past a day, the purge deletes them.
      clock.advance(2 * 86_400_000);
      const purged = await t.app.latchkey.store.purgeEvents(clock() - t.config.housekeeping.eventsRetentionMs, 1000);
      expect(purged).toBeGreaterThanOrEqual(events.length);
      expect(await t.app.latchkey.store.listEvents(u.userId, 50)).toHaveLength(0);
    } finally {
      await t.close();
    }
  });
});



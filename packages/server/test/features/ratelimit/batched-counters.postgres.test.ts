/**
 * Per-IP rate limits counted in batches on PostgreSQL (features/ratelimit/batched-counters.ts),
 * on the run's throwaway cluster. Every instance here is a real PostgresStore on one database;
 * flushes are called explicitly (the timer is set to an hour) and time is a steppable clock, so
 * nothing depends on timing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BatchedDatabaseCounters, type BatchCounterStore } from '../../../src/features/ratelimit/batched-counters.js';
import { PostgresStore } from '../../../src/store/postgres/index.js';
import type { RateCountIncrement } from '../../../src/store/types.js';
import { createTestApp, registerAndLogin, testClock, type TestApp, type TestClock } from '../../support/helpers.js';
import { createTestDatabase, dropTestDatabase } from '../../support/postgres.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const KEY = 'ip:login:203.0.113.9';
const WINDOW = 60_000;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function database(): Promise<string> {
  const url = await createTestDatabase('latchkey_rl');
  cleanups.push(() => dropTestDatabase(url));
  return url;
}

/** One "instance": its own pool on the shared database. */
async function openInstance(url: string): Promise<PostgresStore> {
  const store = new PostgresStore(url, { poolSize: 2 });
  await store.migrate();
  cleanups.push(() => store.close());
  return store;
}

function counters(store: BatchCounterStore, clock: TestClock, events: string[] = []): BatchedDatabaseCounters {
  const c = new BatchedDatabaseCounters(store, clock, {
    flushIntervalMs: HOUR,
    onFlushError: (err) => events.push(`error: ${err.message}`),
    onFlushRecovered: () => events.push('recovered'),
  });
  cleanups.push(() => c.close());
  return c;
}

async function shared(store: PostgresStore, key = KEY): Promise<number> {
  const { rows } = await store.pool.query<{ count: number }>('SELECT count FROM rate_counters WHERE key = $1', [key]);
  return rows[0]?.count ?? 0;
}

/** A store whose connection can be cut: every counter statement fails while `down`. */
function switchable(store: PostgresStore): BatchCounterStore & { down: boolean; statements: number } {
  const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  const s = {
    down: false,
    statements: 0,
    async addRateCounts(increments: readonly RateCountIncrement[], now: number) {
      s.statements++;
      if (s.down) throw refused();
      return store.addRateCounts(increments, now);
    },
    async hitRateCounter(key: string, now: number, windowMs: number) {
      if (s.down) throw refused();
      return store.hitRateCounter(key, now, windowMs);
    },
    async peekRateCounter(key: string, now: number) {
      if (s.down) throw refused();
      return store.peekRateCounter(key, now);
    },
    async resetRateCounter(key: string) {
      if (s.down) throw refused();
      return store.resetRateCounter(key);
    },
  };
  return s;
}

describe('PostgresStore.addRateCounts', () => {
  it('adds per-key increments in one statement, returns the totals, and starts ended windows over', async () => {
    const store = await openInstance(await database());
    const t0 = Date.UTC(2026, 0, 1);
    const first = await store.addRateCounts(
      [
        { key: 'b', count: 3, windowMs: 1000 },
        { key: 'a', count: 1, windowMs: 60_000 },
      ],
      t0,
    );
    expect(first.sort((x, y) => x.key.localeCompare(y.key))).toEqual([
      { key: 'a', count: 1, resetAt: t0 + 60_000 },
      { key: 'b', count: 3, resetAt: t0 + 1000 },
    ]);
    // Within a's window, past b's: a adds up, b starts a new window with just these hits.
    const second = await store.addRateCounts(
      [
        { key: 'a', count: 4, windowMs: 60_000 },
        { key: 'b', count: 2, windowMs: 1000 },
      ],
      t0 + 1000,
    );
    expect(second.sort((x, y) => x.key.localeCompare(y.key))).toEqual([
      { key: 'a', count: 5, resetAt: t0 + 60_000 },
      { key: 'b', count: 2, resetAt: t0 + 2000 },
    ]);
    expect(await store.addRateCounts([], t0)).toEqual([]);
    // The exact single-hit path sees the same rows.
    expect(await store.hitRateCounter('a', t0 + 2000, 60_000)).toEqual({ count: 6, resetAt: t0 + 60_000 });
  });

  it('two instances flushing overlapping keys at once lose no hit', async () => {
    const url = await database();
    const [a, b] = [await openInstance(url), await openInstance(url)];
    const t0 = Date.UTC(2026, 0, 1);
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    const batch = (reverse: boolean) => (reverse ? [...keys].reverse() : keys).map((key) => ({ key, count: 1, windowMs: 60_000 }));
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).addRateCounts(batch(i % 2 === 0), t0)));
    const { rows } = await a.pool.query<{ n: number }>('SELECT count(DISTINCT count)::int AS n FROM rate_counters');
    expect(rows[0]!.n).toBe(1);
    expect(await shared(a, 'k7')).toBe(10);
  });
});

describe('batched database counters', () => {
  it('one instance is exact: the first hit is a round trip, the rest count locally until a flush', async () => {
    const store = await openInstance(await database());
    const spy = switchable(store);
    const clock = testClock();
    const c = counters(spy, clock);
    expect(await c.hit(KEY, WINDOW)).toEqual({ count: 1, resetAt: clock() + WINDOW });
    expect(spy.statements).toBe(1);
    for (let i = 2; i <= 5; i++) expect((await c.hit(KEY, WINDOW)).count).toBe(i);
    expect(spy.statements).toBe(1); // no round trip for those
    expect(await shared(store)).toBe(1);
    await c.flush();
    expect(spy.statements).toBe(2);
    expect(await shared(store)).toBe(5);
    expect((await c.hit(KEY, WINDOW)).count).toBe(6);
    // Concurrent first hits of a new key share one round trip and still count one each.
    const burst = await Promise.all(Array.from({ length: 20 }, () => c.hit('ip:default:198.51.100.1', WINDOW)));
    expect(burst.map((r) => r.count).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(spy.statements).toBe(3);
    await c.flush();
    expect(await shared(store, 'ip:default:198.51.100.1')).toBe(20);
  });

  it('two instances on one database refuse together once the limit plus one flush interval of the other is reached', async () => {
    const url = await database();
    const clock = testClock();
    const storeA = await openInstance(url);
    const a = counters(storeA, clock);
    const b = counters(await openInstance(url), clock);
    const limit = 10;
    const perInterval = 3; // requests each instance takes between two flushes
    let admitted = 0;
    const refusedBy = { a: 0, b: 0 };
    for (let round = 0; round < 5; round++) {
      for (const [name, c] of [['a', a], ['b', b]] as const) {
        for (let i = 0; i < perInterval; i++) {
          if ((await c.hit(KEY, WINDOW)).count <= limit) admitted++;
          else refusedBy[name]++;
        }
      }
      await Promise.all([a.flush(), b.flush()]);
    }
    // Not limit each (20), not unlimited: the limit, overshot by at most what the other
    // instance counted within one flush interval (docs/abuse.md).
    expect(admitted).toBeGreaterThanOrEqual(limit);
    expect(admitted).toBeLessThanOrEqual(limit + perInterval);
    expect(refusedBy.a).toBeGreaterThan(0);
    expect(refusedBy.b).toBeGreaterThan(0);
    // Every hit, refused or not, reached the database; both instances now refuse at once.
    expect(await shared(storeA)).toBe(5 * 2 * perInterval);
    expect((await a.hit(KEY, WINDOW)).count).toBeGreaterThan(limit);
    expect((await b.hit(KEY, WINDOW)).count).toBeGreaterThan(limit);
  });

  it('an instance idle on a key re-reads the shared total before answering from it', async () => {
    const url = await database();
    const clock = testClock();
    const a = counters(await openInstance(url), clock);
    const b = counters(await openInstance(url), clock);
    // A day's window, so that two flush intervals (2 h here) pass within it.
    expect((await a.hit(KEY, DAY)).count).toBe(1);
    for (let i = 0; i < 6; i++) await b.hit(KEY, DAY);
    await b.flush();
    // Within two flush intervals a answers from its own total, blind to b's 6 hits ...
    expect((await a.hit(KEY, DAY)).count).toBe(2);
    // ... past them, a hit first sends a's unsent hit and its own, and reads the total back.
    clock.advance(2 * HOUR + 1);
    expect((await a.hit(KEY, DAY)).count).toBe(9);
  });

  it('counts survive an instance restart within the window, and start over after it', async () => {
    const url = await database();
    const clock = testClock();
    const first = new BatchedDatabaseCounters(await openInstance(url), clock, { flushIntervalMs: HOUR });
    for (let i = 0; i < 7; i++) await first.hit(KEY, WINDOW);
    // Shutting down sends what was not flushed yet.
    await first.close();
    const restarted = counters(await openInstance(url), clock);
    expect((await restarted.hit(KEY, WINDOW)).count).toBe(8);
    clock.advance(WINDOW);
    expect(await restarted.hit(KEY, WINDOW)).toEqual({ count: 1, resetAt: clock() + WINDOW });
  });

  it('database down: an unknown key rejects (the limiter lets the request through); a known one counts locally and is sent once the database is back', async () => {
    const store = await openInstance(await database());
    const spy = switchable(store);
    const clock = testClock();
    const events: string[] = [];
    const c = counters(spy, clock, events);
    expect((await c.hit(KEY, WINDOW)).count).toBe(1);
    spy.down = true;
    await expect(c.hit('ip:login:198.51.100.2', WINDOW)).rejects.toThrow(/ECONNREFUSED/);
    // A failed first hit leaves nothing behind: the next one tries the database again.
    expect(c.size).toBe(1);
    for (let i = 2; i <= 4; i++) expect((await c.hit(KEY, WINDOW)).count).toBe(i);
    await c.flush();
    await c.flush();
    expect(events).toEqual(['error: connect ECONNREFUSED 127.0.0.1:5432']); // told once, not per flush
    expect((await c.hit(KEY, WINDOW)).count).toBe(5);
    spy.down = false;
    await c.flush();
    expect(events).toEqual(['error: connect ECONNREFUSED 127.0.0.1:5432', 'recovered']);
    expect(await shared(store)).toBe(5);
  });

  it('database down for longer than a total is trusted: a client over its limit stays refused, without a round trip per request', async () => {
    const store = await openInstance(await database());
    const spy = switchable(store);
    const clock = testClock();
    const c = counters(spy, clock);
    for (let i = 1; i <= 3; i++) expect((await c.hit(KEY, DAY)).count).toBe(i);
    spy.down = true;
    clock.advance(2 * HOUR + 1); // the total (3) is now too old to trust without asking
    const before = spy.statements;
    // The one attempt fails; the hit is counted against the known total instead of let through.
    expect((await c.hit(KEY, DAY)).count).toBe(4);
    expect(spy.statements).toBe(before + 1);
    expect((await c.hit(KEY, DAY)).count).toBe(5);
    expect(spy.statements).toBe(before + 1);
    spy.down = false;
    await c.flush();
    expect(await shared(store)).toBe(5);
  });

  it('hits of a window that ended before they were sent are not carried into the next', async () => {
    const store = await openInstance(await database());
    const clock = testClock();
    const c = counters(store, clock);
    await c.hit(KEY, WINDOW);
    for (let i = 0; i < 4; i++) await c.hit(KEY, WINDOW);
    clock.advance(WINDOW);
    await c.flush();
    expect(await shared(store)).toBe(1);
    expect((await c.hit(KEY, WINDOW)).count).toBe(1);
  });
});

describe('rate limits of two app instances on one PostgreSQL database', () => {
  const apps: TestApp[] = [];
  afterEach(async () => {
    for (const t of apps.splice(0).reverse()) await t.close();
  });

  async function twoApps(env: Record<string, string>, clock: TestClock) {
    const a = await createTestApp({ RATE_LIMIT_ENABLED: 'true', ...env }, { db: 'postgres', clock });
    apps.push(a);
    const b = await createTestApp({ RATE_LIMIT_ENABLED: 'true', ...env, DATABASE_URL: a.config.store.databaseUrl }, { clock });
    apps.unshift(b); // closed before a, which drops the database
    return { a, b };
  }

  const batched = (t: TestApp) => t.app.latchkey.counters as BatchedDatabaseCounters;

  it('use the batched database counters by default and share one budget', async () => {
    const { a, b } = await twoApps({ RATE_LIMIT_LOGIN: '4/1m' }, testClock());
    expect(a.app.latchkey.counters).toBeInstanceOf(BatchedDatabaseCounters);
    const login = (t: TestApp) =>
      t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'x@example.com', password: 'wrong password' } });
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      codes.push((await login(a)).statusCode, (await login(b)).statusCode);
      await batched(a).flush();
      await batched(b).flush();
    }
    // 4 in all across both instances, not 4 each, plus the documented slack: the instance whose
    // flush ran first did not see the other's last request, so one of the third pair may pass
    // (which one depends on whether a 100 ms timer flush ran in between). Then both refuse.
    expect(codes.slice(0, 4)).toEqual([400, 400, 400, 400]);
    expect(codes.filter((c) => c === 400).length).toBeLessThanOrEqual(5);
    expect(codes.slice(4).filter((c) => c === 429).length).toBeGreaterThanOrEqual(3);
    expect(codes.slice(6)).toEqual([429, 429]);
  });

  it('keep the login backoff exact across instances, without flushes', async () => {
    const { a, b } = await twoApps(
      { RATE_LIMIT_LOGIN: '1000/1m', LOGIN_BACKOFF_THRESHOLD: '3', LOGIN_BACKOFF_BASE: '10s' },
      testClock(),
    );
    const { email } = await registerAndLogin(a.app, 'backoff@example.com');
    const login = (t: TestApp, password: string) => t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
    expect((await login(a, 'wrong password')).statusCode).toBe(400);
    expect((await login(b, 'wrong password')).statusCode).toBe(400);
    // The third failure (on two instances, nothing flushed) locks the pair on both, and says so.
    expect((await login(a, 'wrong password')).statusCode).toBe(429);
    const locked = await login(b, 'correct horse battery staple');
    expect(locked.statusCode).toBe(429);
    expect(locked.headers['retry-after']).toBe('10');
  });

  it('fail open when the counter statements fail: no 429 and no 500 for a new client, and a warning', async () => {
    const t = await createTestApp({ RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_LOGIN: '1/1m' }, { db: 'postgres', clock: testClock() });
    apps.push(t);
    const store = t.app.latchkey.store as PostgresStore;
    const refused = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
    store.addRateCounts = refused;
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'open@example.com', password: 'whatever123' } });
      codes.push(res.statusCode);
    }
    expect(codes).toEqual([400, 400, 400]);
    expect(t.logs.join('')).toContain('request allowed');
  });
});

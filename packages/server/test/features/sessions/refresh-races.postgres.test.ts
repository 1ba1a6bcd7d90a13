/**
 * The refresh races on PostgreSQL, where store calls really interleave, with two Latchkey
 * instances sharing one database (the multi-node setup): the grace window, reuse detection and
 * REFRESH_GRACE=0 behave exactly as on SQLite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerAndLogin, testClock, type TestApp } from '../../support/helpers.js';
import { bearerRefresh, claimsOf, cookieLogin, cookieRefresh, expectProblem, me } from '../../support/sessions.js';
import { createTestDatabase, dropTestDatabase } from '../../support/postgres.js';

async function twoInstances(env: Record<string, string>): Promise<{ a: TestApp; b: TestApp; url: string; close(): Promise<void> }> {
  const url = await createTestDatabase('latchkey_sessions');
  const clock = testClock();
  const a = await createTestApp({ DATABASE_URL: url, ...env }, { clock });
  const b = await createTestApp({ DATABASE_URL: url, ...env }, { clock });
  return {
    a,
    b,
    url,
    async close() {
      await a.close();
      await b.close();
      await dropTestDatabase(url);
    },
  };
}

describe('default grace window, two instances on one PostgreSQL database', () => {
  let pair: Awaited<ReturnType<typeof twoInstances>>;
  beforeAll(async () => {
    pair = await twoInstances({});
  });
  afterAll(async () => {
    await pair?.close();
  });

  it('20 parallel refreshes with one token, split across the instances, all succeed; reuse after the window revokes', async () => {
    const u = await registerAndLogin(pair.a.app);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => bearerRefresh(i % 2 === 0 ? pair.a.app : pair.b.app, u.refresh)),
    );
    expect(results.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    const pairs = results.map((r) => r.json() as { access_token: string; refresh_token: string });
    expect(new Set(pairs.map((p) => p.refresh_token)).size).toBe(20);
    expect(new Set(pairs.map((p) => claimsOf(p.access_token).sid)).size).toBe(1);
    const next = await Promise.all(pairs.map((p, i) => bearerRefresh(i % 2 === 0 ? pair.b.app : pair.a.app, p.refresh_token)));
    expect(next.map((r) => r.statusCode)).toEqual(Array(20).fill(200));

    pair.a.clock!.advance(10_000);
    expectProblem(await bearerRefresh(pair.b.app, u.refresh), 401, 'REFRESH_TOKEN_REUSED');
    // Revoked for both instances at once.
    expectProblem(await me(pair.a.app, pairs[0]!.access_token), 401, 'INVALID_TOKEN');
    expectProblem(await bearerRefresh(pair.a.app, (next[0]!.json() as { refresh_token: string }).refresh_token), 401, 'INVALID_REFRESH_TOKEN');
  });

  it('20 concurrent cookie refreshes with one cookie all succeed, each with a new cookie', async () => {
    const u = await registerAndLogin(pair.a.app);
    const login = await cookieLogin(pair.a.app, u.email, u.password);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => cookieRefresh(i % 2 ? pair.a.app : pair.b.app, login.jar)));
    expect(results.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    const cookies = results.map((r) => r.cookies.find((c) => c.name === 'lk_refresh')?.value);
    expect(new Set(cookies).size).toBe(20);
    expect(cookies).not.toContain(login.jar.lk_refresh);
    expect(results.every((r) => r.json().csrf_token === login.csrf)).toBe(true);
  });
});

describe('REFRESH_GRACE=0 on PostgreSQL', () => {
  let pair: Awaited<ReturnType<typeof twoInstances>>;
  beforeAll(async () => {
    pair = await twoInstances({ REFRESH_GRACE: '0' });
  });
  afterAll(async () => {
    await pair?.close();
  });

  it('of 20 parallel refreshes across two instances exactly one wins, one is reuse and the session ends', async () => {
    const u = await registerAndLogin(pair.a.app);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => bearerRefresh(i % 2 === 0 ? pair.a.app : pair.b.app, u.refresh)),
    );
    const codes = results.map((r) => (r.statusCode === 200 ? 'OK' : (r.json().code as string)));
    expect(codes.filter((c) => c === 'OK')).toHaveLength(1);
    expect(codes.filter((c) => c === 'REFRESH_TOKEN_REUSED')).toHaveLength(1);
    expect(codes.filter((c) => c === 'INVALID_REFRESH_TOKEN')).toHaveLength(18);
    const winner = results.find((r) => r.statusCode === 200)!.json() as { refresh_token: string };
    expectProblem(await bearerRefresh(pair.b.app, winner.refresh_token), 401, 'INVALID_REFRESH_TOKEN');
  });
});

/**
 * The HTTP flow on both adapters: the same requests against the real app on a SQLite file and on
 * a fresh PostgreSQL database (the run's throwaway cluster). Register, login, me, refresh,
 * sessions, logout, and the two races that only a real multi-connection database can lose:
 * 50 parallel registrations of one email and 20 parallel refreshes of one token.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerAndLogin, type TestApp, type TestDb } from '../support/helpers.js';

const PASSWORD = 'correct horse battery staple';

function problem(res: LightMyRequestResponse, status: number, code: string): void {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json().code).toBe(code);
}

describe.each<TestDb>(['sqlite', 'postgres'])('HTTP flow on %s', (db) => {
  let t: TestApp;
  let noGrace: TestApp;

  beforeAll(async () => {
    [t, noGrace] = await Promise.all([createTestApp({}, { db }), createTestApp({ REFRESH_GRACE: '0' }, { db })]);
  });
  afterAll(async () => {
    await Promise.all([t?.close(), noGrace?.close()]);
  });

  it('serves the adapter it was given', async () => {
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ok', database: db });
  });

  it('register, login, me, update, refresh, sessions, logout', async () => {
    const email = `flow-${db}@example.com`;
    const reg = await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email: ` Flow-${db}@Example.com `, password: PASSWORD, name: 'Flo' } });
    expect(reg.statusCode, reg.body).toBe(201);
    const user = reg.json().user;
    expect(user).toMatchObject({ email, name: 'Flo', roles: [], email_verified: false, disabled: false });
    expect(JSON.stringify(reg.json())).not.toMatch(/argon2|password/i);
    problem(await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } }), 409, 'EMAIL_TAKEN');

    problem(await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'wrong password here' } }), 400, 'INVALID_CREDENTIALS');
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
    expect(login.statusCode, login.body).toBe(200);
    const tokens = login.json() as { access_token: string; refresh_token: string; token_type: string };
    expect(tokens.token_type).toBe('Bearer');

    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(tokens.access_token) });
    expect(me.statusCode).toBe(200);
    expect(me.json().user).toEqual(user);
    const patched = await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(tokens.access_token), payload: { name: 'Florence' } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json().user.name).toBe('Florence');

    const refreshed = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } });
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    const next = refreshed.json() as { access_token: string; refresh_token: string };
    expect(next.refresh_token).not.toBe(tokens.refresh_token);

    const sessions = await t.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(next.access_token) });
    expect(sessions.statusCode).toBe(200);
    expect(sessions.json().sessions).toEqual([expect.objectContaining({ current: true })]);

    const out = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(next.access_token) });
    expect(out.statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(next.access_token) })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(tokens.access_token) })).statusCode).toBe(401);
    problem(await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: next.refresh_token } }), 401, 'INVALID_REFRESH_TOKEN');
  });

  it('50 parallel registrations of one email: exactly one 201, the rest 409, no 500', async () => {
    const email = `race-${db}@example.com`;
    const results = await Promise.all(
      Array.from({ length: 50 }, () => t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } })),
    );
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    for (const r of results.filter((x) => x.statusCode === 409)) expect(r.json().code).toBe('EMAIL_TAKEN');
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
    expect(login.statusCode).toBe(200);
  });

  it('20 parallel refreshes of one token inside the grace window: all 200, and every new token works', async () => {
    const u = await registerAndLogin(t.app, `refresh-race-${db}-${Date.now()}@example.com`);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: u.refresh } })),
    );
    expect(results.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    const fresh = results.map((r) => (r.json() as { refresh_token: string }).refresh_token);
    expect(new Set(fresh).size).toBe(20);
    const next = await Promise.all(fresh.map((refresh_token) => t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token } })));
    expect(next.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(u.access) });
    expect(me.statusCode).toBe(200);
  });

  it('20 parallel refreshes with REFRESH_GRACE=0: one 200, the others 401, and the session is ended', async () => {
    const u = await registerAndLogin(noGrace.app, `no-grace-${db}-${Date.now()}@example.com`);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => noGrace.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: u.refresh } })),
    );
    const ok = results.filter((r) => r.statusCode === 200);
    expect(ok).toHaveLength(1);
    for (const r of results.filter((x) => x.statusCode !== 200)) {
      expect(r.statusCode, r.body).toBe(401);
      expect(['REFRESH_TOKEN_REUSED', 'INVALID_REFRESH_TOKEN']).toContain(r.json().code);
    }
    expect(results.some((r) => r.statusCode === 401 && r.json().code === 'REFRESH_TOKEN_REUSED')).toBe(true);
    const winner = ok[0]!.json() as { access_token: string; refresh_token: string };
    problem(await noGrace.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: winner.refresh_token } }), 401, 'INVALID_REFRESH_TOKEN');
    expect((await noGrace.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(winner.access_token) })).statusCode).toBe(401);
  });
});

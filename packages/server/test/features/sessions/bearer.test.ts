/**
 * Sessions in bearer mode (tokens in the body): rotation, the grace window, reuse detection,
 * logout, logout-all, the session list, revoking one session and change-password, all over
 * HTTP against a real SQLite file with a steppable clock.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { bearerRefresh, claimsOf, eventsOf, expectProblem, me, sqliteOf } from '../../support/sessions.js';

const GRACE_MS = 10_000;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({}, { clock: true });
});
afterAll(async () => {
  await t.close();
});

async function login(email: string, password: string, userAgent = 'vitest') {
  const res = await t.app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: { 'user-agent': userAgent },
    payload: { email, password },
  });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json() as { access_token: string; refresh_token: string };
  return { access: body.access_token, refresh: body.refresh_token };
}

describe('refresh rotation', () => {
  it('runs the full lifecycle: login, me, refresh (rotated), sessions, logout', async () => {
    const u = await registerAndLogin(t.app);
    // 256 random bits, base64url, and only its SHA-256 is stored.
    expect(u.refresh).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(u.refresh, 'base64url')).toHaveLength(32);
    const db = sqliteOf(t.app).db;
    const stored = db.prepare<[string], { token_hash: string }>(
      'SELECT token_hash FROM refresh_tokens WHERE session_id = ?',
    ).all(claimsOf(u.access).sid);
    expect(stored.map((r) => r.token_hash)).toEqual([sha256(u.refresh)]);

    expect((await me(t.app, u.access)).statusCode).toBe(200);

    const refreshed = await bearerRefresh(t.app, u.refresh);
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    expect(refreshed.headers['cache-control']).toBe('no-store');
    const pair = refreshed.json() as Record<string, unknown>;
    expect(Object.keys(pair).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'token_type']);
    expect(pair.token_type).toBe('Bearer');
    expect(pair.expires_in).toBe(900);
    expect(pair.refresh_token).not.toBe(u.refresh);
    expect(claimsOf(pair.access_token as string).sid).toBe(claimsOf(u.access).sid);
    // Nothing in the database is the token itself.
    const allHashes = db.prepare<[], { token_hash: string }>('SELECT token_hash FROM refresh_tokens').all();
    expect(allHashes.some((r) => r.token_hash === pair.refresh_token || r.token_hash === u.refresh)).toBe(false);

    const list = await t.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(pair.access_token as string) });
    expect(list.statusCode).toBe(200);
    const sessions = list.json().sessions as Array<Record<string, unknown>>;
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ id: claimsOf(u.access).sid, current: true, ip: '127.0.0.1' });

    const out = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(pair.access_token as string) });
    expect(out.statusCode).toBe(204);
    // Effective at once, for the access token of this refresh and the one before it.
    expectProblem(await me(t.app, pair.access_token as string), 401, 'INVALID_TOKEN');
    expectProblem(await me(t.app, u.access), 401, 'INVALID_TOKEN');
    expectProblem(await bearerRefresh(t.app, pair.refresh_token as string), 401, 'INVALID_REFRESH_TOKEN');

    const types = (await eventsOf(t.app, u.userId)).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['login_succeeded', 'logout']));
  });

  it('a spent token used REFRESH_GRACE after its first use revokes the whole session (401 REFRESH_TOKEN_REUSED), logged and recorded', async () => {
    const u = await registerAndLogin(t.app);
    const r1 = (await bearerRefresh(t.app, u.refresh)).json() as { access_token: string; refresh_token: string };
    t.clock!.advance(GRACE_MS); // exactly the window: no longer "less than REFRESH_GRACE ago"
    const logsBefore = t.logs.length;

    const replay = await bearerRefresh(t.app, u.refresh);
    expectProblem(replay, 401, 'REFRESH_TOKEN_REUSED');
    expect(replay.json().error).toBe('invalid_grant');

    // The whole family is dead: the live successor and every access token of the session.
    expectProblem(await bearerRefresh(t.app, r1.refresh_token), 401, 'INVALID_REFRESH_TOKEN');
    expectProblem(await me(t.app, r1.access_token), 401, 'INVALID_TOKEN');
    const row = sqliteOf(t.app)
      .db.prepare<[string], { revoked_reason: string }>('SELECT revoked_reason FROM sessions WHERE id = ?')
      .get(claimsOf(u.access).sid);
    expect(row?.revoked_reason).toBe('refresh_token_reused');

    const events = await eventsOf(t.app, u.userId);
    const reuse = events.find((e) => e.type === 'refresh_token_reused');
    expect(reuse?.detail).toEqual({ session_id: claimsOf(u.access).sid });

    const newLines = t.logs.slice(logsBefore).join('');
    const warn = t.logs.slice(logsBefore).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'refresh_token_reused');
    expect(warn).toMatchObject({ level: 40, sessionId: claimsOf(u.access).sid, userId: u.userId });
    expect(newLines).not.toContain(u.refresh);
    expect(newLines).not.toContain(r1.refresh_token);
  });

  it('a spent token used less than REFRESH_GRACE ago gets a new token of the same session; both lineages continue', async () => {
    const u = await registerAndLogin(t.app);
    const r1 = (await bearerRefresh(t.app, u.refresh)).json() as { refresh_token: string };
    t.clock!.advance(GRACE_MS - 1);
    const again = await bearerRefresh(t.app, u.refresh);
    expect(again.statusCode, again.body).toBe(200);
    const r2 = again.json() as { access_token: string; refresh_token: string };
    expect(r2.refresh_token).not.toBe(r1.refresh_token);
    expect(claimsOf(r2.access_token).sid).toBe(claimsOf(u.access).sid);
    expect((await bearerRefresh(t.app, r1.refresh_token)).statusCode).toBe(200);
    expect((await bearerRefresh(t.app, r2.refresh_token)).statusCode).toBe(200);
  });

  it('20 parallel refreshes with one token inside the window all succeed and each gets a live lineage', async () => {
    const u = await registerAndLogin(t.app);
    const results = await Promise.all(Array.from({ length: 20 }, () => bearerRefresh(t.app, u.refresh)));
    expect(results.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    const pairs = results.map((r) => r.json() as { access_token: string; refresh_token: string });
    expect(new Set(pairs.map((p) => p.refresh_token)).size).toBe(20);
    expect(new Set(pairs.map((p) => claimsOf(p.access_token).sid))).toEqual(new Set([claimsOf(u.access).sid]));

    // The user is still logged in, with one session, and every lineage can go on.
    expect((await me(t.app, pairs[19]!.access_token)).statusCode).toBe(200);
    const next = await Promise.all(pairs.map((p) => bearerRefresh(t.app, p.refresh_token)));
    expect(next.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    const list = await t.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(pairs[0]!.access_token) });
    expect(list.json().sessions).toHaveLength(1);

    // Out of the window, the original token is reuse again.
    t.clock!.advance(GRACE_MS);
    expectProblem(await bearerRefresh(t.app, u.refresh), 401, 'REFRESH_TOKEN_REUSED');
  });
});

describe('wrong kind of token', () => {
  it('an access token sent to /auth/refresh answers 401, as a bearer header or in the body', async () => {
    const u = await registerAndLogin(t.app);
    const asHeader = await t.app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(u.access) });
    expectProblem(asHeader, 401, 'INVALID_REFRESH_TOKEN');
    expect(asHeader.json().error).toBe('invalid_grant');
    expectProblem(await bearerRefresh(t.app, u.access), 401, 'INVALID_REFRESH_TOKEN');
    // And neither spent anything: the real refresh token still rotates.
    expect((await bearerRefresh(t.app, u.refresh)).statusCode).toBe(200);
  });

  it('a refresh token sent as a bearer answers 401 on every stateful route', async () => {
    const u = await registerAndLogin(t.app);
    for (const [method, url] of [
      ['GET', '/auth/me'],
      ['GET', '/auth/sessions'],
      ['POST', '/auth/logout'],
      ['POST', '/auth/logout-all'],
    ] as const) {
      const res = await t.app.inject({ method, url, headers: bearer(u.refresh) });
      expectProblem(res, 401, 'INVALID_TOKEN');
      expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    }
    expect((await me(t.app, u.access)).statusCode).toBe(200);
  });
});

describe('refresh request shapes', () => {
  it('no body, an empty JSON body, {} and null all mean "no token": 401 INVALID_REFRESH_TOKEN, never 400 or 500', async () => {
    const shapes = [
      { method: 'POST' as const, url: '/auth/refresh' },
      { method: 'POST' as const, url: '/auth/refresh', headers: { 'content-type': 'application/json' } },
      { method: 'POST' as const, url: '/auth/refresh', headers: { 'content-type': 'application/json' }, payload: '  ' },
      { method: 'POST' as const, url: '/auth/refresh', payload: {} },
      { method: 'POST' as const, url: '/auth/refresh', headers: { 'content-type': 'application/json' }, payload: 'null' },
    ];
    for (const shape of shapes) {
      const res = await t.app.inject(shape);
      expectProblem(res, 401, 'INVALID_REFRESH_TOKEN');
      expect(res.json().error).toBe('invalid_request');
    }
  });

  it('accepts the OAuth2 form grant_type=refresh_token and refuses other grants and malformed bodies', async () => {
    const u = await registerAndLogin(t.app);
    const form = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `grant_type=refresh_token&refresh_token=${u.refresh}`,
    });
    expect(form.statusCode, form.body).toBe(200);
    expect(form.json().refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const wrongGrant = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { grant_type: 'password', refresh_token: form.json().refresh_token as string },
    });
    expectProblem(wrongGrant, 400, 'UNSUPPORTED_GRANT_TYPE');
    expect(wrongGrant.json().error).toBe('unsupported_grant_type');

    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { token: 'x' } }), 422, 'VALIDATION_FAILED');
    expectProblem(
      await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: 42 } }),
      422,
      'VALIDATION_FAILED',
    );
    expectProblem(
      await t.app.inject({ method: 'POST', url: '/auth/refresh', headers: { 'content-type': 'application/json' }, payload: '{"refresh_token":' }),
      400,
      'INVALID_REQUEST',
    );
    const unknown = await bearerRefresh(t.app, 'A'.repeat(43));
    expectProblem(unknown, 401, 'INVALID_REFRESH_TOKEN');
    expect(unknown.headers['www-authenticate']).toContain('Bearer');
  });
});

describe('logout without a valid access token', () => {
  it('ends the session of a refresh token sent in the body (the access token has expired); alone, an expired access token is 401', async () => {
    const u = await registerAndLogin(t.app);
    t.clock!.advance(16 * 60_000); // past the 15-minute access token and the 5 s leeway
    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(u.access) }), 401, 'INVALID_TOKEN');
    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/logout' }), 401, 'UNAUTHORIZED');

    const out = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(u.access), payload: { refresh_token: u.refresh } });
    expect(out.statusCode, out.body).toBe(204);
    expectProblem(await bearerRefresh(t.app, u.refresh), 401, 'INVALID_REFRESH_TOKEN');
    // Idempotent: an ended or unknown refresh token still answers 204.
    expect((await t.app.inject({ method: 'POST', url: '/auth/logout', payload: { refresh_token: u.refresh } })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'POST', url: '/auth/logout', payload: { refresh_token: 'E'.repeat(43) } })).statusCode).toBe(204);
    expect((await eventsOf(t.app, u.userId)).filter((e) => e.type === 'logout')).toHaveLength(1);
  });
});

describe('logout-all, the session list and revoking one session', () => {
  it('logout-all ends every session of the user at once', async () => {
    const u = await registerAndLogin(t.app);
    const b = await login(u.email, u.password);
    const c = await login(u.email, u.password);
    const res = await t.app.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(u.access) });
    expect(res.statusCode).toBe(204);
    for (const s of [u.access, b.access, c.access]) expectProblem(await me(t.app, s), 401, 'INVALID_TOKEN');
    for (const r of [u.refresh, b.refresh, c.refresh]) expectProblem(await bearerRefresh(t.app, r), 401, 'INVALID_REFRESH_TOKEN');
    const event = (await eventsOf(t.app, u.userId)).find((e) => e.type === 'logout_all');
    expect(event?.detail).toEqual({ sessions: 3 });
  });

  it('lists the live sessions with the current one flagged; DELETE ends one at once; another user’s session is 404', async () => {
    const u = await registerAndLogin(t.app);
    const b = await login(u.email, u.password, 'second-device');
    const other = await registerAndLogin(t.app);

    const list = await t.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(u.access) });
    const sessions = list.json().sessions as Array<{ id: string; current: boolean; user_agent: string | null }>;
    expect(sessions).toHaveLength(2);
    expect(sessions.find((s) => s.current)?.id).toBe(claimsOf(u.access).sid);
    expect(sessions.find((s) => !s.current)).toMatchObject({ id: claimsOf(b.access).sid, user_agent: 'second-device' });

    const otherSid = claimsOf(other.access).sid;
    expectProblem(
      await t.app.inject({ method: 'DELETE', url: `/auth/sessions/${otherSid}`, headers: bearer(u.access) }),
      404,
      'NOT_FOUND',
    );
    expect((await me(t.app, other.access)).statusCode).toBe(200);
    expectProblem(
      await t.app.inject({ method: 'DELETE', url: '/auth/sessions/not-a-session', headers: bearer(u.access) }),
      404,
      'NOT_FOUND',
    );

    const del = await t.app.inject({ method: 'DELETE', url: `/auth/sessions/${claimsOf(b.access).sid}`, headers: bearer(u.access) });
    expect(del.statusCode).toBe(204);
    expectProblem(await me(t.app, b.access), 401, 'INVALID_TOKEN');
    expectProblem(await bearerRefresh(t.app, b.refresh), 401, 'INVALID_REFRESH_TOKEN');
    expectProblem(
      await t.app.inject({ method: 'DELETE', url: `/auth/sessions/${claimsOf(b.access).sid}`, headers: bearer(u.access) }),
      404,
      'NOT_FOUND',
    );
    const after = await t.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(u.access) });
    expect((after.json().sessions as unknown[]).length).toBe(1);
    expect((await eventsOf(t.app, u.userId)).some((e) => e.type === 'session_revoked')).toBe(true);
  });
});

describe('change-password', () => {
  it('needs the current password and a different new one, ends every other session and keeps the current one', async () => {
    const u = await registerAndLogin(t.app);
    const other = await login(u.email, u.password);
    const change = (body: object) =>
      t.app.inject({ method: 'POST', url: '/auth/change-password', headers: bearer(u.access), payload: body });

    expectProblem(await change({ current_password: 'not the password at all', new_password: 'a brand new passphrase' }), 400, 'INVALID_CREDENTIALS');
    expectProblem(await change({ current_password: u.password, new_password: u.password }), 422, 'PASSWORD_UNCHANGED');
    expectProblem(await change({ current_password: u.password, new_password: 'short' }), 422, 'VALIDATION_FAILED');
    expectProblem(await change({ new_password: 'a brand new passphrase' }), 422, 'VALIDATION_FAILED');
    expectProblem(
      await t.app.inject({ method: 'POST', url: '/auth/change-password', payload: { current_password: u.password, new_password: 'a brand new passphrase' } }),
      401,
      'UNAUTHORIZED',
    );
    // None of the refusals touched the other session.
    expect((await me(t.app, other.access)).statusCode).toBe(200);

    expect((await change({ current_password: u.password, new_password: 'a brand new passphrase' })).statusCode).toBe(204);
    expectProblem(await me(t.app, other.access), 401, 'INVALID_TOKEN');
    expectProblem(await bearerRefresh(t.app, other.refresh), 401, 'INVALID_REFRESH_TOKEN');
    expect((await me(t.app, u.access)).statusCode).toBe(200);
    expect((await bearerRefresh(t.app, u.refresh)).statusCode).toBe(200);

    const oldLogin = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: u.email, password: u.password } });
    expectProblem(oldLogin, 400, 'INVALID_CREDENTIALS');
    await login(u.email, 'a brand new passphrase');
    const event = (await eventsOf(t.app, u.userId)).find((e) => e.type === 'password_changed');
    expect(event?.detail).toEqual({ session_id: claimsOf(u.access).sid, sessions_revoked: 1 });
  });
});

describe('REFRESH_GRACE', () => {
  it('is configurable: with 2s a token spent 1999 ms ago still refreshes, 2000 ms ago is reuse', async () => {
    const app = await createTestApp({ REFRESH_GRACE: '2s' }, { clock: true });
    try {
      const a = await registerAndLogin(app.app);
      expect((await bearerRefresh(app.app, a.refresh)).statusCode).toBe(200);
      app.clock!.advance(1999);
      expect((await bearerRefresh(app.app, a.refresh)).statusCode).toBe(200);
      app.clock!.advance(1);
      expectProblem(await bearerRefresh(app.app, a.refresh), 401, 'REFRESH_TOKEN_REUSED');
    } finally {
      await app.close();
    }
  });

  it('0 disables the window: of 20 parallel refreshes one wins, the next is reuse and the session is ended', async () => {
    const app = await createTestApp({ REFRESH_GRACE: '0' }, { clock: true });
    try {
      const a = await registerAndLogin(app.app);
      const results = await Promise.all(Array.from({ length: 20 }, () => bearerRefresh(app.app, a.refresh)));
      const codes = results.map((r) => (r.statusCode === 200 ? 'OK' : (r.json().code as string)));
      expect(codes.filter((c) => c === 'OK')).toHaveLength(1);
      expect(codes.filter((c) => c === 'REFRESH_TOKEN_REUSED')).toHaveLength(1);
      expect(codes.filter((c) => c === 'INVALID_REFRESH_TOKEN')).toHaveLength(18);
      const winner = results.find((r) => r.statusCode === 200)!.json() as { access_token: string; refresh_token: string };
      expectProblem(await bearerRefresh(app.app, winner.refresh_token), 401, 'INVALID_REFRESH_TOKEN');
      expectProblem(await me(app.app, winner.access_token), 401, 'INVALID_TOKEN');
    } finally {
      await app.close();
    }
  });
});

/**
 * Cookie mode (X-Auth-Mode: cookie): the refresh token only in an HttpOnly cookie, the
 * double-submit CSRF check, GET /auth/csrf, logout clearing the cookies, and 20 concurrent
 * refreshes with one cookie over real HTTP.
 */
import Fastify from 'fastify';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { latchkey } from '../../../src/plugin.js';
import { bearer, createTestApp, registerAndLogin, tempDir, type TestApp } from '../../support/helpers.js';
import {
  claimsOf,
  cookieLogin,
  cookiePathMatches,
  cookiePathOf,
  cookieRefresh,
  eventsOf,
  expectProblem,
  me,
  setCookies,
  updateJar,
} from '../../support/sessions.js';

const APP_ORIGIN = 'https://app.example.com';
const GRACE_MS = 10_000;

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ CORS_ORIGINS: APP_ORIGIN }, { clock: true });
});
afterAll(async () => {
  await t.close();
});

async function user() {
  const u = await registerAndLogin(t.app);
  return { ...u, ...(await cookieLogin(t.app, u.email, u.password)) };
}

describe('cookie-mode login', () => {
  it('puts the refresh token only in an HttpOnly, Secure, SameSite=Lax cookie at Path=/auth; the body has the access and CSRF tokens', async () => {
    const u = await registerAndLogin(t.app);
    const { res, csrf } = await cookieLogin(t.app, u.email, u.password);
    const body = res.json() as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['access_token', 'csrf_token', 'expires_in', 'token_type']);
    expect(res.headers['cache-control']).toBe('no-store');

    const cookies = setCookies(res);
    const refresh = cookies.lk_refresh!;
    expect(refresh.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.body).not.toContain(refresh.value);
    const attrs = refresh.raw.split(/;\s*/).slice(1).map((a) => a.toLowerCase());
    expect(attrs).toEqual(expect.arrayContaining(['httponly', 'secure', 'samesite=lax', 'path=/auth', 'max-age=2592000']));

    const csrfCookie = cookies.lk_csrf!;
    expect(csrfCookie.value).toBe(csrf);
    const csrfAttrs = csrfCookie.raw.split(/;\s*/).slice(1).map((a) => a.toLowerCase());
    expect(csrfAttrs).toEqual(expect.arrayContaining(['secure', 'samesite=lax', 'path=/']));
    expect(csrfAttrs).not.toContain('httponly');

    // The access token from the body works as a bearer.
    expect((await me(t.app, body.access_token as string)).statusCode).toBe(200);
  });

  it('every login mints a new CSRF token', async () => {
    const u = await registerAndLogin(t.app);
    const first = await cookieLogin(t.app, u.email, u.password);
    const second = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'x-auth-mode': 'Cookie' },
      cookies: first.jar,
      payload: { email: u.email, password: u.password },
    });
    expect(second.json().csrf_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(second.json().csrf_token).not.toBe(first.csrf);
  });
});

describe('cookie-mode lifecycle', () => {
  it('login, refresh (no body, empty JSON body, {}), sessions, logout clearing both cookies', async () => {
    const u = await user();
    let jar = u.jar;

    // No body and no content-type: what fetch(url, {method: 'POST', credentials: 'include'}) sends.
    const r1 = await cookieRefresh(t.app, jar);
    expect(r1.statusCode, r1.body).toBe(200);
    expect(r1.json()).not.toHaveProperty('refresh_token');
    expect(r1.json().csrf_token).toBe(u.csrf); // stable across refreshes
    const set1 = setCookies(r1);
    expect(set1.lk_refresh!.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(set1.lk_refresh!.value).not.toBe(jar.lk_refresh);
    expect(set1.lk_refresh!.raw).toMatch(/HttpOnly/);
    expect(set1.lk_csrf!.value).toBe(u.csrf);
    jar = updateJar(jar, r1);

    // An empty JSON body, and {}.
    const r2 = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      cookies: jar,
      headers: { 'x-csrf-token': jar.lk_csrf!, 'content-type': 'application/json' },
    });
    expect(r2.statusCode, r2.body).toBe(200);
    jar = updateJar(jar, r2);
    const r3 = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      cookies: jar,
      headers: { 'x-csrf-token': jar.lk_csrf! },
      payload: {},
    });
    expect(r3.statusCode, r3.body).toBe(200);
    jar = updateJar(jar, r3);
    const access = r3.json().access_token as string;
    expect(claimsOf(access).sid).toBe(claimsOf(u.access).sid);

    const list = await t.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(access) });
    // Two sessions: the bearer login of the test helper and this cookie one, which is current.
    const sessions = list.json().sessions as Array<{ id: string; current: boolean }>;
    expect(sessions.filter((s) => s.current)).toEqual([expect.objectContaining({ id: claimsOf(access).sid })]);

    const out = await t.app.inject({
      method: 'POST',
      url: '/auth/logout',
      cookies: jar,
      headers: { 'x-csrf-token': jar.lk_csrf!, 'content-type': 'application/json' },
    });
    expect(out.statusCode, out.body).toBe(204);
    const cleared = setCookies(out);
    expect(cleared.lk_refresh!.value).toBe('');
    expect(cleared.lk_refresh!.raw).toMatch(/Max-Age=0/);
    expect(cleared.lk_refresh!.raw).toMatch(/Path=\/auth(;|$)/);
    expect(cleared.lk_csrf!.value).toBe('');
    expect(cleared.lk_csrf!.raw).toMatch(/Path=\/(;|$)/);
    expect(updateJar(jar, out)).toEqual({});

    expectProblem(await me(t.app, access), 401, 'INVALID_TOKEN');
    // A copy of the cookie kept by an attacker is dead too, and the answer clears it.
    const replay = await cookieRefresh(t.app, jar);
    expectProblem(replay, 401, 'INVALID_REFRESH_TOKEN');
    expect(setCookies(replay).lk_refresh?.value).toBe('');
    expect((await eventsOf(t.app, u.userId)).some((e) => e.type === 'logout')).toBe(true);
  });

  it('logout with the access token also clears the cookies', async () => {
    const u = await user();
    const out = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(u.access), cookies: u.jar });
    expect(out.statusCode).toBe(204);
    expect(updateJar(u.jar, out)).toEqual({});
    expectProblem(await cookieRefresh(t.app, u.jar), 401, 'INVALID_REFRESH_TOKEN');
  });

  it('with an expired access token, logout falls back to the cookie when the CSRF header is sent, else answers 401', async () => {
    const u = await user();
    t.clock!.advance(16 * 60_000);
    const bare = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(u.access), cookies: u.jar });
    expectProblem(bare, 401, 'INVALID_TOKEN');
    const out = await t.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { ...bearer(u.access), 'x-csrf-token': u.csrf },
      cookies: u.jar,
    });
    expect(out.statusCode, out.body).toBe(204);
    expect(updateJar(u.jar, out)).toEqual({});
    expectProblem(await cookieRefresh(t.app, u.jar), 401, 'INVALID_REFRESH_TOKEN');
  });

  it('logout with an unknown or dead cookie still answers 204 and clears the cookies', async () => {
    const u = await user();
    const jar: Record<string, string> = { ...u.jar, lk_refresh: 'B'.repeat(43) };
    const out = await t.app.inject({ method: 'POST', url: '/auth/logout', cookies: jar, headers: { 'x-csrf-token': jar.lk_csrf! } });
    expect(out.statusCode).toBe(204);
    expect(updateJar(jar, out)).toEqual({});
    expect((await me(t.app, u.access)).statusCode).toBe(200);
  });

  it('X-Auth-Mode: cookie on a bearer refresh moves the refresh token into the cookie', async () => {
    const u = await registerAndLogin(t.app);
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: { 'x-auth-mode': 'cookie' },
      payload: { refresh_token: u.refresh },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).not.toHaveProperty('refresh_token');
    const jar = updateJar({}, res);
    expect(jar.lk_csrf).toBe(res.json().csrf_token);
    expect((await cookieRefresh(t.app, jar)).statusCode).toBe(200);
  });

  it('a failed cookie refresh (session ended elsewhere) clears the cookies', async () => {
    const u = await user();
    await t.app.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(u.access) });
    const res = await cookieRefresh(t.app, u.jar);
    expectProblem(res, 401, 'INVALID_REFRESH_TOKEN');
    expect(updateJar(u.jar, res)).toEqual({});
  });
});

describe('CSRF', () => {
  it('a cookie refresh or logout without the X-CSRF-Token header answers 403 CSRF_FAILED and changes nothing', async () => {
    const u = await user();
    const noHeader = await t.app.inject({ method: 'POST', url: '/auth/refresh', cookies: u.jar });
    expectProblem(noHeader, 403, 'CSRF_FAILED');
    expect(noHeader.headers['set-cookie']).toBeUndefined();
    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/logout', cookies: u.jar }), 403, 'CSRF_FAILED');
    // Neither the refresh token was spent nor the session ended.
    expect((await me(t.app, u.access)).statusCode).toBe(200);
    const ok = await cookieRefresh(t.app, u.jar);
    expect(ok.statusCode, ok.body).toBe(200);
    // Outside the grace window the same cookie is reuse: the refresh above was the first use.
    t.clock!.advance(GRACE_MS);
    expectProblem(await cookieRefresh(t.app, u.jar), 401, 'REFRESH_TOKEN_REUSED');
  });

  it('refuses a wrong token, a missing CSRF cookie, a non-ASCII header, and a foreign Origin', async () => {
    const u = await user();
    const attempts: Array<{ cookies: Record<string, string>; headers: Record<string, string> }> = [
      { cookies: u.jar, headers: { 'x-csrf-token': 'C'.repeat(43) } },
      { cookies: u.jar, headers: { 'x-csrf-token': u.csrf.slice(1) } },
      { cookies: u.jar, headers: { 'x-csrf-token': '' } },
      { cookies: { lk_refresh: u.jar.lk_refresh! }, headers: { 'x-csrf-token': u.csrf } },
      { cookies: { ...u.jar, lk_csrf: 'short' }, headers: { 'x-csrf-token': 'short' } },
      { cookies: u.jar, headers: { 'x-csrf-token': 'é'.repeat(43) } },
      { cookies: u.jar, headers: { 'x-csrf-token': u.csrf, origin: 'https://evil.example' } },
      { cookies: u.jar, headers: { 'x-csrf-token': u.csrf, origin: 'null' } },
    ];
    for (const a of attempts) {
      expectProblem(await t.app.inject({ method: 'POST', url: '/auth/refresh', ...a }), 403, 'CSRF_FAILED');
    }
    // The configured origin, the issuer's and the server's own (Host) origin are fine.
    let jar = u.jar;
    for (const origin of [APP_ORIGIN, 'http://latchkey.test', 'http://localhost']) {
      const res = await cookieRefresh(t.app, jar, { origin });
      expect(res.statusCode, `${origin}: ${res.body}`).toBe(200);
      jar = updateJar(jar, res);
    }
  });

  it('a bearer-mode refresh (token in the body) needs no CSRF header even with cookies present', async () => {
    const u = await registerAndLogin(t.app);
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      cookies: { lk_csrf: 'D'.repeat(43) },
      payload: { refresh_token: u.refresh },
    });
    expect(res.statusCode, res.body).toBe(200);
  });
});

describe('GET /auth/csrf', () => {
  it('returns the current token (page reload: only the cookies survive), or mints and sets one', async () => {
    const u = await user();
    // After a reload the SDK has nothing in memory; the browser still has both cookies.
    const got = await t.app.inject({ method: 'GET', url: '/auth/csrf', cookies: u.jar });
    expect(got.statusCode).toBe(200);
    expect(got.headers['cache-control']).toBe('no-store');
    expect(got.json()).toEqual({ csrf_token: u.csrf });
    const jar = updateJar(u.jar, got);
    const refreshed = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      cookies: jar,
      headers: { 'x-csrf-token': got.json().csrf_token as string },
    });
    expect(refreshed.statusCode, refreshed.body).toBe(200);

    const fresh = await t.app.inject({ method: 'GET', url: '/auth/csrf' });
    const token = fresh.json().csrf_token as string;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(token).not.toBe(u.csrf);
    expect(setCookies(fresh).lk_csrf!.value).toBe(token);
    // A cookie that is not one of ours is replaced, not echoed.
    const odd = await t.app.inject({ method: 'GET', url: '/auth/csrf', cookies: { lk_csrf: '<script>' } });
    expect(odd.json().csrf_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('is readable cross-origin only by CORS_ORIGINS', async () => {
    const u = await user();
    const allowed = await t.app.inject({ method: 'GET', url: '/auth/csrf', cookies: u.jar, headers: { origin: APP_ORIGIN } });
    expect(allowed.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    expect(allowed.headers['access-control-allow-credentials']).toBe('true');
    const foreign = await t.app.inject({ method: 'GET', url: '/auth/csrf', cookies: u.jar, headers: { origin: 'https://evil.example' } });
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    expect(foreign.headers['access-control-allow-credentials']).toBeUndefined();
  });
});

describe('20 concurrent cookie refreshes over real HTTP', () => {
  it('all succeed, each sets its own new refresh cookie, the CSRF token stays the same, and every lineage continues', async () => {
    const app = await createTestApp({}, { clock: true });
    try {
      await app.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.app.server.address() as AddressInfo;
      const base = `http://127.0.0.1:${port}`;
      const u = await registerAndLogin(app.app);
      const login = await cookieLogin(app.app, u.email, u.password);
      const refresh = (jar: Record<string, string>) =>
        fetch(`${base}/auth/refresh`, {
          method: 'POST',
          headers: { cookie: `lk_refresh=${jar.lk_refresh}; lk_csrf=${jar.lk_csrf}`, 'x-csrf-token': jar.lk_csrf! },
        });
      const cookiesOf = (res: Response) =>
        Object.fromEntries(res.headers.getSetCookie().map((l) => l.split(';')[0]!.split('=') as [string, string]));

      const responses = await Promise.all(Array.from({ length: 20 }, () => refresh(login.jar)));
      expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
      const jars = responses.map(cookiesOf);
      const bodies = (await Promise.all(responses.map((r) => r.json()))) as Array<{ access_token: string; csrf_token: string }>;
      expect(new Set(jars.map((j) => j.lk_refresh)).size).toBe(20);
      expect(jars.every((j) => j.lk_refresh !== login.jar.lk_refresh)).toBe(true);
      expect(jars.every((j) => j.lk_csrf === login.csrf)).toBe(true);
      expect(bodies.every((b) => b.csrf_token === login.csrf && claimsOf(b.access_token).sid === claimsOf(login.access).sid)).toBe(true);

      const next = await Promise.all(jars.map((j) => refresh(j)));
      expect(next.map((r) => r.status)).toEqual(Array(20).fill(200));
      await Promise.all(next.map((r) => r.arrayBuffer()));

      app.clock!.advance(GRACE_MS);
      const late = await refresh(login.jar);
      expect(late.status).toBe(401);
      expect(((await late.json()) as { code: string }).code).toBe('REFRESH_TOKEN_REUSED');
      expect(cookiesOf(late).lk_refresh).toBe('');
    } finally {
      await app.close();
    }
  });
});

describe('cookie settings', () => {
  it('COOKIE_SAMESITE and COOKIE_SECURE are honoured', async () => {
    const app = await createTestApp({ COOKIE_SAMESITE: 'strict', COOKIE_SECURE: 'false' });
    try {
      const u = await registerAndLogin(app.app);
      const { res } = await cookieLogin(app.app, u.email, u.password);
      for (const c of Object.values(setCookies(res))) {
        expect(c.raw).toMatch(/SameSite=Strict/);
        expect(c.raw).not.toMatch(/Secure/);
      }
    } finally {
      await app.close();
    }
  });

  // The mount point as given (with or without a trailing slash), the host's own register prefix
  // around it, and the path the refresh cookie must have: exactly the auth routes' prefix.
  const mounts: Array<{ label: string; prefix: string; host?: string; path: string; sibling: string }> = [
    { label: 'no prefix', prefix: '', path: '/auth', sibling: '/authn/auth/refresh' },
    { label: '/identity', prefix: '/identity', path: '/identity/auth', sibling: '/auth/refresh' },
    { label: '/authn', prefix: '/authn', path: '/authn/auth', sibling: '/auth/refresh' },
    { label: '/authn/', prefix: '/authn/', path: '/authn/auth', sibling: '/auth/refresh' },
    { label: '/auth', prefix: '/auth', path: '/auth/auth', sibling: '/authx/auth/refresh' },
    { label: '/authn inside a host scope at /api', prefix: '/authn', host: '/api', path: '/api/authn/auth', sibling: '/api/auth/refresh' },
  ];

  it.each(mounts)(
    'mounted at $label, the refresh cookie has Path=$path, which a browser sends to refresh and logout there and not to $sibling',
    async ({ prefix, host: hostPrefix, path, sibling }) => {
      const { dir, cleanup } = tempDir();
      const host = Fastify();
      try {
        const config = loadConfig({
          DATABASE_URL: `sqlite:${join(dir, 'latchkey.db')}`,
          ISSUER: 'http://latchkey.test',
          LOG_LEVEL: 'silent',
          RATE_LIMIT_ENABLED: 'false',
        });
        if (hostPrefix) await host.register(async (api) => api.register(latchkey, { config, prefix }), { prefix: hostPrefix });
        else await host.register(latchkey, { config, prefix });
        await host.ready();
        const auth = path; // the auth routes live exactly at the cookie's path
        const creds = { email: 'mounted@example.com', password: 'correct horse battery staple' };
        expect((await host.inject({ method: 'POST', url: `${auth}/register`, payload: creds })).statusCode).toBe(201);
        const login = await host.inject({ method: 'POST', url: `${auth}/login`, headers: { 'x-auth-mode': 'cookie' }, payload: creds });
        expect(login.statusCode, login.body).toBe(200);
        const set = setCookies(login);
        expect(cookiePathOf(set.lk_refresh!.raw)).toBe(path);
        // The CSRF cookie is Path=/ under every prefix, so that the app's pages can read it.
        expect(cookiePathOf(set.lk_csrf!.raw)).toBe('/');

        expect(cookiePathMatches(path, `${auth}/refresh`)).toBe(true);
        expect(cookiePathMatches(path, `${auth}/logout`)).toBe(true);
        expect(cookiePathMatches(path, sibling)).toBe(false);
        expect(cookiePathMatches(path, '/api/orders')).toBe(false);

        // A browser that follows the path rule: refresh and logout work with what it sends.
        let jar = updateJar({}, login);
        const refreshed = await host.inject({ method: 'POST', url: `${auth}/refresh`, cookies: jar, headers: { 'x-csrf-token': jar.lk_csrf! } });
        expect(refreshed.statusCode, refreshed.body).toBe(200);
        expect(cookiePathOf(setCookies(refreshed).lk_refresh!.raw)).toBe(path);
        jar = updateJar(jar, refreshed);
        const out = await host.inject({ method: 'POST', url: `${auth}/logout`, cookies: jar, headers: { 'x-csrf-token': jar.lk_csrf! } });
        expect(out.statusCode, out.body).toBe(204);
        // Cleared with the same name and path as set: a browser replaces the very cookie it holds.
        const cleared = setCookies(out);
        expect(cleared.lk_refresh).toMatchObject({ value: '' });
        expect(cookiePathOf(cleared.lk_refresh!.raw)).toBe(path);
        expect(cookiePathOf(cleared.lk_csrf!.raw)).toBe('/');
        // The prefix as given or normalised, the other routes are where they should be too.
        expect((await host.inject({ url: `${auth.slice(0, -'/auth'.length)}/health/live` })).statusCode).toBe(200);
      } finally {
        await host.close();
        cleanup();
      }
    },
  );
});

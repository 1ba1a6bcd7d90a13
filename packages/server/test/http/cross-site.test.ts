/**
 * Media types are compared as media types (case-insensitive, parameters aside), so a form cannot
 * slip past the JSON-only routes by its spelling; and a POST that a page on another site can
 * make a browser send without a CORS preflight (a "simple" request: a form, text/plain,
 * multipart or no body, no custom header) is refused with 403 CSRF_FAILED before its body is
 * read. Same-origin pages (/docs and its OAuth2 form), CORS_ORIGINS and non-browser clients
 * keep working.
 */
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { latchkey } from '../../src/plugin.js';
import { bearer, createTestApp, registerAndLogin, tempDir, type TestApp } from '../support/helpers.js';
import { cookieLogin, expectProblem } from '../support/sessions.js';

const APP_ORIGIN = 'https://app.example.com';
const PASSWORD = 'correct horse battery staple';
const FORM_SPELLINGS = [
  'application/x-www-form-urlencoded',
  'Application/x-www-form-urlencoded',
  'APPLICATION/X-WWW-FORM-URLENCODED',
  'application/x-www-form-urlencoded; charset=UTF-8',
  'Application/X-WWW-Form-Urlencoded;charset=utf-8',
  ' application/x-www-form-urlencoded ',
];

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ CORS_ORIGINS: APP_ORIGIN, COOKIE_SECURE: 'false' });
});
afterAll(async () => {
  await t.close();
});

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('Content-Type is compared case-insensitively', () => {
  it('a form in any spelling is refused with 415 on the JSON-only routes, and nothing is created', async () => {
    const u = await registerAndLogin(t.app);
    for (const type of FORM_SPELLINGS) {
      const email = `form-${Math.random().toString(36).slice(2)}@example.com`;
      const cases: InjectOptions[] = [
        { method: 'POST', url: '/auth/register', payload: form({ email, password: PASSWORD }) },
        { method: 'POST', url: '/auth/password/forgot', payload: form({ email: u.email }) },
        { method: 'POST', url: '/auth/change-password', payload: form({ current_password: PASSWORD, new_password: 'another long password' }), headers: bearer(u.access) },
        { method: 'PATCH', url: '/auth/me', payload: form({ name: 'Form' }), headers: bearer(u.access) },
      ];
      for (const c of cases) {
        const res = await t.app.inject({ ...c, headers: { ...c.headers, 'content-type': type } });
        expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
      }
      expect(await t.app.latchkey.store.findUserByEmail(email)).toBeNull();
    }
    // The password was not changed by any of the forms.
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: u.email, password: PASSWORD } });
    expect(login.statusCode).toBe(200);
  });

  it('JSON in any spelling is JSON', async () => {
    for (const type of ['Application/JSON; charset=utf-8', 'APPLICATION/JSON', 'application/json;charset=UTF-8']) {
      const email = `json-${Math.random().toString(36).slice(2)}@example.com`;
      const res = await t.app.inject({ method: 'POST', url: '/auth/register', headers: { 'content-type': type }, payload: JSON.stringify({ email, password: PASSWORD }) });
      expect(res.statusCode, `${type}: ${res.body}`).toBe(201);
    }
  });

  it('the OAuth2 password form logs in, and refreshes, in any spelling', async () => {
    const u = await registerAndLogin(t.app);
    let refresh = u.refresh;
    for (const type of FORM_SPELLINGS) {
      const login = await t.app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': type }, payload: form({ grant_type: 'password', username: u.email, password: PASSWORD }) });
      expect(login.statusCode, `${type}: ${login.body}`).toBe(200);
      const res = await t.app.inject({ method: 'POST', url: '/auth/refresh', headers: { 'content-type': type }, payload: form({ grant_type: 'refresh_token', refresh_token: refresh }) });
      expect(res.statusCode, `${type}: ${res.body}`).toBe(200);
      refresh = res.json().refresh_token as string;
    }
  });
});

/** What a page on another site can make a browser send to a POST route without a preflight. */
const SIMPLE_BODIES: Array<{ name: string; headers: Record<string, string>; payload?: string }> = [
  { name: 'a form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'username=a%40example.com&password=x' },
  { name: 'a form in upper case', headers: { 'content-type': 'Application/X-WWW-Form-Urlencoded' }, payload: 'username=a%40example.com&password=x' },
  { name: 'text/plain holding JSON', headers: { 'content-type': 'text/plain;charset=UTF-8' }, payload: '{"email":"a@example.com","password":"x"}' },
  { name: 'multipart', headers: { 'content-type': 'multipart/form-data; boundary=zz' }, payload: '--zz\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--zz--\r\n' },
  { name: 'no body', headers: {} },
];

const POST_ROUTES = [
  '/auth/login',
  '/auth/register',
  '/auth/refresh',
  '/auth/logout',
  '/auth/logout-all',
  '/auth/change-password',
  '/auth/email/verify-request',
  '/auth/email/verify',
  '/auth/password/forgot',
  '/auth/password/reset',
  '/admin/users',
];

/** A browser's markers of a request made by a page of another site. */
const CROSS_SITE: Array<{ name: string; headers: Record<string, string> }> = [
  { name: 'a foreign Origin', headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } },
  { name: 'a foreign Origin without Sec-Fetch-Site', headers: { origin: 'https://evil.example' } },
  { name: 'a sibling subdomain', headers: { origin: 'https://evil.latchkey.test', 'sec-fetch-site': 'same-site' } },
  { name: 'a look-alike of CORS_ORIGINS', headers: { origin: 'https://app.example.com.evil.example' } },
  { name: 'Origin: null (sandboxed frame)', headers: { origin: 'null', 'sec-fetch-site': 'cross-site' } },
  { name: 'Sec-Fetch-Site: cross-site without Origin', headers: { 'sec-fetch-site': 'cross-site' } },
];

describe('cross-site simple requests to state-changing routes', () => {
  it('are refused with 403 CSRF_FAILED on every POST route, before the body is read', async () => {
    for (const url of POST_ROUTES) {
      for (const site of CROSS_SITE) {
        for (const body of SIMPLE_BODIES) {
          const res = await t.app.inject({ method: 'POST', url, headers: { ...body.headers, ...site.headers }, ...(body.payload !== undefined ? { payload: body.payload } : {}) });
          try {
            expectProblem(res, 403, 'CSRF_FAILED');
          } catch (err) {
            throw new Error(`${url} with ${body.name} from ${site.name}: ${(err as Error).message}`);
          }
        }
      }
    }
  });

  it('a cross-site login form with valid credentials gets no tokens, and no session is made', async () => {
    const u = await registerAndLogin(t.app);
    const before = (await t.app.latchkey.store.listSessions(u.userId, Date.now())).length;
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      payload: form({ username: u.email, password: PASSWORD }),
    });
    expectProblem(res, 403, 'CSRF_FAILED');
    expect(res.body).not.toContain('access_token');
    expect((await t.app.latchkey.store.listSessions(u.userId, Date.now())).length).toBe(before);
  });

  it('the same form is fine from the same origin (the /docs page), ISSUER, CORS_ORIGINS and non-browser clients', async () => {
    const u = await registerAndLogin(t.app);
    const senders: Array<{ name: string; headers: Record<string, string> }> = [
      { name: 'the docs page (same origin as Host)', headers: { host: 'localhost:3000', origin: 'http://localhost:3000', 'sec-fetch-site': 'same-origin' } },
      { name: "ISSUER's origin", headers: { origin: 'http://latchkey.test', 'sec-fetch-site': 'same-origin' } },
      { name: 'CORS_ORIGINS on another site', headers: { origin: APP_ORIGIN, 'sec-fetch-site': 'cross-site' } },
      { name: 'curl (no Origin, no Sec-Fetch-Site)', headers: {} },
      { name: 'a navigation typed by the user', headers: { 'sec-fetch-site': 'none' } },
    ];
    for (const s of senders) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...s.headers },
        payload: form({ grant_type: 'password', username: u.email, password: PASSWORD }),
      });
      expect(res.statusCode, `${s.name}: ${res.body}`).toBe(200);
    }
  });

  it('requests a browser preflights are left to CORS and the credentials: JSON, bearer, cookie mode with its CSRF header', async () => {
    const u = await registerAndLogin(t.app);
    // JSON from CORS_ORIGINS (preflighted; the preflight of any other origin is refused).
    const json = await t.app.inject({ method: 'POST', url: '/auth/login', headers: { origin: APP_ORIGIN, 'sec-fetch-site': 'cross-site' }, payload: { email: u.email, password: PASSWORD } });
    expect(json.statusCode, json.body).toBe(200);
    // Cookie mode from CORS_ORIGINS: login, then refresh with the double-submit header.
    const c = await cookieLogin(t.app, u.email, PASSWORD);
    const refresh = await t.app.inject({ method: 'POST', url: '/auth/refresh', cookies: c.jar, headers: { 'x-csrf-token': c.csrf, origin: APP_ORIGIN, 'sec-fetch-site': 'cross-site' } });
    expect(refresh.statusCode, refresh.body).toBe(200);
    // A body-less bearer POST from CORS_ORIGINS.
    const logoutAll = await t.app.inject({ method: 'POST', url: '/auth/logout-all', headers: { ...bearer(u.access), origin: APP_ORIGIN, 'sec-fetch-site': 'cross-site' } });
    expect(logoutAll.statusCode, logoutAll.body).toBe(204);
  });

  it('GET routes are not state-changing: a foreign Origin still reads public documents', async () => {
    const jwks = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json', headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(jwks.statusCode).toBe(200);
  });
});

describe('embedded: the same rule under the host prefix', () => {
  let host: FastifyInstance;
  const dir = tempDir();
  beforeAll(async () => {
    const config = loadConfig({ DATABASE_URL: `sqlite:${join(dir.dir, 'host.db')}`, ISSUER: 'https://shop.test', LOG_LEVEL: 'silent', MAIL_OUTBOX_DIR: join(dir.dir, 'outbox'), RATE_LIMIT_ENABLED: 'false' });
    host = Fastify();
    await host.register(latchkey, { config, prefix: '/identity' });
    await host.ready();
  });
  afterAll(async () => {
    await host.close();
    dir.cleanup();
  });

  it('refuses a cross-site form, accepts it from the shop itself', async () => {
    const reg = await host.inject({ method: 'POST', url: '/identity/auth/register', payload: { email: 'ada@shop.test', password: PASSWORD } });
    expect(reg.statusCode).toBe(201);
    const payload = form({ username: 'ada@shop.test', password: PASSWORD });
    const foreign = await host.inject({ method: 'POST', url: '/identity/auth/login', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' }, payload });
    expectProblem(foreign, 403, 'CSRF_FAILED');
    const own = await host.inject({ method: 'POST', url: '/identity/auth/login', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://shop.test' }, payload });
    expect(own.statusCode, own.body).toBe(200);
  });
});

/**
 * U+0000 in any text Latchkey is given: PostgreSQL cannot store it in text (SQLSTATE 22021) and
 * answered 500 on lookups and logins that carried it; SQLite stored it silently. Both adapters
 * now refuse it at the edge with 400 INVALID_REQUEST, before any service (this file runs in both
 * vitest projects), and store nothing.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../support/helpers.js';

const PASSWORD = 'correct horse battery staple';

describe('the NUL character (U+0000)', () => {
  let t: TestApp;
  let admin: string;
  let user: string;
  beforeAll(async () => {
    t = await createTestApp();
    const hash = await t.app.latchkey.hasher.hash(PASSWORD);
    const email = `nul-admin-${randomUUID().slice(0, 8)}@example.com`;
    await t.app.latchkey.store.createUser({ id: randomUUID(), email, name: null, passwordHash: hash, roles: ['admin'], emailVerified: true, createdAt: Date.now() });
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
    admin = (login.json() as { access_token: string }).access_token;
    user = (await registerAndLogin(t.app, `nul-user-${randomUUID().slice(0, 8)}@example.com`, PASSWORD)).access;
  });
  afterAll(() => t.close());

  function expectRefused(res: { statusCode: number; headers: Record<string, unknown>; json: () => unknown }) {
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'INVALID_REQUEST' });
  }

  it('in a path parameter: 400, on user and admin routes alike', async () => {
    for (const [method, url, token] of [
      ['DELETE', '/auth/sessions/%00', user],
      ['DELETE', '/auth/sessions/abc%00def', user],
      ['GET', '/admin/users/%00', admin],
      ['DELETE', '/admin/users/%00', admin],
      ['POST', '/admin/users/%00/revoke-sessions', admin],
      ['DELETE', '/admin/users/x/sessions/%00', admin],
    ] as const) {
      const res = await t.app.inject({ method, url, headers: bearer(token) });
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(400);
      expectRefused(res);
    }
  });

  it('in the query: 400', async () => {
    expectRefused(await t.app.inject({ method: 'GET', url: '/admin/users?search=a%00b', headers: bearer(admin) }));
  });

  it('in a login (JSON and the OAuth2 form): 400 with the RFC 6749 error, whether or not the rest is right', async () => {
    const json = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'ada\u0000@example.com', password: PASSWORD } });
    expectRefused(json);
    expect(json.json()).toMatchObject({ error: 'invalid_request' });
    const form = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'username=ada%00%40example.com&password=x',
    });
    expectRefused(form);
    expect(form.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('in a registration: 400, and no account is created', async () => {
    const email = `nul-${randomUUID().slice(0, 8)}@example.com`;
    expectRefused(await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD, name: 'Ada\u0000' } }));
    expect(await t.app.latchkey.store.findUserByEmail(email)).toBeNull();
    // In a key of the body, too (the schema would refuse the unknown field, but only after).
    expectRefused(await t.app.inject({ method: 'POST', url: '/auth/register', headers: { 'content-type': 'application/json' }, payload: `{"email":"${email}","password":"${PASSWORD}","na\\u0000me":"x"}` }));
    expect(await t.app.latchkey.store.findUserByEmail(email)).toBeNull();
  });

  it('in a profile change: 400, and the name is unchanged', async () => {
    const res = await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(user), payload: { name: 'x\u0000y' } });
    expectRefused(res);
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(user) });
    expect((me.json() as { user: { name: string | null } }).user.name).toBeNull();
  });

  it('leaves ordinary text alone (a control character other than NUL, and non-ASCII, are stored as given)', async () => {
    const res = await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(user), payload: { name: 'Zoë \u0001 Ünal' } });
    expect(res.statusCode, res.body).toBe(200);
    expect((res.json() as { user: { name: string } }).user.name).toBe('Zoë \u0001 Ünal');
  });
});

import Fastify, { type LightMyRequestResponse } from 'fastify';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { latchkey } from '../../../src/plugin.js';
import { bearer, createTestApp, tempDir, type TestApp } from '../../support/helpers.js';

const GOOD_PASSWORD = 'correct horse battery staple';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const register = (payload: unknown) => t.app.inject({ method: 'POST', url: '/auth/register', payload: payload as object });
const loginJson = (payload: unknown) => t.app.inject({ method: 'POST', url: '/auth/login', payload: payload as object });
const loginForm = (fields: Record<string, string>) =>
  t.app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  });

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  error?: string;
  error_description?: string;
  errors?: Array<{ field: string; message: string }>;
}

function problem(res: LightMyRequestResponse, status: number, code: string): ProblemBody {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json() as ProblemBody;
  expect(body).toMatchObject({ status, code, type: `urn:latchkey:error:${code.toLowerCase()}` });
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  return body;
}

/** Headers that legitimately differ between two responses. */
const VARYING_HEADERS = new Set(['date', 'x-request-id', 'request-id', 'x-correlation-id']);
function stableHeaders(res: LightMyRequestResponse): Record<string, unknown> {
  return Object.fromEntries(Object.entries(res.headers).filter(([k]) => !VARYING_HEADERS.has(k.toLowerCase())));
}

/** Counts jobs through the password queue (each is one argon2/bcrypt hash or verification). */
function countHashJobs(): { readonly count: number; stop(): void } {
  const queue = t.app.latchkey.hasher.queue;
  const original = queue.run;
  let count = 0;
  queue.run = function <T>(job: () => Promise<T>): Promise<T> {
    count++;
    return original.call(queue, job) as Promise<T>;
  };
  return {
    get count() {
      return count;
    },
    stop() {
      queue.run = original;
    },
  };
}

describe('POST /auth/register', () => {
  it('creates the account: 201 {user}, email normalised, never a hash', async () => {
    const res = await register({ email: '  Grace.Hopper@Example.COM ', password: GOOD_PASSWORD, name: ' Grace ' });
    expect(res.statusCode, res.body).toBe(201);
    const { user } = res.json() as { user: Record<string, unknown> };
    expect(Object.keys(user).sort()).toEqual(['created_at', 'disabled', 'email', 'email_verified', 'id', 'locale', 'name', 'roles', 'updated_at']);
    expect(user).toMatchObject({ email: 'grace.hopper@example.com', name: 'Grace', roles: [], email_verified: false, disabled: false });
    expect(res.body).not.toMatch(/argon2|\$2[aby]\$/);
    expect(res.body).not.toContain(GOOD_PASSWORD);
  });

  const invalid: Array<[string, unknown, string[]]> = [
    ['missing email', { password: GOOD_PASSWORD }, ['email']],
    ['missing password', { email: 'a@example.com' }, ['password']],
    ['email not a string', { email: 42, password: GOOD_PASSWORD }, ['email']],
    ['email not an address', { email: 'not-an-email', password: GOOD_PASSWORD }, ['email']],
    ['email too long', { email: `${'a'.repeat(250)}@example.com`, password: GOOD_PASSWORD }, ['email']],
    ['password too short', { email: 'a@example.com', password: 'zq7#kw2' }, ['password']],
    ['password of 257 characters', { email: 'a@example.com', password: 'x'.repeat(257) }, ['password']],
    ['password of 5000 characters', { email: 'a@example.com', password: 'x'.repeat(5000) }, ['password']],
    ['common password', { email: 'a@example.com', password: 'password1234' }, ['password']],
    ['password not a string', { email: 'a@example.com', password: 12345678 }, ['password']],
    ['name too long', { email: 'a@example.com', password: GOOD_PASSWORD, name: 'n'.repeat(201) }, ['name']],
    ['name not a string', { email: 'a@example.com', password: GOOD_PASSWORD, name: 42 }, ['name']],
    ['unknown field (roles cannot be self-assigned)', { email: 'a@example.com', password: GOOD_PASSWORD, roles: ['admin'] }, ['roles']],
    ['several fields at once', { email: 'nope', password: GOOD_PASSWORD, name: 7 }, ['email', 'name']],
  ];

  it.each(invalid)('%s: 422 VALIDATION_FAILED naming each field', async (_name, payload, fields) => {
    const body = problem(await register(payload), 422, 'VALIDATION_FAILED');
    expect(body.errors).toBeDefined();
    expect([...new Set(body.errors!.map((e) => e.field))].sort()).toEqual(fields);
    for (const e of body.errors!) expect(e.message.length).toBeGreaterThan(0);
    expect(JSON.stringify(body)).not.toContain(GOOD_PASSWORD);
  });

  it('a body that is not an object is 422 too', async () => {
    const body = problem(await register([]), 422, 'VALIDATION_FAILED');
    expect(body.errors!.length).toBeGreaterThan(0);
  });

  it('malformed JSON is 400 INVALID_REQUEST, another media type 415', async () => {
    problem(
      await t.app.inject({ method: 'POST', url: '/auth/register', headers: { 'content-type': 'application/json' }, payload: '{"email":' }),
      400,
      'INVALID_REQUEST',
    );
    problem(
      await t.app.inject({ method: 'POST', url: '/auth/register', headers: { 'content-type': 'text/plain' }, payload: 'hello' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    // The form encoding is for the OAuth2 endpoints only.
    problem(
      await t.app.inject({
        method: 'POST',
        url: '/auth/register',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ email: 'form@example.com', password: GOOD_PASSWORD }).toString(),
      }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expect(await t.app.latchkey.store.findUserByEmail('form@example.com')).toBeNull();
  });

  it('those media-type rules stay inside Latchkey: a host app mounting it keeps its own parsers', async () => {
    const { dir, cleanup } = tempDir();
    const host = Fastify();
    try {
      await host.register(latchkey, { config: loadConfig({ DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, LOG_LEVEL: 'silent' }), prefix: '/identity' });
      host.post('/echo', async (request) => ({ got: request.body }));
      const echo = await host.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
      expect(echo.json()).toEqual({ got: 'hello' });
      const reg = await host.inject({ method: 'POST', url: '/identity/auth/register', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
      expect(reg.statusCode).toBe(415);
    } finally {
      await host.close();
      cleanup();
    }
  });

  it('a duplicate email is 409 EMAIL_TAKEN, whatever its case and spacing', async () => {
    expect((await register({ email: 'dup@example.com', password: GOOD_PASSWORD })).statusCode).toBe(201);
    for (const email of ['dup@example.com', 'DUP@EXAMPLE.COM', 'Dup@Example.com', ' dup@example.com ']) {
      problem(await register({ email, password: 'another good password' }), 409, 'EMAIL_TAKEN');
    }
  });

  it('concurrent registrations of one address: exactly one wins', async () => {
    const variants = ['race@example.com', 'RACE@example.com', 'Race@Example.com', 'race@EXAMPLE.com', 'rAcE@example.com'];
    const results = await Promise.all(variants.map((email) => register({ email, password: GOOD_PASSWORD })));
    expect(results.map((r) => r.statusCode).sort()).toEqual([201, 409, 409, 409, 409]);
  });
});

describe('POST /auth/login', () => {
  const email = 'login-user@example.com';
  beforeAll(async () => {
    expect((await register({ email, password: GOOD_PASSWORD })).statusCode).toBe(201);
  });

  function expectTokenResponse(res: LightMyRequestResponse): void {
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['cache-control']).toContain('no-store');
    const body = res.json() as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    expect(typeof body.access_token).toBe('string');
    expect(typeof body.refresh_token).toBe('string');
    expect(String(body.access_token).split('.')).toHaveLength(3);
  }

  it('JSON {email, password}: 200 TokenResponse with Cache-Control: no-store', async () => {
    expectTokenResponse(await loginJson({ email, password: GOOD_PASSWORD }));
  });

  it('normalises the email as register does', async () => {
    expectTokenResponse(await loginJson({ email: '  LOGIN-User@Example.com ', password: GOOD_PASSWORD }));
  });

  it('the OAuth2 password form, with and without grant_type=password', async () => {
    expectTokenResponse(await loginForm({ username: email, password: GOOD_PASSWORD }));
    expectTokenResponse(await loginForm({ grant_type: 'password', username: email, password: GOOD_PASSWORD, scope: '' }));
  });

  it('the access token it returns works on GET /auth/me', async () => {
    const { access_token } = (await loginJson({ email, password: GOOD_PASSWORD })).json() as { access_token: string };
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(access_token) });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ user: { email } });
  });

  it('another grant_type: 400 UNSUPPORTED_GRANT_TYPE with error=unsupported_grant_type', async () => {
    for (const grant of ['client_credentials', 'refresh_token', 'authorization_code', 'PASSWORD']) {
      const body = problem(await loginForm({ grant_type: grant, username: email, password: GOOD_PASSWORD }), 400, 'UNSUPPORTED_GRANT_TYPE');
      expect(body.error).toBe('unsupported_grant_type');
    }
  });

  it('missing fields: 422 with per-field errors and error=invalid_request', async () => {
    const cases: Array<[LightMyRequestResponse, string[]]> = [
      [await loginJson({ password: GOOD_PASSWORD }), ['email']],
      [await loginJson({ email }), ['password']],
      [await loginJson({}), ['email', 'password']],
      [await loginJson({ email, password: GOOD_PASSWORD, remember: true }), ['remember']],
      [await loginJson({ email: 5, password: GOOD_PASSWORD }), ['email']],
      [await loginForm({ password: GOOD_PASSWORD }), ['username']],
      [await loginForm({ username: email }), ['password']],
      [await loginForm({ grant_type: 'password' }), ['password', 'username']],
    ];
    for (const [res, fields] of cases) {
      const body = problem(res, 422, 'VALIDATION_FAILED');
      expect(body.error).toBe('invalid_request');
      expect([...new Set(body.errors!.map((e) => e.field))].sort()).toEqual(fields);
    }
  });

  it('malformed JSON: 400 with error=invalid_request', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json' }, payload: '{' });
    expect(problem(res, 400, 'INVALID_REQUEST').error).toBe('invalid_request');
  });

  it('a wrong password: 400 INVALID_CREDENTIALS with error=invalid_grant, said in a sentence (detail and error_description)', async () => {
    const body = problem(await loginJson({ email, password: 'not the right password' }), 400, 'INVALID_CREDENTIALS');
    expect(body.error).toBe('invalid_grant');
    expect(body.detail).toBe('The email or password is incorrect.');
    // What OAuth2 clients show, the Authorize dialog of /docs among them.
    expect(body.error_description).toBe('The email or password is incorrect.');
  });

  it('error_description is the detail in the characters RFC 6749 allows; problems without error have none', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: {} });
    const body = res.json() as { detail: string; error: string; error_description: string };
    expect(body.detail).toBe('Send {"refresh_token": ...} or the refresh cookie.');
    expect(body.error_description).toBe("Send {'refresh_token': ...} or the refresh cookie.");
    expect(body.error_description).toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/);
    const taken = await register({ email, password: GOOD_PASSWORD });
    expect(taken.statusCode).toBe(409);
    expect(taken.json()).not.toHaveProperty('error_description');
  });

  it('a wrong password and an unknown email give byte-identical responses (JSON and form)', async () => {
    const pairs: Array<[LightMyRequestResponse, LightMyRequestResponse]> = [
      [await loginJson({ email, password: 'not the right password' }), await loginJson({ email: 'nobody@example.com', password: 'not the right password' })],
      [
        await loginForm({ username: email, password: 'not the right password' }),
        await loginForm({ username: 'nobody@example.com', password: 'not the right password' }),
      ],
    ];
    for (const [wrongPassword, unknownEmail] of pairs) {
      expect(wrongPassword.statusCode).toBe(400);
      expect(unknownEmail.statusCode).toBe(wrongPassword.statusCode);
      expect(unknownEmail.body).toBe(wrongPassword.body);
      expect(stableHeaders(unknownEmail)).toEqual(stableHeaders(wrongPassword));
    }
  });

  it('an unknown email costs one password verification, like a wrong password (timing)', async () => {
    // A fresh server: the very first unknown-email login must not pay for building the dummy hash.
    const fresh = await createTestApp();
    try {
      const reg = await fresh.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: GOOD_PASSWORD } });
      expect(reg.statusCode).toBe(201);
      const queue = fresh.app.latchkey.hasher.queue;
      const original = queue.run;
      let jobs = 0;
      queue.run = function <T>(job: () => Promise<T>): Promise<T> {
        jobs++;
        return original.call(queue, job) as Promise<T>;
      };
      const login = (e: string) => fresh.app.inject({ method: 'POST', url: '/auth/login', payload: { email: e, password: 'wrong password here' } });

      expect((await login('first-unknown@example.com')).statusCode).toBe(400);
      expect(jobs).toBe(1);
      expect((await login(email)).statusCode).toBe(400);
      expect(jobs).toBe(2);
      expect((await login('second-unknown@example.com')).statusCode).toBe(400);
      expect(jobs).toBe(3);
      queue.run = original;
    } finally {
      await fresh.close();
    }
  });

  it('a registration that fails validation costs no hash', async () => {
    const jobs = countHashJobs();
    try {
      await register({ email: 'x@example.com', password: 'short' });
      await register({ email: 'x@example.com', password: 'password' });
      await register({ email: 'login-user@example.com', password: GOOD_PASSWORD });
      expect(jobs.count).toBe(0);
    } finally {
      jobs.stop();
    }
  });

  it('a disabled account cannot log in (403), and only the right password reveals that', async () => {
    const reg = await register({ email: 'disabled@example.com', password: GOOD_PASSWORD });
    const id = (reg.json() as { user: { id: string } }).user.id;
    await t.app.latchkey.store.updateUser(id, { disabled: true }, Date.now());
    problem(await loginJson({ email: 'disabled@example.com', password: 'not the right password' }), 400, 'INVALID_CREDENTIALS');
    problem(await loginJson({ email: 'disabled@example.com', password: GOOD_PASSWORD }), 403, 'ACCOUNT_DISABLED');
  });
});

describe('GET and PATCH /auth/me', () => {
  let access: string;
  beforeAll(async () => {
    await register({ email: 'me@example.com', password: GOOD_PASSWORD, name: 'Ada' });
    access = ((await loginJson({ email: 'me@example.com', password: GOOD_PASSWORD })).json() as { access_token: string }).access_token;
  });

  it('GET returns the user without any secret', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(access) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ user: { email: 'me@example.com', name: 'Ada', roles: [] } });
    expect(res.body).not.toMatch(/argon2|password/i);
  });

  it('without a token: 401 UNAUTHORIZED with WWW-Authenticate: Bearer (no error attribute, RFC 6750 §3)', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/auth/me' });
    problem(res, 401, 'UNAUTHORIZED');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="latchkey"$/);
  });

  it('a token in the query string or another scheme is never accepted', async () => {
    problem(await t.app.inject({ method: 'GET', url: `/auth/me?access_token=${access}` }), 401, 'UNAUTHORIZED');
    problem(await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Basic ${access}` } }), 401, 'UNAUTHORIZED');
    problem(await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: access } }), 401, 'UNAUTHORIZED');
  });

  it('PATCH changes the name (trimmed; null clears it)', async () => {
    let res = await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(access), payload: { name: '  Ada Lovelace ' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ user: { name: 'Ada Lovelace', email: 'me@example.com' } });
    res = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(access) });
    expect(res.json()).toMatchObject({ user: { name: 'Ada Lovelace' } });
    res = await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(access), payload: { name: null } });
    expect(res.json()).toMatchObject({ user: { name: null } });
  });

  it('PATCH refuses other fields and bad values with 422, and needs a token', async () => {
    const fields = async (payload: object) => {
      const body = problem(await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(access), payload }), 422, 'VALIDATION_FAILED');
      return body.errors!.map((e) => e.field).sort();
    };
    expect(await fields({ email: 'evil@example.com' })).toEqual(['email']);
    expect(await fields({ roles: ['admin'] })).toEqual(['roles']);
    expect(await fields({ name: 'n'.repeat(201) })).toEqual(['name']);
    expect(await fields({ name: 5 })).toEqual(['name']);
    problem(await t.app.inject({ method: 'PATCH', url: '/auth/me', payload: { name: 'x' } }), 401, 'UNAUTHORIZED');
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(access) });
    expect(me.json()).toMatchObject({ user: { email: 'me@example.com', roles: [] } });
  });
});

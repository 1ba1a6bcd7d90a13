/**
 * Every route of the OpenAPI document, sent what a broken client, a fuzzer or a browser on
 * another site sends: no body, an empty body, `null`, an array, a number, broken JSON, the wrong
 * media types (also in upper case), an oversized body, and path parameters that are realistic,
 * oversized or badly percent-encoded. Each answer is below 500, and every refusal is
 * application/problem+json with a `code` of the error table. Standalone (buildApp) and embedded
 * (the latchkey plugin inside a host app that passes Latchkey's `frameworkErrors`).
 */
import Fastify, { type FastifyInstance, type InjectOptions, type LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ERROR_CODES } from '../../src/errors.js';
import { latchkeyFrameworkErrors } from '../../src/http/error-handler.js';
import { latchkey } from '../../src/plugin.js';
import { createTestApp, tempDir, type TestApp } from '../support/helpers.js';
import { join } from 'node:path';

const PASSWORD = 'correct horse battery staple';
/** BODY_LIMIT's default is 16 KiB: this is past it. */
const OVERSIZED = `{"email":"${'a'.repeat(20_000)}"}`;

interface OddBody {
  name: string;
  headers?: Record<string, string>;
  payload?: string;
}

const json = (payload: string, type = 'application/json'): Pick<OddBody, 'headers' | 'payload'> => ({ headers: { 'content-type': type }, payload });

const ODD_BODIES: OddBody[] = [
  { name: 'no body, no content-type' },
  { name: 'an empty JSON body', ...json('') },
  { name: 'a blank JSON body', ...json('  \n') },
  { name: 'null', ...json('null') },
  { name: 'an array', ...json('[]') },
  { name: 'an array of objects', ...json('[{"email":"a@example.com"}]') },
  { name: 'a number', ...json('42') },
  { name: 'a string', ...json('"x"') },
  { name: 'true', ...json('true') },
  { name: 'an empty object', ...json('{}') },
  { name: 'broken JSON', ...json('{"email":') },
  { name: 'a __proto__ member', ...json('{"__proto__":{"admin":true}}') },
  { name: 'JSON in upper case with a charset', ...json('{}', 'Application/JSON; Charset=UTF-8') },
  { name: 'text/plain', ...json('{"email":"a@example.com"}', 'text/plain') },
  { name: 'text/plain in upper case', ...json('{"email":"a@example.com"}', 'Text/Plain; charset=utf-8') },
  { name: 'a form', ...json('email=a%40example.com&password=x', 'application/x-www-form-urlencoded') },
  { name: 'a form in upper case', ...json('email=a%40example.com&password=x', 'Application/X-WWW-Form-Urlencoded') },
  { name: 'an empty form', ...json('', 'application/x-www-form-urlencoded') },
  { name: 'multipart', ...json('--zz\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--zz--\r\n', 'multipart/form-data; boundary=zz') },
  { name: 'XML', ...json('<a/>', 'application/xml') },
  { name: 'an unsupported type in upper case', ...json('x', 'Application/Octet-Stream') },
  { name: 'an invalid media type', ...json('x', 'garbage') },
  { name: 'an empty content-type', ...json('x', '') },
  { name: 'a body without content-type', payload: '{"email":"a@example.com"}' },
  { name: 'an oversized JSON body', ...json(OVERSIZED) },
  { name: 'an oversized form', ...json(`username=${'a'.repeat(20_000)}`, 'application/x-www-form-urlencoded') },
];

interface OpenApiDoc {
  paths: Record<string, Record<string, unknown>>;
}

/** Realistic, boundary and hostile values for each path parameter. */
function paramValues(real: string): string[] {
  return [real, 'no-such-id', 'a'.repeat(200), 'a'.repeat(201), 'a'.repeat(5000), '%zz', '%E0%A4%A', '%00', '..%2F..%2Fadmin', '%C3%A9t%C3%A9'];
}

function fill(path: string, values: Record<string, string>): string {
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => values[name] ?? 'x');
}

function expectGoodAnswer(res: LightMyRequestResponse, what: string): void {
  expect(res.statusCode, `${what}: ${res.body.slice(0, 300)}`).toBeLessThan(500);
  expect(res.headers['x-content-type-options'], what).toBe('nosniff');
  if (res.statusCode < 400) return;
  expect(res.headers['content-type'], `${what}: ${res.body.slice(0, 300)}`).toMatch(/^application\/problem\+json/);
  const body = res.json() as { code?: string; status?: number };
  expect(Object.keys(ERROR_CODES), `${what}: ${res.body.slice(0, 300)}`).toContain(body.code);
  expect(body.status, what).toBe(res.statusCode);
}

interface Actors {
  /** A valid admin bearer token (renewed when a request ended its session). */
  adminToken(): Promise<string>;
  /** Realistic values for the path parameters: a user and one of their sessions. */
  ids: Record<string, string>;
}

async function actors(app: FastifyInstance, prefix: string): Promise<Actors> {
  const login = async (email: string) => {
    const res = await app.inject({ method: 'POST', url: `${prefix}/auth/login`, payload: { email, password: PASSWORD } });
    expect(res.statusCode, res.body).toBe(200);
    return res.json().access_token as string;
  };
  const register = async (email: string) => {
    const res = await app.inject({ method: 'POST', url: `${prefix}/auth/register`, payload: { email, password: PASSWORD } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().user.id as string;
  };
  const adminId = await register('root@example.com');
  await app.latchkey.store.updateUser(adminId, { roles: ['admin'] }, Date.now());
  const targetId = await register('target@example.com');
  await login('target@example.com');
  const sessions = await app.latchkey.store.listSessions(targetId, Date.now());
  let token = await login('root@example.com');
  return {
    ids: { id: targetId, sid: sessions[0]!.id },
    async adminToken() {
      const me = await app.inject({ method: 'GET', url: `${prefix}/auth/me`, headers: { authorization: `Bearer ${token}` } });
      if (me.statusCode !== 200) token = await login('root@example.com');
      return token;
    },
  };
}

/** Sends every odd body to every route and path-parameter value, without and with an admin token. */
async function sendOddRequests(app: FastifyInstance, doc: OpenApiDoc, prefix: string, who: Actors): Promise<number> {
  let sent = 0;
  for (const [path, operations] of Object.entries(doc.paths)) {
    const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    const urls = names.length === 0 ? [path] : paramValues('').map((_, i) => fill(path, Object.fromEntries(names.map((n) => [n, paramValues(who.ids[n] ?? 'x')[i]!]))));
    for (const method of Object.keys(operations)) {
      for (const url of urls) {
        for (const body of ODD_BODIES) {
          for (const auth of [false, true]) {
            const headers: Record<string, string> = { ...body.headers };
            if (auth) headers.authorization = `Bearer ${await who.adminToken()}`;
            const options: InjectOptions = { method: method.toUpperCase() as InjectOptions['method'], url: prefix + url, headers };
            if (body.payload !== undefined) options.payload = body.payload;
            const res = await app.inject(options);
            expectGoodAnswer(res, `${method.toUpperCase()} ${url.slice(0, 60)} with ${body.name}${auth ? ' (admin)' : ''}`);
            sent++;
          }
        }
      }
    }
  }
  return sent;
}

describe('odd requests, standalone', () => {
  let t: TestApp;
  let doc: OpenApiDoc;
  beforeAll(async () => {
    t = await createTestApp();
    doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as OpenApiDoc;
  });
  afterAll(async () => {
    await t.close();
  });

  it('every route of the OpenAPI document answers every odd body and path parameter with < 500 and problem+json', async () => {
    expect(Object.keys(doc.paths).length).toBeGreaterThan(20);
    const sent = await sendOddRequests(t.app, doc, '', await actors(t.app, ''));
    expect(sent).toBeGreaterThan(4000);
  });

  it('POST /auth/login without a body or content-type is 422 VALIDATION_FAILED with the OAuth2 error, not 500', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/auth/login' });
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', error: 'invalid_request' });
    expect(res.json().errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ field: 'email' }), expect.objectContaining({ field: 'password' })]),
    );
  });

  it("Fastify's own refusals come out as problem+json with a stable code", async () => {
    const cases: Array<[InjectOptions, number, string]> = [
      [{ method: 'DELETE', url: `/auth/sessions/${'a'.repeat(201)}` }, 400, 'INVALID_REQUEST'],
      [{ method: 'GET', url: `/admin/users/${'a'.repeat(201)}` }, 400, 'INVALID_REQUEST'],
      [{ method: 'DELETE', url: '/auth/sessions/%zz' }, 400, 'INVALID_REQUEST'],
      [{ method: 'GET', url: '/auth/me%' }, 400, 'INVALID_REQUEST'],
      [{ method: 'GET', url: '/no/such%zz' }, 400, 'INVALID_REQUEST'],
      [{ method: 'POST', url: '/auth/register', headers: { 'content-type': 'Application/Octet-Stream' }, payload: 'x' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [{ method: 'OPTIONS', url: '/auth/login', headers: { 'content-type': 'Application/Octet-Stream' }, payload: 'x' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [{ method: 'POST', url: '/no/such/route', headers: { 'content-type': 'Application/Octet-Stream' }, payload: 'x' }, 404, 'NOT_FOUND'],
    ];
    for (const [options, status, code] of cases) {
      const res = await t.app.inject(options);
      expect(res.statusCode, `${options.method} ${options.url}: ${res.body}`).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status, code });
      // Nothing of the request is echoed back.
      expect(res.body).not.toContain('aaaaaaaa');
    }
  });
});

describe('odd requests, embedded in a host app (Fastify frameworkErrors: latchkeyFrameworkErrors)', () => {
  let host: FastifyInstance;
  let doc: OpenApiDoc;
  let standalone: TestApp;
  const dir = tempDir();
  beforeAll(async () => {
    // The document of the standalone server lists the same routes; the host mounts them under a prefix.
    standalone = await createTestApp();
    doc = (await standalone.app.inject({ method: 'GET', url: '/openapi.json' })).json() as OpenApiDoc;
    const config = loadConfig({
      DATABASE_URL: `sqlite:${join(dir.dir, 'host.db')}`,
      ISSUER: 'http://shop.test',
      LOG_LEVEL: 'silent',
      MAIL_OUTBOX_DIR: join(dir.dir, 'outbox'),
      RATE_LIMIT_ENABLED: 'false',
    });
    host = Fastify({ frameworkErrors: latchkeyFrameworkErrors, routerOptions: { maxParamLength: 200 } });
    await host.register(latchkey, { config, prefix: '/identity' });
    host.get('/api/orders', { preHandler: host.requireUser }, async () => ({ orders: [] }));
    await host.ready();
  });
  afterAll(async () => {
    await host.close();
    await standalone.close();
    dir.cleanup();
  });

  it("every Latchkey route under the host's prefix answers every odd request with < 500 and problem+json", async () => {
    const sent = await sendOddRequests(host, doc, '/identity', await actors(host, '/identity'));
    expect(sent).toBeGreaterThan(4000);
  });

  it("the host's router refusals are problem+json too", async () => {
    for (const url of [`/identity/auth/sessions/${'a'.repeat(201)}`, '/identity/auth/sessions/%zz', '/api/orders%']) {
      const res = await host.inject({ method: 'DELETE', url });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status: 400, code: 'INVALID_REQUEST' });
    }
  });
});

import Fastify, { type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { apiDocs } from '../../../src/features/api-docs/routes.js';
import type { AuthState } from '../../../src/features/sessions/guard.js';
import { latchkey } from '../../../src/plugin.js';
import { bearer, tempDir } from '../../support/helpers.js';
import { createTestDatabase, dropTestDatabase } from '../../support/postgres.js';

/**
 * Authentication is declared by the scope a route is registered in (plugin.ts), not called by
 * its handler. These tests go over EVERY operation of the OpenAPI document that declares bearer
 * security, so a route added with `security: bearerSecurity` outside the guarded scopes (or a
 * scope that lost its guard) fails here, whatever the route is.
 */

interface Schema {
  type?: string | string[];
  enum?: unknown[];
  examples?: unknown[];
  format?: string;
  required?: string[];
  minProperties?: number;
  properties?: Record<string, Schema>;
  minItems?: number;
  items?: Schema;
}
interface Operation {
  security?: Array<Record<string, string[]>>;
  requestBody?: { content: Record<string, { schema: Schema }> };
}
interface Endpoint {
  method: string;
  /** As Fastify writes it: `/admin/users/:id`. */
  route: string;
  /** With sample path parameters. */
  url: string;
  body: unknown;
  admin: boolean;
}

const PASSWORD = 'correct horse battery staple';

/** A minimal value that passes `schema`: the guard runs after validation (preHandler). */
function sample(schema: Schema): unknown {
  if (schema.enum) return schema.enum[0];
  // A field with a pattern (a 6-digit code) documents a valid value as its example.
  if (schema.examples) return schema.examples[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const keys = schema.required ?? (schema.minProperties ? Object.keys(schema.properties ?? {}).slice(0, 1) : []);
      return Object.fromEntries(keys.map((k) => [k, sample(schema.properties![k]!)]));
    }
    case 'string':
      return schema.format === 'email' ? `sample-${randomUUID().slice(0, 8)}@example.com` : 'sample-value-4711';
    case 'boolean':
      return false;
    case 'integer':
    case 'number':
      return 1;
    case 'array':
      // At least the items the schema asks for (a webhook's event_types).
      return Array.from({ length: schema.minItems ?? 0 }, () => (schema.items ? sample(schema.items) : null));
    default:
      return null;
  }
}

let host: FastifyInstance;
let endpoints: Endpoint[];
/** `request.auth` as the host's onResponse hook saw it, per "METHOD /route". */
const seen = new Map<string, AuthState | null>();
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const { dir, cleanup: removeDir } = tempDir();
  const pgUrl = process.env.LATCHKEY_TEST_DB === 'postgres' ? await createTestDatabase() : undefined;
  const config = loadConfig({
    DATABASE_URL: pgUrl ?? `sqlite:${join(dir, 'latchkey.db')}`,
    ISSUER: 'http://latchkey.test',
    LOG_LEVEL: 'silent',
    MAIL_OUTBOX_DIR: join(dir, 'outbox'),
    RATE_LIMIT_ENABLED: 'false',
  });
  host = Fastify();
  // Added before Latchkey is registered, so it runs on Latchkey's routes too.
  host.addHook('onResponse', (request, _reply, done) => {
    seen.set(`${request.method} ${request.routeOptions.url}`, request.auth);
    done();
  });
  await host.register(apiDocs, { issuer: config.tokens.issuer });
  await host.register(latchkey, { config });
  await host.ready();
  cleanup = async () => {
    await host.close();
    removeDir();
    if (pgUrl) await dropTestDatabase(pgUrl);
  };

  const doc = (await host.inject({ url: '/openapi.json' })).json() as { paths: Record<string, Record<string, Operation>> };
  endpoints = [];
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      if (!op.security?.some((s) => 'BearerAuth' in s)) continue;
      const schema = op.requestBody?.content['application/json']?.schema;
      endpoints.push({
        method: method.toUpperCase(),
        route: path.replace(/\{(\w+)\}/g, ':$1'),
        url: path.replace(/\{\w+\}/g, randomUUID()),
        body: schema ? sample(schema) : undefined,
        admin: path.startsWith('/admin/'),
      });
    }
  }
});

afterAll(() => cleanup());

async function login(email: string): Promise<{ access: string; userId: string }> {
  const res = await host.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
  expect(res.statusCode, res.body).toBe(200);
  const { access_token } = res.json() as { access_token: string };
  const me = await host.inject({ url: '/auth/me', headers: bearer(access_token) });
  return { access: access_token, userId: (me.json() as { user: { id: string } }).user.id };
}

/** A user with `roles`, made directly in the store (one hash, no registration mail). */
async function userWith(roles: string[]): Promise<string> {
  const email = `scope-${randomUUID().slice(0, 8)}@example.com`;
  const passwordHash = await host.latchkey.hasher.hash(PASSWORD);
  await host.latchkey.store.createUser({ id: randomUUID(), email, name: null, passwordHash, roles, emailVerified: true, createdAt: Date.now() });
  return email;
}

function call(e: Endpoint, headers: Record<string, string> = {}) {
  const payload = e.body === undefined ? {} : { payload: e.body as Record<string, unknown> };
  return host.inject({ method: e.method as 'GET', url: e.url, headers, ...payload });
}

describe('every route with bearer security in the OpenAPI document', () => {
  it('is found: the document lists the signed-in and admin routes', () => {
    const names = endpoints.map((e) => `${e.method} ${e.route}`);
    expect(names).toEqual(expect.arrayContaining(['GET /auth/me', 'POST /auth/change-password', 'GET /auth/events', 'DELETE /admin/users/:id']));
    expect(endpoints.length).toBeGreaterThanOrEqual(16);
  });

  it('refuses a request without a token: 401 UNAUTHORIZED with a Bearer challenge', async () => {
    for (const e of endpoints) {
      const res = await call(e);
      expect(res.statusCode, `${e.method} ${e.route}: ${res.body}`).toBe(401);
      expect(res.json().code, `${e.method} ${e.route}`).toBe('UNAUTHORIZED');
      expect(res.headers['www-authenticate'], `${e.method} ${e.route}`).toMatch(/^Bearer realm="latchkey"/);
      expect(seen.get(`${e.method} ${e.route}`), `${e.method} ${e.route}`).toBeNull();
    }
  });

  it('refuses a token that is not a valid access token: 401 INVALID_TOKEN', async () => {
    for (const e of endpoints) {
      const res = await call(e, bearer('not.a.token'));
      expect(res.statusCode, `${e.method} ${e.route}: ${res.body}`).toBe(401);
      expect(res.json().code, `${e.method} ${e.route}`).toBe('INVALID_TOKEN');
    }
  });

  it('refuses a revoked session at once: 401 INVALID_TOKEN', async () => {
    const { access } = await login(await userWith(['admin']));
    await host.inject({ method: 'POST', url: '/auth/logout', headers: bearer(access) });
    for (const e of endpoints) {
      const res = await call(e, bearer(access));
      expect(res.statusCode, `${e.method} ${e.route}: ${res.body}`).toBe(401);
      expect(res.json().code, `${e.method} ${e.route}`).toBe('INVALID_TOKEN');
    }
  });

  it('admin routes refuse a signed-in user without the admin role: 403 FORBIDDEN', async () => {
    const { access } = await login(await userWith([]));
    const admin = endpoints.filter((e) => e.admin);
    expect(admin.length).toBeGreaterThanOrEqual(7);
    for (const e of admin) {
      const res = await call(e, bearer(access));
      expect(res.statusCode, `${e.method} ${e.route}: ${res.body}`).toBe(403);
      expect(res.json().code, `${e.method} ${e.route}`).toBe('FORBIDDEN');
    }
  });

  it('sets request.auth (claims, user, session) before the handler of an accepted request', async () => {
    const plain = await userWith([]);
    const admin = await userWith(['admin']);
    for (const e of endpoints) {
      // A fresh session each time: logout and logout-all end theirs. DELETE /auth/me ends the
      // account itself (a fresh sign-in is proof enough): a user of its own.
      const deletesAccount = e.method === 'DELETE' && e.route === '/auth/me';
      const caller = await login(e.admin ? admin : deletesAccount ? await userWith([]) : plain);
      const res = await call(e, bearer(caller.access));
      expect([401, 403], `${e.method} ${e.route}: ${res.body}`).not.toContain(res.statusCode);
      const auth = seen.get(`${e.method} ${e.route}`);
      expect(auth?.user.id, `${e.method} ${e.route}`).toBe(caller.userId);
      expect(auth?.claims.sub, `${e.method} ${e.route}`).toBe(caller.userId);
      expect(auth?.session.id, `${e.method} ${e.route}`).toBe(auth?.claims.sid);
    }
  });

  it('routes that need no token leave request.auth null, even when one is sent', async () => {
    const { access } = await login(await userWith([]));
    const res = await host.inject({ url: '/auth/csrf', headers: bearer(access) });
    expect(res.statusCode).toBe(200);
    expect(seen.get('GET /auth/csrf')).toBeNull();
  });
});

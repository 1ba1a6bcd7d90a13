import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import latchkeyVerify from '../src/fastify.js';
import { createVerifier } from '../src/index.js';
import { AUDIENCE, ISSUER, makeKey, NOW, NOW_S, signToken, startJwksServer, type JwksServer, type TestKey } from './support.js';

let rsa: TestKey;
let stranger: TestKey;
let jwks: JwksServer;
let app: FastifyInstance;
let userToken: string;
let adminToken: string;

beforeAll(async () => {
  [rsa, stranger] = await Promise.all([makeKey('RS256'), makeKey('ES256')]);
  jwks = await startJwksServer([rsa.jwk]);
  app = Fastify();
  await app.register(latchkeyVerify, { issuer: ISSUER, audience: AUDIENCE, jwksUrl: jwks.url, clock: () => NOW, realm: 'orders' });
  app.get('/public', async (request) => ({ auth: request.auth }));
  app.get('/me', { config: { auth: true } }, async (request) => ({ sub: request.auth!.sub, roles: request.auth!.roles }));
  app.delete('/admin/orders', { config: { auth: { roles: ['admin'] } } }, async () => ({ deleted: true }));
  app.post(
    '/orders',
    {
      config: { auth: true },
      schema: { body: { type: 'object', required: ['item'], properties: { item: { type: 'string' } } } },
    },
    async (request) => ({ owner: request.auth!.sub, item: (request.body as { item: string }).item }),
  );
  app.get('/manual', { preHandler: app.requireAuth({ roles: ['user'] }) }, async (request) => ({ sub: request.auth!.sub }));
  await app.ready();
  userToken = await signToken(rsa, { claims: { sub: 'alice', roles: ['user'] } });
  adminToken = await signToken(rsa, { claims: { sub: 'root', roles: ['user', 'admin'] } });
});

afterAll(async () => {
  await app.close();
  await jwks.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function expectProblem(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.json()).toMatchObject({ status, code, type: `urn:latchkey:error:${code.toLowerCase()}` });
}

describe('Fastify plugin', () => {
  it('lets a valid token through and types request.auth', async () => {
    const res = await app.inject({ url: '/me', headers: bearer(userToken) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ sub: 'alice', roles: ['user'] });
    const lower = await app.inject({ url: '/me', headers: { authorization: `bearer ${userToken}` } });
    expect(lower.statusCode).toBe(200);
  });

  it('401 without a token: challenge without an error code (RFC 6750 §3.1)', async () => {
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }, { authorization: 'Bearer ' }, { authorization: userToken }]) {
      const res = await app.inject({ url: '/me', headers });
      expectProblem(res, 401, 'UNAUTHORIZED');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="orders"');
    }
  });

  it('a token in the query string is not read', async () => {
    const res = await app.inject({ url: `/me?access_token=${userToken}` });
    expect(res.statusCode).toBe(401);
  });

  it('401 invalid_token for a refused token, with nothing of the token echoed', async () => {
    const forged = await signToken(stranger, { header: { kid: rsa.kid } });
    const expired = await signToken(rsa, { claims: { exp: NOW_S - 60 } });
    for (const token of [forged, expired, 'garbage', `${userToken}x`]) {
      const res = await app.inject({ url: '/me', headers: bearer(token) });
      expectProblem(res, 401, 'INVALID_TOKEN');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="orders", error="invalid_token"/);
      expect(res.body).not.toContain(token.slice(0, 16));
    }
  });

  it('403 insufficient_scope when a required role is missing; 200 with it', async () => {
    const res = await app.inject({ method: 'DELETE', url: '/admin/orders', headers: bearer(userToken) });
    expectProblem(res, 403, 'FORBIDDEN');
    expect(res.headers['www-authenticate']).toBe(
      'Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks a required role", scope="admin"',
    );
    const ok = await app.inject({ method: 'DELETE', url: '/admin/orders', headers: bearer(adminToken) });
    expect(ok.statusCode).toBe(200);
    const none = await app.inject({ method: 'DELETE', url: '/admin/orders' });
    expect(none.statusCode).toBe(401);
  });

  it('runs before body parsing and validation: no token, no body work', async () => {
    const bad = await app.inject({ method: 'POST', url: '/orders', headers: { 'content-type': 'application/json' }, payload: '{not json' });
    expect(bad.statusCode).toBe(401);
    const invalid = await app.inject({ method: 'POST', url: '/orders', payload: {} });
    expect(invalid.statusCode).toBe(401);
    const ok = await app.inject({ method: 'POST', url: '/orders', headers: bearer(userToken), payload: { item: 'tea' } });
    expect(ok.json()).toEqual({ owner: 'alice', item: 'tea' });
  });

  it('protects the automatic HEAD route of a protected GET', async () => {
    expect((await app.inject({ method: 'HEAD', url: '/me' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'HEAD', url: '/me', headers: bearer(userToken) })).statusCode).toBe(200);
  });

  it('leaves public routes alone (request.auth is null there)', async () => {
    const res = await app.inject({ url: '/public', headers: bearer('garbage') });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ auth: null });
  });

  it('app.requireAuth() works as a manual preHandler', async () => {
    expect((await app.inject({ url: '/manual', headers: bearer(userToken) })).json()).toEqual({ sub: 'alice' });
    expect((await app.inject({ url: '/manual' })).statusCode).toBe(401);
    const noRole = await signToken(rsa, { claims: { roles: [] } });
    expect((await app.inject({ url: '/manual', headers: bearer(noRole) })).statusCode).toBe(403);
  });

  it('fetched the JWKS once for all of the above', () => {
    expect(jwks.hits).toBe(1);
    expect(app.latchkeyVerifier.stats.jwksFetches).toBe(1);
  });

  it('503 with Retry-After when the key is unknown and the JWKS is down; no challenge', async () => {
    const down = await startJwksServer([rsa.jwk]);
    down.failWith = 502;
    const other = Fastify();
    const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: down.url, clock: () => NOW, jwksCooldownMs: 30_000 });
    await other.register(latchkeyVerify, { verifier });
    other.get('/x', { config: { auth: true } }, async () => ({ ok: true }));
    try {
      const res = await other.inject({ url: '/x', headers: bearer(userToken) });
      expectProblem(res, 503, 'SERVICE_UNAVAILABLE');
      expect(res.headers['retry-after']).toBe('30');
      expect(res.headers['www-authenticate']).toBeUndefined();
      // Without a realm the challenge has no realm parameter.
      const missing = await other.inject({ url: '/x' });
      expect(missing.headers['www-authenticate']).toBe('Bearer');
    } finally {
      await other.close();
      await down.close();
    }
  });
});

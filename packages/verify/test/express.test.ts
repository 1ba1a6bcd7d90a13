import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, requireAuth } from '../src/express.js';
import { AUDIENCE, ISSUER, makeKey, NOW, NOW_S, signToken, startJwksServer, type JwksServer, type TestKey } from './support.js';

let rsa: TestKey;
let ed: TestKey;
let jwks: JwksServer;
let server: Server;
let base: string;

beforeAll(async () => {
  [rsa, ed] = await Promise.all([makeKey('RS256'), makeKey('EdDSA')]);
  jwks = await startJwksServer([rsa.jwk, ed.jwk]);
  const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: jwks.url, clock: () => NOW });
  const app = express();
  app.use(express.json());
  app.get('/public', (_req, res) => {
    res.json({ public: true });
  });
  app.get('/orders', requireAuth(verifier), (req, res) => {
    res.json({ owner: req.auth!.sub, roles: req.auth!.roles });
  });
  app.delete('/orders/:id', requireAuth(verifier, { roles: ['admin'], realm: 'shop' }), (req, res) => {
    res.json({ deleted: req.params.id, by: req.auth!.sub });
  });
  // Built from options rather than a shared verifier.
  app.get('/own', requireAuth({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: jwks.url, clock: () => NOW }), (req, res) => {
    res.json({ sub: req.auth!.sub });
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await jwks.close();
});

const get = (path: string, token?: string, method = 'GET') =>
  fetch(`${base}${path}`, { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

describe('Express middleware on a real express app', () => {
  it('passes a valid token and sets req.auth', async () => {
    const token = await signToken(ed, { claims: { sub: 'bob', roles: ['user'] } });
    const res = await get('/orders', token);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ owner: 'bob', roles: ['user'] });
    // Again: answered from the token cache, still 200.
    expect((await get('/orders', token)).status).toBe(200);
  });

  it('401 with RFC 6750 challenges and problem+json', async () => {
    const missing = await get('/orders');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await missing.json()).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });

    const expired = await get('/orders', await signToken(rsa, { claims: { exp: NOW_S - 120 } }));
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    expect(await expired.json()).toMatchObject({ code: 'INVALID_TOKEN' });

    const forged = await signToken(await makeKey('EdDSA'), { header: { kid: ed.kid } });
    expect((await get('/orders', forged)).status).toBe(401);
  });

  it('403 insufficient_scope without the role, 200 with it', async () => {
    const user = await signToken(rsa, { claims: { roles: ['user'] } });
    const res = await get('/orders/7', user, 'DELETE');
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer realm="shop", error="insufficient_scope", error_description="The access token lacks a required role", scope="admin"',
    );
    expect(await res.json()).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    const admin = await signToken(rsa, { claims: { sub: 'root', roles: ['admin'] } });
    const ok = await get('/orders/7', admin, 'DELETE');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ deleted: '7', by: 'root' });
  });

  it('accepts options instead of a verifier, and leaves other routes public', async () => {
    expect(await (await get('/own', await signToken(rsa, { claims: { sub: 'carol' } }))).json()).toEqual({ sub: 'carol' });
    expect((await get('/public')).status).toBe(200);
  });

  it('one JWKS fetch per verifier', () => {
    // Two verifiers in this app (the shared one and the one /own built): two fetches in all.
    expect(jwks.hits).toBe(2);
  });
});

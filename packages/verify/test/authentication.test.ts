/**
 * `amr` and `auth_time` in the verified claims, `requireAuthentication`, and the `maxAge` / `amr`
 * route options of the Fastify plugin and the Express middleware (403 REAUTHENTICATION_REQUIRED
 * with the RFC 9470 challenge). Frozen clock; real HTTP for Express.
 */
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireAuth } from '../src/express.js';
import latchkeyVerify from '../src/fastify.js';
import { AuthenticationRequiredError, createVerifier, InvalidTokenError, requireAuthentication, type Verifier } from '../src/index.js';
import { AUDIENCE, ISSUER, makeKey, NOW, NOW_S, signToken, startJwksServer, type JwksServer, type TestKey } from './support.js';

let key: TestKey;
let jwks: JwksServer;
let verifier: Verifier;
let app: FastifyInstance;
let server: Server;
let base: string;

/** A token of a session that authenticated `ageSeconds` ago by `amr`. */
const tokenOf = (ageSeconds: number, amr: string[]) => signToken(key, { claims: { auth_time: NOW_S - ageSeconds, amr } });

beforeAll(async () => {
  key = await makeKey('ES256');
  jwks = await startJwksServer([key.jwk]);
  verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: jwks.url, clock: () => NOW });
  app = Fastify();
  await app.register(latchkeyVerify, { verifier });
  app.get('/orders', { config: { auth: true } }, async (request) => ({ amr: request.auth!.amr, auth_time: request.auth!.auth_time }));
  app.post('/payouts', { config: { auth: { maxAge: 300 } } }, async () => ({ paid: true }));
  app.post('/vault', { config: { auth: { amr: 'mfa' } } }, async () => ({ opened: true }));
  app.post('/keys', { config: { auth: { roles: ['admin'], maxAge: 60, amr: ['hwk', 'swk'] } } }, async () => ({ ok: true }));
  await app.ready();

  const ex = express();
  ex.post('/payouts', requireAuth(verifier, { maxAge: 300, amr: 'mfa' }), (_req, res) => {
    res.json({ paid: true });
  });
  server = ex.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await jwks.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('amr and auth_time in the claims', () => {
  it('are exposed as the token carries them, and frozen', async () => {
    const claims = await verifier.verify(await tokenOf(42, ['pwd', 'otp', 'mfa']));
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.auth_time).toBe(NOW_S - 42);
    expect(Object.isFrozen(claims.amr)).toBe(true);
  });

  it('are [] and null for a token without them (a token of an older server)', async () => {
    const claims = await verifier.verify(await signToken(key));
    expect(claims.amr).toEqual([]);
    expect(claims.auth_time).toBeNull();
  });

  it('a token whose amr or auth_time has the wrong type is refused', async () => {
    for (const claims of [{ amr: 'pwd' }, { amr: [1] }, { auth_time: '1700000000' }]) {
      const err = await verifier.verify(await signToken(key, { claims })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidTokenError);
      expect((err as InvalidTokenError).reason).toMatch(/^bad (amr|auth_time)$/);
    }
  });
});

describe('requireAuthentication', () => {
  it('passes a recent enough authentication by the asked method', async () => {
    const claims = await verifier.verify(await tokenOf(300, ['pwd', 'otp', 'mfa']));
    expect(() => requireAuthentication(claims, { maxAge: 300, amr: 'mfa' }, { now: NOW })).not.toThrow();
    expect(() => requireAuthentication(claims, { amr: ['hwk', 'otp'] }, { now: NOW })).not.toThrow();
  });

  it('refuses one older than maxAge, without auth_time, or not by the method, with AuthenticationRequiredError', async () => {
    const old = await verifier.verify(await tokenOf(301, ['pwd', 'otp', 'mfa']));
    const err = (() => {
      try {
        requireAuthentication(old, { maxAge: 300 }, { now: NOW });
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(AuthenticationRequiredError);
    expect(err).toMatchObject({ code: 'ERR_AUTHENTICATION_REQUIRED', reason: 'auth_time', maxAge: 300 });
    const none = await verifier.verify(await signToken(key));
    expect(() => requireAuthentication(none, { maxAge: 3600 }, { now: NOW })).toThrow(AuthenticationRequiredError);
    const password = await verifier.verify(await tokenOf(1, ['pwd']));
    expect(() => requireAuthentication(password, { amr: 'mfa' }, { now: NOW })).toThrow(/required method/);
    expect(() => requireAuthentication(password, { amr: ['hwk', 'swk'] }, { now: NOW })).toThrow(AuthenticationRequiredError);
  });
});

describe('route options maxAge and amr', () => {
  it('Fastify: 403 REAUTHENTICATION_REQUIRED with max_age and the RFC 9470 challenge; 200 when met', async () => {
    expect((await app.inject({ method: 'POST', url: '/payouts', headers: bearer(await tokenOf(300, ['pwd'])) })).statusCode).toBe(200);
    const old = await app.inject({ method: 'POST', url: '/payouts', headers: bearer(await tokenOf(301, ['pwd'])) });
    expect(old.statusCode).toBe(403);
    expect(old.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(old.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_user_authentication", error_description="A more recent or stronger authentication is required", max_age="300"',
    );
    expect(old.json()).toMatchObject({ status: 403, code: 'REAUTHENTICATION_REQUIRED', max_age: 300, type: 'urn:latchkey:error:reauthentication_required' });

    expect((await app.inject({ method: 'POST', url: '/vault', headers: bearer(await tokenOf(9999, ['pwd', 'otp', 'mfa'])) })).statusCode).toBe(200);
    const weak = await app.inject({ method: 'POST', url: '/vault', headers: bearer(await tokenOf(1, ['pwd'])) });
    expect(weak.statusCode).toBe(403);
    expect(weak.json()).not.toHaveProperty('max_age');

    // Roles first (403 FORBIDDEN), then the authentication.
    const admin = (age: number, amr: string[]) => signToken(key, { claims: { roles: ['admin'], auth_time: NOW_S - age, amr } });
    expect((await app.inject({ method: 'POST', url: '/keys', headers: bearer(await tokenOf(1, ['hwk'])) })).json().code).toBe('FORBIDDEN');
    expect((await app.inject({ method: 'POST', url: '/keys', headers: bearer(await admin(61, ['hwk'])) })).json().code).toBe('REAUTHENTICATION_REQUIRED');
    expect((await app.inject({ method: 'POST', url: '/keys', headers: bearer(await admin(1, ['pwd'])) })).json().code).toBe('REAUTHENTICATION_REQUIRED');
    expect((await app.inject({ method: 'POST', url: '/keys', headers: bearer(await admin(1, ['swk'])) })).statusCode).toBe(200);
    // A route without the options lets any valid token through, and shows what it carries.
    expect((await app.inject({ url: '/orders', headers: bearer(await tokenOf(5000, ['pwd'])) })).json()).toEqual({ amr: ['pwd'], auth_time: NOW_S - 5000 });
  });

  it('Express: the same answers', async () => {
    const post = async (token: string) => fetch(`${base}/payouts`, { method: 'POST', headers: bearer(token) });
    expect((await post(await tokenOf(10, ['pwd', 'otp', 'mfa']))).status).toBe(200);
    const old = await post(await tokenOf(301, ['pwd', 'otp', 'mfa']));
    expect(old.status).toBe(403);
    expect(old.headers.get('www-authenticate')).toMatch(/error="insufficient_user_authentication".*max_age="300"/);
    expect(await old.json()).toMatchObject({ code: 'REAUTHENTICATION_REQUIRED', max_age: 300 });
    expect((await post(await tokenOf(10, ['pwd']))).status).toBe(403);
  });

  it('a bad requirement is refused when the route is declared, not at a request', () => {
    expect(() => requireAuth(verifier, { maxAge: -1 })).toThrow(TypeError);
    expect(() => requireAuth(verifier, { amr: [] })).toThrow(TypeError);
    expect(() => app.requireAuth({ maxAge: 1.5 })).toThrow(TypeError);
  });
});

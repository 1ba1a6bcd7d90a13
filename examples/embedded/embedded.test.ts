import type { FastifyInstance } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigSections } from '@latchkey/server';
import { createVerifier } from '@latchkey/verify';
import { buildShop } from './app.js';

const PASSWORD = 'correct horse battery staple';
let dir: string;
let app: FastifyInstance;

/** Latchkey's settings for a shop on its own SQLite file in `d`, by section (the rest is the default). */
function settings(d: string, issuer = 'http://shop.test'): ConfigSections {
  return {
    store: { databaseUrl: `sqlite:${join(d, 'shop.db')}` },
    tokens: { issuer },
    mail: { mailOutboxDir: join(d, 'outbox') },
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-embedded-'));
  app = await buildShop({ logLevel: 'silent', latchkey: { ...settings(dir), rateLimit: { rateLimitEnabled: false } } });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

async function signUp(email: string): Promise<{ access: string; refresh: string; userId: string }> {
  const reg = await app.inject({ method: 'POST', url: '/identity/auth/register', payload: { email, password: PASSWORD } });
  expect(reg.statusCode).toBe(201);
  const login = await app.inject({ method: 'POST', url: '/identity/auth/login', payload: { email, password: PASSWORD } });
  expect(login.statusCode).toBe(200);
  const body = login.json() as { access_token: string; refresh_token: string };
  return { access: body.access_token, refresh: body.refresh_token, userId: reg.json().user.id as string };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('embedded mode: Latchkey mounted under /identity in a shop app', () => {
  it('the protected business route answers the caller with their own orders', async () => {
    const ada = await signUp('ada@shop.test');
    const bob = await signUp('bob@shop.test');
    const res = await app.inject({ url: '/api/orders', headers: bearer(ada.access) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      customer: { id: ada.userId, email: 'ada@shop.test', roles: [] },
      orders: [{ id: `welcome-${ada.userId}`, item: 'welcome tea', quantity: 1 }],
    });
    const other = await app.inject({ url: '/api/orders', headers: bearer(bob.access) });
    expect(other.json().customer.email).toBe('bob@shop.test');
  });

  it('401 problem+json with a WWW-Authenticate challenge on the host route', async () => {
    const missing = await app.inject({ url: '/api/orders' });
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(missing.json()).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });

    const garbage = await app.inject({ url: '/api/orders', headers: bearer('not.a.token') });
    expect(garbage.statusCode).toBe(401);
    expect(garbage.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect(garbage.json()).toMatchObject({ code: 'INVALID_TOKEN' });
  });

  it('logout ends access to the host route at once (the session is checked, not just the JWT)', async () => {
    const carol = await signUp('carol@shop.test');
    expect((await app.inject({ url: '/api/orders', headers: bearer(carol.access) })).statusCode).toBe(200);
    const out = await app.inject({ method: 'POST', url: '/identity/auth/logout', headers: bearer(carol.access) });
    expect(out.statusCode).toBe(204);
    const after = await app.inject({ url: '/api/orders', headers: bearer(carol.access) });
    expect(after.statusCode).toBe(401);
    expect(after.json()).toMatchObject({ code: 'INVALID_TOKEN' });
  });

  it('the auth routes live under the prefix only; the host keeps its own routes', async () => {
    expect((await app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'ada@shop.test', password: PASSWORD } })).statusCode).toBe(404);
    expect((await app.inject({ url: '/.well-known/jwks.json' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/identity/health/live' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/' })).json()).toEqual({ shop: 'open', login: '/identity/auth/login' });
  });

  it('cookie mode scopes the refresh cookie to the mounted auth path, and refresh works there', async () => {
    await app.inject({ method: 'POST', url: '/identity/auth/register', payload: { email: 'dan@shop.test', password: PASSWORD } });
    const login = await app.inject({
      method: 'POST',
      url: '/identity/auth/login',
      headers: { 'x-auth-mode': 'cookie' },
      payload: { email: 'dan@shop.test', password: PASSWORD },
    });
    expect(login.statusCode).toBe(200);
    const cookies = login.cookies as { name: string; value: string; path?: string; httpOnly?: boolean }[];
    const refresh = cookies.find((c) => c.name === 'lk_refresh')!;
    const csrf = cookies.find((c) => c.name === 'lk_csrf')!;
    expect(refresh.path).toBe('/identity/auth');
    expect(refresh.httpOnly).toBe(true);
    expect(login.json().refresh_token).toBeUndefined();

    const refreshed = await app.inject({
      method: 'POST',
      url: '/identity/auth/refresh',
      headers: { 'x-auth-mode': 'cookie', 'x-csrf-token': csrf.value },
      cookies: { lk_refresh: refresh.value, lk_csrf: csrf.value },
    });
    expect(refreshed.statusCode).toBe(200);
    const orders = await app.inject({ url: '/api/orders', headers: bearer(refreshed.json().access_token as string) });
    expect(orders.json().customer.email).toBe('dan@shop.test');
  });

  it('under /authn the refresh cookie is Path=/authn/auth (not /auth), and cookie refresh and logout work there', async () => {
    const d = mkdtempSync(join(tmpdir(), 'latchkey-embedded-'));
    const shop = await buildShop({ logLevel: 'silent', latchkey: settings(d), authPrefix: '/authn' });
    try {
      await shop.inject({ method: 'POST', url: '/authn/auth/register', payload: { email: 'eve@shop.test', password: PASSWORD } });
      const login = await shop.inject({
        method: 'POST',
        url: '/authn/auth/login',
        headers: { 'x-auth-mode': 'cookie' },
        payload: { email: 'eve@shop.test', password: PASSWORD },
      });
      const cookies = login.cookies as { name: string; value: string; path?: string }[];
      const refresh = cookies.find((c) => c.name === 'lk_refresh')!;
      const csrf = cookies.find((c) => c.name === 'lk_csrf')!;
      expect(refresh.path).toBe('/authn/auth');
      expect(csrf.path).toBe('/');
      const jar = { lk_refresh: refresh.value, lk_csrf: csrf.value };
      const refreshed = await shop.inject({ method: 'POST', url: '/authn/auth/refresh', headers: { 'x-csrf-token': csrf.value }, cookies: jar });
      expect(refreshed.statusCode).toBe(200);
      const rotated = (refreshed.cookies as { name: string; value: string; path?: string }[]).find((c) => c.name === 'lk_refresh')!;
      expect(rotated.path).toBe('/authn/auth');
      const out = await shop.inject({
        method: 'POST',
        url: '/authn/auth/logout',
        headers: { 'x-csrf-token': csrf.value },
        cookies: { lk_refresh: rotated.value, lk_csrf: csrf.value },
      });
      expect(out.statusCode).toBe(204);
      const cleared = out.cookies as { name: string; value: string; path?: string }[];
      expect(cleared.map((c) => [c.name, c.value, c.path]).sort()).toEqual([
        ['lk_csrf', '', '/'],
        ['lk_refresh', '', '/authn/auth'],
      ]);
    } finally {
      await shop.close();
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('discovery points at the mounted URLs', async () => {
    const doc = (await app.inject({ url: '/identity/.well-known/openid-configuration' })).json();
    expect(doc).toMatchObject({
      issuer: 'http://shop.test',
      jwks_uri: 'http://shop.test/identity/.well-known/jwks.json',
      token_endpoint: 'http://shop.test/identity/auth/login',
    });
  });

  it('discovery does not repeat the prefix when ISSUER already ends with it', async () => {
    const d = mkdtempSync(join(tmpdir(), 'latchkey-embedded-'));
    const shop = await buildShop({ logLevel: 'silent', latchkey: settings(d, 'http://shop.test/identity') });
    try {
      const doc = (await shop.inject({ url: '/identity/.well-known/openid-configuration' })).json();
      expect(doc.issuer).toBe('http://shop.test/identity');
      expect(doc.jwks_uri).toBe('http://shop.test/identity/.well-known/jwks.json');
    } finally {
      await shop.close();
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('tokens of the embedded Latchkey verify offline with @latchkey/verify over real HTTP', async () => {
    const erin = await signUp('erin@shop.test');
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address() as { port: number };
    const verifier = createVerifier({
      issuer: app.latchkey.config.tokens.issuer,
      audience: app.latchkey.config.tokens.audience,
      jwksUrl: `http://127.0.0.1:${address.port}/identity/.well-known/jwks.json`,
    });
    const claims = await verifier.verify(erin.access);
    expect(claims.sub).toBe(erin.userId);
    expect(verifier.stats.jwksFetches).toBe(1);
  });

  it("what the host's router and Node's parser refuse is problem+json too (the shop passes Latchkey's handlers)", async () => {
    for (const url of ['/identity/auth/sessions/%zz', `/identity/auth/sessions/${'a'.repeat(201)}`]) {
      const res = await app.inject({ method: 'DELETE', url });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ code: 'INVALID_REQUEST' });
    }
    if (!app.server.listening) await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const raw = await new Promise<string>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' });
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', () => undefined);
      socket.write('POST /identity/auth/login HTTP/1.1\r\nHost: shop.test\r\nContent-Length: abc\r\n\r\n');
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toContain('application/problem+json');
    expect(raw).toContain('"code":"INVALID_REQUEST"');
  });
});

/**
 * Caching: every answer about a user, a session or a credential says `Cache-Control: no-store`
 * (a browser must not keep a copy of `/auth/me` after logout, a shared cache must never serve one
 * user's answer to another); the public documents (keys, discovery) stay cacheable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../support/helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('Cache-Control', () => {
  it('is no-store on the answers that carry a user, a session or a token', async () => {
    const email = 'cache@example.com';
    const password = 'correct horse battery staple';
    const reg = await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password } });
    expect(reg.statusCode).toBe(201);
    expect(reg.headers['cache-control']).toBe('no-store');
    const u = await registerAndLogin(t.app);
    for (const url of ['/auth/me', '/auth/sessions', '/auth/events']) {
      const res = await t.app.inject({ method: 'GET', url, headers: bearer(u.access) });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
      expect(res.headers['cache-control'], url).toBe('no-store');
    }
    const logout = await t.app.inject({ method: 'POST', url: '/auth/logout', payload: { refresh_token: u.refresh } });
    expect(logout.statusCode).toBe(204);
    expect(logout.headers['cache-control']).toBe('no-store');
    // Refusals too (the error handler).
    const refused = await t.app.inject({ method: 'GET', url: '/auth/me' });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['cache-control']).toBe('no-store');
    const health = await t.app.inject({ method: 'GET', url: '/health/live' });
    expect(health.headers['cache-control']).toBe('no-store');
  });

  it('leaves the public documents cacheable', async () => {
    const jwks = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(jwks.statusCode).toBe(200);
    expect(jwks.headers['cache-control']).toBe('public, max-age=60');
    const discovery = await t.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
    expect(discovery.statusCode).toBe(200);
    expect(discovery.headers['cache-control']).not.toBe('no-store');
  });
});

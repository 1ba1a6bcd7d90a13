/**
 * CORS with credentials only for CORS_ORIGINS: preflights from other origins are refused with
 * 403 CORS_ORIGIN_DENIED, and an unknown origin is never reflected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../support/helpers.js';
import { expectProblem } from '../support/sessions.js';

const ALLOWED = 'https://app.example.com';
const OTHER_ALLOWED = 'http://localhost:5173';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ CORS_ORIGINS: `${ALLOWED}, ${OTHER_ALLOWED}` });
});
afterAll(async () => {
  await t.close();
});

const preflight = (origin: string, url = '/auth/refresh', headers = 'content-type, x-csrf-token') =>
  t.app.inject({
    method: 'OPTIONS',
    url,
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers },
  });

describe('preflight', () => {
  it('from an unknown origin is refused with 403 CORS_ORIGIN_DENIED and no CORS headers', async () => {
    for (const origin of ['https://evil.example', 'https://app.example.com.evil.example', 'http://app.example.com', 'null']) {
      const res = await preflight(origin);
      expectProblem(res, 403, 'CORS_ORIGIN_DENIED');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      if (origin !== 'null') expect(res.body).not.toContain(origin);
    }
  });

  it('from a configured origin is allowed with credentials and the auth headers', async () => {
    for (const origin of [ALLOWED, OTHER_ALLOWED]) {
      const res = await preflight(origin, '/auth/refresh', 'content-type, x-csrf-token, x-auth-mode, authorization');
      expect(res.statusCode).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe(origin);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      const allowed = String(res.headers['access-control-allow-headers']).toLowerCase();
      for (const h of ['content-type', 'x-csrf-token', 'x-auth-mode', 'authorization']) expect(allowed).toContain(h);
      expect(String(res.headers['access-control-allow-methods'])).toContain('POST');
    }
  });
});

describe('preflight details', () => {
  it('caches 10 minutes, needs Access-Control-Request-Method, and OPTIONS without Origin is no preflight', async () => {
    const ok = await preflight(ALLOWED);
    expect(ok.headers['access-control-max-age']).toBe('600');
    expect(String(ok.headers.vary).toLowerCase()).toContain('origin');
    expect(ok.body).toBe('');

    const noMethod = await t.app.inject({ method: 'OPTIONS', url: '/auth/refresh', headers: { origin: ALLOWED } });
    expectProblem(noMethod, 400, 'INVALID_REQUEST');

    const noOrigin = await t.app.inject({ method: 'OPTIONS', url: '/auth/refresh', headers: { 'access-control-request-method': 'POST' } });
    expectProblem(noOrigin, 404, 'NOT_FOUND');
    expect(noOrigin.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('a request without Origin still carries Vary: Origin and no CORS header', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(res.statusCode).toBe(200);
    expect(String(res.headers.vary).toLowerCase()).toContain('origin');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });
});

describe('actual requests', () => {
  it('reflect a configured origin (with Vary: Origin) and never an unknown one', async () => {
    const u = await registerAndLogin(t.app);
    const ok = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { origin: ALLOWED, ...bearer(u.access) } });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(ok.headers['access-control-allow-credentials']).toBe('true');
    expect(String(ok.headers.vary).toLowerCase()).toContain('origin');

    const foreign = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { origin: 'https://evil.example', ...bearer(u.access) } });
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    expect(foreign.headers['access-control-allow-credentials']).toBeUndefined();
    expect(JSON.stringify(foreign.headers)).not.toContain('evil.example');
  });
});

describe('without CORS_ORIGINS', () => {
  it('refuses every cross-origin preflight and reflects nothing', async () => {
    const bare = await createTestApp();
    try {
      const res = await bare.app.inject({
        method: 'OPTIONS',
        url: '/auth/login',
        headers: { origin: ALLOWED, 'access-control-request-method': 'POST' },
      });
      expectProblem(res, 403, 'CORS_ORIGIN_DENIED');
      const get = await bare.app.inject({ method: 'GET', url: '/.well-known/jwks.json', headers: { origin: ALLOWED } });
      expect(get.statusCode).toBe(200);
      expect(get.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await bare.close();
    }
  });
});

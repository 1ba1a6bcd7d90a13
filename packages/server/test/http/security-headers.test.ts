/**
 * Response headers a browser acts on: `X-Content-Type-Options: nosniff` on every answer (a JSON
 * or problem body is never sniffed into HTML or script), and on the HTML pages (/docs, the only
 * ones) a Content-Security-Policy that allows only the page's own scripts and styles, and no
 * framing (`frame-ancestors 'none'` and `X-Frame-Options: DENY`: no clickjacking of the
 * Authorize form). Standalone and embedded.
 */
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { latchkey } from '../../src/plugin.js';
import { bearer, createTestApp, registerAndLogin, tempDir, type TestApp } from '../support/helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ CORS_ORIGINS: 'https://app.example.com' });
});
afterAll(async () => {
  await t.close();
});

/** The directives of a CSP header, by name. */
function directives(csp: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const part of csp.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) out[name.toLowerCase()] = values;
  }
  return out;
}

describe('X-Content-Type-Options: nosniff', () => {
  it('is on every kind of answer of the standalone server', async () => {
    const u = await registerAndLogin(t.app);
    const cases: Array<[string, InjectOptions]> = [
      ['a JSON answer', { method: 'GET', url: '/auth/me', headers: bearer(u.access) }],
      ['a 204', { method: 'POST', url: '/auth/logout-all', headers: bearer(u.access) }],
      ['a refusal', { method: 'GET', url: '/auth/me' }],
      ['a validation failure', { method: 'POST', url: '/auth/register', payload: {} }],
      ['a 415', { method: 'POST', url: '/auth/register', headers: { 'content-type': 'text/plain' }, payload: 'x' }],
      ['a 413', { method: 'POST', url: '/auth/register', headers: { 'content-type': 'application/json' }, payload: `"${'a'.repeat(20_000)}"` }],
      ['a cross-site refusal', { method: 'POST', url: '/auth/login', headers: { origin: 'https://evil.example' } }],
      ['an unknown route', { method: 'GET', url: '/nope' }],
      ['a router refusal', { method: 'GET', url: '/auth/sessions/%zz' }],
      ['a public document', { method: 'GET', url: '/.well-known/jwks.json' }],
      ['discovery', { method: 'GET', url: '/.well-known/openid-configuration' }],
      ['health', { method: 'GET', url: '/health/live' }],
      ['the OpenAPI document', { method: 'GET', url: '/openapi.json' }],
      ['the docs page', { method: 'GET', url: '/docs' }],
      ['a docs asset', { method: 'GET', url: '/docs/static/swagger-ui.css' }],
      ['a preflight', { method: 'OPTIONS', url: '/auth/login', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } }],
      ['a refused preflight', { method: 'OPTIONS', url: '/auth/login', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } }],
    ];
    for (const [what, options] of cases) {
      const res = await t.app.inject(options);
      expect(res.headers['x-content-type-options'], `${what} (${res.statusCode})`).toBe('nosniff');
    }
  });

  it("is on the answers Node's parser refuses before Fastify sees a request", async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (t.app.server.address() as AddressInfo).port;
    const raw = await new Promise<string>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' });
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', () => undefined);
      socket.write('POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw.toLowerCase()).toContain('x-content-type-options: nosniff');
  });
});

describe('the docs pages', () => {
  it('send a Content-Security-Policy that allows only their own scripts and styles, and forbid framing', async () => {
    for (const url of ['/docs', '/docs/', '/docs/static/index.html', '/docs/static/oauth2-redirect.html']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBeLessThan(400);
      expect(res.headers['x-frame-options'], url).toBe('DENY');
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      const csp = directives(String(res.headers['content-security-policy'] ?? ''));
      expect(csp['frame-ancestors'], url).toEqual(["'none'"]);
      expect(csp['script-src'], url).toEqual(["'self'"]);
      expect(csp['object-src'], url).toEqual(["'none'"]);
      expect(csp['base-uri'], url).toEqual(["'none'"]);
      expect(csp['form-action'], url).toEqual(["'self'"]);
      // Calls go to the page's own origin and ISSUER (the document's two servers), nowhere else.
      expect(csp['connect-src'], url).toEqual(["'self'", 'http://latchkey.test']);
      expect(csp['default-src'], url).toEqual(["'none'"]);
    }
  });

  it('send no CSP on the JSON answers (they are no pages)', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.headers['content-security-policy']).toBeUndefined();
  });
});

describe('embedded: Latchkey routes under a host app', () => {
  let host: FastifyInstance;
  const dir = tempDir();
  beforeAll(async () => {
    const config = loadConfig({ DATABASE_URL: `sqlite:${join(dir.dir, 'host.db')}`, ISSUER: 'https://shop.test', LOG_LEVEL: 'silent', MAIL_OUTBOX_DIR: join(dir.dir, 'outbox'), RATE_LIMIT_ENABLED: 'false' });
    host = Fastify();
    await host.register(latchkey, { config, prefix: '/identity' });
    host.get('/api/orders', { preHandler: host.requireUser }, async () => ({ orders: [] }));
    await host.ready();
  });
  afterAll(async () => {
    await host.close();
    dir.cleanup();
  });

  it('every Latchkey answer, and the refusal of requireUser on a host route, carries nosniff', async () => {
    const cases: Array<[string, InjectOptions]> = [
      ['a JSON answer', { method: 'GET', url: '/identity/.well-known/jwks.json' }],
      ['health', { method: 'GET', url: '/identity/health/live' }],
      ['a refusal', { method: 'GET', url: '/identity/auth/me' }],
      ['a validation failure', { method: 'POST', url: '/identity/auth/register', payload: {} }],
      ['a 415', { method: 'POST', url: '/identity/auth/register', headers: { 'content-type': 'text/plain' }, payload: 'x' }],
      ['requireUser on a host route', { method: 'GET', url: '/api/orders' }],
    ];
    for (const [what, options] of cases) {
      const res = await host.inject(options);
      expect(res.headers['x-content-type-options'], `${what} (${res.statusCode})`).toBe('nosniff');
    }
  });
});

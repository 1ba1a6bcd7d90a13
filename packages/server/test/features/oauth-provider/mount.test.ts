/**
 * How the provider is mounted: nothing with OAUTH_PROVIDER off (404, Latchkey's own discovery),
 * embedded under a prefix (app.register(latchkey, { prefix })), the token endpoint's own
 * rate-limit bucket, and RFC 7591 dynamic registration (a dynamic client, its secret hashed).
 */
import Fastify from 'fastify';
import * as client from 'openid-client';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { latchkey } from '../../../src/plugin.js';
import { createTestApp, tempDir } from '../../support/helpers.js';
import { Browser, REDIRECT, createUser, injectFetch, registerClient, startOAuthApp } from '../../support/oauth.js';

describe('OAUTH_PROVIDER off', () => {
  it('mounts nothing: /oauth/* is 404 and discovery is Latchkey\'s own document', async () => {
    const t = await createTestApp({ ISSUER: 'http://latchkey.test' });
    try {
      for (const url of ['/oauth/authorize?client_id=x', '/oauth/token', '/.well-known/oauth-authorization-server']) {
        const res = await t.app.inject({ method: url === '/oauth/token' ? 'POST' : 'GET', url });
        expect(res.statusCode, url).toBe(404);
      }
      const doc = (await t.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' })).json() as Record<string, unknown>;
      expect(doc.token_endpoint).toBe('http://latchkey.test/auth/login');
      expect(doc.authorization_endpoint).toBeUndefined();
    } finally {
      await t.close();
    }
  });
});

describe('embedded under a prefix', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);

  it('serves discovery, the code flow and its pages below the prefix', async () => {
    const issuer = 'http://latchkey.test/identity';
    const config = loadConfig({
      ISSUER: issuer,
      JWT_ALG: 'ES256',
      OAUTH_PROVIDER: 'true',
      DATABASE_URL: `sqlite:${join(dir, 'embedded.db')}`,
      MAIL_OUTBOX_DIR: join(dir, 'outbox'),
      RATE_LIMIT_ENABLED: 'false',
      LOG_LEVEL: 'silent',
    });
    const app = Fastify();
    await app.register(latchkey, { config, prefix: '/identity' });
    await app.ready();
    try {
      const t = { app } as unknown as Parameters<typeof registerClient>[0];
      const { clientId, clientSecret } = await registerClient(t);
      const reg = await app.inject({ method: 'POST', url: '/identity/auth/register', payload: { email: 'e@example.com', password: 'correct horse battery staple' } });
      expect(reg.statusCode).toBe(201);
      const fetchImpl = injectFetch(app);
      const rp = await client.discovery(new URL(issuer), clientId, clientSecret, client.ClientSecretBasic(clientSecret!), {
        execute: [client.allowInsecureRequests],
        [client.customFetch]: fetchImpl,
      });
      rp[client.customFetch] = fetchImpl;
      expect(rp.serverMetadata().token_endpoint).toBe(`${issuer}/oauth/token`);
      expect(rp.serverMetadata().jwks_uri).toBe(`${issuer}/.well-known/jwks.json`);
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(rp, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's' });
      const back = await new Browser(app).authorize(url.href, { email: 'e@example.com', password: 'correct horse battery staple' });
      const tokens = await client.authorizationCodeGrant(rp, back, { pkceCodeVerifier: verifier, expectedState: 's' });
      expect(tokens.claims()?.iss).toBe(issuer);
    } finally {
      await app.close();
    }
  });
});

describe('rate limit and dynamic registration', () => {
  it('POST /oauth/token counts against RATE_LIMIT_OAUTH_TOKEN, not the default bucket', async () => {
    const t = await startOAuthApp({ env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_OAUTH_TOKEN: '2/1m' } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await t.app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials' });
        statuses.push(res.statusCode);
        if (i === 0) expect(res.headers['ratelimit-limit']).toBe('2');
      }
      expect(statuses.slice(0, 2).every((s) => s === 400 || s === 401)).toBe(true);
      expect(statuses[2]).toBe(429);
    } finally {
      await t.close();
    }
  });

  it('CORS of the token endpoint is oidc-provider\'s: a public client\'s redirect origin is allowed without CORS_ORIGINS, another is not', async () => {
    const t = await startOAuthApp();
    try {
      const { clientId } = await registerClient(t, { public: true });
      const preflight = await t.app.inject({
        method: 'OPTIONS',
        url: '/oauth/token',
        headers: { host: 'latchkey.test', origin: 'https://app.example', 'access-control-request-method': 'POST' },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example');
      const token = (origin: string) =>
        t.app.inject({
          method: 'POST',
          url: '/oauth/token',
          headers: { host: 'latchkey.test', origin, 'content-type': 'application/x-www-form-urlencoded' },
          payload: `grant_type=authorization_code&code=nope&client_id=${clientId}&redirect_uri=${encodeURIComponent(REDIRECT)}&code_verifier=${'v'.repeat(43)}`,
        });
      const ok = await token('https://app.example');
      expect(ok.statusCode).toBe(400); // not refused as a cross-site form: oidc-provider's invalid_grant
      expect((ok.json() as { error: string }).error).toBe('invalid_grant');
      expect(ok.headers['access-control-allow-origin']).toBe('https://app.example');
      const other = await token('https://evil.example');
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  it('a hijacked provider answer still gets its access log line', async () => {
    const t = await startOAuthApp();
    try {
      const res = await t.app.inject({ method: 'GET', url: '/.well-known/openid-configuration', headers: { host: 'latchkey.test' } });
      expect(res.statusCode).toBe(200);
      await new Promise((resolve) => setImmediate(resolve));
      expect(t.logs.some((line) => line.includes('"path":"/.well-known/openid-configuration"') && line.includes('"status":200'))).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('an unregistered redirect_uri gets the HTML error page and no redirect', async () => {
    const t = await startOAuthApp();
    try {
      const { clientId } = await registerClient(t);
      const res = await t.app.inject({
        method: 'GET',
        url: `/oauth/authorize?response_type=code&client_id=${clientId}&scope=openid&redirect_uri=${encodeURIComponent('https://evil.example/cb')}&code_challenge=${'c'.repeat(43)}&code_challenge_method=S256`,
        headers: { host: 'latchkey.test' },
      });
      expect(res.statusCode).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('redirect_uri');
    } finally {
      await t.close();
    }
  });

  it('OAUTH_DYNAMIC_REGISTRATION: POST /oauth/register stores a dynamic client, its secret only hashed, and the client can use it', async () => {
    const t = await startOAuthApp({ env: { OAUTH_DYNAMIC_REGISTRATION: 'true' } });
    try {
      const res = await t.app.inject({
        method: 'POST',
        url: '/oauth/register',
        headers: { host: 'latchkey.test' },
        payload: { redirect_uris: [REDIRECT], client_name: 'MCP client', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] },
      });
      expect(res.statusCode).toBe(201);
      const body = res.json() as { client_id: string; client_secret: string; registration_access_token: string };
      expect(body.client_secret).toMatch(/^lks_/);
      const stored = await t.app.latchkey.store.findOAuthClient(body.client_id);
      expect(stored).toMatchObject({ name: 'MCP client', dynamic: true, firstParty: false });
      expect(stored!.secretHash).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(stored)).not.toContain(body.client_secret);
      // Reading the registration back never shows the stored hash.
      const read = await t.app.inject({ method: 'GET', url: `/oauth/register/${body.client_id}`, headers: { host: 'latchkey.test', authorization: `Bearer ${body.registration_access_token}` } });
      expect(read.statusCode).toBe(200);
      expect(read.body).not.toContain(stored!.secretHash!);
      // The secret works at the token endpoint.
      const user = await createUser(t);
      const fetchImpl = injectFetch(t.app);
      const rp = await client.discovery(new URL('http://latchkey.test'), body.client_id, body.client_secret, client.ClientSecretBasic(body.client_secret), {
        execute: [client.allowInsecureRequests],
        [client.customFetch]: fetchImpl,
      });
      rp[client.customFetch] = fetchImpl;
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(rp, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's' });
      const back = await new Browser(t.app).authorize(url.href, user);
      const tokens = await client.authorizationCodeGrant(rp, back, { pkceCodeVerifier: verifier, expectedState: 's' });
      expect(tokens.access_token).toBeTruthy();
    } finally {
      await t.close();
    }
  });
});

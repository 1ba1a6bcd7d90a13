/**
 * Clients registered through the admin API work at the provider's endpoints (OAUTH_PROVIDER on):
 * a machine client gets a token with client_credentials, and after a rotation only the new
 * secret does; a native app's authorization request to its private-use redirect URI reaches the
 * sign-in; a deleted client is unknown at once; a user who revokes a connected app ends its
 * refresh token and access token at once. Both stores.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { Browser, ISSUER, PASSWORD, REDIRECT, createUser, injectFetch, startOAuthApp } from '../../support/oauth.js';

let t: TestApp;
let adminToken: string;

beforeAll(async () => {
  t = await startOAuthApp({ env: { OAUTH_SCOPES: 'orders:read' } });
  const email = `admin-${randomUUID().slice(0, 8)}@example.com`;
  const u = await registerAndLogin(t.app, email, PASSWORD);
  await t.app.latchkey.store.updateUser(u.userId, { roles: ['admin'] }, Date.now());
  adminToken = (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } })).json().access_token as string;
});
afterAll(() => t?.close());

async function register(body: Record<string, unknown>): Promise<{ id: string; secret: string | undefined }> {
  const res = await t.app.inject({ method: 'POST', url: '/admin/oauth/clients', headers: bearer(adminToken), payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return { id: res.json().client.client_id as string, secret: res.json().client_secret as string | undefined };
}

function clientCredentials(id: string, secret: string) {
  return t.app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
    },
    payload: 'grant_type=client_credentials&scope=orders%3Aread',
  });
}

describe('clients registered through the admin API, at the provider', () => {
  it('a machine client gets a token; after rotate-secret only the new secret works; after delete nothing does', async () => {
    const { id, secret } = await register({ name: 'Billing job', redirect_uris: [], grant_types: ['client_credentials'], scopes: ['orders:read'] });
    const first = await clientCredentials(id, secret!);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ token_type: 'Bearer', scope: 'orders:read' });

    const rotated = await t.app.inject({ method: 'POST', url: `/admin/oauth/clients/${id}/rotate-secret`, headers: bearer(adminToken) });
    const next = rotated.json().client_secret as string;
    const old = await clientCredentials(id, secret!);
    expect(old.statusCode).toBe(401);
    expect(old.json().error).toBe('invalid_client');
    expect((await clientCredentials(id, next)).statusCode).toBe(200);

    expect((await t.app.inject({ method: 'DELETE', url: `/admin/oauth/clients/${id}`, headers: bearer(adminToken) })).statusCode).toBe(204);
    const gone = await clientCredentials(id, next);
    expect(gone.statusCode).toBe(401);
    expect(gone.json().error).toBe('invalid_client');
  });

  it('a native app (public, private-use scheme) is sent to the sign-in, not to an error page', async () => {
    const { id } = await register({ name: 'Acme mobile', token_endpoint_auth_method: 'none', redirect_uris: ['com.acme.app:/oauth/cb', 'http://127.0.0.1/cb'] });
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    for (const redirect of ['com.acme.app:/oauth/cb', 'http://127.0.0.1/cb']) {
      const query = new URLSearchParams({ client_id: id, redirect_uri: redirect, response_type: 'code', scope: 'openid', state: 's', code_challenge: challenge, code_challenge_method: 'S256' });
      const res = await t.app.inject({ method: 'GET', url: `/oauth/authorize?${query}`, headers: { host: 'latchkey.test' } });
      expect(res.statusCode, `${redirect}: ${res.body.slice(0, 300)}`).toBeGreaterThanOrEqual(300);
      expect(res.statusCode).toBeLessThan(400);
      expect(String(res.headers.location), redirect).toMatch(/\/oauth\/interaction\//);
    }
  });

  it('a user revokes a connected app: its refresh token and access token stop working at once; another app keeps its own', async () => {
    const fetchImpl = injectFetch(t.app);
    const rp = async (id: string, secret: string) => {
      const config = await oidc.discovery(new URL(ISSUER), id, secret, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests], [oidc.customFetch]: fetchImpl });
      config[oidc.customFetch] = fetchImpl;
      return config;
    };
    const signIn = async (config: oidc.Configuration, user: { email: string; password: string }) => {
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid email offline_access',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        prompt: 'consent',
      });
      const back = await new Browser(t.app).authorize(url.href, user);
      return oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state });
    };
    const photos = await register({ name: 'Photos', redirect_uris: [REDIRECT], scopes: ['openid', 'email', 'offline_access'] });
    const notes = await register({ name: 'Notes', redirect_uris: [REDIRECT], scopes: ['openid', 'email', 'offline_access'] });
    const user = await createUser(t);
    const photosRp = await rp(photos.id, photos.secret!);
    const notesRp = await rp(notes.id, notes.secret!);
    const photosTokens = await signIn(photosRp, user);
    const notesTokens = await signIn(notesRp, user);

    const access = (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.email, password: user.password } })).json().access_token as string;
    const apps = (await t.app.inject({ method: 'GET', url: '/auth/connected-apps', headers: bearer(access) })).json().apps as Array<{ client_id: string; scopes: string[] }>;
    expect(apps.map((a) => a.client_id).sort()).toEqual([photos.id, notes.id].sort());
    expect(apps.find((a) => a.client_id === photos.id)!.scopes.sort()).toEqual(['email', 'offline_access', 'openid']);

    const revoked = await t.app.inject({ method: 'DELETE', url: `/auth/connected-apps/${photos.id}`, headers: bearer(access) });
    expect(revoked.statusCode, revoked.body).toBe(204);
    await expect(oidc.refreshTokenGrant(photosRp, photosTokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.fetchUserInfo(photosRp, photosTokens.access_token, oidc.skipSubjectCheck)).rejects.toBeDefined();
    // The other app's grant and tokens are untouched.
    expect((await oidc.fetchUserInfo(notesRp, notesTokens.access_token, oidc.skipSubjectCheck)).email).toBe(user.email);
    expect((await oidc.refreshTokenGrant(notesRp, notesTokens.refresh_token!)).access_token).toBeTruthy();
    const after = (await t.app.inject({ method: 'GET', url: '/auth/connected-apps', headers: bearer(access) })).json().apps as Array<{ client_id: string }>;
    expect(after.map((a) => a.client_id)).toEqual([notes.id]);
  });
});

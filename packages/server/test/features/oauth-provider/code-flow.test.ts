/**
 * The provider's code flow with openid-client 6 as the relying party, on the project's store (sqlite and postgres projects): discovery,
 * authorization code + PKCE through the sign-in and consent pages, the ID token verified with
 * Latchkey's JWKS, userinfo, refresh rotation and reuse (the grant revoked).
 */
import * as client from 'openid-client';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../support/helpers.js';
import { createClient } from '../../../src/features/oauth-provider/clients.js';
import { Browser, ISSUER, REDIRECT, createUser, injectFetch, registerClient, startOAuthApp } from '../../support/oauth.js';

async function rp(t: TestApp, clientId: string, secret: string | undefined) {
  const fetchImpl = injectFetch(t.app);
  const config = await client.discovery(new URL(ISSUER), clientId, secret, secret ? client.ClientSecretBasic(secret) : client.None(), {
    execute: [client.allowInsecureRequests],
    [client.customFetch]: fetchImpl,
  });
  config[client.customFetch] = fetchImpl;
  return config;
}

async function codeFlow(t: TestApp, config: client.Configuration, user: { email: string; password: string }, scope = 'openid profile email offline_access') {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    prompt: 'consent',
  });
  const browser = new Browser(t.app);
  const back = await browser.authorize(url.href, user);
  const tokens = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
  return { tokens, browser, back };
}

describe('OAuth provider code flow', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startOAuthApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('serves the discovery document at both paths, with Latchkey\'s JWKS and only the supported methods', async () => {
    const a = await t.app.inject({ method: 'GET', url: '/.well-known/openid-configuration', headers: { host: 'latchkey.test' } });
    const b = await t.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server', headers: { host: 'latchkey.test' } });
    expect(a.statusCode).toBe(200);
    expect(b.json()).toEqual(a.json());
    const doc = a.json() as Record<string, unknown>;
    expect(doc).toMatchObject({
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      authorization_endpoint: `${ISSUER}/oauth/authorize`,
      token_endpoint: `${ISSUER}/oauth/token`,
      userinfo_endpoint: `${ISSUER}/oauth/userinfo`,
      revocation_endpoint: `${ISSUER}/oauth/revoke`,
      introspection_endpoint: `${ISSUER}/oauth/introspect`,
      end_session_endpoint: `${ISSUER}/oauth/logout`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
      id_token_signing_alg_values_supported: ['ES256'],
    });
    expect([...(doc.token_endpoint_auth_methods_supported as string[])].sort()).toEqual(['client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt']);
    expect(doc.registration_endpoint).toBeUndefined();
    expect(doc.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'offline_access', 'roles']));
  });

  it('code + PKCE: an ID token signed with Latchkey\'s key, userinfo with the scopes\' claims', async () => {
    const { clientId, clientSecret } = await registerClient(t);
    const config = await rp(t, clientId, clientSecret);
    const user = await createUser(t);
    const { tokens, back } = await codeFlow(t, config, user);
    expect(back.searchParams.get('iss')).toBe(ISSUER);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: ISSUER, sub: user.id, aud: clientId });
    // Verified against /.well-known/jwks.json, independently of openid-client.
    const jwks = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as Parameters<typeof createLocalJWKSet>[0];
    const verified = await jwtVerify(tokens.id_token!, createLocalJWKSet(jwks), { issuer: ISSUER, audience: clientId });
    expect(verified.protectedHeader).toMatchObject({ alg: 'ES256', kid: t.app.latchkey.keys.signingKey.kid });
    expect(verified.payload.sub).toBe(user.id);
    // The scopes' claims come from userinfo (OIDC Core 5.4; conformIdTokenClaims), not the ID token.
    expect(verified.payload.email).toBeUndefined();
    const info = await client.fetchUserInfo(config, tokens.access_token, user.id);
    expect(info).toMatchObject({ sub: user.id, email: user.email, email_verified: false });
    expect(tokens.refresh_token).toBeTruthy();
    // The consent is a remembered grant, listed with its scopes (the user's connected apps).
    const grants = await t.app.latchkey.store.listOAuthGrantsForUser(user.id, Date.now());
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ accountId: user.id, clientId });
    expect([...grants[0]!.scopes].sort()).toEqual(['email', 'offline_access', 'openid', 'profile']);
  });

  it('refresh rotates the refresh token; the old one used again revokes the grant', async () => {
    const { clientId, clientSecret } = await registerClient(t);
    const config = await rp(t, clientId, clientSecret);
    const user = await createUser(t);
    const { tokens } = await codeFlow(t, config, user);
    const first = tokens.refresh_token!;
    const next = await client.refreshTokenGrant(config, first);
    expect(next.refresh_token).toBeTruthy();
    expect(next.refresh_token).not.toBe(first);
    await expect(client.refreshTokenGrant(config, first)).rejects.toMatchObject({ error: 'invalid_grant' });
    // The reuse ended the whole grant: the new refresh token and the access tokens are dead too.
    await expect(client.refreshTokenGrant(config, next.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const intro = await client.tokenIntrospection(config, next.access_token);
    expect(intro.active).toBe(false);
    expect(await t.app.latchkey.store.listOAuthGrantsForUser(user.id, Date.now())).toEqual([]);
  });

  it('clients made by the client service (admin API, CLI) work as they are stored: a public native app on http://127.0.0.1 with PKCE', async () => {
    const made = await createClient(
      { store: t.app.latchkey.store, clock: t.app.latchkey.clock, config: t.app.latchkey.config },
      { name: 'CLI', redirect_uris: ['http://127.0.0.1:8765/callback'], token_endpoint_auth_method: 'none', scopes: ['openid', 'email', 'offline_access'] },
    );
    expect(made.ok).toBe(true);
    if (!made.ok) return;
    const clientId = made.value.client.id;
    const config = await rp(t, clientId, undefined);
    const user = await createUser(t);
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:8765/callback',
      scope: 'openid email offline_access',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 's',
      prompt: 'consent',
    });
    const back = await new Browser(t.app).authorize(url.href, user);
    const tokens = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: 's' });
    expect(tokens.claims()?.sub).toBe(user.id);
    expect(tokens.refresh_token).toBeTruthy();
  });
});

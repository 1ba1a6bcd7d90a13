/**
 * The provider's other behaviours (on each project's store, SQLite and PostgreSQL): client credentials with a JWT access token
 * for an OAUTH_RESOURCES API (verified by @latchkey/verify with that audience, refused by
 * Latchkey's own /auth/me), revocation and introspection, prompt=none with and without a live
 * session, the provider session ending with its Latchkey session, a disabled user, the interaction
 * CSRF check, a public client without PKCE, first-party clients, key rotation.
 */
import { createVerifier } from '@latchkey/verify';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../support/helpers.js';
import { Browser, ISSUER, REDIRECT, createUser, injectFetch, registerClient, startOAuthApp } from '../../support/oauth.js';

const API = 'https://api.example.com';

async function rp(t: TestApp, clientId: string, secret: string | undefined) {
  const fetchImpl = injectFetch(t.app);
  const config = await client.discovery(new URL(ISSUER), clientId, secret, secret ? client.ClientSecretBasic(secret) : client.None(), {
    execute: [client.allowInsecureRequests],
    [client.customFetch]: fetchImpl,
  });
  config[client.customFetch] = fetchImpl;
  return config;
}

async function authUrl(config: client.Configuration, extra: Record<string, string> = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...extra,
  });
  return { url, verifier, state };
}

describe('OAuth provider', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startOAuthApp({ env: { OAUTH_RESOURCES: API, OAUTH_SCOPES: 'read:things' } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('client_credentials: a JWT (at+jwt) for the resource, verified by @latchkey/verify with that audience, refused by /auth/me', async () => {
    const { clientId, clientSecret } = await registerClient(t, { grants: ['client_credentials'], scopes: ['read:things'] });
    const config = await rp(t, clientId, clientSecret);
    const tokens = await client.clientCredentialsGrant(config, { resource: API, scope: 'read:things' });
    const verifier = createVerifier({ issuer: ISSUER, audience: API, jwksUrl: `${ISSUER}/.well-known/jwks.json`, fetch: injectFetch(t.app) });
    const claims = await verifier.verify(tokens.access_token);
    expect(claims).toMatchObject({ iss: ISSUER, aud: API, sub: clientId, roles: [] });
    const header = JSON.parse(Buffer.from(tokens.access_token.split('.')[0]!, 'base64url').toString()) as { typ: string };
    expect(header.typ).toBe('at+jwt');
    // The same token is not a Latchkey session token.
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(me.statusCode).toBe(401);
    // Latchkey's own audience verifies nothing of it either.
    const own = createVerifier({ issuer: ISSUER, audience: 'latchkey', jwksUrl: `${ISSUER}/.well-known/jwks.json`, fetch: injectFetch(t.app) });
    await expect(own.verify(tokens.access_token)).rejects.toThrow();
    // A resource that is not configured is refused.
    await expect(client.clientCredentialsGrant(config, { resource: 'https://other.example.com', scope: 'read:things' })).rejects.toMatchObject({ error: 'invalid_target' });
  });

  it('revocation and introspection: the client\'s own token is active until revoked; another client sees active:false', async () => {
    const a = await registerClient(t, { grants: ['client_credentials'], scopes: ['read:things'] });
    const b = await registerClient(t, { grants: ['client_credentials'], scopes: ['read:things'] });
    const ca = await rp(t, a.clientId, a.clientSecret);
    const cb = await rp(t, b.clientId, b.clientSecret);
    const opaque = await client.clientCredentialsGrant(ca, { scope: 'read:things' });
    expect(opaque.access_token.split('.')).toHaveLength(1); // no resource: opaque
    expect((await client.tokenIntrospection(ca, opaque.access_token)).active).toBe(true);
    expect((await client.tokenIntrospection(cb, opaque.access_token)).active).toBe(false);
    await client.tokenRevocation(ca, opaque.access_token);
    expect((await client.tokenIntrospection(ca, opaque.access_token)).active).toBe(false);
  });

  it('prompt=none without a provider session answers login_required to the client', async () => {
    const { clientId, clientSecret } = await registerClient(t);
    const config = await rp(t, clientId, clientSecret);
    const { url } = await authUrl(config, { prompt: 'none' });
    const { location } = await new Browser(t.app).open(url.href);
    const back = new URL(location!);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get('error')).toBe('login_required');
  });

  it('the provider session counts while its Latchkey session lives: prompt=none gives a code; after logout-all, login_required', async () => {
    const { clientId, clientSecret } = await registerClient(t);
    const config = await rp(t, clientId, clientSecret);
    const user = await createUser(t);
    const browser = new Browser(t.app);
    const first = await authUrl(config);
    const back = await browser.authorize(first.url.href, user);
    expect(back.searchParams.get('code')).toBeTruthy();
    // The sign-in made a real Latchkey session, which the user sees.
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.email, password: user.password } });
    const access = (login.json() as { access_token: string }).access_token;
    const sessions = (await t.app.inject({ method: 'GET', url: '/auth/sessions', headers: { authorization: `Bearer ${access}` } })).json() as { sessions: unknown[] };
    expect(sessions.sessions).toHaveLength(2);

    const silent = await authUrl(config, { prompt: 'none' });
    const again = await browser.open(silent.url.href);
    expect(new URL(again.location!).searchParams.get('code')).toBeTruthy();

    const out = await t.app.inject({ method: 'POST', url: '/auth/logout-all', headers: { authorization: `Bearer ${access}` } });
    expect(out.statusCode).toBeLessThan(300);
    const after = await authUrl(config, { prompt: 'none' });
    const refused = await browser.open(after.url.href);
    expect(new URL(refused.location!).searchParams.get('error')).toBe('login_required');
    // Without prompt=none the sign-in page comes again.
    const next = await authUrl(config);
    const page = await browser.open(next.url.href);
    expect(page.location).toBeUndefined();
    expect(page.res.body).toContain('/login"');
  });

  it('RP-initiated logout ends the provider session and the Latchkey session its sign-in created', async () => {
    const { clientId, clientSecret } = await registerClient(t);
    const config = await rp(t, clientId, clientSecret);
    const user = await createUser(t);
    const browser = new Browser(t.app);
    const { url, verifier, state } = await authUrl(config);
    const back = await browser.authorize(url.href, user);
    const tokens = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state });
    const [session] = await t.app.latchkey.store.listSessions(user.id, Date.now());
    expect(session).toBeDefined();
    const logout = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: REDIRECT });
    const page = await browser.open(logout.href);
    expect(page.res.statusCode).toBe(200);
    const form = /<form[^>]*action="([^"]+)"[^>]*>.*?name="xsrf" value="([^"]+)"/s.exec(page.res.body);
    expect(form, page.res.body).not.toBeNull();
    const done = await browser.follow(await browser.request('POST', form![1]!, { xsrf: form![2]!, logout: 'yes' }));
    expect(done.location).toBeDefined();
    expect(await t.app.latchkey.store.listSessions(user.id, Date.now())).toEqual([]);
    const silent = await authUrl(config, { prompt: 'none' });
    expect(new URL((await browser.open(silent.url.href)).location!).searchParams.get('error')).toBe('login_required');
  });

  it('a disabled user: refresh and userinfo fail', async () => {
    const { clientId, clientSecret } = await registerClient(t);
    const config = await rp(t, clientId, clientSecret);
    const user = await createUser(t);
    const { url, verifier, state } = await authUrl(config, { scope: 'openid email offline_access', prompt: 'consent' });
    const back = await new Browser(t.app).authorize(url.href, user);
    const tokens = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state });
    // In the store only: the user's sessions stay; the account lookup alone must refuse.
    expect(await t.app.latchkey.store.updateUser(user.id, { disabled: true }, Date.now())).not.toBeNull();
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.fetchUserInfo(config, tokens.access_token, user.id)).rejects.toBeTruthy();
  });

  it('the interaction forms need their CSRF token (403 page without it); a public client needs PKCE', async () => {
    const { clientId, clientSecret } = await registerClient(t);
    const config = await rp(t, clientId, clientSecret);
    const user = await createUser(t);
    const { url } = await authUrl(config);
    const browser = new Browser(t.app);
    const page = await browser.open(url.href);
    const form = Browser.form(page.res.body, 'login');
    const bad = await browser.request('POST', form.action, { csrf: 'wrong', email: user.email, password: user.password });
    expect(bad.statusCode).toBe(403);
    expect(bad.headers['content-type']).toMatch(/^text\/html/);

    const pub = await registerClient(t, { public: true });
    const pc = await rp(t, pub.clientId, undefined);
    const noPkce = client.buildAuthorizationUrl(pc, { redirect_uri: REDIRECT, scope: 'openid', state: 'x' });
    const refused = await new Browser(t.app).open(noPkce.href);
    expect(new URL(refused.location!).searchParams.get('error')).toBe('invalid_request');
  });

  it('a first-party client gets no consent page; an unknown interaction is a 400 HTML page', async () => {
    const { clientId, clientSecret } = await registerClient(t, { firstParty: true });
    const config = await rp(t, clientId, clientSecret);
    const user = await createUser(t);
    const { url } = await authUrl(config, { prompt: 'consent' });
    const browser = new Browser(t.app);
    let { res } = await browser.open(url.href);
    const form = Browser.form(res.body, 'login');
    const done = await browser.follow(await browser.request('POST', form.action, { csrf: form.csrf, email: user.email, password: user.password }));
    res = done.res;
    expect(new URL(done.location!).searchParams.get('code')).toBeTruthy();
    const unknown = await browser.request('GET', '/oauth/interaction/nope');
    expect(unknown.statusCode).toBe(400);
    expect(unknown.body).toContain('This sign-in request has expired');
  });

  it('after a key rotation, ID tokens are signed with the new key', async () => {
    const { clientId, clientSecret } = await registerClient(t);
    const config = await rp(t, clientId, clientSecret);
    const user = await createUser(t);
    const rotated = await t.app.latchkey.keys.rotate();
    const { url, verifier, state } = await authUrl(config);
    const back = await new Browser(t.app).authorize(url.href, user);
    const tokens = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state });
    const header = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()) as { kid: string };
    expect(header.kid).toBe(rotated.kid);
  });
});

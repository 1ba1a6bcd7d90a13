/**
 * Where the provider meets the rest of Latchkey, tried as an attacker would, on both stores:
 * one client's tokens against another client; a disabled user and a deleted client; resource
 * (RFC 8707 / RFC 9068) JWT access tokens, good at their API through @latchkey/verify and never
 * on Latchkey's own /auth/*; and the server log.
 */
import { createVerifier, InvalidTokenError } from '@latchkey/verify';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from '../../support/helpers.js';
import {
  basic,
  Browser,
  CALLBACK,
  codeFlow,
  confidentialRp,
  expectNothingLeaked,
  introspect,
  ISSUER,
  newUser,
  post,
  publicRp,
  refusal,
  remember,
  startRp,
  type Rp,
} from './rp-kit.js';

const RESOURCE = 'https://api.example/';

let rp: Rp;
/** A second Latchkey with an API that accepts the provider's JWT access tokens. */
let withApi: Rp;

beforeAll(async () => {
  rp = await startRp();
  withApi = await startRp({ OAUTH_RESOURCES: RESOURCE });
});

afterAll(async () => {
  await rp?.close();
  await withApi?.close();
});

async function adminLogin(target: Rp, email: string, password: string): Promise<string> {
  const res = await target.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
  return (res.json() as { access_token: string }).access_token;
}

describe('one client against another', () => {
  it('introspection by client B of a token of client A: active false; A still sees it active', async () => {
    const a = await confidentialRp(rp);
    const b = await confidentialRp(rp);
    const user = await newUser(rp);
    const { tokens } = await codeFlow(rp, a.config, user, { scope: 'openid offline_access', prompt: 'consent' });
    expect(await introspect(rp, { id: b.client.client_id, secret: b.secret }, tokens.access_token)).toEqual({ active: false });
    expect(await introspect(rp, { id: b.client.client_id, secret: b.secret }, tokens.refresh_token!)).toEqual({ active: false });
    expect((await introspect(rp, { id: a.client.client_id, secret: a.secret }, tokens.access_token)).active).toBe(true);
  });

  it('revocation by client B of a token of client A does nothing: 200 as for any unknown token (RFC 7009 2.2; B learns nothing), and the token stays active', async () => {
    const a = await confidentialRp(rp);
    const b = await confidentialRp(rp);
    const user = await newUser(rp);
    const { tokens } = await codeFlow(rp, a.config, user, { scope: 'openid offline_access', prompt: 'consent' });
    for (const token of [tokens.access_token, tokens.refresh_token!]) {
      const res = await post(rp, '/oauth/revoke', { token }, basic(b.client.client_id, b.secret));
      expect(res.status, res.body).toBe(200);
      expect((await introspect(rp, { id: a.client.client_id, secret: a.secret }, token)).active).toBe(true);
    }
    expect((await oidc.fetchUserInfo(a.config, tokens.access_token, user.userId)).sub).toBe(user.userId);
    const next = await oidc.refreshTokenGrant(a.config, tokens.refresh_token!);
    remember(rp, next);
    expect(next.access_token).toBeTruthy();
  });

  it('a public client may not introspect (the caller must be confidential): no token data comes back', async () => {
    const pub = await publicRp(rp);
    const user = await newUser(rp);
    const { tokens } = await codeFlow(rp, pub.config, user);
    const res = await post(rp, '/oauth/introspect', { token: tokens.access_token, client_id: pub.client.client_id });
    if (res.status === 200) expect(res.json()).toEqual({ active: false });
    else {
      expect(res.status).toBe(401);
      expect(res.json()).toMatchObject({ error: 'invalid_client' });
    }
  });

  it('a refresh token of client A presented by client B: invalid_grant, and A\'s token still works', async () => {
    const a = await confidentialRp(rp);
    const b = await confidentialRp(rp);
    const user = await newUser(rp);
    const { tokens } = await codeFlow(rp, a.config, user, { scope: 'openid offline_access', prompt: 'consent' });
    expect(await refusal(oidc.refreshTokenGrant(b.config, tokens.refresh_token!))).toMatchObject({ error: 'invalid_grant' });
    const next = await oidc.refreshTokenGrant(a.config, tokens.refresh_token!);
    remember(rp, next);
    expect(next.access_token).toBeTruthy();
  });
});

describe('a disabled user', () => {
  async function disabledAfterSignIn() {
    const { client, secret, config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const bystander = await newUser(rp, 'bystander');
    const { tokens } = await codeFlow(rp, config, user, { scope: 'openid offline_access', prompt: 'consent' });
    const other = await codeFlow(rp, config, bystander, { scope: 'openid offline_access', prompt: 'consent' });
    const admin = await rp.app.inject({ method: 'PATCH', url: `/admin/users/${user.userId}`, headers: bearer(rp.adminToken), payload: { disabled: true } });
    expect(admin.statusCode, admin.body).toBe(200);
    return { client, secret, config, user, tokens, other: other.tokens, bystander };
  }

  it('refresh: invalid_grant; userinfo: 401; another user of the same client is untouched', async () => {
    const { config, tokens, other, bystander } = await disabledAfterSignIn();
    expect(await refusal(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toMatchObject({ error: 'invalid_grant', status: 400 });
    const me = await rp.app.inject({ method: 'GET', url: '/oauth/userinfo', headers: bearer(tokens.access_token) });
    expect(me.statusCode).toBe(401);
    expect(String(me.headers['www-authenticate'])).toContain('invalid_token');
    expect((await oidc.fetchUserInfo(config, other.access_token, bystander.userId)).sub).toBe(bystander.userId);
    const next = await oidc.refreshTokenGrant(config, other.refresh_token!);
    remember(rp, next);
    expect(next.access_token).toBeTruthy();
  });

  it('its tokens are inactive at introspection (a resource server that introspects refuses them too)', async () => {
    const { client, secret, tokens } = await disabledAfterSignIn();
    expect(await introspect(rp, { id: client.client_id, secret }, tokens.access_token)).toEqual({ active: false });
    expect(await introspect(rp, { id: client.client_id, secret }, tokens.refresh_token!)).toEqual({ active: false });
  });

  it('cannot sign in through the provider, and an existing provider session no longer counts (prompt=none: login_required)', async () => {
    const { config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const browser = new Browser(rp);
    await codeFlow(rp, config, user, { browser });
    await rp.app.inject({ method: 'PATCH', url: `/admin/users/${user.userId}`, headers: bearer(rp.adminToken), payload: { disabled: true } });
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', prompt: 'none', state: 'd', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
    const at = await browser.follow(url.href);
    expect(at.hop).toBeNull();
    expect(new URL(at.url).searchParams.get('error')).toBe('login_required');
    expect(new URL(at.url).searchParams.get('code')).toBeNull();
  });
});

describe('the Latchkey session behind the provider session', () => {
  it('is a real session the user sees; revoking it (logout-all) makes prompt=none answer login_required', async () => {
    const { config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const access = await adminLogin(rp, user.email, user.password);
    const before = (await rp.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(access) })).json() as { sessions: unknown[] };
    const browser = new Browser(rp);
    await codeFlow(rp, config, user, { browser });
    const after = (await rp.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(access) })).json() as { sessions: unknown[] };
    expect(after.sessions.length).toBe(before.sessions.length + 1);

    const silent = async () => {
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', prompt: 'none', state: 'q', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
      const at = await browser.follow(url.href);
      expect(at.hop).toBeNull();
      return new URL(at.url);
    };
    // Still signed in: a code without any page.
    expect((await silent()).searchParams.get('code')).toBeTruthy();
    const out = await rp.app.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(access) });
    expect(out.statusCode).toBe(204);
    const answer = await silent();
    expect(answer.searchParams.get('error')).toBe('login_required');
    expect(answer.searchParams.get('code')).toBeNull();
  });
});

describe('a deleted user', () => {
  it('its tokens are dead everywhere (userinfo 401, refresh invalid_grant, introspection inactive); another user\'s are not', async () => {
    const { client, secret, config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const bystander = await newUser(rp, 'bystander');
    const { tokens } = await codeFlow(rp, config, user, { scope: 'openid offline_access', prompt: 'consent' });
    const other = await codeFlow(rp, config, bystander, { scope: 'openid offline_access', prompt: 'consent' });
    const del = await rp.app.inject({ method: 'DELETE', url: `/admin/users/${user.userId}`, headers: bearer(rp.adminToken) });
    expect(del.statusCode, del.body).toBe(204);
    expect((await rp.app.inject({ method: 'GET', url: '/oauth/userinfo', headers: bearer(tokens.access_token) })).statusCode).toBe(401);
    expect(await refusal(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toMatchObject({ error: 'invalid_grant' });
    expect(await introspect(rp, { id: client.client_id, secret }, tokens.access_token)).toEqual({ active: false });
    expect((await introspect(rp, { id: client.client_id, secret }, other.tokens.access_token)).active).toBe(true);
  });
});

describe('a deleted client', () => {
  it('its tokens are dead (userinfo 401, refresh invalid_client) and its authorize requests get the error page', async () => {
    const { client, config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const { tokens } = await codeFlow(rp, config, user, { scope: 'openid offline_access', prompt: 'consent' });
    const del = await rp.app.inject({ method: 'DELETE', url: `/admin/oauth/clients/${client.client_id}`, headers: bearer(rp.adminToken) });
    expect(del.statusCode, del.body).toBe(204);

    const me = await rp.app.inject({ method: 'GET', url: '/oauth/userinfo', headers: bearer(tokens.access_token) });
    expect(me.statusCode).toBe(401);
    expect(await refusal(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toMatchObject({ error: 'invalid_client', status: 401 });
    const hop = await new Browser(rp).request(oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' }).href);
    expect(hop.status).toBe(400);
    expect(hop.location).toBeNull();
    // Another confidential client sees nothing of them either.
    const c = await confidentialRp(rp);
    expect(await introspect(rp, { id: c.client.client_id, secret: c.secret }, tokens.refresh_token!)).toEqual({ active: false });
    // The user's connected apps no longer list it.
    const apps = await rp.app.inject({ method: 'GET', url: '/auth/connected-apps', headers: bearer(await adminLogin(rp, user.email, user.password)) });
    expect(apps.statusCode).toBe(200);
    expect((apps.json() as { apps: Array<{ client_id: string }> }).apps).toEqual([]);
  });

  it('its rotated secret: the old one is invalid_client, the new one works', async () => {
    const { client, secret } = await confidentialRp(rp, { grant_types: ['client_credentials'], redirect_uris: [] });
    const rotated = await rp.app.inject({ method: 'POST', url: `/admin/oauth/clients/${client.client_id}/rotate-secret`, headers: bearer(rp.adminToken) });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const fresh = (rotated.json() as { client_secret: string }).client_secret;
    rp.seen.add(fresh);
    expect(fresh).not.toBe(secret);
    const old = await post(rp, '/oauth/token', { grant_type: 'client_credentials' }, basic(client.client_id, secret));
    expect(old.status).toBe(401);
    expect(old.json()).toMatchObject({ error: 'invalid_client' });
    const ok = await post(rp, '/oauth/token', { grant_type: 'client_credentials' }, basic(client.client_id, fresh));
    expect(ok.status, ok.body).toBe(200);
    rp.seen.add(String(ok.json().access_token));
  });
});

describe('the provider\'s tokens on Latchkey\'s own routes', () => {
  it('an opaque access token and an ID token are refused by GET /auth/me (401) and by the other /auth/* routes', async () => {
    const { config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const { tokens } = await codeFlow(rp, config, user);
    for (const token of [tokens.access_token, tokens.id_token!]) {
      for (const [method, url] of [['GET', '/auth/me'], ['GET', '/auth/sessions'], ['POST', '/auth/logout-all'], ['GET', '/auth/connected-apps']] as const) {
        const res = await rp.app.inject({ method, url, headers: bearer(token) });
        expect(res.statusCode, `${method} ${url}`).toBe(401);
      }
    }
    // Nothing was done with them: the user's own sessions are all there.
    const sessions = await rp.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(await adminLogin(rp, user.email, user.password)) });
    expect((sessions.json() as { sessions: unknown[] }).sessions.length).toBeGreaterThan(1);
  });
});

describe('resource access tokens (OAUTH_RESOURCES, RFC 8707 / RFC 9068)', () => {
  function jwksFetch(target: Rp): typeof globalThis.fetch {
    return (input, init) => target.fetch(String(input instanceof Request ? input.url : input), { method: init?.method ?? 'GET', headers: Object.fromEntries(new Headers(init?.headers)), body: undefined, redirect: 'manual' } as oidc.CustomFetchOptions);
  }

  it('a token for the API is a JWT (typ at+jwt) that @latchkey/verify accepts for that audience, and Latchkey\'s GET /auth/me refuses (401)', async () => {
    const { client, config } = await confidentialRp(withApi, { scopes: ['openid', 'profile', 'email', 'roles'] });
    const user = await newUser(withApi);
    await withApi.app.latchkey.store.updateUser(user.userId, { roles: ['editor'] }, Date.now());
    const { tokens } = await codeFlow(withApi, config, user, { scope: 'openid roles', extra: { resource: RESOURCE } });
    expect(decodeProtectedHeader(tokens.access_token).typ).toBe('at+jwt');
    const payload = decodeJwt(tokens.access_token);
    expect(payload).toMatchObject({ iss: ISSUER, sub: user.userId, aud: RESOURCE, client_id: client.client_id, roles: ['editor'] });
    expect(String(payload.scope).split(' ')).toContain('roles');

    const verifier = createVerifier({ issuer: ISSUER, audience: RESOURCE, jwksUrl: `${ISSUER}/.well-known/jwks.json`, fetch: jwksFetch(withApi) });
    const claims = await verifier.verify(tokens.access_token);
    expect(claims).toMatchObject({ iss: ISSUER, sub: user.userId, aud: RESOURCE });

    // Not a Latchkey session token: its own audience refuses it, and so does /auth/*.
    const own = createVerifier({ issuer: ISSUER, audience: withApi.t.config.tokens.audience, jwksUrl: `${ISSUER}/.well-known/jwks.json`, fetch: jwksFetch(withApi) });
    await expect(own.verify(tokens.access_token)).rejects.toBeInstanceOf(InvalidTokenError);
    for (const url of ['/auth/me', '/auth/sessions']) {
      const res = await withApi.app.inject({ method: 'GET', url, headers: bearer(tokens.access_token) });
      expect(res.statusCode, url).toBe(401);
      expect(String(res.headers['www-authenticate'])).toContain('invalid_token');
    }
  });

  it('without the roles scope the token carries no roles', async () => {
    const { config } = await confidentialRp(withApi);
    const user = await newUser(withApi);
    await withApi.app.latchkey.store.updateUser(user.userId, { roles: ['editor'] }, Date.now());
    const { tokens } = await codeFlow(withApi, config, user, { scope: 'openid', extra: { resource: RESOURCE } });
    const payload = decodeJwt(tokens.access_token);
    expect(payload.aud).toBe(RESOURCE);
    expect(payload.roles === undefined || (Array.isArray(payload.roles) && payload.roles.length === 0)).toBe(true);
  });

  it('a resource that is not configured: invalid_target, no token', async () => {
    const { config } = await confidentialRp(withApi);
    const user = await newUser(withApi);
    const verifier = oidc.randomPKCECodeVerifier();
    const hop = await new Browser(withApi).request(
      oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', state: 'r', resource: 'https://other.example/', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }).href,
    );
    expect(hop.location).toBeTruthy();
    const to = new URL(hop.location!);
    expect(to.origin + to.pathname).toBe(CALLBACK);
    expect(to.searchParams.get('error')).toBe('invalid_target');
    expect(to.searchParams.get('code')).toBeNull();
    void user;
  });

  it('a JWT access token cannot be revoked or introspected (oidc-provider: unsupported_token_type); it lives until exp, OAUTH_ACCESS_TOKEN_TTL', async () => {
    const { client, secret, config } = await confidentialRp(withApi);
    const user = await newUser(withApi);
    const { tokens } = await codeFlow(withApi, config, user, { scope: 'openid', extra: { resource: RESOURCE } });
    for (const path of ['/oauth/revoke', '/oauth/introspect']) {
      const res = await post(withApi, path, { token: tokens.access_token }, basic(client.client_id, secret));
      expect(res.status, path).toBe(400);
      expect(res.json(), path).toMatchObject({ error: 'unsupported_token_type' });
    }
  });

  it('client credentials for the API: a JWT for that audience, refused by /auth/me', async () => {
    const { client, config } = await confidentialRp(withApi, { grant_types: ['client_credentials'], redirect_uris: [] });
    const tokens = await oidc.clientCredentialsGrant(config, { resource: RESOURCE });
    remember(withApi, tokens);
    expect(decodeProtectedHeader(tokens.access_token).typ).toBe('at+jwt');
    expect(decodeJwt(tokens.access_token)).toMatchObject({ iss: ISSUER, aud: RESOURCE, client_id: client.client_id });
    const res = await withApi.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(tokens.access_token) });
    expect(res.statusCode).toBe(401);
  });
});

describe('the server log', () => {
  it('holds none of the tokens, codes or secrets of this suite (both servers)', () => {
    expectNothingLeaked(rp);
    expectNothingLeaked(withApi);
  });
});

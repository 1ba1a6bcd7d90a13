/**
 * Latchkey as an OAuth 2.1 / OpenID provider, held to the issue and the specs by an independent
 * relying party (openid-client 6) on both stores: discovery, code + PKCE (ID token checked against
 * the JWKS, nonce, RFC 9207 iss), refresh with rotation, userinfo by scope, client credentials,
 * revocation (RFC 7009), introspection (RFC 7662), RP-initiated logout and private_key_jwt.
 */
import { exportJWK, generateKeyPair, decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from '../../support/helpers.js';
import {
  authorize,
  Browser,
  CALLBACK,
  codeFlow,
  confidentialRp,
  createClient,
  discover,
  expectNothingLeaked,
  formOf,
  introspect,
  ISSUER,
  LOGGED_OUT,
  newUser,
  post,
  publicRp,
  refusal,
  remember,
  startRp,
  type Rp,
} from './rp-kit.js';

let rp: Rp;

beforeAll(async () => {
  rp = await startRp();
});

afterAll(async () => {
  await rp?.close();
});

describe('discovery', () => {
  it('lists every endpoint and method of the contract, at both well-known paths, the same document', async () => {
    const oidcDoc = await rp.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
    const oauthDoc = await rp.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
    expect(oidcDoc.statusCode).toBe(200);
    expect(oauthDoc.statusCode).toBe(200);
    const doc = oidcDoc.json() as Record<string, unknown>;
    expect(oauthDoc.json()).toEqual(doc);
    expect(doc).toMatchObject({
      issuer: ISSUER,
      authorization_endpoint: `${ISSUER}/oauth/authorize`,
      token_endpoint: `${ISSUER}/oauth/token`,
      userinfo_endpoint: `${ISSUER}/oauth/userinfo`,
      revocation_endpoint: `${ISSUER}/oauth/revoke`,
      introspection_endpoint: `${ISSUER}/oauth/introspect`,
      end_session_endpoint: `${ISSUER}/oauth/logout`,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
      authorization_response_iss_parameter_supported: true,
    });
    // Off by default.
    expect(doc.registration_endpoint).toBeUndefined();
    expect(new Set(doc.grant_types_supported as string[])).toEqual(new Set(['authorization_code', 'refresh_token', 'client_credentials']));
    // Not client_secret_jwt: it needs the plain secret at rest.
    expect(new Set(doc.token_endpoint_auth_methods_supported as string[])).toEqual(new Set(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt']));
    expect(doc.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'offline_access', 'roles']));
  });

  it('a forged Host header does not move the endpoints: every URL of the document stays under ISSUER', async () => {
    for (const host of ['evil.example', 'latchkey.test.evil.example']) {
      const res = await rp.app.inject({ method: 'GET', url: '/.well-known/openid-configuration', headers: { host } });
      expect(res.statusCode).toBe(200);
      const doc = res.json() as Record<string, unknown>;
      expect(doc.token_endpoint).toBe(`${ISSUER}/oauth/token`);
      expect(doc.authorization_endpoint).toBe(`${ISSUER}/oauth/authorize`);
      expect(res.body).not.toContain(host.startsWith('latchkey') ? `${host}/` : host);
    }
  });

  it('the JWKS it names is Latchkey\'s own: public keys only', async () => {
    const res = await rp.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(res.statusCode).toBe(200);
    const { keys } = res.json() as { keys: Array<Record<string, unknown>> };
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(k.kid).toBeTruthy();
      expect(k.d).toBeUndefined();
    }
  });
});

describe('authorization code + PKCE', () => {
  it('signs a user in: iss and state in the redirect, an ID token signed with a key of the JWKS, for this client, with the nonce', async () => {
    const { client, config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const { tokens, back, state } = await codeFlow(rp, config, user);
    // RFC 9207 (openid-client checked it too, the metadata says it is supported).
    expect(back.origin + back.pathname).toBe(CALLBACK);
    expect(back.searchParams.get('iss')).toBe(ISSUER);
    expect(back.searchParams.get('state')).toBe(state);
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.expires_in).toBeGreaterThan(0);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: ISSUER, sub: user.userId, aud: client.client_id });
    const { kid } = decodeProtectedHeader(tokens.id_token!);
    const jwks = (await rp.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((k) => k.kid)).toContain(kid);
    // No refresh token without offline_access.
    expect(tokens.refresh_token).toBeUndefined();
  });

  it('a public client signs in with PKCE and no secret', async () => {
    const { config } = await publicRp(rp);
    const user = await newUser(rp);
    const { tokens } = await codeFlow(rp, config, user);
    expect(tokens.claims()!.sub).toBe(user.userId);
  });

  it('a remembered consent skips the page the second time (the same browser signs in once)', async () => {
    const { config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const browser = new Browser(rp);
    await codeFlow(rp, config, user, { browser });
    // Second time: no page at all. `null` user: authorize() fails if a page shows.
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid profile email', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's2' });
    const at = await browser.follow(url.href);
    expect(at.hop, at.hop?.body.slice(0, 200)).toBeNull();
    const back = new URL(at.url);
    expect(back.searchParams.get('code')).toBeTruthy();
    const tokens = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: 's2' });
    remember(rp, tokens);
    expect(tokens.claims()!.sub).toBe(user.userId);
  });
});

describe('prompt and max_age', () => {
  it('with a session, prompt=login and max_age=0 each show the sign-in page again; the ID token\'s auth_time is the new sign-in', async () => {
    const { config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const browser = new Browser(rp);
    // max_age asks for auth_time in the ID token.
    const first = await codeFlow(rp, config, user, { browser, extra: { max_age: '3600' } });
    const firstAuth = first.tokens.claims()!.auth_time;
    expect(typeof firstAuth).toBe('number');
    for (const extra of [{ prompt: 'login' }, { max_age: '0' }] as Array<Record<string, string>>) {
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', state: 'm', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra });
      const page = await browser.follow(url.href);
      // The sign-in page, not a silent redirect.
      expect(page.hop?.status).toBe(200);
      expect(page.hop?.body).toMatch(/name="password"/);
      const back = await authorize(rp, page.url, user, { browser });
      const tokens = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: 'm', ...(extra.max_age ? { maxAge: 0 } : {}) });
      remember(rp, tokens);
      expect(tokens.claims()!.auth_time).toBeGreaterThanOrEqual(firstAuth as number);
    }
  });
});

describe('refresh', () => {
  it('offline_access with prompt=consent gives a refresh token; each use rotates it and the old one is refused', async () => {
    const { config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const { tokens } = await codeFlow(rp, config, user, { scope: 'openid offline_access', prompt: 'consent' });
    const first = tokens.refresh_token!;
    expect(first).toBeTruthy();
    const second = await oidc.refreshTokenGrant(config, first);
    remember(rp, second);
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first);
    expect(second.access_token).not.toBe(tokens.access_token);
    // A refreshed ID token names the same user.
    expect(second.claims()?.sub ?? user.userId).toBe(user.userId);
    const again = await refusal(oidc.refreshTokenGrant(config, first));
    expect(again).toMatchObject({ error: 'invalid_grant', status: 400 });
  });
});

describe('first-party clients', () => {
  it('skip the consent page (even with prompt=consent) and get their refresh token; a third-party client sees the page', async () => {
    const first = await confidentialRp(rp, { first_party: true });
    const user = await newUser(rp);
    const trail: string[] = [];
    // OIDC Core 11 (and oidc-provider): offline_access counts only with prompt=consent; a
    // first-party client sends it like any other, and sees no page.
    const { tokens } = await codeFlow(rp, first.config, user, { scope: 'openid offline_access', prompt: 'consent', trail });
    expect(trail).toEqual(['sign-in']);
    expect(tokens.refresh_token).toBeTruthy();

    const third = await confidentialRp(rp);
    const thirdTrail: string[] = [];
    await codeFlow(rp, third.config, user, { scope: 'openid', trail: thirdTrail });
    expect(thirdTrail).toEqual(['sign-in', 'consent']);
  });
});

describe('a remembered consent that includes offline_access', () => {
  // OpenID Connect Core §11: offline_access needs prompt=consent. oidc-provider drops the scope from
  // a request without it, whatever the Grant holds; docs/oauth-provider.md says so (decided for
  // issue 22: the contract had promised a refresh token from a remembered consent too).
  it('gives a refresh token with prompt=consent only; a later sign-in without it skips the page and gets none', async () => {
    const { config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const browser = new Browser(rp);
    const first = await codeFlow(rp, config, user, { scope: 'openid offline_access', prompt: 'consent', browser });
    expect(first.tokens.refresh_token).toBeTruthy();
    const trail: string[] = [];
    const again = await codeFlow(rp, config, user, { scope: 'openid offline_access', browser, trail });
    expect(trail).toEqual([]);
    expect(again.tokens.access_token).toBeTruthy();
    expect(again.tokens.refresh_token).toBeUndefined();
    // The first refresh token still works: the second sign-in did not end the grant.
    const refreshed = await oidc.refreshTokenGrant(config, first.tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTruthy();
  });
});

describe('userinfo', () => {
  it('answers the claims of the granted scopes, and only those', async () => {
    const { config } = await confidentialRp(rp);
    const user = await newUser(rp);
    await rp.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer((await rp.app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.email, password: user.password } })).json().access_token), payload: { name: 'Ada Lovelace' } });

    const emailOnly = await codeFlow(rp, config, user, { scope: 'openid email' });
    const a = await oidc.fetchUserInfo(config, emailOnly.tokens.access_token, user.userId);
    expect(a).toMatchObject({ sub: user.userId, email: user.email, email_verified: false });
    expect(a.name).toBeUndefined();

    const profileOnly = await codeFlow(rp, config, user, { scope: 'openid profile', prompt: 'consent' });
    const b = await oidc.fetchUserInfo(config, profileOnly.tokens.access_token, user.userId);
    expect(b).toMatchObject({ sub: user.userId, name: 'Ada Lovelace' });
    expect(b.email).toBeUndefined();
    expect(b.email_verified).toBeUndefined();
  });

  it('roles are a claim only with the roles scope', async () => {
    const { config } = await confidentialRp(rp, { scopes: ['openid', 'profile', 'email', 'roles'] });
    const user = await newUser(rp);
    await rp.app.latchkey.store.updateUser(user.userId, { roles: ['editor'] }, Date.now());
    const withRoles = await codeFlow(rp, config, user, { scope: 'openid roles' });
    expect(await oidc.fetchUserInfo(config, withRoles.tokens.access_token, user.userId)).toMatchObject({ sub: user.userId, roles: ['editor'] });
    const without = await codeFlow(rp, config, user, { scope: 'openid', prompt: 'consent' });
    expect((await oidc.fetchUserInfo(config, without.tokens.access_token, user.userId)).roles).toBeUndefined();
  });

  it('refuses a request without a valid token: 401 with WWW-Authenticate', async () => {
    const res = await rp.app.inject({ method: 'GET', url: '/oauth/userinfo', headers: bearer('not-a-token') });
    expect(res.statusCode).toBe(401);
    expect(String(res.headers['www-authenticate'])).toContain('invalid_token');
  });
});

describe('client credentials', () => {
  it('a confidential client with that grant gets an access token for itself: no refresh token, no ID token, no user', async () => {
    const { client, secret, config } = await confidentialRp(rp, { grant_types: ['client_credentials'], redirect_uris: [] });
    const tokens = await oidc.clientCredentialsGrant(config);
    remember(rp, tokens);
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.id_token).toBeUndefined();
    const seen = await introspect(rp, { id: client.client_id, secret }, tokens.access_token);
    expect(seen).toMatchObject({ active: true, client_id: client.client_id });
    expect(seen.sub).toBeUndefined();
  });

  it('a client without the grant is refused: invalid_request (oidc-provider\'s answer; RFC 6749 5.2 names unauthorized_client)', async () => {
    const { config } = await confidentialRp(rp);
    expect(await refusal(oidc.clientCredentialsGrant(config))).toMatchObject({ error: 'invalid_request', status: 400, description: 'requested grant type is not allowed for this client' });
  });
});

describe('revocation (RFC 7009) and introspection (RFC 7662)', () => {
  it('introspection: active with client_id, sub, scope for the client\'s own token; active false for garbage', async () => {
    const { client, secret, config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const { tokens } = await codeFlow(rp, config, user, { scope: 'openid email' });
    const seen = await introspect(rp, { id: client.client_id, secret }, tokens.access_token);
    expect(seen).toMatchObject({ active: true, client_id: client.client_id, sub: user.userId, iss: ISSUER });
    expect(String(seen.scope).split(' ').sort()).toEqual(['email', 'openid']);
    expect(await introspect(rp, { id: client.client_id, secret }, 'garbage-token-value')).toEqual({ active: false });
    // openid-client reads the same.
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
  });

  it('a revoked access token is inactive at introspection and refused at userinfo', async () => {
    const { client, secret, config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const { tokens } = await codeFlow(rp, config, user);
    expect((await oidc.fetchUserInfo(config, tokens.access_token, user.userId)).sub).toBe(user.userId);
    await oidc.tokenRevocation(config, tokens.access_token);
    expect(await introspect(rp, { id: client.client_id, secret }, tokens.access_token)).toEqual({ active: false });
    const res = await rp.app.inject({ method: 'GET', url: '/oauth/userinfo', headers: bearer(tokens.access_token) });
    expect(res.statusCode).toBe(401);
    expect(String(res.headers['www-authenticate'])).toContain('invalid_token');
    // Revoking again, or an unknown token, is still 200 (RFC 7009 2.2).
    const twice = await post(rp, '/oauth/revoke', { token: tokens.access_token }, { authorization: `Basic ${Buffer.from(`${client.client_id}:${secret}`).toString('base64')}` });
    expect(twice.status).toBe(200);
  });

  it('a revoked refresh token is refused at the token endpoint and inactive at introspection', async () => {
    const { client, secret, config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const { tokens } = await codeFlow(rp, config, user, { scope: 'openid offline_access', prompt: 'consent' });
    await oidc.tokenRevocation(config, tokens.refresh_token!, { token_type_hint: 'refresh_token' });
    expect(await introspect(rp, { id: client.client_id, secret }, tokens.refresh_token!)).toEqual({ active: false });
    expect(await refusal(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toMatchObject({ error: 'invalid_grant' });
  });
});

describe('RP-initiated logout', () => {
  it('ends the provider session and goes back to the registered post_logout_redirect_uri with the state; prompt=none then answers login_required', async () => {
    const { config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const browser = new Browser(rp);
    const { tokens } = await codeFlow(rp, config, user, { browser });
    const end = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: LOGGED_OUT, state: 'bye' });
    expect(end.origin + end.pathname).toBe(`${ISSUER}/oauth/logout`);
    let at = await browser.follow(end.href);
    // A confirmation page (a form POST, so a cross-site GET cannot sign the user out) or, with a
    // valid id_token_hint, a direct redirect.
    if (at.hop !== null) {
      expect(at.hop.status, at.hop.body.slice(0, 300)).toBe(200);
      const form = formOf(at.hop.body);
      expect(form.action).toBeTruthy();
      at = await browser.follow(new URL(form.action!, ISSUER).href, { form: { ...form.fields, logout: 'yes' } });
    }
    expect(at.hop).toBeNull();
    const back = new URL(at.url);
    expect(back.origin + back.pathname).toBe(LOGGED_OUT);
    expect(back.searchParams.get('state')).toBe('bye');

    const silent = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', prompt: 'none', state: 'quiet', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
    const after = await browser.follow(silent.href);
    expect(after.hop).toBeNull();
    const answer = new URL(after.url);
    expect(answer.searchParams.get('error')).toBe('login_required');
    expect(answer.searchParams.get('state')).toBe('quiet');
  });

  it('refuses a post_logout_redirect_uri that is not registered: no redirect there', async () => {
    const { config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const browser = new Browser(rp);
    const { tokens } = await codeFlow(rp, config, user, { browser });
    const end = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://evil.example/out' });
    const hop = await browser.request(end.href);
    expect(hop.status).toBe(400);
    expect(hop.location).toBeNull();
    expect(hop.body).not.toContain('evil.example/out"');
  });
});

describe('private_key_jwt', () => {
  it('a client authenticates with a key it made (jose); a JWT signed with another key is invalid_client', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'rp-key-1', alg: 'ES256', use: 'sig' };
    const { client, client_secret } = await createClient(rp, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } });
    expect(client_secret).toBeUndefined();
    expect(client.token_endpoint_auth_method).toBe('private_key_jwt');
    const config = await discover(rp, client.client_id, oidc.PrivateKeyJwt({ key: privateKey, kid: 'rp-key-1' }));
    const user = await newUser(rp);
    const { tokens } = await codeFlow(rp, config, user);
    expect(tokens.claims()!.sub).toBe(user.userId);

    const other = await generateKeyPair('ES256', { extractable: true });
    const forged = await discover(rp, client.client_id, oidc.PrivateKeyJwt({ key: other.privateKey, kid: 'rp-key-1' }));
    const verifier = oidc.randomPKCECodeVerifier();
    const back = await authorize(rp, oidc.buildAuthorizationUrl(forged, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 'f' }), user);
    expect(await refusal(oidc.authorizationCodeGrant(forged, back, { pkceCodeVerifier: verifier, expectedState: 'f' }))).toMatchObject({ error: 'invalid_client', status: 401 });
  });
});

describe('the server log', () => {
  it('holds none of the tokens, codes or secrets of this suite', () => {
    expect(rp.seen.size).toBeGreaterThan(10);
    expectNothingLeaked(rp);
  });
});

/**
 * The refused cases of issue 22, as an attacker and a strict client would try them, on both
 * stores. Each asserts the exact error AND that nothing else changed (what was issued before is
 * still good, or, where the spec says so, what came from a replayed secret is revoked).
 */
import * as oidc from 'openid-client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { bearer } from '../../support/helpers.js';
import {
  authorize,
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

let rp: Rp;

beforeAll(async () => {
  rp = await startRp();
});

afterAll(async () => {
  await rp?.close();
});

afterEach(() => {
  vi.useRealTimers();
});

/** An authorization URL built by hand (nothing added by a library). */
function authorizeUrl(params: Record<string, string>): string {
  return `${ISSUER}/oauth/authorize?${new URLSearchParams({ response_type: 'code', scope: 'openid', state: 'st-1', ...params }).toString()}`;
}

async function pkce() {
  const verifier = oidc.randomPKCECodeVerifier();
  return { verifier, challenge: await oidc.calculatePKCECodeChallenge(verifier) };
}

/** The authorization response's error, as the browser lands on the app. */
function errorAt(url: URL) {
  return { error: url.searchParams.get('error'), state: url.searchParams.get('state'), iss: url.searchParams.get('iss'), code: url.searchParams.get('code') };
}

describe('redirect_uri', () => {
  it.each([
    ['not registered', 'https://evil.example/callback'],
    ['a trailing slash more', `${CALLBACK}/`],
    ['another case', CALLBACK.toUpperCase()],
    ['an added query', `${CALLBACK}?next=/x`],
  ])('%s: an error page, 400, and NO redirect anywhere', async (_label, redirectUri) => {
    const { client } = await confidentialRp(rp);
    const { challenge } = await pkce();
    const hop = await new Browser(rp).request(authorizeUrl({ client_id: client.client_id, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256' }));
    expect(hop.status).toBe(400);
    expect(hop.location).toBeNull();
    expect(hop.contentType).toMatch(/^text\/html/);
    // The page does not send the browser there either (no meta refresh, no link to it).
    expect(hop.body).not.toContain(`http-equiv="refresh"`);
    expect(hop.body).not.toContain(`href="${redirectUri}`);
  });

  it('an unknown client_id: an error page, 400, no redirect', async () => {
    const hop = await new Browser(rp).request(authorizeUrl({ client_id: 'no-such-client', redirect_uri: CALLBACK }));
    expect(hop.status).toBe(400);
    expect(hop.location).toBeNull();
  });
});

describe('PKCE', () => {
  it('missing for a public client: invalid_request back to the client, with state and iss, and no code', async () => {
    const { client } = await publicRp(rp);
    const hop = await new Browser(rp).request(authorizeUrl({ client_id: client.client_id, redirect_uri: CALLBACK }));
    expect(hop.status).toBe(303);
    const to = new URL(hop.location!);
    expect(to.origin + to.pathname).toBe(CALLBACK);
    expect(errorAt(to)).toEqual({ error: 'invalid_request', state: 'st-1', iss: ISSUER, code: null });
  });

  it('method plain: invalid_request (S256 only)', async () => {
    const { client } = await publicRp(rp);
    const hop = await new Browser(rp).request(authorizeUrl({ client_id: client.client_id, redirect_uri: CALLBACK, code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }));
    const to = new URL(hop.location!);
    expect(errorAt(to)).toMatchObject({ error: 'invalid_request', state: 'st-1', code: null });
  });

  it('a wrong code_verifier: invalid_grant, and the code is not spent (its client, with the right verifier, still gets its tokens)', async () => {
    const { config } = await publicRp(rp);
    const user = await newUser(rp);
    const { verifier, challenge } = await pkce();
    const back = await authorize(rp, oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 'p' }), user);
    const code = back.searchParams.get('code')!;
    rp.seen.add(code);
    const wrong = await post(rp, '/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, client_id: config.clientMetadata().client_id, code_verifier: oidc.randomPKCECodeVerifier() });
    expect(wrong.status).toBe(400);
    expect(wrong.json()).toMatchObject({ error: 'invalid_grant' });
    expect(wrong.body).not.toContain('access_token');
    // Without any verifier: the same.
    const none = await post(rp, '/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, client_id: config.clientMetadata().client_id });
    expect(none.json()).toMatchObject({ error: 'invalid_grant' });
    const tokens = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: 'p' });
    remember(rp, tokens);
    expect(tokens.claims()!.sub).toBe(user.userId);
  });
});

describe('authorization code', () => {
  it('reused: invalid_grant, and the tokens issued from it are revoked (access and refresh inactive, refresh refused, userinfo 401)', async () => {
    const { client, secret, config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const { tokens, back, verifier } = await codeFlow(rp, config, user, { scope: 'openid offline_access', prompt: 'consent' });
    expect(tokens.refresh_token).toBeTruthy();
    expect((await introspect(rp, { id: client.client_id, secret }, tokens.access_token)).active).toBe(true);

    const replay = await post(
      rp,
      '/oauth/token',
      { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: CALLBACK, code_verifier: verifier },
      basic(client.client_id, secret),
    );
    expect(replay.status).toBe(400);
    expect(replay.json()).toMatchObject({ error: 'invalid_grant' });
    expect(replay.body).not.toContain('access_token');

    expect(await introspect(rp, { id: client.client_id, secret }, tokens.access_token)).toEqual({ active: false });
    expect(await introspect(rp, { id: client.client_id, secret }, tokens.refresh_token!)).toEqual({ active: false });
    expect(await refusal(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toMatchObject({ error: 'invalid_grant' });
    const me = await rp.app.inject({ method: 'GET', url: '/oauth/userinfo', headers: bearer(tokens.access_token) });
    expect(me.statusCode).toBe(401);
  });

  it('redeemed by several requests at once: exactly one gets tokens, the others invalid_grant (single use holds under concurrency)', async () => {
    const { client, secret, config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const { verifier, challenge } = await pkce();
    const back = await authorize(rp, oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid offline_access', prompt: 'consent', code_challenge: challenge, code_challenge_method: 'S256', state: 'c' }), user);
    const code = back.searchParams.get('code')!;
    rp.seen.add(code);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => post(rp, '/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier }, basic(client.client_id, secret))),
    );
    for (const a of answers) if (a.status === 200) remember(rp, a.json() as { access_token: string });
    expect(answers.map((a) => a.status).sort()).toEqual([200, 400, 400, 400, 400]);
    for (const a of answers.filter((x) => x.status === 400)) expect(a.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('expired (past the provider\'s code lifetime, Date moved on, no sleep): invalid_grant, no tokens', async () => {
    const { config } = await publicRp(rp);
    const user = await newUser(rp);
    const { verifier, challenge } = await pkce();
    const back = await authorize(rp, oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 'e' }), user);
    rp.seen.add(back.searchParams.get('code')!);
    // oidc-provider reads Date (its own clock); so does Latchkey's default clock. Ten minutes on:
    // far past any code lifetime (oidc-provider's default is 60 s; RFC 6749 says at most 10 min).
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 10 * 60_000 + 1_000 });
    const res = await post(rp, '/oauth/token', { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: CALLBACK, client_id: config.clientMetadata().client_id, code_verifier: verifier });
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_grant' });
    expect(res.body).not.toContain('access_token');
  });

  it('a code of client A presented by client B: invalid_grant, and A can still redeem it', async () => {
    const a = await confidentialRp(rp);
    const b = await confidentialRp(rp);
    const user = await newUser(rp);
    const { verifier, challenge } = await pkce();
    const back = await authorize(rp, oidc.buildAuthorizationUrl(a.config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 'x' }), user);
    const code = back.searchParams.get('code')!;
    rp.seen.add(code);
    const stolen = await post(rp, '/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier }, basic(b.client.client_id, b.secret));
    expect(stolen.status).toBe(400);
    expect(stolen.json()).toMatchObject({ error: 'invalid_grant' });
    const tokens = await oidc.authorizationCodeGrant(a.config, back, { pkceCodeVerifier: verifier, expectedState: 'x' });
    remember(rp, tokens);
    expect(tokens.claims()!.sub).toBe(user.userId);
  });
});

describe('response types and redirect_uri binding', () => {
  it.each(['token', 'id_token', 'code id_token', 'code token'])('response_type=%s: refused back to the client, and no token anywhere in the answer', async (responseType) => {
    const { client } = await confidentialRp(rp);
    const { challenge } = await pkce();
    const hop = await new Browser(rp).request(authorizeUrl({ client_id: client.client_id, redirect_uri: CALLBACK, response_type: responseType, nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256' }));
    expect(hop.location, hop.body.slice(0, 200)).toBeTruthy();
    const to = new URL(hop.location!);
    expect(to.origin + to.pathname).toBe(CALLBACK);
    // The error goes where that response type answers (the fragment for implicit and hybrid ones).
    const answer = new URLSearchParams(to.hash ? to.hash.slice(1) : to.search);
    expect(answer.get('error')).toBe('unsupported_response_type');
    expect(answer.get('state')).toBe('st-1');
    expect(hop.location).not.toMatch(/access_token|id_token=|[?&#]code=/);
  });

  it('a code redeemed with another redirect_uri than it was issued for: invalid_grant, and the code is not spent', async () => {
    const { client, secret, config } = await confidentialRp(rp, { redirect_uris: [CALLBACK, `${CALLBACK}-two`] });
    const user = await newUser(rp);
    const { verifier, challenge } = await pkce();
    const back = await authorize(rp, oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 'r' }), user);
    const code = back.searchParams.get('code')!;
    rp.seen.add(code);
    const res = await post(rp, '/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: `${CALLBACK}-two`, code_verifier: verifier }, basic(client.client_id, secret));
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_grant' });
    const tokens = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: 'r' });
    remember(rp, tokens);
    expect(tokens.access_token).toBeTruthy();
  });
});

describe('client authentication', () => {
  it('a wrong client secret: 401 invalid_client, and the code is not spent', async () => {
    const { client, secret, config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const { verifier, challenge } = await pkce();
    const back = await authorize(rp, oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 'w' }), user);
    const code = back.searchParams.get('code')!;
    rp.seen.add(code);
    // An empty secret is not an attempt: 400 invalid_request (oidc-provider), below.
    for (const wrong of [`${secret}x`, secret.slice(0, -1), 'lks_' + 'A'.repeat(43)]) {
      const res = await post(rp, '/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier }, basic(client.client_id, wrong));
      expect(res.status, wrong).toBe(401);
      expect(res.json()).toMatchObject({ error: 'invalid_client' });
      expect(String(res.headers['www-authenticate'])).toMatch(/^Basic .*error="invalid_client"/i);
    }
    const empty = await post(rp, '/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier }, basic(client.client_id, ''));
    expect(empty.status).toBe(400);
    expect(empty.json()).toMatchObject({ error: 'invalid_request' });
    // The wrong secret in the body (oidc-provider takes client_secret_basic and _post alike): refused too.
    const posted = await post(rp, '/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier, client_id: client.client_id, client_secret: `${secret}x` });
    expect(posted.status).toBe(401);
    expect(posted.json()).toMatchObject({ error: 'invalid_client' });
    const tokens = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: 'w' });
    remember(rp, tokens);
    expect(tokens.access_token).toBeTruthy();
  });

  it('introspection and revocation without any client authentication: refused (oidc-provider: 400 invalid_request), with a wrong secret 401 invalid_client', async () => {
    const { client, secret } = await confidentialRp(rp);
    for (const path of ['/oauth/introspect', '/oauth/revoke']) {
      const res = await post(rp, path, { token: 'anything-at-all-here' });
      expect(res.status, path).toBe(400);
      expect(res.json(), path).toEqual({ error: 'invalid_request', error_description: 'no client authentication mechanism provided' });
      const wrong = await post(rp, path, { token: 'anything-at-all-here' }, basic(client.client_id, `${secret}x`));
      expect(wrong.status, path).toBe(401);
      expect(wrong.json(), path).toMatchObject({ error: 'invalid_client' });
    }
  });

  it('a public client cannot use client_credentials', async () => {
    const { client } = await publicRp(rp);
    const res = await post(rp, '/oauth/token', { grant_type: 'client_credentials', client_id: client.client_id });
    expect(res.status).toBe(400);
    // oidc-provider's answer (RFC 6749 5.2 would say unauthorized_client).
    expect(res.json()).toMatchObject({ error: 'invalid_request', error_description: 'requested grant type is not allowed for this client' });
  });
});

describe('scope', () => {
  it('a scope the client may not ask for: invalid_scope back to the client, with state and iss, and no code', async () => {
    const { client } = await confidentialRp(rp, { scopes: ['openid', 'profile'] });
    const { challenge } = await pkce();
    const hop = await new Browser(rp).request(authorizeUrl({ client_id: client.client_id, redirect_uri: CALLBACK, scope: 'openid email', code_challenge: challenge, code_challenge_method: 'S256' }));
    expect(hop.status).toBe(303);
    const to = new URL(hop.location!);
    expect(to.origin + to.pathname).toBe(CALLBACK);
    expect(errorAt(to)).toEqual({ error: 'invalid_scope', state: 'st-1', iss: ISSUER, code: null });
  });

  it('a refresh asking for more than was granted: invalid_scope, and the refresh token still works', async () => {
    const { config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const { tokens } = await codeFlow(rp, config, user, { scope: 'openid offline_access', prompt: 'consent' });
    expect(await refusal(oidc.refreshTokenGrant(config, tokens.refresh_token!, { scope: 'openid offline_access email' }))).toMatchObject({ error: 'invalid_scope' });
    const next = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    remember(rp, next);
    expect(next.access_token).toBeTruthy();
  });
});

describe('prompt=none', () => {
  it('without a session: login_required back to the client, with state and iss, and no code', async () => {
    const { client } = await confidentialRp(rp);
    const { challenge } = await pkce();
    const hop = await new Browser(rp).request(authorizeUrl({ client_id: client.client_id, redirect_uri: CALLBACK, prompt: 'none', code_challenge: challenge, code_challenge_method: 'S256' }));
    expect(hop.status).toBe(303);
    const to = new URL(hop.location!);
    expect(to.origin + to.pathname).toBe(CALLBACK);
    expect(errorAt(to)).toEqual({ error: 'login_required', state: 'st-1', iss: ISSUER, code: null });
  });

  it('with a session but no consent for this client: consent_required', async () => {
    const first = await confidentialRp(rp);
    const second = await confidentialRp(rp);
    const user = await newUser(rp);
    const browser = new Browser(rp);
    await codeFlow(rp, first.config, user, { browser });
    const { challenge } = await pkce();
    const hop = await browser.request(authorizeUrl({ client_id: second.client.client_id, redirect_uri: CALLBACK, prompt: 'none', code_challenge: challenge, code_challenge_method: 'S256' }));
    const to = new URL(hop.location!);
    expect(errorAt(to)).toEqual({ error: 'consent_required', state: 'st-1', iss: ISSUER, code: null });
  });
});

describe('refresh token reuse', () => {
  it('a spent refresh token replayed: invalid_grant, and the whole grant is revoked (the newest refresh and access tokens too)', async () => {
    const { client, secret, config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const { tokens } = await codeFlow(rp, config, user, { scope: 'openid offline_access', prompt: 'consent' });
    const rotated = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    remember(rp, rotated);
    expect((await introspect(rp, { id: client.client_id, secret }, rotated.access_token)).active).toBe(true);

    expect(await refusal(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toMatchObject({ error: 'invalid_grant', status: 400 });

    expect(await refusal(oidc.refreshTokenGrant(config, rotated.refresh_token!))).toMatchObject({ error: 'invalid_grant' });
    expect(await introspect(rp, { id: client.client_id, secret }, rotated.access_token)).toEqual({ active: false });
    expect(await introspect(rp, { id: client.client_id, secret }, rotated.refresh_token!)).toEqual({ active: false });
    expect(await introspect(rp, { id: client.client_id, secret }, tokens.access_token)).toEqual({ active: false });
    const me = await rp.app.inject({ method: 'GET', url: '/oauth/userinfo', headers: bearer(rotated.access_token) });
    expect(me.statusCode).toBe(401);
    // The user's connected apps no longer list the client (its grant is gone).
    const login = await rp.app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.email, password: user.password } });
    const apps = await rp.app.inject({ method: 'GET', url: '/auth/connected-apps', headers: bearer(login.json().access_token) });
    expect(apps.statusCode).toBe(200);
    expect((apps.json() as { apps: Array<{ client_id: string }> }).apps.map((a) => a.client_id)).not.toContain(client.client_id);
  });
});

describe('refresh token rotation under concurrency', () => {
  it('one refresh token presented by several requests at once: exactly one gets a new token pair', async () => {
    const { client, secret, config } = await confidentialRp(rp);
    const user = await newUser(rp);
    const { tokens } = await codeFlow(rp, config, user, { scope: 'openid offline_access', prompt: 'consent' });
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => post(rp, '/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, basic(client.client_id, secret))),
    );
    for (const a of answers) if (a.status === 200) remember(rp, a.json() as { access_token: string; refresh_token: string });
    const winners = answers.filter((a) => a.status === 200);
    expect(winners).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.status).toBe(400);
      expect(a.json()).toMatchObject({ error: 'invalid_grant' });
    }
  });
});

describe('the server log', () => {
  it('holds none of the tokens, codes or secrets of this suite', () => {
    expectNothingLeaked(rp);
  });
});

/**
 * The provider's sign-in step goes through Latchkey's login(): a wrong password is refused on the
 * page (and counted by the backoff), an account with TOTP gets the second-factor form and its amr
 * reaches the ID token, a disabled account is refused; consent deny and abort answer
 * access_denied to the client.
 */
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../support/helpers.js';
import { codeAt, enrolTotp } from '../../support/factors.js';
import { Browser, ISSUER, REDIRECT, createUser, injectFetch, registerClient, startOAuthApp } from '../../support/oauth.js';

describe('OAuth provider interactions', () => {
  let t: TestApp;
  let config: client.Configuration;
  beforeAll(async () => {
    t = await startOAuthApp();
    const { clientId, clientSecret } = await registerClient(t);
    const fetchImpl = injectFetch(t.app);
    config = await client.discovery(new URL(ISSUER), clientId, clientSecret, client.ClientSecretBasic(clientSecret!), {
      execute: [client.allowInsecureRequests],
      [client.customFetch]: fetchImpl,
    });
    config[client.customFetch] = fetchImpl;
  });
  afterAll(async () => {
    await t.close();
  });

  async function start() {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's' });
    const browser = new Browser(t.app);
    const { res } = await browser.open(url.href);
    return { browser, res, verifier };
  }

  it('a wrong password shows the form again (400) with the message, and leaves no session', async () => {
    const user = await createUser(t);
    const { browser, res } = await start();
    const f = Browser.form(res.body, 'login');
    const wrong = await browser.request('POST', f.action, { csrf: f.csrf, email: user.email, password: 'wrong password here' });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.headers['content-type']).toMatch(/^text\/html/);
    expect(wrong.body).toContain('Wrong email or password.');
    expect(await t.app.latchkey.store.listSessions(user.id, Date.now())).toEqual([]);
  });

  it('an account with TOTP: the second-factor form, a wrong code refused, then a recovery code; the ID token says pwd otp mfa', async () => {
    const user = await createUser(t);
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.email, password: user.password } });
    const { secret, recoveryCodes } = await enrolTotp(t.app, (login.json() as { access_token: string }).access_token);
    const { browser, res, verifier } = await start();
    const f = Browser.form(res.body, 'login');
    const step = await browser.request('POST', f.action, { csrf: f.csrf, email: user.email, password: user.password });
    expect(step.statusCode).toBe(200);
    const mfa = Browser.form(step.body, 'mfa');
    const token = /name="mfa_token" value="([^"]+)"/.exec(step.body)![1]!;
    const wrong = await browser.request('POST', mfa.action, { csrf: mfa.csrf, mfa_token: token, code: '000000' === codeAt(t.app, secret) ? '111111' : '000000' });
    expect(wrong.statusCode).toBe(400);
    // (The current code was spent by the enrolment: a recovery code is the other way.)
    const done = await browser.follow(await browser.request('POST', mfa.action, { csrf: mfa.csrf, mfa_token: token, recovery_code: recoveryCodes[0]! }));
    let location = done.location;
    if (location === undefined) {
      const c = Browser.form(done.res.body, 'consent');
      location = (await browser.follow(await browser.request('POST', c.action, { csrf: c.csrf, decision: 'allow' }))).location;
    }
    const tokens = await client.authorizationCodeGrant(config, new URL(location!), { pkceCodeVerifier: verifier, expectedState: 's' });
    expect(tokens.claims()?.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('a disabled account is refused on the page', async () => {
    const user = await createUser(t);
    await t.app.latchkey.store.updateUser(user.id, { disabled: true }, Date.now());
    const { browser, res } = await start();
    const f = Browser.form(res.body, 'login');
    const refused = await browser.request('POST', f.action, { csrf: f.csrf, email: user.email, password: user.password });
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toContain('disabled');
  });

  it('deny on the consent page and cancel on the sign-in page answer access_denied to the client', async () => {
    const user = await createUser(t);
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's' });
    const back = await new Browser(t.app).authorize(url.href, user, 'deny');
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe('s');

    const { browser, res } = await start();
    const abort = /<form method="post" action="([^"]*\/abort)">.*?name="csrf" value="([^"]+)"/.exec(res.body)!;
    const cancelled = await browser.follow(await browser.request('POST', abort[1]!, { csrf: abort[2]! }));
    expect(new URL(cancelled.location!).searchParams.get('error')).toBe('access_denied');
  });

  it('a consent is remembered per user and client: a sign-in in another browser gets no consent page', async () => {
    const user = await createUser(t);
    const url = async () => {
      const verifier = client.randomPKCECodeVerifier();
      return client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid email', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's' }).href;
    };
    const first = new Browser(t.app);
    const back = await first.authorize(await url(), user);
    expect(back.searchParams.get('code')).toBeTruthy();
    const other = new Browser(t.app);
    const { res } = await other.open(await url());
    const f = Browser.form(res.body, 'login');
    const done = await other.follow(await other.request('POST', f.action, { csrf: f.csrf, email: user.email, password: user.password }));
    expect(done.location, done.res.body.slice(0, 200)).toBeDefined();
    expect(new URL(done.location!).searchParams.get('code')).toBeTruthy();
    expect(await t.app.latchkey.store.listOAuthGrantsForUser(user.id, Date.now())).toHaveLength(1);
  });
});

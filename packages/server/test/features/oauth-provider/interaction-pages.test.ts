/**
 * The interaction pages over HTTP (app.inject, the project's database: both stores): the
 * security headers and nonce of every page, CSRF (403 page, nothing done), the unknown
 * interaction (400 page), the consent page's contents and "Not you?", and the ways in the
 * browser tests do not drive: a passkey session's access token (POST /token), an email sign-in
 * code, and oidc-provider's own pages (an unregistered redirect_uri, RP-initiated logout).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtp, waitFor, type TestSmtp } from '../../support/email.js';
import { bearer, type TestApp } from '../../support/helpers.js';
import { Browser, createUser, ISSUER, REDIRECT, registerClient, startOAuthApp } from '../../support/oauth.js';

let t: TestApp;
let smtp: TestSmtp;
let clientId: string;
const EVIL_NAME = `<script>alert("x")</script> & 'Co'`;

beforeAll(async () => {
  smtp = await startSmtp();
  t = await startOAuthApp({ env: { SMTP_URL: smtp.url, OAUTH_BRAND_NAME: 'Acme', OAUTH_SCOPES: 'orders:read' } });
  ({ clientId } = await registerClient(t, { public: true, name: EVIL_NAME, scopes: ['openid', 'profile', 'email', 'orders:read'], postLogoutRedirectUris: [] }));
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

function authorizeUrl(overrides: Record<string, string> = {}): { url: string; state: string } {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(8).toString('hex');
  const params = new URLSearchParams({
    client_id: clientId,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid email orders:read',
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...overrides,
  });
  return { url: `/oauth/authorize?${params}`, state };
}

/** The page's security headers, and its script/style tags all carrying the CSP's nonce. */
function expectPageHeaders(res: LightMyRequestResponse): void {
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  const csp = String(res.headers['content-security-policy']);
  const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
  expect(nonce, csp).toBeDefined();
  expect(csp).toBe(
    `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'self' https: data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'`,
  );
  expect(res.headers['x-frame-options']).toBe('DENY');
  expect(res.headers['referrer-policy']).toBe('same-origin');
  expect(res.headers['cache-control']).toBe('no-store');
  for (const tag of res.body.match(/<(script|style)\b[^>]*>/g) ?? []) expect(tag).toMatch(new RegExp(`^<(script|style) nonce="${nonce!.replace(/[+/=]/g, '\\$&')}">$`));
}

/** Opens an authorization request in a fresh browser: the sign-in page, its uid and CSRF token. */
async function signInPage(overrides: Record<string, string> = {}) {
  const browser = new Browser(t.app);
  const { url, state } = authorizeUrl(overrides);
  const { res } = await browser.open(url);
  expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
  const login = Browser.form(res.body, 'login');
  const uid = /\/oauth\/interaction\/([^/]+)\/login$/.exec(login.action)![1]!;
  return { browser, res, state, uid, csrf: login.csrf, action: login.action.replace(/\/login$/, '') };
}

describe('every page', () => {
  it('the sign-in page: branded, with the security headers and a nonce of its own per response', async () => {
    const a = await signInPage();
    const b = await signInPage();
    expectPageHeaders(a.res);
    expect(a.res.body).toContain('<title>Sign in – Acme</title>');
    expect(a.res.body).toContain('Sign in to continue to &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Co&#39;');
    expect(a.res.body).not.toContain('<script>alert');
    expect(a.res.headers['content-security-policy']).not.toBe(b.res.headers['content-security-policy']);
  });

  it('an unknown or expired interaction: 400, the page says to go back to the app', async () => {
    for (const [method, url] of [
      ['GET', '/oauth/interaction/no-such-uid'],
      ['POST', '/oauth/interaction/no-such-uid/login'],
      ['GET', '/oauth/interaction/no-such-uid/social?code=x'],
    ] as const) {
      const res = await new Browser(t.app).request(method, url, method === 'POST' ? { csrf: 'x', email: 'a@example.com', password: 'p' } : undefined);
      expect(res.statusCode, url).toBe(400);
      expectPageHeaders(res);
      expect(res.body).toContain('<h1>This sign-in request has expired</h1>');
      expect(res.body).toContain('Go back to the app and try again.');
    }
  });

  it('a form without its CSRF token, or with another interaction’s: 403, the error page, and no session made', async () => {
    const user = await createUser(t);
    const a = await signInPage();
    const b = await signInPage();
    for (const csrf of [undefined, b.csrf, `${a.csrf}x`]) {
      const form: Record<string, string> = { email: user.email, password: user.password };
      if (csrf !== undefined) form.csrf = csrf;
      const res = await a.browser.request('POST', `${a.action}/login`, form);
      expect(res.statusCode).toBe(403);
      expectPageHeaders(res);
      expect(res.body).toContain('<h1>This form has expired</h1>');
    }
    expect(await t.app.latchkey.store.listSessions(user.id, Date.now())).toHaveLength(0);
    // The interaction itself goes on: the right token signs in.
    const ok = await a.browser.request('POST', `${a.action}/login`, { csrf: a.csrf, email: user.email, password: user.password });
    expect(ok.statusCode).toBe(303);
    expect(await t.app.latchkey.store.listSessions(user.id, Date.now())).toHaveLength(1);
  });

  it('a wrong password: 400, the sign-in page again with the message tied to the fields and the email kept', async () => {
    const user = await createUser(t);
    const p = await signInPage();
    const res = await p.browser.request('POST', `${p.action}/login`, { csrf: p.csrf, email: user.email, password: 'wrong password here' });
    expect(res.statusCode).toBe(400);
    expectPageHeaders(res);
    expect(res.body).toContain('role="alert" aria-live="assertive">Wrong email or password.</div>');
    expect(res.body).toMatch(new RegExp(`<input id="email"[^>]* value="${user.email}" aria-invalid="true" aria-describedby="sign-in-error"`));
  });
});

describe('consent', () => {
  it('names the app (escaped), the scopes in words (a custom one by name), who is signed in; "Not you?" signs in another account', async () => {
    const first = await createUser(t);
    const second = await createUser(t);
    const p = await signInPage();
    let { res } = await p.browser.follow(await p.browser.request('POST', `${p.action}/login`, { csrf: p.csrf, email: first.email, password: first.password }));
    expect(res.statusCode).toBe(200);
    expectPageHeaders(res);
    expect(res.body).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Co&#39; wants to use your Acme account');
    expect(res.body).not.toContain('<script>alert');
    expect(res.body).toContain(`Signed in as <strong>${first.email}</strong>`);
    expect(res.body).toContain('<li>See your email address and whether it is verified</li>');
    expect(res.body).toContain('<li>Use “orders:read” on your behalf</li>');
    const notYou = /<a href="([^"]+)">Not you\?<\/a>/.exec(res.body)![1]!;
    // The consent step is an interaction of its own (oidc-provider starts one after the sign-in).
    expect(notYou).toBe(Browser.form(res.body, 'consent').action.replace(/\/consent$/, '?login=1'));
    const switchPage = await p.browser.request('GET', notYou);
    expect(switchPage.body).toContain('Sign in with the account you want to use.');
    const f = Browser.form(switchPage.body, 'login');
    ({ res } = await p.browser.follow(await p.browser.request('POST', f.action, { csrf: f.csrf, email: second.email, password: second.password })));
    // Another account than the provider session's: oidc-provider ends that session first, with its
    // self-submitting form (a button without JavaScript), then resumes the authorization.
    expect(res.body).toContain('<title>Submitting Callback</title>');
    const end = /<form method="post" action="([^"]+)">\s*<input type="hidden" name="xsrf" value="([^"]+)"/.exec(res.body)!;
    ({ res } = await p.browser.follow(await p.browser.request('POST', new URL(end[1]!).pathname, { xsrf: end[2]!, logout: 'yes' })));
    expect(res.body).toContain(`Signed in as <strong>${second.email}</strong>`);
    const consent = Browser.form(res.body, 'consent');
    const { location } = await p.browser.follow(await p.browser.request('POST', consent.action, { csrf: consent.csrf, decision: 'allow' }));
    const back = new URL(location!);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get('state')).toBe(p.state);
    expect(back.searchParams.get('code')).toBeTruthy();
  });
});

describe('the other ways in', () => {
  it('POST /token: a live session’s access token (what the passkey script posts) signs in; a bad or ended one does not', async () => {
    const user = await createUser(t);
    const p = await signInPage();
    const bad = await p.browser.request('POST', `${p.action}/token`, { csrf: p.csrf, access_token: 'not-a-token' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('The passkey sign-in did not complete. Try again.');
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.email, password: user.password } });
    const access = (login.json() as { access_token: string }).access_token;
    const ended = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(access) });
    expect(ended.statusCode).toBe(204);
    const afterLogout = await p.browser.request('POST', `${p.action}/token`, { csrf: p.csrf, access_token: access });
    expect(afterLogout.statusCode).toBe(400);
    const fresh = (
      (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.email, password: user.password } })).json() as { access_token: string }
    ).access_token;
    const { res } = await p.browser.follow(await p.browser.request('POST', `${p.action}/token`, { csrf: p.csrf, access_token: fresh }));
    expect(res.body).toContain(`Signed in as <strong>${user.email}</strong>`);
  });

  it('an email sign-in code: mailed, typed, then consent; a wrong code says so', async () => {
    const user = await createUser(t);
    const p = await signInPage();
    expect(p.res.body).toContain('Email me a sign-in code');
    const sent = await p.browser.request('POST', `${p.action}/email`, { csrf: p.csrf, email: user.email });
    expect(sent.statusCode).toBe(200);
    expectPageHeaders(sent);
    expect(sent.body).toContain('<h1>Check your email</h1>');
    const mail = await waitFor('the sign-in mail', () => smtp.received.find((m) => m.envelopeTo.includes(user.email) && /^Sign in to /.test(m.parsed.subject ?? '')));
    const code = /Or enter this code[^\n]*:\s*(\d{6})/.exec(mail.parsed.text ?? '')![1]!;
    const verify = Browser.form(sent.body, 'email/verify');
    const wrong = await p.browser.request('POST', verify.action, { csrf: verify.csrf, email: user.email, code: code === '000000' ? '111111' : '000000' });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.body).toContain('That code is wrong or has expired. Ask for a new one.');
    const { res } = await p.browser.follow(await p.browser.request('POST', verify.action, { csrf: verify.csrf, email: user.email, code }));
    expect(res.body).toContain(`Signed in as <strong>${user.email}</strong>`);
  });
});

describe('oidc-provider’s own pages', () => {
  it('an unregistered redirect_uri: 400, the branded error page with the security headers, and no redirect', async () => {
    const { url } = authorizeUrl({ redirect_uri: 'https://evil.example/cb' });
    const res = await new Browser(t.app).request('GET', url);
    expect(res.statusCode).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expectPageHeaders(res);
    expect(res.body).toContain('<h1>This app’s sign-in link is not valid</h1>');
    expect(res.body).toContain('<span>Acme</span>');
    expect(res.body).not.toContain('evil.example');
    expect(res.body).not.toMatch(/at \w+ \(|node_modules/);
  });

  it('RP-initiated logout: the confirmation page, then the signed-out page, both branded with the headers', async () => {
    const user = await createUser(t);
    const browser = new Browser(t.app);
    await browser.authorize(authorizeUrl().url, user);
    const confirm = await browser.request('GET', `/oauth/logout?client_id=${clientId}`);
    expect(confirm.statusCode).toBe(200);
    expectPageHeaders(confirm);
    expect(confirm.body).toContain('<h1>Sign out of Acme?</h1>');
    const action = /<form id="op.logoutForm" method="post" action="([^"]+)"/.exec(confirm.body)![1]!;
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.body)![1]!;
    const { res } = await browser.follow(await browser.request('POST', new URL(action, ISSUER).pathname, { xsrf, logout: 'yes' }));
    expect(res.statusCode).toBe(200);
    expectPageHeaders(res);
    expect(res.body).toContain('<h1>You are signed out</h1>');
  });
});

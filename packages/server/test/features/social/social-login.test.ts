/**
 * Social sign-in end to end against a real OpenID provider (oidc-provider on 127.0.0.1, its own
 * keys, its login and consent pages, driven with plain requests and cookies), a GitHub-shaped stub
 * and a hostile OpenID stub; Latchkey through app.inject, on the suite's database (both, see
 * vitest.config.ts). Every refusal the issue lists has its case here.
 */
import { simpleParser } from 'mailparser';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { tokenFromText } from '../../support/email.js';
import { codeAt, enrolTotp, payloadOf } from '../../support/factors.js';
import {
  LATCHKEY,
  pkcePair,
  SocialBrowser,
  startGitHubStub,
  startHostileProvider,
  startOidcProvider,
  type Spoil,
  type TestAccount,
} from '../../support/social.js';

const APP = 'https://app.example';
const DONE = `${APP}/auth/done`;
const CLIENT_ID = 'latchkey-test';
const CLIENT_SECRET = 'op-client-secret-value';

const accounts = new Map<string, TestAccount>();
let op: Awaited<ReturnType<typeof startOidcProvider>>;
let github: Awaited<ReturnType<typeof startGitHubStub>>;
let hostile: Awaited<ReturnType<typeof startHostileProvider>>;
let t: TestApp;
let n = 0;

function fresh(prefix: string): string {
  return `${prefix}-${++n}-${Math.random().toString(36).slice(2, 8)}`;
}

beforeAll(async () => {
  op = await startOidcProvider({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: [`${LATCHKEY}/auth/oauth/acme/callback`],
    accounts,
  });
  github = await startGitHubStub({ clientId: 'gh-client', clientSecret: 'gh-secret' });
  hostile = await startHostileProvider({ clientId: CLIENT_ID, email: 'hostile@example.com' });
  t = await createTestApp({
    APP_URL: APP,
    SOCIAL_PROVIDERS: 'acme,github,hostile,down',
    SOCIAL_ACME_ISSUER: op.issuer,
    SOCIAL_ACME_CLIENT_ID: CLIENT_ID,
    SOCIAL_ACME_CLIENT_SECRET: CLIENT_SECRET,
    SOCIAL_ACME_NAME: 'Acme ID',
    SOCIAL_GITHUB_CLIENT_ID: 'gh-client',
    SOCIAL_GITHUB_CLIENT_SECRET: 'gh-secret',
    SOCIAL_GITHUB_AUTHORIZE_URL: `${github.url}/login/oauth/authorize`,
    SOCIAL_GITHUB_TOKEN_URL: `${github.url}/login/oauth/access_token`,
    SOCIAL_GITHUB_API_URL: github.url,
    SOCIAL_HOSTILE_ISSUER: hostile.issuer,
    SOCIAL_HOSTILE_CLIENT_ID: CLIENT_ID,
    SOCIAL_HOSTILE_CLIENT_SECRET: 'hostile-secret',
    // Nobody listens there: discovery fails.
    SOCIAL_DOWN_ISSUER: 'http://127.0.0.1:9',
    SOCIAL_DOWN_CLIENT_ID: 'x',
    SOCIAL_DOWN_CLIENT_SECRET: 'y',
  });
});

afterAll(async () => {
  await t?.close();
  await op?.close();
  await github?.close();
  await hostile?.close();
});

const isApp = (url: string) => url.startsWith(`${APP}/`);

function startUrl(provider: string, query: Record<string, string>): string {
  return `${LATCHKEY}/auth/oauth/${provider}/start?${new URLSearchParams(query).toString()}`;
}

/** Signs in at the real provider as `login` (its login page, then its consent page); the URL the browser lands on at the app. */
async function throughOp(browser: SocialBrowser, start: string, login: string): Promise<URL> {
  let at = await browser.follow(start, isApp);
  for (let i = 0; i < 3 && at.hop !== null; i++) {
    expect(at.hop.status, at.hop.body.slice(0, 300)).toBe(200);
    expect(at.url).toContain('/interaction/');
    const prompt: Record<string, string> = at.hop.body.includes('name="login"') ? { prompt: 'login', login, password: 'any' } : { prompt: 'consent' };
    at = await browser.follow(at.url, isApp, { form: prompt });
  }
  expect(at.hop).toBeNull();
  return new URL(at.url);
}

async function opSignIn(login: string, account: TestAccount, options: { browser?: SocialBrowser; challenge?: string } = {}) {
  accounts.set(login, account);
  const browser = options.browser ?? new SocialBrowser(t.app);
  const query: Record<string, string> = { redirect_to: DONE };
  if (options.challenge) query.code_challenge = options.challenge;
  return { browser, landed: await throughOp(browser, startUrl('acme', query), login) };
}

function exchange(code: string, verifier?: string, headers: Record<string, string> = {}) {
  return t.app.inject({ method: 'POST', url: '/auth/oauth/exchange', headers, payload: verifier === undefined ? { code } : { code, code_verifier: verifier } });
}

/** A full sign-in at the real provider with PKCE toward the app; the exchange's response. */
async function signInWithOp(login: string, account: TestAccount) {
  const pkce = pkcePair();
  const { landed } = await opSignIn(login, account, { challenge: pkce.challenge });
  expect(landed.searchParams.get('error'), landed.searchParams.get('error_description') ?? '').toBeNull();
  const code = landed.searchParams.get('code')!;
  return { res: await exchange(code, pkce.verifier), code, pkce };
}

async function outboxTo(address: string) {
  await t.app.latchkey.mail.idle();
  const dir = join(t.dir, 'outbox');
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.eml'));
  } catch {
    return [];
  }
  const mails = await Promise.all(names.map((f) => simpleParser(readFileSync(join(dir, f)))));
  return mails.filter((m) => !Array.isArray(m.to) && m.to?.value[0]?.address === address);
}

describe('providers and start', () => {
  it('lists the configured providers by id and display name', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/auth/oauth/providers' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      providers: [
        { id: 'acme', name: 'Acme ID' },
        { id: 'github', name: 'GitHub' },
        { id: 'hostile', name: 'hostile' },
        { id: 'down', name: 'down' },
      ],
    });
  });

  it('start redirects to the provider with state, nonce and PKCE S256, and sets an HttpOnly, SameSite=Lax cookie scoped to /auth/oauth', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/auth/oauth/hostile/start?redirect_to=${encodeURIComponent(DONE)}` });
    expect(res.statusCode, res.body).toBe(302);
    const to = new URL(res.headers.location as string);
    expect(to.origin + to.pathname).toBe(`${hostile.issuer}/authorize`);
    expect(to.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(to.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(to.searchParams.get('code_challenge_method')).toBe('S256');
    expect(to.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(to.searchParams.get('redirect_uri')).toBe(`${LATCHKEY}/auth/oauth/hostile/callback`);
    expect(to.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(res.headers.location).not.toContain('hostile-secret');
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^lk_oauth=[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\/auth\/oauth(;|$)/);
  });

  it('an unknown provider is 404 problem+json', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/auth/oauth/nope/start?redirect_to=${encodeURIComponent(DONE)}` });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json().code).toBe('NOT_FOUND');
  });

  it.each([
    'https://evil.example/auth/done',
    'https://app.example.evil.example/',
    'https://app.example@evil.example/',
    'http://app.example/auth/done', // another scheme is another origin
    'https://app.example:8443/auth/done',
    'javascript:alert(1)',
    '//evil.example/',
    'https://app.example/auth/done#fragment',
  ])('redirect_to outside the allow-list (%s) is 400 REDIRECT_NOT_ALLOWED, with no redirect', async (redirect) => {
    const res = await t.app.inject({ method: 'GET', url: `/auth/oauth/acme/start?redirect_to=${encodeURIComponent(redirect)}` });
    expect(res.statusCode).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.json().code).toBe('REDIRECT_NOT_ALLOWED');
  });

  it('a provider that cannot be reached answers 503 PROVIDER_UNAVAILABLE problem+json (start-up was not stopped by it)', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/auth/oauth/down/start?redirect_to=${encodeURIComponent(DONE)}` });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json().code).toBe('PROVIDER_UNAVAILABLE');
  });
});

describe('sign-in at a real OpenID provider', () => {
  it('a new user signs in: created with the verified email, no password, tokens with amr ["fed"]; the same identity signs in again', async () => {
    const email = `${fresh('new')}@example.com`;
    const login = fresh('op');
    const { res } = await signInWithOp(login, { email, email_verified: true, name: 'Ada Lovelace' });
    expect(res.statusCode, res.body).toBe(200);
    const tokens = res.json() as { access_token: string; refresh_token: string };
    expect(tokens.refresh_token).toBeTruthy();
    expect(payloadOf(tokens.access_token).amr).toEqual(['fed']);
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(tokens.access_token) });
    expect(me.json().user).toMatchObject({ email, name: 'Ada Lovelace', email_verified: true, roles: [] });
    const ids = await t.app.inject({ method: 'GET', url: '/auth/identities', headers: bearer(tokens.access_token) });
    expect(ids.statusCode).toBe(200);
    expect(ids.json()).toEqual({
      has_password: false,
      identities: [
        {
          id: expect.any(String),
          provider: 'acme',
          provider_name: 'Acme ID',
          email,
          email_verified: true,
          created_at: expect.any(String),
          last_used_at: expect.any(String),
        },
      ],
    });
    const again = await signInWithOp(login, { email, email_verified: true });
    expect(again.res.statusCode).toBe(200);
    expect(payloadOf(again.res.json().access_token).sub).toBe(me.json().user.id);
  });

  it('cookie mode: the exchange sets the refresh cookie and answers the access token only', async () => {
    const pkce = pkcePair();
    const { landed } = await opSignIn(fresh('op'), { email: `${fresh('ck')}@example.com`, email_verified: true }, { challenge: pkce.challenge });
    const res = await exchange(landed.searchParams.get('code')!, pkce.verifier, { 'x-auth-mode': 'cookie' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().refresh_token).toBeUndefined();
    expect(String(res.headers['set-cookie'])).toContain('lk_refresh=');
  });

  it('an account with a second factor gets mfa_required from the exchange, not tokens', async () => {
    const email = `${fresh('mfa')}@example.com`;
    const login = fresh('op');
    const first = await signInWithOp(login, { email, email_verified: true });
    const { secret } = await enrolTotp(t.app, first.res.json().access_token);
    const second = await signInWithOp(login, { email, email_verified: true });
    expect(second.res.statusCode).toBe(200);
    expect(second.res.json()).toMatchObject({ mfa_required: true, mfa_token: expect.any(String), factors: ['totp', 'recovery_code'] });
    expect(second.res.json().access_token).toBeUndefined();
    const verified = await t.app.inject({
      method: 'POST',
      url: '/auth/mfa/verify',
      payload: { mfa_token: second.res.json().mfa_token, code: codeAt(t.app, secret, 1) },
    });
    expect(verified.statusCode, verified.body).toBe(200);
    expect(payloadOf(verified.json().access_token).amr).toEqual(['fed', 'otp', 'mfa']);
  });

  it('the exchange code is single use: a second exchange is 400 INVALID_EXCHANGE_CODE', async () => {
    const { res, code, pkce } = await signInWithOp(fresh('op'), { email: `${fresh('reuse')}@example.com`, email_verified: true });
    expect(res.statusCode).toBe(200);
    const again = await exchange(code, pkce.verifier);
    expect(again.statusCode).toBe(400);
    expect(again.json().code).toBe('INVALID_EXCHANGE_CODE');
  });

  it('a code_verifier that does not match (or none, when a challenge was sent) is refused, and the code is spent', async () => {
    const pkce = pkcePair();
    const { landed } = await opSignIn(fresh('op'), { email: `${fresh('pkce')}@example.com`, email_verified: true }, { challenge: pkce.challenge });
    const code = landed.searchParams.get('code')!;
    const wrong = await exchange(code, pkcePair().verifier);
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().code).toBe('INVALID_EXCHANGE_CODE');
    expect((await exchange(code, pkce.verifier)).statusCode).toBe(400);

    const other = await opSignIn(fresh('op'), { email: `${fresh('pkce')}@example.com`, email_verified: true }, { challenge: pkce.challenge });
    const none = await exchange(other.landed.searchParams.get('code')!);
    expect(none.statusCode).toBe(400);
    expect(none.json().code).toBe('INVALID_EXCHANGE_CODE');
  });

  it('an exchange code past its 2 minutes is 400 INVALID_EXCHANGE_CODE', async () => {
    const clocked = await createTestApp(
      {
        APP_URL: APP,
        SOCIAL_PROVIDERS: 'acme',
        SOCIAL_ACME_ISSUER: op.issuer,
        SOCIAL_ACME_CLIENT_ID: CLIENT_ID,
        SOCIAL_ACME_CLIENT_SECRET: CLIENT_SECRET,
      },
      { clock: true },
    );
    try {
      clocked.clock!.set(Date.now());
      const login = fresh('op');
      accounts.set(login, { email: `${fresh('late')}@example.com`, email_verified: true });
      const landed = await throughOp(new SocialBrowser(clocked.app), startUrl('acme', { redirect_to: DONE }), login);
      clocked.clock!.advance(2 * 60_000 + 1);
      const res = await clocked.app.inject({ method: 'POST', url: '/auth/oauth/exchange', payload: { code: landed.searchParams.get('code') } });
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('INVALID_EXCHANGE_CODE');
    } finally {
      await clocked.close();
    }
  });
});

describe('the state: single use, bound to the browser that started the sign-in', () => {
  /** Starts at the real provider and stops at Latchkey's callback, not requested yet. */
  async function atCallback(browser: SocialBrowser, login: string): Promise<string> {
    accounts.set(login, { email: `${login}@example.com`, email_verified: true });
    const isCallback = (url: string) => url.startsWith(`${LATCHKEY}/auth/oauth/acme/callback`);
    let at = await browser.follow(startUrl('acme', { redirect_to: DONE }), isCallback);
    for (let i = 0; i < 3 && at.hop !== null; i++) {
      const prompt: Record<string, string> = at.hop.body.includes('name="login"') ? { prompt: 'login', login, password: 'any' } : { prompt: 'consent' };
      at = await browser.follow(at.url, isCallback, { form: prompt });
    }
    expect(at.hop).toBeNull();
    return at.url;
  }

  it('the callback with its own browser signs in; replayed, it is 400 INVALID_OAUTH_STATE with no redirect', async () => {
    const browser = new SocialBrowser(t.app);
    const callback = await atCallback(browser, fresh('op'));
    const first = await browser.request(callback);
    expect(first.status).toBe(302);
    expect(new URL(first.location!).searchParams.get('code')).toBeTruthy();
    const replay = await browser.request(callback);
    expect(replay.status).toBe(400);
    expect(replay.location).toBeNull();
    expect(replay.contentType).toContain('application/problem+json');
    expect(JSON.parse(replay.body).code).toBe('INVALID_OAUTH_STATE');
  });

  it('from another browser (no cookie, or another cookie) it is 400 INVALID_OAUTH_STATE, and the state is spent for the right browser too', async () => {
    const browser = new SocialBrowser(t.app);
    const callback = await atCallback(browser, fresh('op'));
    const stranger = new SocialBrowser(t.app);
    const noCookie = await stranger.request(callback);
    expect(noCookie.status).toBe(400);
    expect(JSON.parse(noCookie.body).code).toBe('INVALID_OAUTH_STATE');

    const other = await atCallback(browser, fresh('op'));
    const withOther = new SocialBrowser(t.app);
    withOther.setCookie(LATCHKEY, 'lk_oauth', pkcePair().verifier);
    const res = await withOther.request(other);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).code).toBe('INVALID_OAUTH_STATE');
    // The attempt burnt it: the browser that started it cannot finish either.
    expect((await browser.request(other)).status).toBe(400);
  });

  it('a state that was never issued (or none) is 400 INVALID_OAUTH_STATE', async () => {
    const browser = new SocialBrowser(t.app);
    await browser.request(startUrl('acme', { redirect_to: DONE }));
    for (const query of ['?code=x&state=never-issued', '?code=x', '']) {
      const res = await browser.request(`${LATCHKEY}/auth/oauth/acme/callback${query}`);
      expect(res.status, query).toBe(400);
      expect(JSON.parse(res.body).code).toBe('INVALID_OAUTH_STATE');
    }
  });

  it('a state issued for one provider is refused at another provider’s callback', async () => {
    const browser = new SocialBrowser(t.app);
    const start = await browser.request(startUrl('hostile', { redirect_to: DONE }));
    const state = new URL(start.location!).searchParams.get('state')!;
    const res = await browser.request(`${LATCHKEY}/auth/oauth/acme/callback?code=x&state=${state}`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).code).toBe('INVALID_OAUTH_STATE');
  });

  it('the provider’s error (the person cancelled) goes back to redirect_to as error=PROVIDER_ERROR', async () => {
    const browser = new SocialBrowser(t.app);
    const start = await browser.request(startUrl('hostile', { redirect_to: DONE }));
    const state = new URL(start.location!).searchParams.get('state')!;
    const res = await browser.request(`${LATCHKEY}/auth/oauth/hostile/callback?error=access_denied&state=${state}`);
    expect(res.status).toBe(302);
    const back = new URL(res.location!);
    expect(back.origin + back.pathname).toBe(DONE);
    expect(back.searchParams.get('error')).toBe('PROVIDER_ERROR');
    expect(back.searchParams.get('code')).toBeNull();
  });
});

describe('linking rule', () => {
  async function passwordUser(verified: boolean) {
    const u = await registerAndLogin(t.app, `${fresh('pw')}@example.com`);
    if (verified) await t.app.latchkey.store.updateUser(u.userId, { emailVerified: true }, Date.now());
    return u;
  }

  it('a provider email the provider did not verify is not linked to the account that has it: ACCOUNT_EXISTS_LINK_REQUIRED', async () => {
    const u = await passwordUser(true);
    const { landed } = await opSignIn(fresh('op'), { email: u.email, email_verified: false });
    expect(landed.searchParams.get('error')).toBe('ACCOUNT_EXISTS_LINK_REQUIRED');
    expect(landed.searchParams.get('code')).toBeNull();
    expect(await t.app.latchkey.store.listIdentities(u.userId)).toEqual([]);
  });

  it('a verified provider email is linked only once the account’s own email is verified; the owner is mailed', async () => {
    const u = await passwordUser(false);
    const login = fresh('op');
    const refused = await opSignIn(login, { email: u.email, email_verified: true });
    expect(refused.landed.searchParams.get('error')).toBe('ACCOUNT_EXISTS_LINK_REQUIRED');
    expect(await t.app.latchkey.store.listIdentities(u.userId)).toEqual([]);

    await t.app.latchkey.store.updateUser(u.userId, { emailVerified: true }, Date.now());
    const { res } = await signInWithOp(login, { email: u.email, email_verified: true });
    expect(res.statusCode).toBe(200);
    expect(payloadOf(res.json().access_token).sub).toBe(u.userId);
    expect(await t.app.latchkey.store.listIdentities(u.userId)).toHaveLength(1);
    const mails = await outboxTo(u.email);
    expect(mails.map((m) => m.subject)).toContain('Acme ID was linked to your Latchkey account');
    const events = await t.app.inject({ method: 'GET', url: '/auth/events', headers: bearer(res.json().access_token) });
    expect((events.json().events as Array<{ type: string }>).map((e) => e.type)).toEqual(expect.arrayContaining(['identity_linked', 'social_login']));
  });

  it('a new user whose provider email is not verified is refused: EMAIL_NOT_VERIFIED_BY_PROVIDER, no account made', async () => {
    const email = `${fresh('unverified')}@example.com`;
    const { landed } = await opSignIn(fresh('op'), { email, email_verified: false });
    expect(landed.searchParams.get('error')).toBe('EMAIL_NOT_VERIFIED_BY_PROVIDER');
    expect(await t.app.latchkey.store.findUserByEmail(email)).toBeNull();
  });

  it('linking while signed in: the link URL, the provider, then the exchange answers {linked, identity}', async () => {
    const u = await passwordUser(false);
    const pkce = pkcePair();
    const asked = await t.app.inject({
      method: 'POST',
      url: '/auth/identities/acme/link',
      headers: bearer(u.access),
      payload: { redirect_to: DONE, code_challenge: pkce.challenge },
    });
    expect(asked.statusCode, asked.body).toBe(200);
    const url: string = asked.json().url;
    expect(url.startsWith(`${LATCHKEY}/auth/oauth/acme/start?`)).toBe(true);
    // The provider's address need not be the account's, nor verified: the user proved both sides.
    const login = fresh('op-link');
    accounts.set(login, { email: `${login}@elsewhere.example`, email_verified: false });
    const landed = await throughOp(new SocialBrowser(t.app), url, login);
    expect(landed.searchParams.get('error')).toBeNull();
    const res = await exchange(landed.searchParams.get('code')!, pkce.verifier);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ linked: true, identity: expect.objectContaining({ provider: 'acme', provider_name: 'Acme ID' }) });
    expect(await t.app.latchkey.store.listIdentities(u.userId)).toHaveLength(1);
    // The ticket was single use.
    const again = await new SocialBrowser(t.app).request(url);
    expect(again.status).toBe(400);
    expect(JSON.parse(again.body).code).toBe('INVALID_OAUTH_STATE');
  });

  it('an identity linked to another user cannot be linked again: IDENTITY_ALREADY_LINKED', async () => {
    const login = fresh('op');
    const owner = await signInWithOp(login, { email: `${fresh('owner')}@example.com`, email_verified: true });
    expect(owner.res.statusCode).toBe(200);
    const other = await passwordUser(true);
    const asked = await t.app.inject({ method: 'POST', url: '/auth/identities/acme/link', headers: bearer(other.access), payload: { redirect_to: DONE } });
    const landed = await throughOp(new SocialBrowser(t.app), asked.json().url, login);
    expect(landed.searchParams.get('error')).toBe('IDENTITY_ALREADY_LINKED');
    expect(await t.app.latchkey.store.listIdentities(other.userId)).toEqual([]);
  });

  it('link asks for an allowed redirect_to and a configured provider', async () => {
    const u = await passwordUser(false);
    const bad = await t.app.inject({ method: 'POST', url: '/auth/identities/acme/link', headers: bearer(u.access), payload: { redirect_to: 'https://evil.example/' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('REDIRECT_NOT_ALLOWED');
    const unknown = await t.app.inject({ method: 'POST', url: '/auth/identities/nope/link', headers: bearer(u.access), payload: { redirect_to: DONE } });
    expect(unknown.statusCode).toBe(404);
    const anonymous = await t.app.inject({ method: 'POST', url: '/auth/identities/acme/link', payload: { redirect_to: DONE } });
    expect(anonymous.statusCode).toBe(401);
  });
});

describe('unlinking, passwords, admin', () => {
  it('the last way in cannot be unlinked (409 LAST_SIGN_IN_METHOD); with a second identity it can', async () => {
    const email = `${fresh('last')}@example.com`;
    const { res } = await signInWithOp(fresh('op'), { email, email_verified: true });
    const access = res.json().access_token as string;
    const [only] = (await t.app.inject({ method: 'GET', url: '/auth/identities', headers: bearer(access) })).json().identities as Array<{ id: string }>;
    const refused = await t.app.inject({ method: 'DELETE', url: `/auth/identities/${only!.id}`, headers: bearer(access) });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('LAST_SIGN_IN_METHOD');

    const pkce = pkcePair();
    const asked = await t.app.inject({ method: 'POST', url: '/auth/identities/github/link', headers: bearer(access), payload: { redirect_to: DONE, code_challenge: pkce.challenge } });
    github.signInAs({ id: 900_000 + n++, login: 'octo', name: 'Octo', emails: [{ email: 'octo@example.com', primary: true, verified: true }] });
    const landed = new URL((await new SocialBrowser(t.app).follow(asked.json().url, isApp)).url);
    expect((await exchange(landed.searchParams.get('code')!, pkce.verifier)).json().linked).toBe(true);

    const removed = await t.app.inject({ method: 'DELETE', url: `/auth/identities/${only!.id}`, headers: bearer(access) });
    expect(removed.statusCode).toBe(204);
    const gone = await t.app.inject({ method: 'DELETE', url: `/auth/identities/${only!.id}`, headers: bearer(access) });
    expect(gone.statusCode).toBe(404);
    expect(gone.json().code).toBe('IDENTITY_NOT_FOUND');
  });

  it('change-password for an account without a password is 409 PASSWORD_NOT_SET (the reset flow sets one)', async () => {
    const { res } = await signInWithOp(fresh('op'), { email: `${fresh('nopw')}@example.com`, email_verified: true });
    const changed = await t.app.inject({
      method: 'POST',
      url: '/auth/change-password',
      headers: bearer(res.json().access_token),
      payload: { current_password: 'anything at all', new_password: 'a brand new passphrase' },
    });
    expect(changed.statusCode).toBe(409);
    expect(changed.json().code).toBe('PASSWORD_NOT_SET');
  });

  it('an account without a password is no invitation (invite_pending false; inviting its address is EMAIL_TAKEN); the reset flow gives it one', async () => {
    const admin = await registerAndLogin(t.app, `${fresh('admin')}@example.com`);
    await t.app.latchkey.store.updateUser(admin.userId, { roles: ['admin'] }, Date.now());
    const email = `${fresh('reset')}@example.com`;
    const { res } = await signInWithOp(fresh('op'), { email, email_verified: true });
    const listed = await t.app.inject({ method: 'GET', url: `/admin/users?search=${encodeURIComponent(email)}`, headers: bearer(admin.access) });
    expect(listed.json().users).toEqual([expect.objectContaining({ email, invite_pending: false })]);
    const invited = await t.app.inject({ method: 'POST', url: '/admin/users/invite', headers: bearer(admin.access), payload: { email } });
    expect(invited.statusCode).toBe(409);
    expect(invited.json().code).toBe('EMAIL_TAKEN');

    expect((await t.app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { email } })).statusCode).toBe(202);
    // The forgot-password job runs in the background; outboxTo waits for the mail to be written.
    const mails = await outboxTo(email);
    expect(mails.map((m) => m.subject)).toEqual(['Reset your Latchkey password']);
    const { token } = tokenFromText(mails[0]!.text ?? '', 'reset-password');
    const reset = await t.app.inject({ method: 'POST', url: '/auth/password/reset', payload: { token, new_password: 'a chosen passphrase here' } });
    expect(reset.statusCode, reset.body).toBe(204);
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'a chosen passphrase here' } });
    expect(login.statusCode).toBe(200);
    const ids = await t.app.inject({ method: 'GET', url: '/auth/identities', headers: bearer(login.json().access_token) });
    expect(ids.json().has_password).toBe(true);
    expect(payloadOf(res.json().access_token).sub).toBe(payloadOf(login.json().access_token).sub);
  });

  it('an admin lists a user’s identities and unlinks one, even the last', async () => {
    const admin = await registerAndLogin(t.app, `${fresh('admin')}@example.com`);
    await t.app.latchkey.store.updateUser(admin.userId, { roles: ['admin'] }, Date.now());
    const { res } = await signInWithOp(fresh('op'), { email: `${fresh('adm')}@example.com`, email_verified: true });
    const userId = payloadOf(res.json().access_token).sub as string;
    const listed = await t.app.inject({ method: 'GET', url: `/admin/users/${userId}/identities`, headers: bearer(admin.access) });
    expect(listed.statusCode, listed.body).toBe(200);
    const [identity] = listed.json().identities as Array<{ id: string }>;
    expect(listed.json().has_password).toBe(false);
    const removed = await t.app.inject({ method: 'DELETE', url: `/admin/users/${userId}/identities/${identity!.id}`, headers: bearer(admin.access) });
    expect(removed.statusCode).toBe(204);
    expect(await t.app.latchkey.store.listIdentities(userId)).toEqual([]);
    const notAdmin = await t.app.inject({ method: 'GET', url: `/admin/users/${userId}/identities`, headers: bearer(res.json().access_token) });
    expect(notAdmin.statusCode).toBe(403);
  });
});

describe('GitHub', () => {
  it('signs a new user in with the primary verified email from /user/emails', async () => {
    const id = 100_000 + n++;
    const email = `${fresh('gh')}@example.com`;
    github.signInAs({ id, login: 'ghuser', name: 'GH User', emails: [{ email: 'old@example.com', primary: false, verified: true }, { email, primary: true, verified: true }] });
    const pkce = pkcePair();
    const landed = new URL((await new SocialBrowser(t.app).follow(startUrl('github', { redirect_to: DONE, code_challenge: pkce.challenge }), isApp)).url);
    const res = await exchange(landed.searchParams.get('code')!, pkce.verifier);
    expect(res.statusCode, res.body).toBe(200);
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(res.json().access_token) });
    expect(me.json().user).toMatchObject({ email, name: 'GH User', email_verified: true });
    const identities = await t.app.latchkey.store.listIdentities(me.json().user.id);
    expect(identities.map((i) => [i.provider, i.subject])).toEqual([['github', String(id)]]);
  });

  it('a primary email GitHub has not verified makes no account: EMAIL_NOT_VERIFIED_BY_PROVIDER', async () => {
    const email = `${fresh('ghu')}@example.com`;
    github.signInAs({ id: 200_000 + n++, login: 'ghu', name: null, emails: [{ email, primary: true, verified: false }] });
    const landed = new URL((await new SocialBrowser(t.app).follow(startUrl('github', { redirect_to: DONE }), isApp)).url);
    expect(landed.searchParams.get('error')).toBe('EMAIL_NOT_VERIFIED_BY_PROVIDER');
    expect(await t.app.latchkey.store.findUserByEmail(email)).toBeNull();
  });
});

describe('a hostile provider: every spoilt ID token is refused', () => {
  async function hostileCallback(spoil: Spoil, sub = fresh('h')) {
    const browser = new SocialBrowser(t.app);
    const start = await browser.request(startUrl('hostile', { redirect_to: DONE }));
    expect(start.status, start.body).toBe(302);
    const to = new URL(start.location!);
    const state = to.searchParams.get('state')!;
    const nonce = to.searchParams.get('nonce')!;
    const res = await browser.request(`${LATCHKEY}/auth/oauth/hostile/callback?code=${spoil}.${nonce}.${sub}&state=${state}`);
    expect(res.status, res.body).toBe(302);
    return new URL(res.location!);
  }

  it('an unspoilt token from the stub is accepted (so the refusals below are the spoiling’s)', async () => {
    const back = await hostileCallback('none');
    expect(back.searchParams.get('error'), back.searchParams.get('error_description') ?? '').toBeNull();
    expect(back.searchParams.get('code')).toBeTruthy();
  });

  it.each<Spoil>(['foreign_key', 'wrong_aud', 'expired', 'wrong_nonce', 'wrong_iss'])('%s: error=INVALID_ID_TOKEN, no code', async (spoil) => {
    const back = await hostileCallback(spoil);
    expect(back.origin + back.pathname).toBe(DONE);
    expect(back.searchParams.get('error')).toBe('INVALID_ID_TOKEN');
    expect(back.searchParams.get('code')).toBeNull();
  });

  it('a provider that goes down between start and callback: error=PROVIDER_UNAVAILABLE in the redirect, never a 500', async () => {
    const browser = new SocialBrowser(t.app);
    const start = await browser.request(startUrl('hostile', { redirect_to: DONE }));
    const to = new URL(start.location!);
    hostile.setReachable(false);
    try {
      const res = await browser.request(`${LATCHKEY}/auth/oauth/hostile/callback?code=none.${to.searchParams.get('nonce')}.x&state=${to.searchParams.get('state')}`);
      expect(res.status).toBe(302);
      expect(new URL(res.location!).searchParams.get('error')).toBe('PROVIDER_UNAVAILABLE');
    } finally {
      hostile.setReachable(true);
    }
  });
});

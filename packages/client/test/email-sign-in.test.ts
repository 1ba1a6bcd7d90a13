import type { AddressInfo } from 'node:net';
import { Secret, TOTP } from 'otpauth';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jwtClaims, startSmtp, waitFor, type TestSmtp } from '../../server/test/support/email.js';
import { createTestApp, type TestApp } from '../../server/test/support/helpers.js';
import { createClient, type ClientOptions, type LatchkeyClient } from '../src/index.js';
import { cookieJarBrowser, type CookieJarBrowser } from './cookie-jar.js';
import { newChannel, newEmail, PASSWORD, recordEvents, rejection, waitForState } from './support.js';

// Email sign-in through the SDK (requestEmailSignIn, verifyEmailSignIn) against a real Latchkey
// that sends real mail over SMTP to an smtp-server on 127.0.0.1: the link's token and the code
// are read from the message that arrived, as a user would. Cookie-jar "browsers" with several
// clients on one channel play the tabs, as in client.test.ts.

let server: TestApp;
let smtp: TestSmtp;
let baseUrl: string;
const open: LatchkeyClient[] = [];

beforeAll(async () => {
  smtp = await startSmtp();
  server = await createTestApp(
    { COOKIE_SECURE: 'false', REFRESH_GRACE: '0', LOG_LEVEL: 'silent', SMTP_URL: smtp.url, APP_URL: 'https://app.example.test' },
    { clock: true },
  );
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await server.close();
  await smtp.close();
});

afterEach(() => {
  for (const client of open.splice(0)) client.close();
});

function tab(browser: CookieJarBrowser, channel: string, extra: Partial<ClientOptions> = {}): LatchkeyClient {
  const client = createClient({ baseUrl, fetch: browser.fetch, readCookie: browser.readCookie, channelName: channel, ...extra });
  open.push(client);
  return client;
}

/** A registered account (through the server), not signed in anywhere. */
async function account(): Promise<string> {
  const email = newEmail();
  const response = await server.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } });
  expect(response.statusCode).toBe(201);
  return email;
}

/** The link's token and the code of the `nth` sign-in mail (1-based) that reached `email`. */
async function signInMail(email: string, nth = 1): Promise<{ token: string; code: string }> {
  const mail = await waitFor(`sign-in mail ${nth} to ${email}`, () => {
    const withLink = smtp.received.filter((m) => m.envelopeTo.includes(email) && (m.parsed.text ?? '').includes('/email-sign-in?token='));
    return withLink[nth - 1];
  });
  const text = mail.parsed.text ?? '';
  const token = /\/email-sign-in\?token=([A-Za-z0-9_-]+)/.exec(text)![1]!;
  // The code: the one run of exactly six digits outside the link.
  const code = /(?<![\d\w=-])(\d{6})(?!\d)/.exec(text.replace(/https?:\/\/\S+/g, ''))![1]!;
  return { token, code };
}

describe('email sign-in', () => {
  it('by the link: signs in in cookie mode, every tab follows without a refresh of its own; the link and its code then work no more', async () => {
    const email = await account();
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const a = tab(browser, channel);
    const b = tab(browser, channel);
    await a.restore();
    await b.restore();
    const bEvents = recordEvents(b);

    await a.requestEmailSignIn({ email });
    expect(a.getState().status).toBe('anonymous');
    const { token, code } = await signInMail(email);

    const bSignedIn = waitForState(b, (s) => s.status === 'authenticated');
    const result = await a.verifyEmailSignIn({ token });
    expect(result).toMatchObject({ status: 'signed_in', user: { email, email_verified: true } });
    expect(a.getState()).toMatchObject({ status: 'authenticated', user: { email } });
    // Cookie mode: the refresh token went into the HttpOnly cookie, never into a script's reach.
    expect(browser.cookie('lk_refresh')?.httpOnly).toBe(true);
    const access = (await a.getAccessToken())!;
    expect(jwtClaims(access).amr).toEqual(['email']);
    await bSignedIn;
    expect(await b.getAccessToken()).toBe(access); // adopted from the broadcast
    expect(browser.count('POST', '/auth/refresh')).toBe(0);
    expect(bEvents).toContain('signed_in');

    // Single use: the link again, and the code of the same mail, are refused alike.
    expect(await rejection(a.verifyEmailSignIn({ token }))).toMatchObject({ code: 'INVALID_SIGN_IN_CODE', status: 400 });
    expect(await rejection(a.verifyEmailSignIn({ email, code }))).toMatchObject({ code: 'INVALID_SIGN_IN_CODE', status: 400 });
    expect(a.getState()).toMatchObject({ status: 'authenticated', user: { email } });
  });

  it('two calls with one link (a double click, React StrictMode) share one request', async () => {
    const email = await account();
    const browser = cookieJarBrowser();
    const a = tab(browser, newChannel());
    await a.restore();
    await a.requestEmailSignIn({ email });
    const { token } = await signInMail(email);
    const [first, second] = await Promise.all([a.verifyEmailSignIn({ token }), a.verifyEmailSignIn({ token })]);
    expect(first.status).toBe('signed_in');
    expect(second).toBe(first);
    expect(browser.count('POST', '/auth/email/sign-in/verify')).toBe(1);
  });

  it('by the code: a wrong one is refused and signs nothing in, the right one then signs in', async () => {
    const email = await account();
    const browser = cookieJarBrowser();
    const a = tab(browser, newChannel());
    await a.restore();
    await a.requestEmailSignIn({ email });
    const { code } = await signInMail(email);
    const wrong = code === '000000' ? '000001' : '000000';
    expect(await rejection(a.verifyEmailSignIn({ email, code: wrong }))).toMatchObject({ code: 'INVALID_SIGN_IN_CODE', status: 400 });
    expect(a.getState().status).toBe('anonymous');
    expect(browser.cookie('lk_refresh')).toBeUndefined();
    expect(await a.verifyEmailSignIn({ email, code })).toMatchObject({ status: 'signed_in', user: { email } });
  });

  it('an unknown address is answered as a known one, and no mail goes out', async () => {
    const browser = cookieJarBrowser();
    const a = tab(browser, newChannel());
    const unknown = newEmail();
    await expect(a.requestEmailSignIn({ email: unknown })).resolves.toBeUndefined();
    await server.app.latchkey.mail.idle();
    expect(smtp.received.filter((m) => m.envelopeTo.includes(unknown))).toHaveLength(0);
  });

  it('an account with a second factor: the mail is the first factor, mfa_required follows and nothing is signed in until verifyMfa', async () => {
    const email = await account();
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const a = tab(browser, channel);
    const b = tab(browser, channel);
    await a.login({ email, password: PASSWORD });
    const { secret } = await a.enrollTotp();
    const codeNow = () => new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30 }).generate({ timestamp: server.clock!() });
    await a.confirmTotp(codeNow());
    await a.logout();
    await b.restore();

    await a.requestEmailSignIn({ email });
    const { code } = await signInMail(email);
    const result = await a.verifyEmailSignIn({ email, code });
    expect(result).toMatchObject({ status: 'mfa_required', factors: expect.arrayContaining(['totp']) });
    expect(a.getState().status).toBe('anonymous');
    expect(b.getState().status).toBe('anonymous');
    expect(browser.cookie('lk_refresh')).toBeUndefined();

    server.clock!.advance(30_000); // the enrolment's code step is spent
    if (result.status !== 'mfa_required') throw new Error('unreachable');
    const bSignedIn = waitForState(b, (s) => s.status === 'authenticated');
    await a.verifyMfa({ mfaToken: result.mfaToken, code: codeNow() });
    await bSignedIn;
    expect(jwtClaims((await a.getAccessToken())!).amr).toEqual(expect.arrayContaining(['email', 'otp', 'mfa']));
  });
});

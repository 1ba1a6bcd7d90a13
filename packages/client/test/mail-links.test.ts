import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jwtClaims, startSmtp, tokenFromText, waitFor, type TestSmtp } from '../../server/test/support/email.js';
import { createTestApp, type TestApp } from '../../server/test/support/helpers.js';
import { createClient, type ClientOptions, type LatchkeyClient } from '../src/index.js';
import { cookieJarBrowser, type CookieJarBrowser } from './cookie-jar.js';
import { newChannel, newEmail, PASSWORD, rejection, waitForState } from './support.js';

// The SDK's calls for the mailed links (verify, resend, forgot, reset) against a real Latchkey
// that sends real mail over SMTP to an smtp-server on 127.0.0.1; each token is read from the
// message that arrived, as a user would. The server clock is frozen (the mail cooldowns are
// stepped past, not slept through).

const NEW_PASSWORD = 'a brand new passphrase';

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

async function signUp(client: LatchkeyClient): Promise<string> {
  const email = newEmail();
  await client.register({ email, password: PASSWORD, name: 'Ada' });
  await client.login({ email, password: PASSWORD });
  return email;
}

/** The token of the `nth` mail (1-based) that reached `email` with a link to `path`. */
async function mailedToken(email: string, path: 'verify-email' | 'reset-password', nth = 1): Promise<string> {
  const mail = await waitFor(`mail ${nth} to ${email}`, () => {
    const withLink = smtp.received.filter((m) => m.envelopeTo.includes(email) && (m.parsed.text ?? '').includes(`/${path}?token=`));
    return withLink[nth - 1];
  });
  return tokenFromText(mail.parsed.text ?? '', path).token;
}

describe('verifyEmail', () => {
  it('signed in: every tab sees email_verified, and the access token then carries it; the link works once', async () => {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const a = tab(browser, channel);
    const b = tab(browser, channel);
    const email = await signUp(a);
    await b.restore();
    expect(a.getState().user?.email_verified).toBe(false);
    expect(jwtClaims((await a.getAccessToken())!).email_verified).toBe(false);
    const token = await mailedToken(email, 'verify-email');

    const bVerified = waitForState(b, (s) => s.user?.email_verified === true);
    const bAdopted = new Promise<void>((resolve) => b.onAuthChange((_s, event) => event === 'refreshed' && resolve()));
    const refreshesBefore = browser.count('POST', '/auth/refresh');
    const user = await a.verifyEmail(token);
    expect(user).toMatchObject({ email, email_verified: true });
    expect(a.getState()).toMatchObject({ status: 'authenticated', user: { email_verified: true } });
    await bVerified;
    const access = await a.getAccessToken();
    expect(jwtClaims(access!).email_verified).toBe(true);
    await bAdopted;
    expect(await b.getAccessToken()).toBe(access); // adopted, not refreshed again
    expect(browser.count('POST', '/auth/refresh')).toBe(refreshesBefore + 1);

    const again = await rejection(a.verifyEmail(token));
    expect(again).toMatchObject({ code: 'TOKEN_INVALID', status: 400 });
    expect(a.getState().status).toBe('authenticated');
  });

  it('two calls with the same token (a double click, React StrictMode) share one request', async () => {
    const browser = cookieJarBrowser();
    const a = tab(browser, newChannel());
    const email = await signUp(a);
    const token = await mailedToken(email, 'verify-email');
    const [first, second] = await Promise.all([a.verifyEmail(token), a.verifyEmail(token)]);
    expect(first.email_verified).toBe(true);
    expect(second).toBe(first);
    expect(browser.count('POST', '/auth/email/verify')).toBe(1);
  });

  it('a page opened from the mail verifies once its session is restored, and shows the verified user', async () => {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const a = tab(browser, channel);
    const email = await signUp(a);
    const token = await mailedToken(email, 'verify-email');
    // A new tab: still loading (nobody called restore) when the page hands it the token.
    const fromMail = tab(browser, channel);
    expect(fromMail.getState().status).toBe('loading');
    await fromMail.verifyEmail(token);
    expect(fromMail.getState()).toMatchObject({ status: 'authenticated', user: { email, email_verified: true } });
    await waitForState(a, (s) => s.user?.email_verified === true);
  });

  it('signed out (the link opened in another browser): verifies, and that client stays anonymous', async () => {
    const a = tab(cookieJarBrowser(), newChannel());
    const email = await signUp(a);
    const token = await mailedToken(email, 'verify-email');
    const elsewhere = tab(cookieJarBrowser(), newChannel());
    await elsewhere.restore();
    expect((await elsewhere.verifyEmail(token)).email_verified).toBe(true);
    expect(elsewhere.getState()).toMatchObject({ status: 'anonymous', user: null });
    expect((await a.me()).email_verified).toBe(true);
  });
});

describe('resendVerification', () => {
  it('mails a new link (the old one stops working); within the minute: RATE_LIMITED with the wait in retryAfter', async () => {
    const a = tab(cookieJarBrowser(), newChannel());
    const email = await signUp(a);
    const first = await mailedToken(email, 'verify-email', 1);

    // The registration mail counts toward the once-a-minute limit: right after it, a resend waits.
    const early = await rejection(a.resendVerification());
    expect(early).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
    server.clock!.advance((early.retryAfter! + 1) * 1000);
    await a.resendVerification();
    const second = await mailedToken(email, 'verify-email', 2);
    expect(second).not.toBe(first);

    const limited = await rejection(a.resendVerification());
    expect(limited).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
    expect(limited.retryAfter).toBeGreaterThan(0);
    expect(limited.retryAfter).toBeLessThanOrEqual(60);
    server.clock!.advance((limited.retryAfter! + 1) * 1000);
    await a.resendVerification();
    const third = await mailedToken(email, 'verify-email', 3);

    expect(await rejection(a.verifyEmail(second))).toMatchObject({ code: 'TOKEN_INVALID' });
    expect((await a.verifyEmail(third)).email_verified).toBe(true);
  });

  it('verified meanwhile elsewhere: EMAIL_ALREADY_VERIFIED, and the state (every tab) shows the verified user', async () => {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const a = tab(browser, channel);
    const b = tab(browser, channel);
    const email = await signUp(a);
    await b.restore();
    const token = await mailedToken(email, 'verify-email');
    await tab(cookieJarBrowser(), newChannel()).verifyEmail(token);
    expect(a.getState().user?.email_verified).toBe(false);

    const bVerified = waitForState(b, (s) => s.user?.email_verified === true);
    expect(await rejection(a.resendVerification())).toMatchObject({ code: 'EMAIL_ALREADY_VERIFIED', status: 409 });
    expect(a.getState().user?.email_verified).toBe(true);
    await bVerified;
  });

  it('signed out: UNAUTHORIZED (a signed-out user gets a new link by trying to log in)', async () => {
    const anonymous = tab(cookieJarBrowser(), newChannel());
    await anonymous.restore();
    expect(await rejection(anonymous.resendVerification())).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
  });
});

describe('password reset', () => {
  it('forgot -> mail -> reset: a refused password keeps the link; then every session ends, this browser says password_reset', async () => {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const a = tab(browser, channel);
    const b = tab(browser, channel);
    const email = await signUp(a);
    await b.restore();
    const phone = tab(cookieJarBrowser(), newChannel());
    await phone.login({ email, password: PASSWORD });

    await a.requestPasswordReset(email);
    const token = await mailedToken(email, 'reset-password');

    const weak = await rejection(a.resetPassword(token, 'short'));
    expect(weak).toMatchObject({ code: 'VALIDATION_FAILED', status: 422 });
    expect(weak.errors.map((e) => e.field)).toEqual(['new_password']);
    expect(a.getState().status).toBe('authenticated');

    const bOut = waitForState(b, (s) => s.status === 'anonymous');
    await a.resetPassword(token, NEW_PASSWORD);
    expect(a.getState()).toMatchObject({ status: 'anonymous', reason: 'password_reset' });
    expect((await bOut).reason).toBe('password_reset');
    // Another device learns it at its next call, and why: the server says password_reset.
    await expect(phone.me()).rejects.toMatchObject({ status: 401, reason: 'password_reset' });
    expect(phone.getState()).toMatchObject({ status: 'anonymous', reason: 'password_reset' });

    expect(await rejection(a.resetPassword(token, 'yet another passphrase'))).toMatchObject({ code: 'TOKEN_INVALID', status: 400 });
    expect(await rejection(a.login({ email, password: PASSWORD }))).toMatchObject({ code: 'INVALID_CREDENTIALS' });
    await a.login({ email, password: NEW_PASSWORD });
    expect(a.getState()).toMatchObject({ status: 'authenticated', reason: null, user: { email, email_verified: true } });
  });

  it("resetting another account's password (its link) leaves this browser's own session alone", async () => {
    const mine = tab(cookieJarBrowser(), newChannel());
    await signUp(mine);
    const theirs = tab(cookieJarBrowser(), newChannel());
    const theirEmail = await signUp(theirs);
    await mine.requestPasswordReset(theirEmail);
    const token = await mailedToken(theirEmail, 'reset-password');

    await mine.resetPassword(token, NEW_PASSWORD);
    expect(mine.getState()).toMatchObject({ status: 'authenticated', reason: null });
    expect((await mine.sessions()).length).toBe(1);
  });

  it('no enumeration; a malformed address is VALIDATION_FAILED; the 4th request for one address within 15 minutes is RATE_LIMITED', async () => {
    const client = tab(cookieJarBrowser(), newChannel());
    await client.restore();
    const nobody = newEmail();
    for (let i = 0; i < 3; i += 1) await client.requestPasswordReset(nobody);
    const limited = await rejection(client.requestPasswordReset(nobody));
    expect(limited).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
    expect(limited.retryAfter).toBeGreaterThan(60);
    expect(limited.retryAfter).toBeLessThanOrEqual(15 * 60);

    const malformed = await rejection(client.requestPasswordReset('not an address'));
    expect(malformed).toMatchObject({ code: 'VALIDATION_FAILED', status: 422 });
    expect(malformed.errors.map((e) => e.field)).toEqual(['email']);
    await server.app.latchkey.mail.idle();
    expect(smtp.received.filter((m) => m.envelopeTo.includes(nobody))).toEqual([]);
  });
});

/**
 * Email verification over a real SMTP exchange: smtp-server listens on 127.0.0.1, Latchkey's
 * nodemailer (configured by SMTP_URL) sends to it, mailparser parses what arrived, and the
 * token of the mailed link is followed through the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../support/helpers.js';
import { jwtClaims, startSmtp, tokenFromText, waitFor, type ReceivedMail, type TestSmtp } from '../../support/email.js';

const PASSWORD = 'correct horse battery staple';
const SMTP_USER = 'latchkey-mailer';
const SMTP_PASS = 'smtp-secret-9f3c1a';

let smtp: TestSmtp;
let t: TestApp;

function mailTo(address: string, nth = 1): () => ReceivedMail | undefined {
  return () => smtp.received.filter((m) => m.envelopeTo.includes(address))[nth - 1];
}

async function register(email: string, name?: string) {
  const res = await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD, name } });
  expect(res.statusCode).toBe(201);
  return res.json().user as { id: string; email_verified: boolean };
}

async function login(email: string, password = PASSWORD) {
  return t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
}

/** Every token that travelled by mail in this file; none may ever appear in a log line. */
const mailedTokens: string[] = [];
function linkIn(mail: ReceivedMail, path: 'verify-email' | 'reset-password') {
  const found = tokenFromText(mail.parsed.text ?? '', path);
  mailedTokens.push(found.token);
  return found;
}

beforeAll(async () => {
  smtp = await startSmtp({ auth: { user: SMTP_USER, pass: SMTP_PASS } });
  t = await createTestApp(
    {
      SMTP_URL: smtp.url,
      MAIL_FROM: 'Acme Accounts <accounts@acme.test>',
      PRODUCT_NAME: 'Acme <Cloud> & Co',
      APP_URL: 'https://app.acme.test/account/',
    },
    { clock: true },
  );
});

afterAll(async () => {
  await t.close();
  await smtp.close();
});

describe('verification mail at registration', () => {
  it('is sent over SMTP (authenticated with the URL credentials) with a link whose token verifies the address', async () => {
    const user = await register('ada@example.com', 'Ada');
    expect(user.email_verified).toBe(false);

    const mail = await waitFor('the verification mail', mailTo('ada@example.com'));
    expect(mail.authUser).toBe(SMTP_USER);
    expect(mail.envelopeFrom).toBe('accounts@acme.test');
    expect(mail.parsed.from?.value[0]).toMatchObject({ address: 'accounts@acme.test', name: 'Acme Accounts' });
    expect(mail.parsed.subject).toBe('Confirm your email address for Acme <Cloud> & Co');
    const { link, token } = linkIn(mail, 'verify-email');
    // Built from APP_URL (its path kept, trailing slash ignored).
    expect(link).toBe(`https://app.acme.test/account/verify-email?token=${token}`);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The HTML part carries the same link.
    expect(mail.parsed.html).toContain(`href="${link}"`);
    expect(mail.parsed.text).toContain('24 hours');

    // Before verification the access token says so.
    const before = await login('ada@example.com');
    expect(before.statusCode).toBe(200);
    expect(jwtClaims(before.json().access_token).email_verified).toBe(false);

    const verified = await t.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token } });
    expect(verified.statusCode).toBe(200);
    expect(verified.json().user).toMatchObject({ id: user.id, email: 'ada@example.com', email_verified: true });

    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(before.json().access_token) });
    expect(me.json().user.email_verified).toBe(true);
    // Tokens issued from now on carry the claim: at login and at refresh.
    const after = await login('ada@example.com');
    expect(jwtClaims(after.json().access_token).email_verified).toBe(true);
    const refreshed = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: before.json().refresh_token } });
    expect(refreshed.statusCode).toBe(200);
    expect(jwtClaims(refreshed.json().access_token).email_verified).toBe(true);

    const events = await t.app.latchkey.store.listEvents(user.id, 20);
    expect(events.map((e) => e.type)).toContain('email_verified');

    // Single use.
    const again = await t.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token } });
    expect(again.statusCode).toBe(400);
    expect(again.json().code).toBe('TOKEN_INVALID');
  });

  it('escapes the user name and the product name in the HTML part, and keeps the text part plain', async () => {
    await register('eve@example.com', '<img src=x onerror=alert(1)> & "Eve"');
    const mail = await waitFor('the mail', mailTo('eve@example.com'));
    linkIn(mail, 'verify-email');
    const html = String(mail.parsed.html);
    expect(html).toContain('Hello &lt;img src=x onerror=alert(1)&gt; &amp; &quot;Eve&quot;,');
    expect(html).not.toContain('<img');
    expect(html).toContain('Acme &lt;Cloud&gt; &amp; Co');
    expect(html).not.toContain('<Cloud>');
    expect(mail.parsed.text).toContain('Hello <img src=x onerror=alert(1)> & "Eve",');
    expect(mail.parsed.text).toContain('— Acme <Cloud> & Co');
  });

  it('refuses unknown and malformed tokens with 400 TOKEN_INVALID or 422, never 500', async () => {
    for (const token of ['x', 'A'.repeat(43), 'not a token at all ☃']) {
      const res = await t.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token } });
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('TOKEN_INVALID');
    }
    for (const payload of [{}, { token: '' }, { token: 42 }, { token: 'a'.repeat(600) }, { token: 'abc', extra: 1 }]) {
      const res = await t.app.inject({ method: 'POST', url: '/auth/email/verify', payload });
      expect(res.statusCode).toBe(422);
      expect(res.json().code).toBe('VALIDATION_FAILED');
    }
  });

  it('expires after VERIFY_EMAIL_TTL (24 h)', async () => {
    await register('late@example.com');
    await register('early@example.com');
    const late = linkIn(await waitFor('mail', mailTo('late@example.com')), 'verify-email');
    const early = linkIn(await waitFor('mail', mailTo('early@example.com')), 'verify-email');
    t.clock!.advance(24 * 3_600_000 - 1000);
    const inTime = await t.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token: early.token } });
    expect(inTime.statusCode).toBe(200);
    t.clock!.advance(2000);
    const tooLate = await t.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token: late.token } });
    expect(tooLate.statusCode).toBe(400);
    expect(tooLate.json().code).toBe('TOKEN_INVALID');
  });
});

describe('POST /auth/email/verify-request', () => {
  it('mails a fresh link that supersedes the old one, at most once a minute, and 409 once verified', async () => {
    await register('bob@example.com');
    const first = linkIn(await waitFor('first mail', mailTo('bob@example.com')), 'verify-email');
    const session = (await login('bob@example.com')).json();

    const unauthenticated = await t.app.inject({ method: 'POST', url: '/auth/email/verify-request' });
    expect(unauthenticated.statusCode).toBe(401);

    // The registration mail counts toward the once-a-minute limit.
    const early = await t.app.inject({ method: 'POST', url: '/auth/email/verify-request', headers: bearer(session.access_token) });
    expect(early.statusCode).toBe(429);
    t.clock!.advance(61_000);

    const resend = await t.app.inject({ method: 'POST', url: '/auth/email/verify-request', headers: bearer(session.access_token) });
    expect(resend.statusCode).toBe(202);
    expect(resend.body).toBe('');
    const second = linkIn(await waitFor('second mail', mailTo('bob@example.com', 2)), 'verify-email');
    expect(second.token).not.toBe(first.token);

    const tooSoon = await t.app.inject({ method: 'POST', url: '/auth/email/verify-request', headers: bearer(session.access_token) });
    expect(tooSoon.statusCode).toBe(429);
    expect(tooSoon.json().code).toBe('RATE_LIMITED');
    expect(Number(tooSoon.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(tooSoon.headers['retry-after'])).toBeLessThanOrEqual(60);

    // The older link died when the new one was issued.
    const old = await t.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token: first.token } });
    expect(old.json().code).toBe('TOKEN_INVALID');

    t.clock!.advance(61_000);
    const fresh = (await login('bob@example.com')).json();
    const later = await t.app.inject({ method: 'POST', url: '/auth/email/verify-request', headers: bearer(fresh.access_token) });
    expect(later.statusCode).toBe(202);
    const third = linkIn(await waitFor('third mail', mailTo('bob@example.com', 3)), 'verify-email');
    expect((await t.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token: third.token } })).statusCode).toBe(200);

    t.clock!.advance(61_000);
    const done = await t.app.inject({ method: 'POST', url: '/auth/email/verify-request', headers: bearer(fresh.access_token) });
    expect(done.statusCode).toBe(409);
    expect(done.json().code).toBe('EMAIL_ALREADY_VERIFIED');
  });
});

describe('logs', () => {
  it('name recipient and subject of each mail but never a token, nor the SMTP password', async () => {
    await t.app.latchkey.mail.idle();
    expect(mailedTokens.length).toBeGreaterThanOrEqual(6);
    const log = t.logs.join('');
    for (const token of mailedTokens) expect(log).not.toContain(token);
    expect(log).not.toContain(SMTP_PASS);
    const sent = t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'mail sent');
    expect(sent.length).toBe(smtp.received.length);
    expect(sent[0]).toMatchObject({ mail: 'verify_email', to: 'ada@example.com', via: `smtp://127.0.0.1:${smtp.port}` });
  });
});

/**
 * Email sign-in over a real SMTP exchange (smtp-server on 127.0.0.1, Latchkey's nodemailer, the
 * mail parsed by mailparser): the link and the code each sign in once and spend each other, they
 * expire, five wrong codes kill the challenge, a new mail supersedes the old, unknown and disabled
 * addresses get the same answer as known ones (and no mail, unless EMAIL_SIGN_IN_CREATES_USERS),
 * a second factor still applies, cookie mode works, the address becomes verified, and no token or
 * code ever reaches a log line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Response as InjectResponse } from 'light-my-request';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { jwtClaims, startSmtp, waitFor, type ReceivedMail, type TestSmtp } from '../../support/email.js';
import { codeAt, enrolTotp, STEP } from '../../support/factors.js';
import { setCookies } from '../../support/sessions.js';
import { REFRESH_COOKIE } from '../../../src/features/sessions/transport.js';

const TTL_MS = 15 * 60_000;
const INVALID = { status: 400, code: 'INVALID_SIGN_IN_CODE' };

let smtp: TestSmtp;
let t: TestApp;
/** Every token and code that travelled by mail; none may appear in a log line. */
const secrets: string[] = [];

beforeAll(async () => {
  smtp = await startSmtp();
  t = await createTestApp({ SMTP_URL: smtp.url, APP_URL: 'https://app.acme.test/', PRODUCT_NAME: 'Acme' }, { clock: true });
});

afterAll(async () => {
  await t.close();
  await smtp.close();
});

interface SignInMail {
  mail: ReceivedMail;
  link: string;
  token: string;
  code: string;
}

/** What a sign-in mail carries: its link (and token) and its code. */
function parseSignInMail(mail: ReceivedMail): SignInMail {
  const text = mail.parsed.text ?? '';
  const link = /(https?:\/\/\S+\/email-sign-in\?token=([A-Za-z0-9_-]+)\S*)/.exec(text);
  const code = /Or enter this code[^:\n]*:\s*(\d{6})/.exec(text);
  if (!link || !code) throw new Error('not a sign-in mail');
  secrets.push(link[2]!, code[1]!);
  return { mail, link: link[1]!, token: link[2]!, code: code[1]! };
}

/** The sign-in mails (not the verification mail of registration) that reached `address`. */
function mailsTo(smtpServer: TestSmtp, address: string): ReceivedMail[] {
  return smtpServer.received.filter((m) => m.envelopeTo.includes(address) && /^Sign in to /.test(m.parsed.subject ?? ''));
}

/** Asks for a sign-in mail and returns the nth mail to the address (the one this request sent). */
async function requestMail(address: string, app: TestApp = t, server: TestSmtp = smtp): Promise<SignInMail> {
  const before = mailsTo(server, address).length;
  const res = await ask(address, app);
  expect(res.statusCode, res.body).toBe(202);
  return parseSignInMail(await waitFor('the sign-in mail', () => mailsTo(server, address)[before]));
}

function ask(email: string, app: TestApp = t, extra: Record<string, unknown> = {}): Promise<InjectResponse> {
  return app.app.inject({ method: 'POST', url: '/auth/email/sign-in', payload: { email, ...extra } });
}

function verify(payload: Record<string, unknown>, headers: Record<string, string> = {}, app: TestApp = t): Promise<InjectResponse> {
  return app.app.inject({ method: 'POST', url: '/auth/email/sign-in/verify', payload, headers });
}

function expectInvalid(res: InjectResponse): void {
  expect(res.statusCode, res.body).toBe(INVALID.status);
  expect(res.json()).toMatchObject({ code: INVALID.code });
}

let n = 0;
async function user(app: TestApp = t): Promise<{ email: string; userId: string; access: string }> {
  return registerAndLogin(app.app, `signin-${++n}-${Math.random().toString(36).slice(2, 8)}@example.com`);
}

describe('the link', () => {
  it('signs in once with amr ["email"], marks the address verified, and spends the code of the same mail', async () => {
    const u = await user();
    expect((await t.app.latchkey.store.findUserById(u.userId))!.emailVerified).toBe(false);
    const m = await requestMail(u.email);
    expect(m.mail.parsed.subject).toBe('Sign in to Acme');
    expect(m.link).toBe(`https://app.acme.test/email-sign-in?token=${m.token}`);
    expect(m.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(m.mail.parsed.html).toContain(`href="${m.link}"`);
    expect(m.mail.parsed.html).toContain(m.code);
    expect(m.mail.parsed.text).toContain('15 minutes');
    expect(m.mail.parsed.subject).not.toContain(m.code);

    const res = await verify({ token: m.token });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json() as { access_token: string; refresh_token: string; token_type: string };
    expect(body.token_type).toBe('Bearer');
    expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const claims = jwtClaims(body.access_token);
    expect(claims).toMatchObject({ sub: u.userId, amr: ['email'], email_verified: true });

    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(body.access_token) });
    expect(me.json().user).toMatchObject({ id: u.userId, email_verified: true });
    const types = (await t.app.latchkey.store.listEvents(u.userId, 20)).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['email_sign_in_requested', 'email_verified', 'email_sign_in', 'login_succeeded']));

    expectInvalid(await verify({ token: m.token }));
    expectInvalid(await verify({ email: u.email, code: m.code }));
  });

  it('carries an allowed redirect_to; one outside REDIRECT_ALLOWED_URLS is refused before anything is looked up', async () => {
    const u = await user();
    const refused = await ask(u.email, t, { redirect_to: 'https://evil.example/' });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().code).toBe('REDIRECT_NOT_ALLOWED');
    const before = mailsTo(smtp, u.email).length;
    const res = await ask(u.email, t, { redirect_to: 'https://app.acme.test/after?x=1' });
    expect(res.statusCode).toBe(202);
    const m = parseSignInMail(await waitFor('the mail', () => mailsTo(smtp, u.email)[before]));
    expect(new URL(m.link).searchParams.get('redirect_to')).toBe('https://app.acme.test/after?x=1');
    expect((await verify({ token: m.token })).statusCode).toBe(200);
  });
});

describe('the mail', () => {
  it('greets by name, escaped in the HTML part and flattened in the text part', async () => {
    const email = `named-${Math.random().toString(36).slice(2, 8)}@example.com`;
    const reg = await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: 'correct horse battery staple', name: '<img src=x> & "Eve"' } });
    expect(reg.statusCode).toBe(201);
    const m = await requestMail(email);
    expect(m.mail.parsed.text).toMatch(/^Hello <img src=x> & "Eve",\n/);
    const html = String(m.mail.parsed.html);
    expect(html).toContain('Hello &lt;img src=x&gt; &amp; &quot;Eve&quot;,');
    expect(html).not.toContain('<img');
  });
});

describe('the code', () => {
  it('signs in once (spaces ignored, the address as typed), and spends the link of the same mail', async () => {
    const u = await user();
    const m = await requestMail(u.email);
    const res = await verify({ email: ` ${u.email.toUpperCase()} `, code: `${m.code.slice(0, 3)} ${m.code.slice(3)}` });
    expect(res.statusCode, res.body).toBe(200);
    expect(jwtClaims(res.json().access_token)).toMatchObject({ sub: u.userId, amr: ['email'] });
    expectInvalid(await verify({ email: u.email, code: m.code }));
    expectInvalid(await verify({ token: m.token }));
  });

  it('five wrong codes kill the challenge: the right code and the link then fail, with the same answer', async () => {
    const u = await user();
    const m = await requestMail(u.email);
    const wrong = m.code === '000000' ? '000001' : '000000';
    const answers: InjectResponse[] = [];
    for (let i = 0; i < 5; i++) answers.push(await verify({ email: u.email, code: wrong }));
    answers.push(await verify({ email: u.email, code: m.code }));
    answers.push(await verify({ token: m.token }));
    for (const a of answers) expectInvalid(a);
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    const failed = (await t.app.latchkey.store.listEvents(u.userId, 20)).filter((e) => e.type === 'email_sign_in_failed');
    expect(failed).toHaveLength(5);
    expect(failed.map((e) => e.detail?.challenge_dead)).toContain(true);
  });

  it('four wrong codes leave the fifth attempt to the right one', async () => {
    const u = await user();
    const m = await requestMail(u.email);
    const wrong = m.code === '999999' ? '999998' : '999999';
    for (let i = 0; i < 4; i++) expectInvalid(await verify({ email: u.email, code: wrong }));
    expect((await verify({ email: u.email, code: m.code })).statusCode).toBe(200);
  });

  it('the link and the code sent at once: exactly one signs in', async () => {
    const u = await user();
    const m = await requestMail(u.email);
    const results = await Promise.all([verify({ token: m.token }), verify({ email: u.email, code: m.code }), verify({ token: m.token })]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 400, 400]);
  });
});

describe('lifetime and replacement', () => {
  it('link and code expire after EMAIL_SIGN_IN_TTL (15 minutes)', async () => {
    const u = await user();
    const m = await requestMail(u.email);
    t.clock!.advance(TTL_MS);
    expectInvalid(await verify({ email: u.email, code: m.code }));
    expectInvalid(await verify({ token: m.token }));
  });

  it('a new request supersedes the previous mail: its link and code fail, the new ones work', async () => {
    const u = await user();
    const first = await requestMail(u.email);
    const second = await requestMail(u.email);
    expect(second.token).not.toBe(first.token);
    expectInvalid(await verify({ token: first.token }));
    if (first.code !== second.code) expectInvalid(await verify({ email: u.email, code: first.code }));
    expect((await verify({ email: u.email, code: second.code })).statusCode).toBe(200);
  });

  it('past 3 requests per address in 15 minutes the answer stays 202 and no mail goes; the last mail still works', async () => {
    const u = await user();
    let last: SignInMail | undefined;
    for (let i = 0; i < 3; i++) last = await requestMail(u.email);
    const res = await ask(u.email);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({});
    await t.app.latchkey.mail.idle();
    expect(mailsTo(smtp, u.email)).toHaveLength(3);
    expect((await verify({ token: last!.token })).statusCode).toBe(200);
  });
});

describe('no enumeration', () => {
  it('known, unknown and disabled addresses get the same status and body; only the known active one gets mail', async () => {
    const known = await user();
    const disabled = await user();
    await t.app.latchkey.store.updateUser(disabled.userId, { disabled: true }, t.clock!());
    const unknown = `nobody-${Math.random().toString(36).slice(2, 8)}@example.com`;
    const answers = [await ask(known.email), await ask(unknown), await ask(disabled.email)];
    for (const a of answers) {
      expect(a.statusCode).toBe(202);
      expect(a.headers['content-type']).toBe(answers[0]!.headers['content-type']);
      expect(a.body).toBe('{}');
    }
    await t.app.latchkey.mail.idle();
    expect(mailsTo(smtp, known.email)).toHaveLength(1);
    expect(mailsTo(smtp, unknown)).toHaveLength(0);
    expect(mailsTo(smtp, disabled.email)).toHaveLength(0);
    parseSignInMail(mailsTo(smtp, known.email)[0]!);
    // No challenge was stored for them: a guessed code is refused as any wrong one.
    expectInvalid(await verify({ email: unknown, code: '123456' }));
    expectInvalid(await verify({ email: disabled.email, code: '123456' }));
    expect(await t.app.latchkey.store.findUserByEmail(unknown)).toBeNull();
  });

  it('an account disabled after its mail went is refused as login refuses it', async () => {
    const u = await user();
    const m = await requestMail(u.email);
    await t.app.latchkey.store.updateUser(u.userId, { disabled: true }, t.clock!());
    const res = await verify({ token: m.token });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('ACCOUNT_DISABLED');
    expect((await t.app.latchkey.store.findUserById(u.userId))!.emailVerified).toBe(false);
  });
});

describe('second factor and transport', () => {
  it('an account with TOTP gets mfa_required from verify and finishes with a TOTP code; amr ["email", "otp", "mfa"]', async () => {
    const u = await user();
    const { secret } = await enrolTotp(t.app, u.access);
    secrets.push(secret);
    t.clock!.advance(STEP);
    const m = await requestMail(u.email);
    const res = await verify({ email: u.email, code: m.code });
    expect(res.statusCode, res.body).toBe(200);
    const challenge = res.json() as { mfa_required: boolean; mfa_token: string; factors: string[] };
    expect(challenge).toMatchObject({ mfa_required: true, factors: ['totp', 'recovery_code'] });
    expect(res.body).not.toMatch(/access_token|refresh_token/);
    expect(res.headers['set-cookie']).toBeUndefined();
    secrets.push(challenge.mfa_token);
    const done = await t.app.inject({ method: 'POST', url: '/auth/mfa/verify', payload: { mfa_token: challenge.mfa_token, code: codeAt(t.app, secret) } });
    expect(done.statusCode, done.body).toBe(200);
    expect(jwtClaims(done.json().access_token)).toMatchObject({ sub: u.userId, amr: ['email', 'otp', 'mfa'] });
  });

  it('cookie mode: the refresh token only in the HttpOnly cookie, and it refreshes', async () => {
    const u = await user();
    const m = await requestMail(u.email);
    const res = await verify({ token: m.token }, { 'x-auth-mode': 'cookie' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as Record<string, unknown>;
    expect(body.refresh_token).toBeUndefined();
    expect(body.csrf_token).toEqual(expect.any(String));
    const cookies = setCookies(res);
    const refresh = cookies[REFRESH_COOKIE];
    expect(refresh).toBeDefined();
    expect(refresh!.raw).toMatch(/; HttpOnly/i);
    secrets.push(refresh!.value);
    const refreshed = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: {
        'x-auth-mode': 'cookie',
        'x-csrf-token': String(body.csrf_token),
        cookie: Object.entries(cookies).map(([name, c]) => `${name}=${c.value}`).join('; '),
      },
    });
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    expect(jwtClaims(refreshed.json().access_token).amr).toEqual(['email']);
  });
});

describe('bad input', () => {
  it('a body with both proofs, or neither, or half of one is 422; a malformed token or code is the usual 400', async () => {
    for (const payload of [{ token: 'x', email: 'a@example.com', code: '123456' }, {}, { email: 'a@example.com' }, { code: '123456' }, { token: 'x', extra: 1 }]) {
      const res = await verify(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(422);
      expect(res.json().code).toBe('VALIDATION_FAILED');
    }
    for (const payload of [{ token: 'A'.repeat(43) }, { token: 'not a token ☃' }, { email: 'a@example.com', code: 'abcdef' }, { email: 'not an email', code: '123456' }]) {
      expectInvalid(await verify(payload));
    }
    const bad = await ask('not an email');
    expect(bad.statusCode).toBe(422);
  });
});

describe('with EMAIL_SIGN_IN_CREATES_USERS=true', () => {
  let smtp2: TestSmtp;
  let t2: TestApp;
  beforeAll(async () => {
    smtp2 = await startSmtp();
    t2 = await createTestApp({ SMTP_URL: smtp2.url, EMAIL_SIGN_IN_CREATES_USERS: 'true', REQUIRE_VERIFIED_EMAIL: 'true' }, { clock: true });
  });
  afterAll(async () => {
    await t2.close();
    await smtp2.close();
  });

  it('an unknown address gets the mail, and verifying creates a verified user without a password', async () => {
    const address = 'newcomer@example.com';
    const m = await requestMail(address, t2, smtp2);
    expect(m.mail.parsed.text).toMatch(/^Hello,\n/);
    expect(await t2.app.latchkey.store.findUserByEmail(address)).toBeNull();
    const res = await verify({ token: m.token }, {}, t2);
    expect(res.statusCode, res.body).toBe(200);
    const created = await t2.app.latchkey.store.findUserByEmail(address);
    expect(created).toMatchObject({ email: address, emailVerified: true, roles: [], disabled: false });
    expect(jwtClaims(res.json().access_token)).toMatchObject({ sub: created!.id, amr: ['email'], email_verified: true });
    // No password: a password login is refused as a wrong password is.
    const login = await t2.app.inject({ method: 'POST', url: '/auth/login', payload: { email: address, password: '!federated' } });
    expect(login.statusCode).toBe(400);
    const ids = await t2.app.inject({ method: 'GET', url: '/auth/identities', headers: bearer(res.json().access_token) });
    expect(ids.json().has_password).toBe(false);
    const types = (await t2.app.latchkey.store.listEvents(created!.id, 20)).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['register', 'email_sign_in', 'login_succeeded']));
    // The next sign-in finds the account.
    const again = await requestMail(address, t2, smtp2);
    const second = await verify({ email: address, code: again.code }, {}, t2);
    expect(jwtClaims(second.json().access_token).sub).toBe(created!.id);
  });
});

describe('with REQUIRE_VERIFIED_EMAIL=true', () => {
  it('an account whose address is not verified signs in by mail: the mail verifies it first', async () => {
    const email = `unverified-${Math.random().toString(36).slice(2, 8)}@example.com`;
    const t3 = await createTestApp({ SMTP_URL: smtp.url, REQUIRE_VERIFIED_EMAIL: 'true' }, { clock: true });
    try {
      await t3.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: 'correct horse battery staple' } });
      const refused = await t3.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'correct horse battery staple' } });
      expect(refused.json().code).toBe('EMAIL_NOT_VERIFIED');
      const m = await requestMail(email, t3);
      const res = await verify({ token: m.token }, {}, t3);
      expect(res.statusCode, res.body).toBe(200);
      expect(jwtClaims(res.json().access_token).email_verified).toBe(true);
    } finally {
      await t3.close();
    }
  });
});

describe('with EMAIL_SIGN_IN=false', () => {
  it('the routes do not exist', async () => {
    const t4 = await createTestApp({ EMAIL_SIGN_IN: 'false' });
    try {
      expect((await ask('a@example.com', t4)).statusCode).toBe(404);
      expect((await verify({ token: 'x' }, {}, t4)).statusCode).toBe(404);
      const doc = (await t4.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
      expect(doc.paths['/auth/email/sign-in']).toBeUndefined();
      expect(doc.paths['/auth/password/forgot']).toBeDefined();
    } finally {
      await t4.close();
    }
  });
});

describe('logs', () => {
  it('no mailed token or code, nor the mfa_token or TOTP secret, ever appears in a log line', async () => {
    await t.app.latchkey.mail.idle();
    expect(secrets.length).toBeGreaterThan(20);
    const logs = t.logs.join('\n');
    expect(logs).toContain('email_sign_in');
    for (const s of secrets) {
      // A 6-digit code could be part of a longer number (a timestamp) by chance: only a match on its own counts.
      const alone = new RegExp(`(?<![0-9A-Za-z_-])${s.replace(/[^A-Za-z0-9_-]/g, '')}(?![0-9A-Za-z_-])`);
      expect(logs).not.toMatch(alone);
    }
  });
});

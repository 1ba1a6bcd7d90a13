/**
 * MFA_REQUIRED_ROLES (docs/factors.md, "Required second factor"): a user of such a role without
 * a factor gets no session from the password, only an enrolment token; enrolling a TOTP
 * authenticator or a passkey with it signs them in (JSON and cookie mode); the enrolment token
 * and the challenge token are not interchangeable and each works once; the last factor of such a
 * user cannot be removed; a passkey alone signs them in only with user verification. Then the
 * admin view and reset of a user's factors, and the notice mails of every factor change, over
 * real SMTP. On both stores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { startSmtp, type TestSmtp } from '../../support/email.js';
import { codeAt, loginRequest, payloadOf, PASSWORD, STEP, verify } from '../../support/factors.js';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { bearerRefresh, expectProblem, setCookies } from '../../support/sessions.js';
import { SoftwareAuthenticator, type CreationOptions, type RequestOptions } from '../../support/webauthn-authenticator.js';

const ORIGIN = 'http://latchkey.test';

describe('MFA_REQUIRED_ROLES configuration', () => {
  const base = { ISSUER: 'http://latchkey.test', DATABASE_URL: 'sqlite::memory:' };
  it('is empty by default and takes a comma-separated list of role names', () => {
    expect(loadConfig(base).factors.mfaRequiredRoles).toEqual([]);
    expect(loadConfig({ ...base, MFA_REQUIRED_ROLES: 'admin, ops:write' }).factors.mfaRequiredRoles).toEqual(['admin', 'ops:write']);
  });
  it('refuses a value that is not a role name, naming the variable', () => {
    expect(() => loadConfig({ ...base, MFA_REQUIRED_ROLES: 'admin,Ops Team' })).toThrow(/MFA_REQUIRED_ROLES.*"Ops Team" is not a role name/);
  });
});

// Both stores: the vitest projects run this file on SQLite and on PostgreSQL (LATCHKEY_TEST_DB).
describe('MFA_REQUIRED_ROLES', () => {
  let t: TestApp;
  let smtp: TestSmtp;
  beforeAll(async () => {
    smtp = await startSmtp();
    t = await createTestApp({ MFA_REQUIRED_ROLES: 'ops,admin', SMTP_URL: smtp.url, LOG_LEVEL: 'trace' }, { clock: true });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

  const post = (url: string, payload: object, headers: Record<string, string> = {}) => t.app.inject({ method: 'POST', url, payload, headers });

  /** A registered user holding `roles` (set in the store, as an admin would). */
  async function userWith(roles: string[]): Promise<{ email: string; userId: string }> {
    const email = `p-${Math.random().toString(36).slice(2)}@example.com`;
    const reg = await post('/auth/register', { email, password: PASSWORD });
    expect(reg.statusCode, reg.body).toBe(201);
    const userId = reg.json().user.id as string;
    await t.app.latchkey.store.updateUser(userId, { roles }, t.clock!());
    return { email, userId };
  }

  async function enrollmentToken(email: string, headers: Record<string, string> = {}): Promise<string> {
    const res = await loginRequest(t.app, email, headers);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as Record<string, unknown>;
    expect(body.mfa_enrollment_required).toBe(true);
    return body.mfa_token as string;
  }

  /** Enrols TOTP through the sign-in flow; answers the confirm response and the secret. */
  async function enrolAtSignIn(email: string, headers: Record<string, string> = {}) {
    const token = await enrollmentToken(email);
    const started = await post('/auth/mfa/enroll/totp', { mfa_token: token });
    expect(started.statusCode, started.body).toBe(201);
    const secret = started.json().secret as string;
    const done = await post('/auth/mfa/enroll/totp/confirm', { mfa_token: token, code: codeAt(t.app, secret) }, headers);
    expect(done.statusCode, done.body).toBe(200);
    t.clock!.advance(STEP);
    return { token, secret, done };
  }

  async function sessionsOf(userId: string): Promise<number> {
    return (await t.app.latchkey.store.listSessions(userId, t.clock!())).length;
  }

  async function mailsTo(email: string): Promise<Array<{ subject: string; text: string; html: string }>> {
    await t.app.latchkey.mail.idle();
    return smtp.received
      .filter((m) => m.envelopeTo.includes(email))
      .map((m) => ({ subject: m.parsed.subject ?? '', text: m.parsed.text ?? '', html: typeof m.parsed.html === 'string' ? m.parsed.html : '' }));
  }

  it('a password login of a user of the role without a factor answers only an enrolment token: no token, cookie or session', async () => {
    const u = await userWith(['ops']);
    const modes: Array<Record<string, string>> = [{}, { 'x-auth-mode': 'cookie' }];
    for (const headers of modes) {
      const res = await loginRequest(t.app, u.email, headers);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['expires_in', 'mfa_enrollment_required', 'mfa_token']);
      expect(body).toMatchObject({ mfa_enrollment_required: true, expires_in: 300 });
      expect(body.mfa_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.headers['cache-control']).toBe('no-store');
    }
    expect(await sessionsOf(u.userId)).toBe(0);

    const form = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'password', username: u.email, password: PASSWORD }).toString(),
    });
    expectProblem(form, 400, 'MFA_ENROLLMENT_REQUIRED');
    expect(form.json().error).toBe('invalid_grant');
    expect(await sessionsOf(u.userId)).toBe(0);
  });

  it('users without a required role are not affected', async () => {
    const u = await userWith(['reader']);
    const res = await loginRequest(t.app, u.email);
    expect(res.statusCode).toBe(200);
    expect(res.json().access_token).toBeTypeOf('string');
  });

  it('enrols an authenticator with the token and signs in: amr pwd+otp+mfa, recovery codes once, the token spent; the next login asks for the code', async () => {
    const u = await userWith(['ops']);
    const token = await enrollmentToken(u.email);
    const started = await post('/auth/mfa/enroll/totp', { mfa_token: token });
    expect(started.statusCode, started.body).toBe(201);
    const { secret, otpauth_uri, qr_code } = started.json() as { secret: string; otpauth_uri: string; qr_code: string };
    expect(otpauth_uri).toContain('otpauth://totp/');
    expect(qr_code).toMatch(/^data:image\/svg\+xml;base64,/);

    // A wrong code counts and leaves the token usable.
    const wrong = await post('/auth/mfa/enroll/totp/confirm', { mfa_token: token, code: codeAt(t.app, secret, 5) });
    expectProblem(wrong, 400, 'INVALID_MFA_CODE');
    expect(await sessionsOf(u.userId)).toBe(0);

    const done = await post('/auth/mfa/enroll/totp/confirm', { mfa_token: token, code: codeAt(t.app, secret) });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.headers['cache-control']).toBe('no-store');
    const body = done.json() as { access_token: string; refresh_token: string; recovery_codes: string[] };
    expect(body.recovery_codes).toHaveLength(10);
    expect(payloadOf(body.access_token).amr).toEqual(['pwd', 'otp', 'mfa']);
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(body.access_token) })).statusCode).toBe(200);
    expect(await sessionsOf(u.userId)).toBe(1);

    // Single use: neither route takes the token again.
    t.clock!.advance(STEP);
    expectProblem(await post('/auth/mfa/enroll/totp/confirm', { mfa_token: token, code: codeAt(t.app, secret) }), 400, 'MFA_TOKEN_INVALID');
    expectProblem(await post('/auth/mfa/enroll/totp', { mfa_token: token }), 400, 'MFA_TOKEN_INVALID');

    const next = await loginRequest(t.app, u.email);
    expect(next.json()).toMatchObject({ mfa_required: true, factors: ['totp', 'recovery_code'] });
    const verified = await verify(t.app, { mfa_token: next.json().mfa_token, code: codeAt(t.app, secret) });
    expect(verified.statusCode, verified.body).toBe(200);
  });

  it('an enrolment token is refused at /auth/mfa/verify and a challenge token at the enrolment routes', async () => {
    const enrolling = await userWith(['ops']);
    const enrolToken = await enrollmentToken(enrolling.email);
    expectProblem(await verify(t.app, { mfa_token: enrolToken, code: '123456' }), 400, 'MFA_TOKEN_INVALID');
    expectProblem(await post('/auth/mfa/passkey/options', { mfa_token: enrolToken }), 400, 'MFA_TOKEN_INVALID');

    const enrolled = await userWith(['ops']);
    const { secret } = await enrolAtSignIn(enrolled.email);
    const challenge = (await loginRequest(t.app, enrolled.email)).json().mfa_token as string;
    for (const [url, payload] of [
      ['/auth/mfa/enroll/totp', { mfa_token: challenge }],
      ['/auth/mfa/enroll/totp/confirm', { mfa_token: challenge, code: codeAt(t.app, secret) }],
      ['/auth/mfa/enroll/passkey/options', { mfa_token: challenge }],
    ] as const) {
      const res = await post(url, payload);
      expectProblem(res, 400, 'MFA_TOKEN_INVALID');
      expect(res.json().error).toBe('invalid_grant');
    }
    expect(await sessionsOf(enrolling.userId)).toBe(0);
  });

  it('the enrolment token expires with MFA_CHALLENGE_TTL', async () => {
    const u = await userWith(['ops']);
    const token = await enrollmentToken(u.email);
    t.clock!.advance(5 * 60_000 + 1);
    expectProblem(await post('/auth/mfa/enroll/totp', { mfa_token: token }), 400, 'MFA_TOKEN_INVALID');
  });

  it('cookie mode: the confirm request with X-Auth-Mode: cookie sets the refresh and CSRF cookies, and still answers the recovery codes', async () => {
    const u = await userWith(['ops']);
    const { done } = await enrolAtSignIn(u.email, { 'x-auth-mode': 'cookie' });
    const body = done.json() as Record<string, unknown>;
    expect(body.refresh_token).toBeUndefined();
    expect(body.csrf_token).toBeTypeOf('string');
    expect(body.recovery_codes).toHaveLength(10);
    const cookies = setCookies(done);
    expect(Object.keys(cookies).length).toBeGreaterThanOrEqual(2);
    expect(Object.values(cookies).some((c) => /HttpOnly/i.test(c.raw))).toBe(true);
  });

  it('enrols a passkey with the token and signs in; then the password login asks for the passkey; a passkey alone needs user verification', async () => {
    const u = await userWith(['ops']);
    const key = new SoftwareAuthenticator({ origin: ORIGIN });
    const token = await enrollmentToken(u.email);
    const opts = await post('/auth/mfa/enroll/passkey/options', { mfa_token: token });
    expect(opts.statusCode, opts.body).toBe(200);
    const credential = key.create(opts.json().options as CreationOptions);
    const done = await post('/auth/mfa/enroll/passkey', { mfa_token: token, credential, name: 'Work key' });
    expect(done.statusCode, done.body).toBe(200);
    const body = done.json() as { access_token: string; refresh_token: string; passkey: { name: string } };
    expect(body.passkey.name).toBe('Work key');
    expect(payloadOf(body.access_token).amr).toEqual(['pwd', 'hwk', 'mfa']);
    expectProblem(await post('/auth/mfa/enroll/passkey/options', { mfa_token: token }), 400, 'MFA_TOKEN_INVALID');

    // The password alone is not enough: the passkey answers the challenge.
    const next = await loginRequest(t.app, u.email);
    expect(next.json()).toMatchObject({ mfa_required: true, factors: ['passkey'] });
    const mfaOpts = await post('/auth/mfa/passkey/options', { mfa_token: next.json().mfa_token });
    const assertion = key.get(mfaOpts.json().options as RequestOptions);
    const verified = await verify(t.app, { mfa_token: next.json().mfa_token, passkey: assertion });
    expect(verified.statusCode, verified.body).toBe(200);

    // A passkey alone: with user verification a sign-in; without, refused for this user.
    const signIn = async (uv: boolean) => {
      const o = await post('/auth/passkeys/login/options', {});
      return post('/auth/passkeys/login/verify', { response: key.get(o.json().options as RequestOptions, { userVerification: uv }) });
    };
    expectProblem(await signIn(false), 400, 'PASSKEY_USER_VERIFICATION_REQUIRED');
    const ok = await signIn(true);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(payloadOf(ok.json().access_token as string).amr).toEqual(['hwk', 'mfa']);
  });

  it('the last factor of a user of the role cannot be removed (403 FACTOR_REQUIRED_BY_POLICY); with two, one can', async () => {
    const u = await userWith(['ops']);
    const { done, secret } = await enrolAtSignIn(u.email);
    const access = done.json().access_token as string;
    const removeTotp = () =>
      t.app.inject({ method: 'DELETE', url: '/auth/factors/totp', headers: bearer(access), payload: { code: codeAt(t.app, secret) } });
    expectProblem(await removeTotp(), 403, 'FACTOR_REQUIRED_BY_POLICY');

    // With a passkey too, the authenticator may go; then the passkey is the last one.
    const key = new SoftwareAuthenticator({ origin: ORIGIN });
    const opts = await post('/auth/passkeys/register/options', {}, bearer(access));
    const reg = await post('/auth/passkeys/register/verify', { response: key.create(opts.json().options as CreationOptions) }, bearer(access));
    expect(reg.statusCode, reg.body).toBe(201);
    const removed = await removeTotp();
    expect(removed.statusCode, removed.body).toBe(204);
    const passkeyId = reg.json().passkey.id as string;
    const delPasskey = await t.app.inject({ method: 'DELETE', url: `/auth/passkeys/${passkeyId}`, headers: bearer(access) });
    expectProblem(delPasskey, 403, 'FACTOR_REQUIRED_BY_POLICY');
    expect(await t.app.latchkey.store.listPasskeys(u.userId)).toHaveLength(1);
  });

  it('a role given while signed in applies at the next sign-in: the session keeps refreshing, the next login enrols', async () => {
    const u = await registerAndLogin(t.app);
    await t.app.latchkey.store.updateUser(u.userId, { roles: ['ops'] }, t.clock!());
    const refreshed = await bearerRefresh(t.app, u.refresh);
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    expect((await loginRequest(t.app, u.email)).json().mfa_enrollment_required).toBe(true);
  });

  it('an admin of a MFA_REQUIRED_ROLES=admin server enrols to get in, then sees and resets a user’s factors (event, mail)', async () => {
    const admin = await userWith(['admin']);
    const adminAccess = (await enrolAtSignIn(admin.email)).done.json().access_token as string;

    const target = await userWith(['ops']);
    const enrolled = await enrolAtSignIn(target.email);
    const targetAccess = enrolled.done.json().access_token as string;
    const key = new SoftwareAuthenticator({ origin: ORIGIN, synced: true });
    const opts = await post('/auth/passkeys/register/options', {}, bearer(targetAccess));
    const reg = await post('/auth/passkeys/register/verify', { response: key.create(opts.json().options as CreationOptions), name: 'Phone' }, bearer(targetAccess));
    expect(reg.statusCode, reg.body).toBe(201);

    const plain = await registerAndLogin(t.app);
    expectProblem(await t.app.inject({ method: 'GET', url: `/admin/users/${target.userId}/factors`, headers: bearer(plain.access) }), 403, 'FORBIDDEN');
    expectProblem(await t.app.inject({ method: 'DELETE', url: `/admin/users/${target.userId}/factors`, headers: bearer(plain.access) }), 403, 'FORBIDDEN');
    expectProblem(await t.app.inject({ method: 'GET', url: '/admin/users/nope/factors', headers: bearer(adminAccess) }), 404, 'NOT_FOUND');
    expectProblem(
      await t.app.inject({ method: 'DELETE', url: `/admin/users/${target.userId}/factors?type=sms`, headers: bearer(adminAccess) }),
      422,
      'VALIDATION_FAILED',
    );

    const view = await t.app.inject({ method: 'GET', url: `/admin/users/${target.userId}/factors`, headers: bearer(adminAccess) });
    expect(view.statusCode, view.body).toBe(200);
    const factors = view.json();
    expect(factors).toMatchObject({ recovery_codes_left: 10, mfa_required: true, factors: [{ type: 'totp', status: 'active' }] });
    expect(factors.passkeys).toHaveLength(1);
    expect(factors.passkeys[0]).toMatchObject({ name: 'Phone', device_type: 'multiDevice' });
    expect(view.body).not.toContain(enrolled.secret);
    expect(view.body).not.toMatch(/public_?key|secret/i);

    // Only the passkeys first, then everything.
    const onlyPasskeys = await t.app.inject({ method: 'DELETE', url: `/admin/users/${target.userId}/factors?type=passkeys`, headers: bearer(adminAccess) });
    expect(onlyPasskeys.statusCode, onlyPasskeys.body).toBe(200);
    expect(onlyPasskeys.json()).toEqual({ removed: { totp: 0, recovery_codes: 0, passkeys: 1 } });
    const reset = await t.app.inject({ method: 'DELETE', url: `/admin/users/${target.userId}/factors`, headers: bearer(adminAccess) });
    expect(reset.statusCode, reset.body).toBe(200);
    expect(reset.json()).toEqual({ removed: { totp: 1, recovery_codes: 10, passkeys: 0 } });
    const after = (await t.app.inject({ method: 'GET', url: `/admin/users/${target.userId}/factors`, headers: bearer(adminAccess) })).json();
    expect(after).toMatchObject({ factors: [], passkeys: [], recovery_codes_left: 0 });

    const events = await t.app.latchkey.store.listEvents(target.userId, 20);
    const resets = events.filter((e) => e.type === 'factors_reset_by_admin').map((e) => e.detail);
    expect(resets).toContainEqual({ admin_id: admin.userId, type: 'all', totp: 1, recovery_codes: 10, passkeys: 0 });
    expect(resets).toContainEqual({ admin_id: admin.userId, type: 'passkeys', totp: 0, recovery_codes: 0, passkeys: 1 });

    // The user's sessions stay; their next sign-in enrols again.
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(targetAccess) })).statusCode).toBe(200);
    expect((await loginRequest(t.app, target.email)).json().mfa_enrollment_required).toBe(true);

    const mails = await mailsTo(target.email);
    const subjects = mails.map((m) => m.subject);
    expect(subjects.filter((s) => s.startsWith('An administrator reset your second factors'))).toHaveLength(2);
    expect(subjects.some((s) => s.startsWith('An authenticator app was added'))).toBe(true);
    expect(subjects.some((s) => s.startsWith('A passkey was added'))).toBe(true);
  });

  it('mails the user when a factor is added or removed and when recovery codes are replaced; no secret in any mail', async () => {
    const u = await registerAndLogin(t.app);
    const started = await post('/auth/factors/totp', {}, bearer(u.access));
    const secret = started.json().secret as string;
    const confirmed = await post('/auth/factors/totp/confirm', { code: codeAt(t.app, secret) }, bearer(u.access));
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    const firstCodes = confirmed.json().recovery_codes as string[];
    t.clock!.advance(STEP);
    const regenerated = await post('/auth/factors/recovery-codes', { code: codeAt(t.app, secret) }, bearer(u.access));
    expect(regenerated.statusCode, regenerated.body).toBe(200);
    const newCodes = regenerated.json().recovery_codes as string[];

    const key = new SoftwareAuthenticator({ origin: ORIGIN });
    const opts = await post('/auth/passkeys/register/options', {}, bearer(u.access));
    const reg = await post('/auth/passkeys/register/verify', { response: key.create(opts.json().options as CreationOptions), name: 'Desk <key>' }, bearer(u.access));
    expect(reg.statusCode, reg.body).toBe(201);
    t.clock!.advance(STEP);
    const delPasskey = await t.app.inject({
      method: 'DELETE',
      url: `/auth/passkeys/${reg.json().passkey.id as string}`,
      headers: bearer(u.access),
      payload: { code: codeAt(t.app, secret) },
    });
    expect(delPasskey.statusCode, delPasskey.body).toBe(204);
    t.clock!.advance(STEP);
    const delTotp = await t.app.inject({ method: 'DELETE', url: '/auth/factors/totp', headers: bearer(u.access), payload: { code: codeAt(t.app, secret) } });
    expect(delTotp.statusCode, delTotp.body).toBe(204);

    const mails = await mailsTo(u.email);
    expect(mails.map((m) => m.subject.replace(/ \(Latchkey\)$/, '')).filter((s) => !s.startsWith('Confirm your email')).sort()).toEqual([
      'An authenticator app was added to your account',
      'New recovery codes were created for your account',
      'A passkey was added to your account',
      'A passkey was removed from your account',
      'The authenticator app was removed from your account',
    ].sort()); // sent in the background, several at once: their order of arrival is not the order of the changes
    const added = mails.find((m) => m.subject.startsWith('A passkey was added'))!;
    expect(added.text).toContain('A passkey ("Desk <key>") was added');
    expect(added.html).toContain('Desk &lt;key&gt;');
    for (const m of mails) {
      for (const s of [secret, ...firstCodes, ...newCodes, u.access, u.refresh]) {
        expect(m.text).not.toContain(s);
        expect(m.html).not.toContain(s);
      }
    }
  });

  it('never blocks the change on the mail server: a factor is added while SMTP is down', async () => {
    await smtp.close();
    try {
      const u = await registerAndLogin(t.app);
      const started = await post('/auth/factors/totp', {}, bearer(u.access));
      const confirmed = await post('/auth/factors/totp/confirm', { code: codeAt(t.app, started.json().secret as string) }, bearer(u.access));
      expect(confirmed.statusCode, confirmed.body).toBe(200);
    } finally {
      smtp = await startSmtp({ port: smtp.port });
    }
  });
});

describe('MFA_REQUIRED_ROLES: wrong codes at enrolment and the lockout', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(
      {
        MFA_REQUIRED_ROLES: 'ops',
        RATE_LIMIT_ENABLED: 'true',
        RATE_LIMIT_LOGIN: '1000/1m',
        RATE_LIMIT_DEFAULT: '1000/1m',
        LOGIN_BACKOFF_THRESHOLD: '3',
        LOGIN_BACKOFF_BASE: '60s',
      },
      { clock: true },
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  it('wrong first codes count toward the lockout; when it engages the enrolment token is gone, as a challenge token is', async () => {
    const email = `lock-${Math.random().toString(36).slice(2)}@example.com`;
    const reg = await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } });
    await t.app.latchkey.store.updateUser(reg.json().user.id as string, { roles: ['ops'] }, t.clock!());
    const token = (await loginRequest(t.app, email)).json().mfa_token as string;
    const started = await t.app.inject({ method: 'POST', url: '/auth/mfa/enroll/totp', payload: { mfa_token: token } });
    const secret = started.json().secret as string;
    for (let i = 0; i < 3; i++) {
      const wrong = await t.app.inject({ method: 'POST', url: '/auth/mfa/enroll/totp/confirm', payload: { mfa_token: token, code: codeAt(t.app, secret, 5) } });
      expectProblem(wrong, 400, 'INVALID_MFA_CODE');
    }
    expectProblem(await loginRequest(t.app, email), 429, 'RATE_LIMITED');
    t.clock!.advance(61_000);
    // After the lock, the old token does not come back: start again from the password.
    const late = await t.app.inject({ method: 'POST', url: '/auth/mfa/enroll/totp/confirm', payload: { mfa_token: token, code: codeAt(t.app, secret) } });
    expectProblem(late, 400, 'MFA_TOKEN_INVALID');
    const again = (await loginRequest(t.app, email)).json() as { mfa_enrollment_required?: boolean };
    expect(again.mfa_enrollment_required).toBe(true);
  });
});

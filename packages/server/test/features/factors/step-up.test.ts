/**
 * Step-up over HTTP (docs/factors.md, "Step-up"): every sensitive route refuses a session whose
 * authentication is older than STEP_UP_MAX_AGE with 403 REAUTHENTICATION_REQUIRED (max_age,
 * methods), and accepts it after POST /auth/reauthenticate; wrong proofs are refused, counted
 * toward the login lockout and change nothing; passkey reauthentication takes only the caller's
 * own passkeys and a challenge once; cookie mode needs its CSRF proof. Under a steppable clock.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amrAfterReauthentication } from '../../../src/features/factors/step-up.js';
import { codeAt, enrolTotp, mfaToken, payloadOf, STEP, verify } from '../../support/factors.js';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { bearerRefresh, cookieLogin, cookieRefresh, expectProblem, setCookies, updateJar } from '../../support/sessions.js';
import { SoftwareAuthenticator, type CreationOptions, type RequestOptions } from '../../support/webauthn-authenticator.js';

const ORIGIN = 'http://latchkey.test';
const MAX_AGE = 10 * 60_000;

type Inject = Awaited<ReturnType<FastifyInstance['inject']>>;

function reauth(app: FastifyInstance, access: string, payload: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Inject> {
  return app.inject({ method: 'POST', url: '/auth/reauthenticate', headers: { ...bearer(access), ...headers }, payload });
}

function expectStepUp(res: Inject, methods: string[]): void {
  expectProblem(res, 403, 'REAUTHENTICATION_REQUIRED');
  expect(res.json()).toMatchObject({ max_age: MAX_AGE / 1000, methods });
}

describe('step-up', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({}, { clock: true });
  });
  afterAll(async () => {
    await t.close();
  });

  async function registerPasskey(access: string, authenticator: SoftwareAuthenticator): Promise<string> {
    const opts = await t.app.inject({ method: 'POST', url: '/auth/passkeys/register/options', headers: bearer(access) });
    const response = authenticator.create(opts.json().options as CreationOptions);
    const res = await t.app.inject({ method: 'POST', url: '/auth/passkeys/register/verify', headers: bearer(access), payload: { response } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().passkey.id as string;
  }

  async function reauthOptions(access: string): Promise<RequestOptions> {
    const res = await t.app.inject({ method: 'POST', url: '/auth/reauthenticate/passkey/options', headers: bearer(access) });
    expect(res.statusCode, res.body).toBe(200);
    return res.json().options as RequestOptions;
  }

  /** An account with an active authenticator, signed in with it; its session then grows old. */
  async function factorUser() {
    const u = await registerAndLogin(t.app);
    const { secret, recoveryCodes } = await enrolTotp(t.app, u.access);
    t.clock!.advance(STEP);
    const signedIn = await verify(t.app, { mfa_token: await mfaToken(t.app, u.email), code: codeAt(t.app, secret) });
    expect(signedIn.statusCode, signedIn.body).toBe(200);
    t.clock!.advance(MAX_AGE + 1000);
    return { ...u, secret, recoveryCodes, access: signedIn.json().access_token as string, refresh: signedIn.json().refresh_token as string };
  }

  it('a password account: an old session may not remove a passkey; after reauthenticating with the password it may', async () => {
    const u = await registerAndLogin(t.app);
    const key = new SoftwareAuthenticator({ origin: ORIGIN });
    const id = await registerPasskey(u.access, key);
    t.clock!.advance(MAX_AGE + 1000);
    const refused = await t.app.inject({ method: 'DELETE', url: `/auth/passkeys/${id}`, headers: bearer(u.access) });
    expectStepUp(refused, ['password', 'passkey']);
    expect(refused.json().detail).toMatch(/POST \/auth\/reauthenticate/);

    const before = payloadOf(u.access);
    const res = await reauth(t.app, u.access, { password: u.password });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['cache-control']).toContain('no-store');
    const body = res.json() as { access_token: string; refresh_token: string; token_type: string; expires_in: number };
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    const claims = payloadOf(body.access_token);
    expect(claims).toMatchObject({ sid: before.sid, amr: ['pwd'], auth_time: Math.floor(t.clock!() / 1000) });
    expect(claims.auth_time).toBeGreaterThan(before.auth_time as number);

    // The old access token's session is the same: the step-up is the session's, whichever token asks.
    const removed = await t.app.inject({ method: 'DELETE', url: `/auth/passkeys/${id}`, headers: bearer(u.access) });
    expect(removed.statusCode, removed.body).toBe(204);
    expect((await t.app.latchkey.store.listEvents(u.userId, 20)).map((e) => [e.type, e.detail])).toContainEqual([
      'reauthenticated',
      { session_id: before.sid, method: 'password' },
    ]);
    // A refresh keeps the new auth_time; STEP_UP_MAX_AGE later the session is old again.
    const refreshed = await bearerRefresh(t.app, body.refresh_token);
    expect(payloadOf(refreshed.json().access_token as string).auth_time).toBe(claims.auth_time);
    t.clock!.advance(MAX_AGE + 1000);
    const again = await registerPasskey(refreshed.json().access_token as string, key);
    expectStepUp(await t.app.inject({ method: 'DELETE', url: `/auth/passkeys/${again}`, headers: bearer(refreshed.json().access_token as string) }), ['password', 'passkey']);
  });

  it('the refresh token rotates: the old one is spent (reuse past the grace window ends the session)', async () => {
    const u = await registerAndLogin(t.app);
    const res = await reauth(t.app, u.access, { password: u.password });
    expect(res.statusCode, res.body).toBe(200);
    const fresh = res.json().refresh_token as string;
    expect(fresh).not.toBe(u.refresh);
    t.clock!.advance(11_000);
    expectProblem(await bearerRefresh(t.app, u.refresh), 401, 'REFRESH_TOKEN_REUSED');
    expectProblem(await bearerRefresh(t.app, fresh), 401, 'INVALID_REFRESH_TOKEN');
  });

  it('an account with a factor: removing it, new recovery codes and change password each need a recent factor authentication', async () => {
    const u = await factorUser();
    const codeMethods = ['code', 'recovery_code'];
    expectStepUp(await t.app.inject({ method: 'DELETE', url: '/auth/factors/totp', headers: bearer(u.access) }), codeMethods);
    expectStepUp(await t.app.inject({ method: 'POST', url: '/auth/factors/recovery-codes', headers: bearer(u.access) }), codeMethods);
    const change = (current: string, next: string, extra: Record<string, string> = {}) =>
      t.app.inject({ method: 'POST', url: '/auth/change-password', headers: bearer(u.access), payload: { current_password: current, new_password: next, ...extra } });
    // The current password alone is not enough; refused before it is checked (a wrong one too, and nothing counted).
    expectStepUp(await change(u.password, 'a brand new passphrase'), codeMethods);
    expectStepUp(await change('not the password', 'a brand new passphrase'), codeMethods);
    expect((await t.app.latchkey.store.listEvents(u.userId, 50)).map((e) => e.type)).not.toContain('login_backoff');

    // The password is refused as a reauthentication of such an account: it is what a thief of it has.
    const pwd = await reauth(t.app, u.access, { password: u.password });
    expectProblem(pwd, 400, 'REAUTHENTICATION_METHOD_UNAVAILABLE');
    expect(pwd.json().methods).toEqual(codeMethods);

    const res = await reauth(t.app, u.access, { code: codeAt(t.app, u.secret) });
    expect(res.statusCode, res.body).toBe(200);
    const access = res.json().access_token as string;
    expect(payloadOf(access)).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], auth_time: Math.floor(t.clock!() / 1000) });

    const codes = await t.app.inject({ method: 'POST', url: '/auth/factors/recovery-codes', headers: bearer(access) });
    expect(codes.statusCode, codes.body).toBe(200);
    const changed = await t.app.inject({
      method: 'POST',
      url: '/auth/change-password',
      headers: bearer(access),
      payload: { current_password: u.password, new_password: 'a brand new passphrase' },
    });
    expect(changed.statusCode, changed.body).toBe(204);
    const removed = await t.app.inject({ method: 'DELETE', url: '/auth/factors/totp', headers: bearer(access) });
    expect(removed.statusCode, removed.body).toBe(204);
  });

  it('change password of an account with a factor: a code in the body does instead of a recent authentication; without a factor the password is enough', async () => {
    const u = await factorUser();
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/change-password',
      headers: bearer(u.access),
      payload: { current_password: u.password, new_password: 'a brand new passphrase', recovery_code: u.recoveryCodes[0] },
    });
    expect(res.statusCode, res.body).toBe(204);
    // A wrong password spends no recovery code.
    const wrong = await t.app.inject({
      method: 'POST',
      url: '/auth/change-password',
      headers: bearer(u.access),
      payload: { current_password: 'not the password', new_password: 'another passphrase', recovery_code: u.recoveryCodes[1] },
    });
    expectProblem(wrong, 400, 'INVALID_CREDENTIALS');
    expect((await t.app.inject({ method: 'GET', url: '/auth/factors', headers: bearer(u.access) })).json().recovery_codes_left).toBe(9);

    const plain = await registerAndLogin(t.app);
    t.clock!.advance(MAX_AGE + 1000);
    const ok = await t.app.inject({
      method: 'POST',
      url: '/auth/change-password',
      headers: bearer(plain.access),
      payload: { current_password: plain.password, new_password: 'a brand new passphrase' },
    });
    expect(ok.statusCode, ok.body).toBe(204);
  });

  it('reauthenticating with a recovery code spends it; amr keeps what the session proved', async () => {
    const u = await factorUser();
    const res = await reauth(t.app, u.access, { recovery_code: u.recoveryCodes[0] });
    expect(res.statusCode, res.body).toBe(200);
    expect(payloadOf(res.json().access_token as string).amr).toEqual(['pwd', 'otp', 'mfa']);
    expectProblem(await reauth(t.app, u.access, { recovery_code: u.recoveryCodes[0] }), 400, 'INVALID_MFA_CODE');
  });

  it('wrong passwords and codes are refused, change nothing and count toward the login lockout', async () => {
    const limited = await createTestApp({ RATE_LIMIT_ENABLED: 'true', LOGIN_BACKOFF_THRESHOLD: '3', RATE_LIMIT_DEFAULT: '1000/1m', RATE_LIMIT_LOGIN: '1000/1m', RATE_LIMIT_CHANGE_PASSWORD: '1000/1m' }, { clock: true });
    try {
      const u = await registerAndLogin(limited.app);
      limited.clock!.advance(MAX_AGE + 1000);
      for (let i = 0; i < 2; i++) expectProblem(await reauth(limited.app, u.access, { password: 'not the password' }), 400, 'INVALID_CREDENTIALS');
      // The third engages the lock, which the login of that account and address meets too.
      expectProblem(await reauth(limited.app, u.access, { password: 'not the password' }), 429, 'RATE_LIMITED');
      expectProblem(await reauth(limited.app, u.access, { password: u.password }), 429, 'RATE_LIMITED');
      expectProblem(await limited.app.inject({ method: 'POST', url: '/auth/login', payload: { email: u.email, password: u.password } }), 429, 'RATE_LIMITED');
      const events = (await limited.app.latchkey.store.listEvents(u.userId, 50)).map((e) => [e.type, e.detail]);
      expect(events).toContainEqual(['reauthentication_failed', { method: 'password', code: 'INVALID_CREDENTIALS' }]);
      expect(events).toContainEqual(['login_backoff', expect.objectContaining({ route: 'reauthenticate' })]);
      // Nothing changed: the session is as old as before.
      const session = (await limited.app.latchkey.store.getSessionWithUser(payloadOf(u.access).sid as string))!.session;
      expect(session.authTime).toBe(limited.clock!() - MAX_AGE - 1000);

      // Wrong codes: the code lockout of docs/factors.md.
      const f = await registerAndLogin(limited.app);
      const { secret } = await enrolTotp(limited.app, f.access);
      limited.clock!.advance(MAX_AGE + 1000);
      const wrong = codeAt(limited.app, secret, 5);
      for (let i = 0; i < 2; i++) expectProblem(await reauth(limited.app, f.access, { code: wrong }), 400, 'INVALID_MFA_CODE');
      expectProblem(await reauth(limited.app, f.access, { code: wrong }), 400, 'INVALID_MFA_CODE');
      expectProblem(await reauth(limited.app, f.access, { code: codeAt(limited.app, secret) }), 429, 'RATE_LIMITED');
      expect((await limited.app.latchkey.store.listEvents(f.userId, 50)).filter((e) => e.type === 'mfa_failed')).toHaveLength(3);
      expectStepUp(await limited.app.inject({ method: 'DELETE', url: '/auth/factors/totp', headers: bearer(f.access) }), ['code', 'recovery_code']);
    } finally {
      await limited.close();
    }
  });

  it('asks for exactly one proof, and one this account has', async () => {
    const u = await registerAndLogin(t.app);
    expectProblem(await reauth(t.app, u.access, {}), 422, 'VALIDATION_FAILED');
    expectProblem(await reauth(t.app, u.access, { password: u.password, code: '123456' }), 422, 'VALIDATION_FAILED');
    expectProblem(await reauth(t.app, u.access, { pin: '1234' }), 422, 'VALIDATION_FAILED');
    const code = await reauth(t.app, u.access, { code: '123456' });
    expectProblem(code, 400, 'REAUTHENTICATION_METHOD_UNAVAILABLE');
    expect(code.json().methods).toEqual(['password']);
    expectProblem(
      await t.app.inject({ method: 'POST', url: '/auth/reauthenticate/passkey/options', headers: bearer(u.access) }),
      400,
      'PASSKEY_UNKNOWN',
    );
    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/reauthenticate', payload: { password: u.password } }), 401, 'UNAUTHORIZED');
  });

  it('with a passkey: only the caller’s own, each challenge once, and not a challenge of another ceremony', async () => {
    const u = await registerAndLogin(t.app);
    const key = new SoftwareAuthenticator({ origin: ORIGIN });
    const id = await registerPasskey(u.access, key);
    const other = await registerAndLogin(t.app);
    const otherKey = new SoftwareAuthenticator({ origin: ORIGIN, synced: true });
    await registerPasskey(other.access, otherKey);
    t.clock!.advance(MAX_AGE + 1000);

    const options = await reauthOptions(u.access);
    expect(options.allowCredentials!.map((c) => c.id)).toEqual([...key.credentials.keys()]);
    // Another user's passkey, for my challenge: refused, and the challenge stays mine to use.
    const foreign = otherKey.get(options, { credentialId: [...otherKey.credentials.keys()][0] });
    expectProblem(await reauth(t.app, u.access, { passkey: foreign }), 400, 'PASSKEY_UNKNOWN');
    expectStepUp(await t.app.inject({ method: 'DELETE', url: `/auth/passkeys/${id}`, headers: bearer(u.access) }), ['password', 'passkey']);
    // My passkey, for another user's challenge: refused.
    const theirs = await reauthOptions(other.access);
    expectProblem(await reauth(t.app, u.access, { passkey: key.get(theirs, { credentialId: [...key.credentials.keys()][0] }) }), 400, 'PASSKEY_CHALLENGE_INVALID');
    // A challenge of a sign-in: another ceremony.
    const login = (await t.app.inject({ method: 'POST', url: '/auth/passkeys/login/options' })).json().options as RequestOptions;
    expectProblem(await reauth(t.app, u.access, { passkey: key.get(login) }), 400, 'PASSKEY_CHALLENGE_INVALID');

    const assertion = key.get(options);
    const res = await reauth(t.app, u.access, { passkey: assertion });
    expect(res.statusCode, res.body).toBe(200);
    expect(payloadOf(res.json().access_token as string).amr).toEqual(['pwd', 'hwk', 'mfa']);
    // Replayed: the challenge was spent.
    expectProblem(await reauth(t.app, u.access, { passkey: assertion }), 400, 'PASSKEY_CHALLENGE_INVALID');
    const removed = await t.app.inject({ method: 'DELETE', url: `/auth/passkeys/${id}`, headers: bearer(u.access) });
    expect(removed.statusCode, removed.body).toBe(204);
  });

  it('cookie mode: needs X-CSRF-Token; answers the new refresh token in the cookie, not the body', async () => {
    const u = await registerAndLogin(t.app);
    const c = await cookieLogin(t.app, u.email, u.password);
    t.clock!.advance(MAX_AGE + 1000);
    const headers = { 'x-auth-mode': 'cookie' };
    const noCsrf = await t.app.inject({ method: 'POST', url: '/auth/reauthenticate', headers: { ...bearer(c.access), ...headers }, cookies: c.jar, payload: { password: u.password } });
    expectProblem(noCsrf, 403, 'CSRF_FAILED');
    const wrong = await t.app.inject({
      method: 'POST',
      url: '/auth/reauthenticate',
      headers: { ...bearer(c.access), ...headers, 'x-csrf-token': 'x'.repeat(43) },
      cookies: c.jar,
      payload: { password: u.password },
    });
    expectProblem(wrong, 403, 'CSRF_FAILED');
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/reauthenticate',
      headers: { ...bearer(c.access), ...headers, 'x-csrf-token': c.csrf },
      cookies: c.jar,
      payload: { password: u.password },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).not.toHaveProperty('refresh_token');
    expect(res.json().csrf_token).toBe(c.csrf);
    const cookies = setCookies(res);
    expect(cookies.lk_refresh!.raw).toMatch(/HttpOnly/i);
    expect(cookies.lk_refresh!.value).not.toBe(c.jar.lk_refresh);
    const jar = updateJar(c.jar, res);
    const refreshed = await cookieRefresh(t.app, jar);
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    expect(payloadOf(refreshed.json().access_token as string).auth_time).toBe(Math.floor(t.clock!() / 1000));
  });

  it('amr after a reauthentication: what the session proved, with mfa once something known and something held are in it', () => {
    expect(amrAfterReauthentication(['pwd'], ['pwd'])).toEqual(['pwd']);
    expect(amrAfterReauthentication(['pwd'], ['otp'])).toEqual(['pwd', 'otp', 'mfa']);
    expect(amrAfterReauthentication(['pwd', 'otp', 'mfa'], ['otp'])).toEqual(['pwd', 'otp', 'mfa']);
    expect(amrAfterReauthentication(['hwk'], ['pwd'])).toEqual(['pwd', 'hwk', 'mfa']);
    expect(amrAfterReauthentication(['swk'], ['swk'])).toEqual(['swk']);
    expect(amrAfterReauthentication(['swk', 'mfa'], ['hwk'])).toEqual(['hwk', 'swk', 'mfa']);
    // An email sign-in (docs/email.md) is a first factor as a password is: with a code, mfa.
    expect(amrAfterReauthentication(['email'], ['otp'])).toEqual(['email', 'otp', 'mfa']);
    expect(amrAfterReauthentication(['email'], ['pwd'])).toEqual(['pwd', 'email']);
  });
});

describe('step-up of the admin routes (STEP_UP_ADMIN)', () => {
  async function adminOf(t: TestApp) {
    const a = await registerAndLogin(t.app);
    await t.app.latchkey.store.updateUser(a.userId, { roles: ['admin'] }, t.clock!());
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: a.email, password: a.password } });
    return { ...a, access: login.json().access_token as string };
  }

  it('on: every state-changing admin request needs a recent authentication; reads do not', async () => {
    const t = await createTestApp({ STEP_UP_ADMIN: 'true', STEP_UP_MAX_AGE: '2m' }, { clock: true });
    try {
      const admin = await adminOf(t);
      const target = await registerAndLogin(t.app);
      const patch = (access: string) =>
        t.app.inject({ method: 'PATCH', url: `/admin/users/${target.userId}`, headers: bearer(access), payload: { name: 'Renamed' } });
      expect((await patch(admin.access)).statusCode).toBe(200);
      t.clock!.advance(2 * 60_000 + 1000);
      const refused = await patch(admin.access);
      expectProblem(refused, 403, 'REAUTHENTICATION_REQUIRED');
      expect(refused.json()).toMatchObject({ max_age: 120, methods: ['password'] });
      expectStepUp2(await t.app.inject({ method: 'POST', url: `/admin/users/${target.userId}/revoke-sessions`, headers: bearer(admin.access) }));
      expectStepUp2(await t.app.inject({ method: 'DELETE', url: `/admin/users/${target.userId}`, headers: bearer(admin.access) }));
      expect((await t.app.inject({ method: 'GET', url: '/admin/users', headers: bearer(admin.access) })).statusCode).toBe(200);
      // A user without the role still gets 403 FORBIDDEN, not a step-up.
      expectProblem(await patch(target.access), 403, 'FORBIDDEN');

      const res = await reauth(t.app, admin.access, { password: admin.password });
      expect(res.statusCode, res.body).toBe(200);
      expect((await patch(res.json().access_token as string)).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('off (the default): an old admin session changes users as before', async () => {
    const t = await createTestApp({}, { clock: true });
    try {
      const admin = await adminOf(t);
      const target = await registerAndLogin(t.app);
      t.clock!.advance(MAX_AGE + 1000);
      const res = await t.app.inject({ method: 'PATCH', url: `/admin/users/${target.userId}`, headers: bearer(admin.access), payload: { name: 'Renamed' } });
      expect(res.statusCode, res.body).toBe(200);
    } finally {
      await t.close();
    }
  });

  function expectStepUp2(res: Inject): void {
    expectProblem(res, 403, 'REAUTHENTICATION_REQUIRED');
  }
});

/**
 * Login of an account with a second factor: the password alone never yields a token, a cookie
 * or a session; POST /auth/mfa/verify finishes it (JSON and cookie mode); the mfa_token is
 * single-use, short-lived and bound to its user; the OAuth2 password form is refused with
 * invalid_grant; recovery codes work once and can be replaced; access tokens carry amr and
 * auth_time, and refresh keeps them; nothing secret reaches the logs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { bearerRefresh, cookieRefresh, expectProblem, setCookies, updateJar } from '../../support/sessions.js';
import { codeAt, enrolTotp, loginRequest, mfaToken, payloadOf, STEP, verify } from '../../support/factors.js';

describe('login with a second factor', () => {
  let t: TestApp;
  const secrets: string[] = [];
  beforeAll(async () => {
    t = await createTestApp({ LOG_LEVEL: 'trace' }, { clock: true });
  });
  afterAll(async () => {
    await t.close();
  });

  /** A user with an active authenticator; the clock moved on one step so that a fresh code is usable. */
  async function factorUser() {
    const u = await registerAndLogin(t.app);
    const enrolled = await enrolTotp(t.app, u.access);
    secrets.push(enrolled.secret, ...enrolled.recoveryCodes);
    t.clock!.advance(STEP);
    return { ...u, ...enrolled };
  }

  it('a password login answers only the challenge: no token, no cookie, no session', async () => {
    const u = await factorUser();
    const before = await t.app.latchkey.store.listSessions(u.userId, t.clock!());
    const modes: Array<Record<string, string>> = [{}, { 'x-auth-mode': 'cookie' }];
    for (const headers of modes) {
      const res = await loginRequest(t.app, u.email, headers);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['expires_in', 'factors', 'mfa_required', 'mfa_token']);
      expect(body).toMatchObject({ mfa_required: true, factors: ['totp', 'recovery_code'], expires_in: 300 });
      expect(body.mfa_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      secrets.push(body.mfa_token as string);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).not.toMatch(/access_token|refresh_token|csrf_token/);
    }
    expect(await t.app.latchkey.store.listSessions(u.userId, t.clock!())).toEqual(before);
  });

  it('verify with a TOTP code answers the tokens login would; amr and auth_time come from the second factor and survive refresh', async () => {
    const u = await factorUser();
    const token = await mfaToken(t.app, u.email);
    t.clock!.advance(7_000);
    const signedInAt = t.clock!();
    const res = await verify(t.app, { mfa_token: token, code: codeAt(t.app, u.secret) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json() as { access_token: string; refresh_token: string; token_type: string; expires_in: number };
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    const claims = payloadOf(body.access_token);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.auth_time).toBe(Math.floor(signedInAt / 1000));
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(body.access_token) })).statusCode).toBe(200);

    t.clock!.advance(60_000);
    const refreshed = await bearerRefresh(t.app, body.refresh_token);
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    const after = payloadOf(refreshed.json().access_token as string);
    expect(after.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(after.auth_time).toBe(Math.floor(signedInAt / 1000));
    expect(after.iat).toBe(Math.floor(t.clock!() / 1000));

    const events = (await t.app.latchkey.store.listEvents(u.userId, 5)).map((e) => [e.type, e.detail]);
    expect(events).toContainEqual(['login_succeeded', expect.objectContaining({ second_factor: 'totp' })]);
  });

  it('a password-only login carries amr ["pwd"] and its own auth_time, also after refresh', async () => {
    t.clock!.advance(1000);
    const loginAt = t.clock!();
    const u = await registerAndLogin(t.app);
    expect(payloadOf(u.access)).toMatchObject({ amr: ['pwd'], auth_time: Math.floor(loginAt / 1000) });
    t.clock!.advance(120_000);
    const refreshed = await bearerRefresh(t.app, u.refresh);
    expect(payloadOf(refreshed.json().access_token as string)).toMatchObject({ amr: ['pwd'], auth_time: Math.floor(loginAt / 1000) });
  });

  it('cookie mode: the verify request with X-Auth-Mode: cookie sets the refresh and CSRF cookies; the cookie refresh keeps amr', async () => {
    const u = await factorUser();
    const token = await mfaToken(t.app, u.email);
    const res = await verify(t.app, { mfa_token: token, code: codeAt(t.app, u.secret) }, { 'x-auth-mode': 'cookie' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as Record<string, unknown>;
    expect(body).not.toHaveProperty('refresh_token');
    expect(body.csrf_token).toEqual(expect.any(String));
    const cookies = setCookies(res);
    expect(cookies.lk_refresh?.raw).toMatch(/HttpOnly/i);
    expect(cookies.lk_refresh?.raw).toMatch(/Path=\/auth/);
    const jar = updateJar({}, res);
    t.clock!.advance(1000);
    const refreshed = await cookieRefresh(t.app, jar);
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    expect(payloadOf(refreshed.json().access_token as string).amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('the mfa_token is single-use, expires after MFA_CHALLENGE_TTL, and is bound to its user', async () => {
    const u = await factorUser();
    const other = await factorUser();
    // Used once: a second use with a fresh code is refused.
    const token = await mfaToken(t.app, u.email);
    expect((await verify(t.app, { mfa_token: token, code: codeAt(t.app, u.secret) })).statusCode).toBe(200);
    t.clock!.advance(STEP);
    const reused = await verify(t.app, { mfa_token: token, code: codeAt(t.app, u.secret) });
    expectProblem(reused, 400, 'MFA_TOKEN_INVALID');
    expect(reused.json()).toMatchObject({ error: 'invalid_grant' });

    // Another user's code with this user's token: wrong code (the token names its user).
    const mine = await mfaToken(t.app, u.email);
    expectProblem(await verify(t.app, { mfa_token: mine, code: codeAt(t.app, other.secret) }), 400, 'INVALID_MFA_CODE');
    expectProblem(await verify(t.app, { mfa_token: mine, recovery_code: other.recoveryCodes[0]! }), 400, 'INVALID_MFA_CODE');
    // ... and the token stays usable after wrong codes.
    expect((await verify(t.app, { mfa_token: mine, code: codeAt(t.app, u.secret) })).statusCode).toBe(200);

    // Expired: 5 minutes later.
    t.clock!.advance(STEP);
    const late = await mfaToken(t.app, u.email);
    t.clock!.advance(300_000);
    expectProblem(await verify(t.app, { mfa_token: late, code: codeAt(t.app, u.secret) }), 400, 'MFA_TOKEN_INVALID');
    // Unknown token, and a refresh token or access token in its place.
    expectProblem(await verify(t.app, { mfa_token: 'x'.repeat(43), code: codeAt(t.app, u.secret) }), 400, 'MFA_TOKEN_INVALID');
    expectProblem(await verify(t.app, { mfa_token: u.refresh, code: codeAt(t.app, u.secret) }), 400, 'MFA_TOKEN_INVALID');
  });

  it('the OAuth2 password form is refused with MFA_REQUIRED / invalid_grant, and starts no session', async () => {
    const u = await factorUser();
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `grant_type=password&username=${encodeURIComponent(u.email)}&password=${encodeURIComponent(u.password)}`,
    });
    expectProblem(res, 400, 'MFA_REQUIRED');
    expect(res.json()).toMatchObject({ error: 'invalid_grant' });
    expect(res.json().detail).toMatch(/second factor/);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(await t.app.latchkey.store.listSessions(u.userId, t.clock!())).toHaveLength(1); // the registerAndLogin one
  });

  it('a recovery code signs in once; the count goes down; regenerating voids the old set', async () => {
    const u = await factorUser();
    const [first, second] = u.recoveryCodes;
    // Case, spaces and dashes do not matter.
    const typed = first!.toLowerCase().replace(/-/g, ' ');
    const res = await verify(t.app, { mfa_token: await mfaToken(t.app, u.email), recovery_code: typed });
    expect(res.statusCode, res.body).toBe(200);
    expect(payloadOf(res.json().access_token as string).amr).toEqual(['pwd', 'otp', 'mfa']);
    const access = res.json().access_token as string;
    expect((await t.app.inject({ method: 'GET', url: '/auth/factors', headers: bearer(access) })).json().recovery_codes_left).toBe(9);
    expectProblem(await verify(t.app, { mfa_token: await mfaToken(t.app, u.email), recovery_code: first! }), 400, 'INVALID_MFA_CODE');
    const events = (await t.app.latchkey.store.listEvents(u.userId, 10)).map((e) => [e.type, e.detail]);
    expect(events).toContainEqual(['recovery_code_used', { remaining: 9 }]);

    // Regenerate: a password-only session needs a code; with one, a new set of 10 replaces the old.
    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/factors/recovery-codes', headers: bearer(u.access) }), 403, 'REAUTHENTICATION_REQUIRED');
    const regen = await t.app.inject({ method: 'POST', url: '/auth/factors/recovery-codes', headers: bearer(u.access), payload: { code: codeAt(t.app, u.secret) } });
    expect(regen.statusCode, regen.body).toBe(200);
    const fresh = regen.json().recovery_codes as string[];
    secrets.push(...fresh);
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(second);
    expectProblem(await verify(t.app, { mfa_token: await mfaToken(t.app, u.email), recovery_code: second! }), 400, 'INVALID_MFA_CODE');
    expect((await verify(t.app, { mfa_token: await mfaToken(t.app, u.email), recovery_code: fresh[3]! })).statusCode).toBe(200);
    // The session that signed in with the factor just now regenerates without a code.
    const again = await t.app.inject({ method: 'POST', url: '/auth/factors/recovery-codes', headers: bearer(access) });
    expect(again.statusCode, again.body).toBe(200);
    secrets.push(...(again.json().recovery_codes as string[]));
    expect((await t.app.latchkey.store.listEvents(u.userId, 20)).map((e) => e.type)).toContain('recovery_codes_regenerated');
  });

  it('two verify requests with one recovery code at once: exactly one signs in', async () => {
    const u = await factorUser();
    const [a, b] = [await mfaToken(t.app, u.email), await mfaToken(t.app, u.email)];
    const results = await Promise.all([
      verify(t.app, { mfa_token: a, recovery_code: u.recoveryCodes[5]! }),
      verify(t.app, { mfa_token: b, recovery_code: u.recoveryCodes[5]! }),
    ]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 400]);
  });

  it('two verify requests with one mfa_token and two right answers at once: one session', async () => {
    const u = await factorUser();
    const token = await mfaToken(t.app, u.email);
    const before = (await t.app.latchkey.store.listSessions(u.userId, t.clock!())).length;
    const results = await Promise.all([
      verify(t.app, { mfa_token: token, code: codeAt(t.app, u.secret) }),
      verify(t.app, { mfa_token: token, recovery_code: u.recoveryCodes[0]! }),
    ]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 400]);
    expect(await t.app.latchkey.store.listSessions(u.userId, t.clock!())).toHaveLength(before + 1);
  });

  it('no secret, code or token of these flows appears in a log line', () => {
    const logs = t.logs.join('\n');
    expect(logs.length).toBeGreaterThan(1000);
    expect(secrets.length).toBeGreaterThan(50);
    for (const s of secrets) {
      expect(logs).not.toContain(s);
      if (s.includes('-')) expect(logs).not.toContain(s.replace(/-/g, ''));
    }
  });
});

describe('wrong codes and the lockout', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(
      { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_LOGIN: '1000/1m', RATE_LIMIT_DEFAULT: '1000/1m', LOGIN_BACKOFF_THRESHOLD: '3', LOGIN_BACKOFF_BASE: '60s' },
      { clock: true },
    );
  });
  afterAll(async () => {
    await t.close();
  });

  async function factorUser() {
    const u = await registerAndLogin(t.app);
    const enrolled = await enrolTotp(t.app, u.access);
    t.clock!.advance(STEP);
    return { ...u, ...enrolled };
  }

  it('after LOGIN_BACKOFF_THRESHOLD wrong codes the pair is locked and the mfa_token is gone', async () => {
    const u = await factorUser();
    const token = await mfaToken(t.app, u.email);
    for (let i = 0; i < 3; i++) {
      expectProblem(await verify(t.app, { mfa_token: token, code: codeAt(t.app, u.secret, 5) }), 400, 'INVALID_MFA_CODE');
    }
    // The challenge died with the lock, even with the right code.
    expectProblem(await verify(t.app, { mfa_token: token, code: codeAt(t.app, u.secret) }), 400, 'MFA_TOKEN_INVALID');
    // The password login of the pair is locked too: wrong codes count like failed logins.
    const locked = await loginRequest(t.app, u.email);
    expectProblem(locked, 429, 'RATE_LIMITED');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    t.clock!.advance(61_000);
    // Once the lock has passed: a new login and the right code succeed and clear the count.
    const ok = await verify(t.app, { mfa_token: await mfaToken(t.app, u.email), code: codeAt(t.app, u.secret) });
    expect(ok.statusCode, ok.body).toBe(200);
    expect((await t.app.latchkey.store.listEvents(u.userId, 20)).map((e) => e.type)).toContain('mfa_backoff');
    expect((await loginRequest(t.app, u.email)).statusCode).toBe(200);
  });

  it('while locked, a challenge obtained before the lock is refused 429 even with the right code', async () => {
    const u = await factorUser();
    const spare = await mfaToken(t.app, u.email, '198.51.100.7');
    const token = await mfaToken(t.app, u.email);
    for (let i = 0; i < 3; i++) await verify(t.app, { mfa_token: token, code: codeAt(t.app, u.secret, 5) });
    // The spare challenge was deleted with the others when the lock engaged.
    expectProblem(await verify(t.app, { mfa_token: spare, code: codeAt(t.app, u.secret) }, {}, '198.51.100.7'), 400, 'MFA_TOKEN_INVALID');
    // A challenge issued now from another address meets the account-wide lock.
    const fresh = await mfaToken(t.app, u.email, '198.51.100.8');
    const res = await verify(t.app, { mfa_token: fresh, code: codeAt(t.app, u.secret) }, {}, '198.51.100.8');
    expectProblem(res, 429, 'RATE_LIMITED');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('a right password between wrong codes does not reset the count', async () => {
    const u = await factorUser();
    expectProblem(await verify(t.app, { mfa_token: await mfaToken(t.app, u.email), code: codeAt(t.app, u.secret, 5) }), 400, 'INVALID_MFA_CODE');
    expectProblem(await verify(t.app, { mfa_token: await mfaToken(t.app, u.email), code: codeAt(t.app, u.secret, 5) }), 400, 'INVALID_MFA_CODE');
    expectProblem(await verify(t.app, { mfa_token: await mfaToken(t.app, u.email), code: codeAt(t.app, u.secret, 5) }), 400, 'INVALID_MFA_CODE');
    expectProblem(await loginRequest(t.app, u.email), 429, 'RATE_LIMITED');
  });

  it('wrong codes from many addresses still meet the account-wide lock', async () => {
    const u = await factorUser();
    for (let i = 0; i < 3; i++) {
      const ip = `203.0.113.${10 + i}`;
      const token = await mfaToken(t.app, u.email, ip);
      expectProblem(await verify(t.app, { mfa_token: token, code: codeAt(t.app, u.secret, 5) }, {}, ip), 400, 'INVALID_MFA_CODE');
    }
    const ip = '203.0.113.99';
    const token = await mfaToken(t.app, u.email, ip);
    expectProblem(await verify(t.app, { mfa_token: token, code: codeAt(t.app, u.secret) }, {}, ip), 429, 'RATE_LIMITED');
  });

  it('wrong codes at confirmation and removal count too', async () => {
    const u = await registerAndLogin(t.app);
    const started = (await t.app.inject({ method: 'POST', url: '/auth/factors/totp', headers: bearer(u.access) })).json() as { secret: string };
    for (let i = 0; i < 3; i++) {
      expectProblem(
        await t.app.inject({ method: 'POST', url: '/auth/factors/totp/confirm', headers: bearer(u.access), payload: { code: codeAt(t.app, started.secret, 4) } }),
        400,
        'INVALID_MFA_CODE',
      );
    }
    expectProblem(
      await t.app.inject({ method: 'POST', url: '/auth/factors/totp/confirm', headers: bearer(u.access), payload: { code: codeAt(t.app, started.secret) } }),
      429,
      'RATE_LIMITED',
    );
  });
});

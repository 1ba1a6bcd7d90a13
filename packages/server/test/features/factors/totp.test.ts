/**
 * TOTP enrolment and codes under a controlled clock: enrol, confirm, list, remove; the ±1 step
 * window; replay refused; the secret sealed at rest; wrong codes counted toward the lockout.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresStore } from '../../../src/store/postgres/index.js';
import type { SqliteStore } from '../../../src/store/sqlite/index.js';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { expectProblem } from '../../support/sessions.js';
import { codeAt, enrolTotp, mfaToken, STEP, verify } from '../../support/factors.js';

/** The factor and recovery-code rows of a user, read with the adapter's own SQL. */
async function rowsOf(t: TestApp, userId: string): Promise<{ factors: Array<Record<string, unknown>>; codes: Array<Record<string, unknown>> }> {
  const store = t.app.latchkey.store;
  if (store.kind === 'sqlite') {
    const db = (store as SqliteStore).db;
    return {
      factors: db.prepare('SELECT * FROM factors WHERE user_id = ?').all(userId) as Array<Record<string, unknown>>,
      codes: db.prepare('SELECT * FROM recovery_codes WHERE user_id = ?').all(userId) as Array<Record<string, unknown>>,
    };
  }
  const pool = (store as PostgresStore).pool;
  return {
    factors: (await pool.query('SELECT * FROM factors WHERE user_id = $1', [userId])).rows,
    codes: (await pool.query('SELECT * FROM recovery_codes WHERE user_id = $1', [userId])).rows,
  };
}

describe('TOTP enrolment', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ LOG_LEVEL: 'debug' }, { clock: true });
  });
  afterAll(async () => {
    await t.close();
  });

  it('enrol answers a secret, its otpauth URI and a QR code; the factor is pending until a code confirms it', async () => {
    const u = await registerAndLogin(t.app);
    const res = await t.app.inject({ method: 'POST', url: '/auth/factors/totp', headers: bearer(u.access) });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json() as { factor: { id: string; status: string }; secret: string; otpauth_uri: string; qr_code: string };
    expect(body.secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(body.otpauth_uri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('secret')).toBe(body.secret);
    expect(uri.searchParams.get('issuer')).toBe('Latchkey');
    expect(uri.searchParams.get('algorithm')).toBe('SHA1');
    expect(uri.searchParams.get('digits')).toBe('6');
    expect(uri.searchParams.get('period')).toBe('30');
    expect(decodeURIComponent(uri.pathname)).toContain(u.email);
    expect(body.qr_code).toMatch(/^data:image\/svg\+xml;base64,/);
    expect(Buffer.from(body.qr_code.split(',')[1]!, 'base64').toString('utf8')).toMatch(/^<svg /);
    expect(body.factor.status).toBe('pending');

    // Pending: login still answers tokens, and the list shows it pending.
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: u.email, password: u.password } });
    expect(login.json()).toHaveProperty('access_token');
    const list = await t.app.inject({ method: 'GET', url: '/auth/factors', headers: bearer(u.access) });
    expect(list.json()).toMatchObject({ factors: [{ id: body.factor.id, type: 'totp', status: 'pending', confirmed_at: null }], recovery_codes_left: 0 });

    // A wrong first code does not confirm it; the right one does and answers 10 recovery codes.
    const wrong = await t.app.inject({ method: 'POST', url: '/auth/factors/totp/confirm', headers: bearer(u.access), payload: { code: codeAt(t.app, body.secret, 3) } });
    expectProblem(wrong, 400, 'INVALID_MFA_CODE');
    const ok = await t.app.inject({ method: 'POST', url: '/auth/factors/totp/confirm', headers: bearer(u.access), payload: { code: codeAt(t.app, body.secret) } });
    expect(ok.statusCode, ok.body).toBe(200);
    const confirmed = ok.json() as { factor: { status: string }; recovery_codes: string[] };
    expect(confirmed.factor.status).toBe('active');
    expect(confirmed.recovery_codes).toHaveLength(10);
    expect(new Set(confirmed.recovery_codes).size).toBe(10);
    for (const c of confirmed.recovery_codes) expect(c).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    const after = await t.app.inject({ method: 'GET', url: '/auth/factors', headers: bearer(u.access) });
    expect(after.json()).toMatchObject({ factors: [{ status: 'active' }], recovery_codes_left: 10 });

    // A second enrolment while one is active: 409; nothing pending to confirm any more.
    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/factors/totp', headers: bearer(u.access) }), 409, 'FACTOR_ALREADY_ENROLLED');
    expectProblem(
      await t.app.inject({ method: 'POST', url: '/auth/factors/totp/confirm', headers: bearer(u.access), payload: { code: codeAt(t.app, body.secret) } }),
      404,
      'NOT_FOUND',
    );
    const events = (await t.app.latchkey.store.listEvents(u.userId, 50)).map((e) => e.type);
    expect(events).toEqual(expect.arrayContaining(['factor_enrolled', 'factor_confirmed', 'mfa_failed']));
  });

  it('starting again replaces a pending enrolment: the old secret no longer confirms', async () => {
    const u = await registerAndLogin(t.app);
    const first = (await t.app.inject({ method: 'POST', url: '/auth/factors/totp', headers: bearer(u.access) })).json() as { secret: string };
    const second = (await t.app.inject({ method: 'POST', url: '/auth/factors/totp', headers: bearer(u.access) })).json() as { secret: string };
    expect(second.secret).not.toBe(first.secret);
    expectProblem(
      await t.app.inject({ method: 'POST', url: '/auth/factors/totp/confirm', headers: bearer(u.access), payload: { code: codeAt(t.app, first.secret) } }),
      400,
      'INVALID_MFA_CODE',
    );
    const ok = await t.app.inject({ method: 'POST', url: '/auth/factors/totp/confirm', headers: bearer(u.access), payload: { code: codeAt(t.app, second.secret) } });
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it('codes of the previous, current and next step are accepted; two steps away refused; a used code never again', async () => {
    const u = await registerAndLogin(t.app);
    t.clock!.advance(12_345); // inside a step, not on its edge
    const { secret } = await enrolTotp(t.app, u.access);
    for (const steps of [-2, 2]) {
      t.clock!.advance(10 * STEP);
      const token = await mfaToken(t.app, u.email);
      expectProblem(await verify(t.app, { mfa_token: token, code: codeAt(t.app, secret, steps) }), 400, 'INVALID_MFA_CODE');
    }
    for (const steps of [-1, 0, 1]) {
      t.clock!.advance(10 * STEP);
      const token = await mfaToken(t.app, u.email);
      const code = codeAt(t.app, secret, steps);
      const res = await verify(t.app, { mfa_token: token, code });
      expect(res.statusCode, `step ${steps}: ${res.body}`).toBe(200);
      // Replay of the same code inside its window, with a new challenge: refused.
      const again = await mfaToken(t.app, u.email);
      expectProblem(await verify(t.app, { mfa_token: again, code }), 400, 'INVALID_MFA_CODE');
    }
    // After the code of the next step was used, the current step's code is refused too (steps only move forward).
    const token = await mfaToken(t.app, u.email);
    expectProblem(await verify(t.app, { mfa_token: token, code: codeAt(t.app, secret, 0) }), 400, 'INVALID_MFA_CODE');
    t.clock!.advance(2 * STEP);
    expect((await verify(t.app, { mfa_token: token, code: codeAt(t.app, secret, 0) })).statusCode).toBe(200);
  });

  it('two requests with one code at once: exactly one is accepted', async () => {
    const u = await registerAndLogin(t.app);
    const { secret } = await enrolTotp(t.app, u.access);
    t.clock!.advance(2 * STEP);
    const [a, b] = [await mfaToken(t.app, u.email), await mfaToken(t.app, u.email)];
    const code = codeAt(t.app, secret);
    const results = await Promise.all([verify(t.app, { mfa_token: a, code }), verify(t.app, { mfa_token: b, code })]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 400]);
  });

  it('removing an active factor needs a code or a recent sign-in with it; the recovery codes go with it', async () => {
    const u = await registerAndLogin(t.app);
    const { secret } = await enrolTotp(t.app, u.access);
    // This session signed in with a password only.
    expectProblem(await t.app.inject({ method: 'DELETE', url: '/auth/factors/totp', headers: bearer(u.access) }), 403, 'REAUTHENTICATION_REQUIRED');
    t.clock!.advance(STEP);
    expectProblem(
      await t.app.inject({ method: 'DELETE', url: '/auth/factors/totp', headers: bearer(u.access), payload: { code: codeAt(t.app, secret, 5) } }),
      400,
      'INVALID_MFA_CODE',
    );
    const removed = await t.app.inject({ method: 'DELETE', url: '/auth/factors/totp', headers: bearer(u.access), payload: { code: codeAt(t.app, secret) } });
    expect(removed.statusCode, removed.body).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: '/auth/factors', headers: bearer(u.access) })).json()).toEqual({ factors: [], recovery_codes_left: 0 });
    expect((await rowsOf(t, u.userId)).codes).toEqual([]);
    // Login answers tokens again.
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: u.email, password: u.password } });
    expect(login.json()).toHaveProperty('access_token');
    expectProblem(await t.app.inject({ method: 'DELETE', url: '/auth/factors/totp', headers: bearer(u.access) }), 404, 'NOT_FOUND');
    expect((await t.app.latchkey.store.listEvents(u.userId, 50)).map((e) => e.type)).toContain('factor_removed');

    // A session that signed in with the factor a moment ago removes it without a code; STEP_UP_MAX_AGE (10 minutes) later it needs one.
    const again = await enrolTotp(t.app, login.json().access_token as string);
    t.clock!.advance(STEP);
    const signedIn = await verify(t.app, { mfa_token: await mfaToken(t.app, u.email), code: codeAt(t.app, again.secret) });
    const access = signedIn.json().access_token as string;
    t.clock!.advance(10 * 60_000 + 1000);
    expectProblem(await t.app.inject({ method: 'DELETE', url: '/auth/factors/totp', headers: bearer(access) }), 403, 'REAUTHENTICATION_REQUIRED');
    const fresh = await verify(t.app, { mfa_token: await mfaToken(t.app, u.email), code: codeAt(t.app, again.secret) });
    const ok = await t.app.inject({ method: 'DELETE', url: '/auth/factors/totp', headers: bearer(fresh.json().access_token as string) });
    expect(ok.statusCode, ok.body).toBe(204);
  });

  it('a pending enrolment is removed without a code', async () => {
    const u = await registerAndLogin(t.app);
    await t.app.inject({ method: 'POST', url: '/auth/factors/totp', headers: bearer(u.access) });
    const res = await t.app.inject({ method: 'DELETE', url: '/auth/factors/totp', headers: { ...bearer(u.access), 'content-type': 'application/json' }, payload: '' });
    expect(res.statusCode, res.body).toBe(204);
  });

  it('bad bodies are 422, never 500', async () => {
    const u = await registerAndLogin(t.app);
    for (const payload of [{}, { code: '12345' }, { code: 123456 }, { code: '1234567' }, { code: '123456', extra: 1 }]) {
      expectProblem(await t.app.inject({ method: 'POST', url: '/auth/factors/totp/confirm', headers: bearer(u.access), payload }), 422, 'VALIDATION_FAILED');
    }
    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/factors/totp/confirm', headers: bearer(u.access) }), 422, 'VALIDATION_FAILED');
    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/mfa/verify' }), 422, 'VALIDATION_FAILED');
    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/mfa/verify', payload: { mfa_token: 'x', code: '123456', recovery_code: 'y' } }), 400, 'MFA_TOKEN_INVALID');
  });

  it('stores the secret in plaintext without KEY_ENCRYPTION_KEY, as the signing keys are', async () => {
    const u = await registerAndLogin(t.app);
    const { secret, recoveryCodes } = await enrolTotp(t.app, u.access);
    const rows = await rowsOf(t, u.userId);
    expect(rows.factors[0]!.secret).toBe(secret);
    // Recovery codes are never stored in clear: a SHA-256 hex each.
    expect(rows.codes).toHaveLength(10);
    for (const row of rows.codes) expect(row.code_hash).toMatch(/^[0-9a-f]{64}$/);
    const stored = JSON.stringify(rows.codes);
    for (const c of recoveryCodes) {
      expect(stored).not.toContain(c);
      expect(stored).not.toContain(c.replace(/-/g, ''));
    }
  });
});

describe('TOTP secret at rest with KEY_ENCRYPTION_KEY', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') }, { clock: true });
  });
  afterAll(async () => {
    await t.close();
  });

  it('seals the secret (lk1 envelope, bound to its row) and still verifies codes', async () => {
    const u = await registerAndLogin(t.app);
    const { secret } = await enrolTotp(t.app, u.access);
    const row = (await rowsOf(t, u.userId)).factors[0]!;
    expect(row.secret).toMatch(/^lk1:[A-Za-z0-9_-]{11}:/);
    expect(String(row.secret)).not.toContain(secret);
    t.clock!.advance(STEP);
    const res = await verify(t.app, { mfa_token: await mfaToken(t.app, u.email), code: codeAt(t.app, secret) });
    expect(res.statusCode, res.body).toBe(200);
  });
});

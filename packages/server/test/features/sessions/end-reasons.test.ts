/**
 * Why a session ended, as its holder is told: a refused refresh (INVALID_REFRESH_TOKEN) and a
 * refused access token on the stateful routes (INVALID_TOKEN) carry the `reason` member for
 * every path that ends a session (on both databases: the vitest projects); a disabled account's refresh is
 * ACCOUNT_DISABLED; an unknown token says nothing more than before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken, newOpaqueToken } from '../../../src/lib/ids.js';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';

const PASSWORD = 'correct horse battery staple';

describe('session end reasons', () => {
  let t: TestApp;
  let admin: { access: string; userId: string };

  beforeAll(async () => {
    t = await createTestApp({ REFRESH_GRACE: '0' });
    const a = await registerAndLogin(t.app, `root@example.com`, PASSWORD);
    await t.app.latchkey.store.updateUser(a.userId, { roles: ['admin'] }, Date.now());
    admin = a;
  });
  afterAll(() => t?.close());

  async function login(email: string) {
    const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { access_token: string; refresh_token: string };
  }

  async function refresh(token: string) {
    const res = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } });
    return { status: res.statusCode, body: res.json() as Record<string, unknown> };
  }

  async function me(access: string) {
    const res = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(access) });
    return { status: res.statusCode, body: res.json() as Record<string, unknown>, challenge: res.headers['www-authenticate'] };
  }

  /** The refresh token and the access token of the ended session both say `reason`. */
  async function expectEnded(session: { access_token: string; refresh_token: string }, reason: string) {
    const r = await refresh(session.refresh_token);
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ code: 'INVALID_REFRESH_TOKEN', error: 'invalid_grant', reason });
    const m = await me(session.access_token);
    expect(m.status).toBe(401);
    expect(m.body).toMatchObject({ code: 'INVALID_TOKEN', reason });
    expect(m.challenge).toContain('error="invalid_token"');
  }

  it('logout and logout-all: logout', async () => {
    const u = await registerAndLogin(t.app, `out@example.com`, PASSWORD);
    const other = await login(u.email);
    expect((await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(other.access_token) })).statusCode).toBe(204);
    await expectEnded(other, 'logout');
    const third = await login(u.email);
    expect((await t.app.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(u.access) })).statusCode).toBe(204);
    await expectEnded(third, 'logout');
  });

  it('revoked from another session of the account: revoked_by_user', async () => {
    const u = await registerAndLogin(t.app, `own@example.com`, PASSWORD);
    const other = await login(u.email);
    const sessions = (await t.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(u.access) })).json().sessions as Array<{ id: string; current: boolean }>;
    const target = sessions.find((s) => !s.current)!;
    expect((await t.app.inject({ method: 'DELETE', url: `/auth/sessions/${target.id}`, headers: bearer(u.access) })).statusCode).toBe(204);
    await expectEnded(other, 'revoked_by_user');
  });

  it('an admin revokes: revoked_by_admin', async () => {
    const u = await registerAndLogin(t.app, `admrev@example.com`, PASSWORD);
    const res = await t.app.inject({ method: 'POST', url: `/admin/users/${u.userId}/revoke-sessions`, headers: bearer(admin.access) });
    expect(res.statusCode).toBe(200);
    await expectEnded({ access_token: u.access, refresh_token: u.refresh }, 'revoked_by_admin');
  });

  it('the password changed elsewhere: password_changed', async () => {
    const u = await registerAndLogin(t.app, `chg@example.com`, PASSWORD);
    const other = await login(u.email);
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/change-password',
      headers: bearer(u.access),
      payload: { current_password: PASSWORD, new_password: 'another long passphrase' },
    });
    expect(res.statusCode).toBe(204);
    await expectEnded(other, 'password_changed');
  });

  it('a password reset: password_reset', async () => {
    const u = await registerAndLogin(t.app, `reset@example.com`, PASSWORD);
    // The link's token as the mail would carry it (the mail itself is tested in email-reset.test.ts).
    const token = newOpaqueToken();
    const now = Date.now();
    await t.app.latchkey.store.createOneTimeToken({ tokenHash: hashToken(token), userId: u.userId, purpose: 'reset_password', createdAt: now, expiresAt: now + 60_000 });
    const res = await t.app.inject({ method: 'POST', url: '/auth/password/reset', payload: { token, new_password: 'a brand new passphrase' } });
    expect(res.statusCode).toBe(204);
    await expectEnded({ access_token: u.access, refresh_token: u.refresh }, 'password_reset');
  });

  it('new roles with end_sessions: roles_changed', async () => {
    const u = await registerAndLogin(t.app, `roles@example.com`, PASSWORD);
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/admin/users/${u.userId}`,
      headers: bearer(admin.access),
      payload: { roles: ['editor'], end_sessions: true },
    });
    expect(res.statusCode).toBe(200);
    await expectEnded({ access_token: u.access, refresh_token: u.refresh }, 'roles_changed');
  });

  it('a reused refresh token: REFRESH_TOKEN_REUSED, then reuse_detected for the rest of the family', async () => {
    const u = await registerAndLogin(t.app, `reuse@example.com`, PASSWORD);
    const next = await refresh(u.refresh);
    expect(next.status).toBe(200);
    expect((await refresh(u.refresh)).body.code).toBe('REFRESH_TOKEN_REUSED');
    await expectEnded({ access_token: next.body.access_token as string, refresh_token: next.body.refresh_token as string }, 'reuse_detected');
  });

  it('a disabled account: ACCOUNT_DISABLED at refresh, account_disabled on the access token; enabled again: revoked_by_admin', async () => {
    const u = await registerAndLogin(t.app, `dis@example.com`, PASSWORD);
    const patch = (disabled: boolean) =>
      t.app.inject({ method: 'PATCH', url: `/admin/users/${u.userId}`, headers: bearer(admin.access), payload: { disabled } });
    expect((await patch(true)).statusCode).toBe(200);
    const r = await refresh(u.refresh);
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ code: 'ACCOUNT_DISABLED', error: 'invalid_grant' });
    expect(r.body.reason).toBeUndefined();
    expect((await me(u.access)).body).toMatchObject({ code: 'INVALID_TOKEN', reason: 'account_disabled' });
    expect((await patch(false)).statusCode).toBe(200);
    await expectEnded({ access_token: u.access, refresh_token: u.refresh }, 'revoked_by_admin');
  });

  it('an unknown refresh token or a forged access token says nothing more than before', async () => {
    const r = await refresh(newOpaqueToken());
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('INVALID_REFRESH_TOKEN');
    expect(r.body).not.toHaveProperty('reason');
    const u = await registerAndLogin(t.app, `forged@example.com`, PASSWORD);
    const [h, p] = u.access.split('.');
    const m = await me(`${h}.${p}.${'A'.repeat(43)}`);
    expect(m.status).toBe(401);
    expect(m.body.code).toBe('INVALID_TOKEN');
    expect(m.body).not.toHaveProperty('reason');
  });
});

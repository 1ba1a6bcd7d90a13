/**
 * Self-service account (docs/account.md): GET /auth/me/export and DELETE /auth/me, at once and
 * with ACCOUNT_DELETION_GRACE, over app.inject on the suite's database (both, see
 * vitest.config.ts), with mail through a real SMTP server (smtp-server on 127.0.0.1) and social
 * sign-in through the GitHub-shaped stub of test/support/social.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeDueAccounts } from '../../../src/features/users/account-deletion.js';
import { renderMail } from '../../../src/features/email/render.js';
import { loadMailTemplates } from '../../../src/features/email/template-catalog.js';
import { hashToken } from '../../../src/lib/ids.js';
import { startSmtp, waitFor, type TestSmtp } from '../../support/email.js';
import { codeAt, enrolTotp, PASSWORD, STEP } from '../../support/factors.js';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { LATCHKEY, pkcePair, SocialBrowser, startGitHubStub } from '../../support/social.js';

const APP = 'https://app.example';
const DAY = 86_400_000;
let n = 0;

function fresh(prefix: string): string {
  return `${prefix}-${++n}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

let smtp: TestSmtp;
let github: Awaited<ReturnType<typeof startGitHubStub>>;

beforeAll(async () => {
  smtp = await startSmtp();
  github = await startGitHubStub({ clientId: 'gh-client', clientSecret: 'gh-secret' });
});

afterAll(async () => {
  await smtp?.close();
  await github?.close();
});

function appEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    SMTP_URL: smtp.url,
    APP_URL: APP,
    PRODUCT_NAME: 'Acme',
    SOCIAL_PROVIDERS: 'github',
    SOCIAL_GITHUB_CLIENT_ID: 'gh-client',
    SOCIAL_GITHUB_CLIENT_SECRET: 'gh-secret',
    SOCIAL_GITHUB_AUTHORIZE_URL: `${github.url}/login/oauth/authorize`,
    SOCIAL_GITHUB_TOKEN_URL: `${github.url}/login/oauth/access_token`,
    SOCIAL_GITHUB_API_URL: github.url,
    ...extra,
  };
}

/** The mail to `address` whose subject contains `subject`, once it has arrived over SMTP. */
function mailTo(address: string, subject: string) {
  return waitFor(`mail "${subject}" to ${address}`, () =>
    smtp.received.find((m) => m.envelopeTo.includes(address) && (m.parsed.subject ?? '').includes(subject)),
  );
}

function login(t: TestApp, email: string, password = PASSWORD) {
  return t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
}

function deleteMe(t: TestApp, access: string, payload?: Record<string, unknown>) {
  return t.app.inject({ method: 'DELETE', url: '/auth/me', headers: bearer(access), ...(payload ? { payload } : {}) });
}

/** A new account signed in through the GitHub stub (no password of its own); its tokens. */
async function socialSignIn(t: TestApp, email: string): Promise<{ access: string; userId: string; subject: string }> {
  const id = 500_000 + ++n;
  github.signInAs({ id, login: 'gh', name: 'GH Person', emails: [{ email, primary: true, verified: true }] });
  const pkce = pkcePair();
  const start = `${LATCHKEY}/auth/oauth/github/start?${new URLSearchParams({ redirect_to: `${APP}/done`, code_challenge: pkce.challenge })}`;
  const landed = new URL((await new SocialBrowser(t.app).follow(start, (url) => url.startsWith(`${APP}/`))).url);
  const res = await t.app.inject({ method: 'POST', url: '/auth/oauth/exchange', payload: { code: landed.searchParams.get('code'), code_verifier: pkce.verifier } });
  expect(res.statusCode, res.body).toBe(200);
  const access = res.json().access_token as string;
  const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(access) });
  return { access, userId: me.json().user.id as string, subject: String(id) };
}

/** Rows still held for the user, through the store (the conformance suite scans every table). */
async function whatIsLeft(t: TestApp, userId: string) {
  const store = t.app.latchkey.store;
  return {
    user: (await store.findUserById(userId)) !== null,
    sessions: (await store.listSessions(userId, t.app.latchkey.clock())).length,
    events: (await store.listEvents(userId, 100)).length,
    factors: (await store.listFactors(userId)).length,
  };
}

describe('GET /auth/me/export', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(appEnv(), { clock: true });
  });
  afterAll(() => t.close());

  it('answers every section as an attachment, and nothing secret: no hash, TOTP secret, recovery code, token, credential id or public key', async () => {
    const email = fresh('export');
    const u = await registerAndLogin(t.app, email, PASSWORD);
    const totp = await enrolTotp(t.app, u.access);
    // A rotated refresh token: both the spent and the live one are secrets.
    const refreshed = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: u.refresh } });
    expect(refreshed.statusCode).toBe(200);
    const { access_token: access, refresh_token: refresh } = refreshed.json() as { access_token: string; refresh_token: string };
    const store = t.app.latchkey.store;
    const now = t.app.latchkey.clock();
    await store.createPasskey({
      id: 'pk-1',
      userId: u.userId,
      credentialId: 'Y3JlZGVudGlhbC1pZC1zZWNyZXQ',
      publicKey: 'pQECAyYgASFYIHB1YmxpYy1rZXktbWF0ZXJpYWw',
      counter: 3,
      transports: ['internal'],
      deviceType: 'multiDevice',
      backedUp: true,
      aaguid: '00000000-0000-0000-0000-000000000000',
      name: 'Work laptop',
      createdAt: now,
    });
    expect(await store.listIdentities(u.userId)).toEqual([]);
    const linked = await store.createIdentity({ id: 'id-1', userId: u.userId, provider: 'github', subject: 'gh-subject-731', email, emailVerified: true, createdAt: now });
    expect(linked).toBe(true);
    expect(await store.listIdentities(u.userId)).toHaveLength(1);

    const res = await t.app.inject({ method: 'GET', url: '/auth/me/export', headers: bearer(access) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-disposition']).toBe(`attachment; filename="latchkey-export-${u.userId}.json"`);
    expect(res.headers['cache-control']).toBe('no-store');
    const data = res.json();
    expect(Object.keys(data).sort()).toEqual(['exported_at', 'factors', 'identities', 'security_events', 'sessions', 'user']);
    expect(data.exported_at).toBe(new Date(now).toISOString());
    expect(data.user).toMatchObject({ id: u.userId, email, email_verified: false, has_password: true, last_sign_in_at: new Date(now).toISOString() });
    expect(data.sessions).toHaveLength(1);
    expect(data.sessions[0]).toMatchObject({ current: true });
    expect(data.identities).toEqual([expect.objectContaining({ id: 'id-1', provider: 'github', provider_name: 'GitHub', email })]);
    expect(data.factors.totp).toMatchObject({ enabled: true });
    expect(data.factors.recovery_codes).toEqual({ remaining: totp.recoveryCodes.length });
    expect(data.factors.passkeys).toEqual([expect.objectContaining({ id: 'pk-1', name: 'Work laptop' })]);
    const types = (data.security_events as Array<{ type: string }>).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['account_exported', 'factor_confirmed', 'login_succeeded', 'register']));

    const stored = (await store.findUserById(u.userId))!;
    const factor = (await store.listFactors(u.userId))[0]!;
    const secrets: Record<string, string> = {
      password: PASSWORD,
      'password hash': stored.passwordHash,
      'TOTP secret': totp.secret,
      'stored TOTP secret': factor.secret,
      'access token': access,
      'first access token': u.access,
      'refresh token': refresh,
      'spent refresh token': u.refresh,
      'refresh token hash': hashToken(refresh),
      'credential id': 'Y3JlZGVudGlhbC1pZC1zZWNyZXQ',
      'public key': 'pQECAyYgASFYIHB1YmxpYy1rZXktbWF0ZXJpYWw',
      'provider subject': 'gh-subject-731',
    };
    totp.recoveryCodes.forEach((code, i) => {
      secrets[`recovery code ${i}`] = code;
      secrets[`recovery code ${i} without dashes`] = code.replace(/-/g, '');
    });
    const leaked = Object.entries(secrets).filter(([, value]) => res.body.includes(value));
    expect(leaked.map(([what]) => what)).toEqual([]);
  });

  it('needs an access token', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/auth/me/export' })).statusCode).toBe(401);
  });
});

describe('DELETE /auth/me, at once (no ACCOUNT_DELETION_GRACE)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(appEnv(), { clock: true });
  });
  afterAll(() => t.close());

  it('204: the account is gone, its access token is refused at once, its refresh token too, sign-in fails, and the owner is mailed', async () => {
    const email = fresh('gone');
    const u = await registerAndLogin(t.app, email, PASSWORD);
    const second = await login(t, email);
    expect(second.statusCode).toBe(200);
    const res = await deleteMe(t, u.access, { current_password: PASSWORD });
    expect(res.statusCode, res.body).toBe(204);
    expect(res.body).toBe('');

    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(u.access) })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(second.json().access_token) })).statusCode).toBe(401);
    const refresh = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: second.json().refresh_token } });
    expect(refresh.statusCode).toBe(401);
    expect(refresh.json().code).toBe('INVALID_REFRESH_TOKEN');
    const again = await login(t, email);
    expect(again.statusCode).toBe(400);
    expect(again.json().code).toBe('INVALID_CREDENTIALS');
    expect(await whatIsLeft(t, u.userId)).toEqual({ user: false, sessions: 0, events: 0, factors: 0 });

    const mail = await mailTo(email, 'was deleted');
    expect(mail.parsed.subject).toBe('Your Acme account was deleted');
    expect(mail.parsed.text).toContain(`Your Acme account (${email}) and all its data were deleted`);

    // The operator's record: a log line with the id only, never the address.
    const line = t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'account_deleted' && l.user_id === u.userId);
    expect(line).toMatchObject({ by: 'self', msg: 'account deleted by its owner' });
    expect(JSON.stringify(line)).not.toContain(email);
  });

  it('a wrong current password: 400 INVALID_CREDENTIALS, and nothing is deleted', async () => {
    const email = fresh('wrong');
    const u = await registerAndLogin(t.app, email, PASSWORD);
    const res = await deleteMe(t, u.access, { current_password: 'not the password' });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('INVALID_CREDENTIALS');
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(u.access) })).statusCode).toBe(200);
    expect((await whatIsLeft(t, u.userId)).user).toBe(true);
    expect((await login(t, email)).statusCode).toBe(200);
  });

  it('without current_password: a fresh sign-in is proof enough; a stale one is 403 REAUTHENTICATION_REQUIRED until the password is sent', async () => {
    const email = fresh('stale');
    const u = await registerAndLogin(t.app, email, PASSWORD);
    t.clock!.advance(t.config.factors.stepUpMaxAgeMs + 1000);
    const refused = await deleteMe(t, u.access);
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'REAUTHENTICATION_REQUIRED', methods: ['password'] });
    expect((await whatIsLeft(t, u.userId)).user).toBe(true);
    // An empty JSON body, as browser code sends it, is no body.
    const empty = await t.app.inject({ method: 'DELETE', url: '/auth/me', headers: { ...bearer(u.access), 'content-type': 'application/json' }, payload: '' });
    expect(empty.statusCode).toBe(403);
    expect((await deleteMe(t, u.access, { current_password: PASSWORD })).statusCode).toBe(204);

    const other = await registerAndLogin(t.app, fresh('fresh'), PASSWORD);
    expect((await deleteMe(t, other.access)).statusCode).toBe(204);
    expect((await whatIsLeft(t, other.userId)).user).toBe(false);
  });

  it('an account with a second factor and no recent authentication with it: 403 even with the right password, nothing deleted; after a reauthentication with a code, 204', async () => {
    const email = fresh('mfa');
    const u = await registerAndLogin(t.app, email, PASSWORD);
    const { secret } = await enrolTotp(t.app, u.access);
    const res = await deleteMe(t, u.access, { current_password: PASSWORD });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'REAUTHENTICATION_REQUIRED', methods: ['code', 'recovery_code'] });
    expect(await whatIsLeft(t, u.userId)).toMatchObject({ user: true, factors: 1 });

    // The next time step: the code of this one confirmed the enrolment and is spent.
    t.clock!.advance(STEP);
    const reauth = await t.app.inject({ method: 'POST', url: '/auth/reauthenticate', headers: bearer(u.access), payload: { code: codeAt(t.app, secret) } });
    expect(reauth.statusCode, reauth.body).toBe(200);
    expect((await deleteMe(t, reauth.json().access_token)).statusCode).toBe(204);
    expect(await whatIsLeft(t, u.userId)).toEqual({ user: false, sessions: 0, events: 0, factors: 0 });
  });

  it('the last enabled admin: 409 LAST_ADMIN and nothing deleted; with another admin, 204', async () => {
    const email = fresh('admin');
    const u = await registerAndLogin(t.app, email, PASSWORD);
    await t.app.latchkey.store.updateUser(u.userId, { roles: ['admin'] }, t.app.latchkey.clock());
    const res = await deleteMe(t, u.access, { current_password: PASSWORD });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('LAST_ADMIN');
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(u.access) })).statusCode).toBe(200);
    expect((await whatIsLeft(t, u.userId)).user).toBe(true);

    const other = await registerAndLogin(t.app, fresh('admin2'), PASSWORD);
    await t.app.latchkey.store.updateUser(other.userId, { roles: ['admin'] }, t.app.latchkey.clock());
    expect((await deleteMe(t, u.access, { current_password: PASSWORD })).statusCode).toBe(204);
  });

  it('an account from a social sign-in (no password) deletes itself after a recent sign-in; sending a password is PASSWORD_NOT_SET', async () => {
    const email = fresh('social');
    const { access, userId, subject } = await socialSignIn(t, email);
    expect(await t.app.latchkey.store.findIdentity('github', subject)).not.toBeNull();
    const withPassword = await deleteMe(t, access, { current_password: 'anything at all' });
    expect(withPassword.statusCode).toBe(409);
    expect(withPassword.json().code).toBe('PASSWORD_NOT_SET');
    expect((await deleteMe(t, access)).statusCode).toBe(204);
    expect((await whatIsLeft(t, userId)).user).toBe(false);
    expect(await t.app.latchkey.store.findIdentity('github', subject)).toBeNull();

    // A stale session of such an account is told to sign in again (it has no method to offer).
    const stale = await socialSignIn(t, fresh('social-stale'));
    t.clock!.advance(t.config.factors.stepUpMaxAgeMs + 1000);
    const refused = await deleteMe(t, stale.access);
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'REAUTHENTICATION_REQUIRED', methods: [] });
  });

  it('refuses a body with unknown members (422) and an anonymous caller (401)', async () => {
    const u = await registerAndLogin(t.app, fresh('bad'), PASSWORD);
    expect((await deleteMe(t, u.access, { password: PASSWORD })).statusCode).toBe(422);
    expect((await t.app.inject({ method: 'DELETE', url: '/auth/me' })).statusCode).toBe(401);
    expect((await whatIsLeft(t, u.userId)).user).toBe(true);
  });
});

describe('DELETE /auth/me with ACCOUNT_DELETION_GRACE=7d', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(appEnv({ ACCOUNT_DELETION_GRACE: '7d' }), { clock: true });
  });
  afterAll(() => t.close());

  async function schedule(email: string) {
    const u = await registerAndLogin(t.app, email, PASSWORD);
    const res = await deleteMe(t, u.access, { current_password: PASSWORD });
    expect(res.statusCode, res.body).toBe(202);
    return { ...u, deletesAt: res.json().deletes_at as string };
  }

  it('202 with deletes_at; every session ends at once, the owner is mailed, and the purge leaves the account until it is due', async () => {
    const email = fresh('grace');
    const u = await schedule(email);
    expect(u.deletesAt).toBe(new Date(t.app.latchkey.clock() + 7 * DAY).toISOString());
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(u.access) });
    expect(me.statusCode).toBe(401);
    expect(me.json()).toMatchObject({ code: 'INVALID_TOKEN', reason: 'account_deletion_scheduled' });
    const refresh = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: u.refresh } });
    expect(refresh.statusCode).toBe(401);
    expect(refresh.json()).toMatchObject({ code: 'INVALID_REFRESH_TOKEN', reason: 'account_deletion_scheduled' });
    const mail = await mailTo(email, 'will be deleted');
    expect(mail.parsed.text).toContain(u.deletesAt.replace('T', ' ').slice(0, 16) + ' UTC');
    expect(mail.parsed.text).toContain('signing in cancels the deletion');
    const events = await t.app.latchkey.store.listEvents(u.userId, 10);
    expect(events.find((e) => e.type === 'account_deletion_scheduled')).toMatchObject({ detail: { deletes_at: u.deletesAt, sessions_revoked: 1 } });
    // The admin view shows it.
    expect((await t.app.latchkey.store.findUserById(u.userId))?.deletionDueAt).toBe(Date.parse(u.deletesAt));

    t.clock!.advance(7 * DAY - 1000);
    expect(await purgeDueAccounts(t.app.latchkey)).toBe(0);
    expect((await whatIsLeft(t, u.userId)).user).toBe(true);
  });

  it('a password sign-in before it is due cancels it (event recorded, account intact), and the purge after the due time leaves it', async () => {
    const email = fresh('cancel');
    const u = await schedule(email);
    t.clock!.advance(3 * DAY);
    const back = await login(t, email);
    expect(back.statusCode, back.body).toBe(200);
    const events = await t.app.latchkey.store.listEvents(u.userId, 5);
    expect(events.map((e) => e.type)).toContain('account_deletion_cancelled');
    expect(events.find((e) => e.type === 'account_deletion_cancelled')?.detail).toMatchObject({ was_due_at: u.deletesAt });
    expect((await t.app.latchkey.store.findUserById(u.userId))?.deletionDueAt).toBeNull();
    t.clock!.advance(5 * DAY);
    // (Other cases' accounts may fall due here: only this one's fate is the point.)
    await purgeDueAccounts(t.app.latchkey);
    expect((await whatIsLeft(t, u.userId)).user).toBe(true);
    expect((await login(t, email)).statusCode).toBe(200);
  });

  it('an account without a password schedules it after a recent sign-in, and a social sign-in cancels it', async () => {
    const email = fresh('grace-social');
    const first = await socialSignIn(t, email);
    const res = await deleteMe(t, first.access);
    expect(res.statusCode, res.body).toBe(202);
    expect((await t.app.latchkey.store.findUserById(first.userId))?.deletionDueAt).toBe(Date.parse(res.json().deletes_at));
    t.clock!.advance(DAY);
    // The same provider account signs in again: the exchange completes a sign-in, which cancels.
    github.signInAs({ id: Number(first.subject), login: 'gh', name: 'GH Person', emails: [{ email, primary: true, verified: true }] });
    const pkce = pkcePair();
    const start = `${LATCHKEY}/auth/oauth/github/start?${new URLSearchParams({ redirect_to: `${APP}/done`, code_challenge: pkce.challenge })}`;
    const landed = new URL((await new SocialBrowser(t.app).follow(start, (url) => url.startsWith(`${APP}/`))).url);
    const back = await t.app.inject({ method: 'POST', url: '/auth/oauth/exchange', payload: { code: landed.searchParams.get('code'), code_verifier: pkce.verifier } });
    expect(back.statusCode, back.body).toBe(200);
    expect((await t.app.latchkey.store.findUserById(first.userId))?.deletionDueAt).toBeNull();
    expect((await t.app.latchkey.store.listEvents(first.userId, 10)).map((e) => e.type)).toContain('account_deletion_cancelled');
  });

  it('once due, the purge deletes the account with every row of it, logs it and mails the owner', async () => {
    const email = fresh('purged');
    const u = await schedule(email);
    t.clock!.advance(7 * DAY);
    expect(await purgeDueAccounts(t.app.latchkey)).toBe(1);
    expect(await whatIsLeft(t, u.userId)).toEqual({ user: false, sessions: 0, events: 0, factors: 0 });
    expect((await login(t, email)).statusCode).toBe(400);
    const mail = await mailTo(email, 'was deleted');
    expect(mail.parsed.subject).toBe('Your Acme account was deleted');
    const line = t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'account_deleted' && l.user_id === u.userId);
    expect(line).toMatchObject({ by: 'grace_period_ended' });
  });

  it('the last enabled admin cannot schedule it either: 409 LAST_ADMIN, sessions untouched', async () => {
    const u = await registerAndLogin(t.app, fresh('grace-admin'), PASSWORD);
    // No other enabled admin in this app: the ones of other cases are not admins.
    await t.app.latchkey.store.updateUser(u.userId, { roles: ['admin'] }, t.app.latchkey.clock());
    const res = await deleteMe(t, u.access, { current_password: PASSWORD });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('LAST_ADMIN');
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(u.access) })).statusCode).toBe(200);
    expect((await t.app.latchkey.store.findUserById(u.userId))?.deletionDueAt).toBeNull();
  });
});

describe('the deletion mails', () => {
  // Rendered from the built-in templates (features/email/render.ts), as the server sends them.
  const brand = { productName: 'Acme <Cloud> & Co', appUrl: 'https://app.example/' };
  const ctx = { mailTemplates: loadMailTemplates(null, 'en'), config: { mail: brand } };
  const name = 'Eve <script>alert(1)</script>\nBcc: x@evil.example';
  const deletesAt = Date.UTC(2026, 0, 8, 12, 30);

  it('escape the user\'s name and the product in HTML, and flatten them in the text and subject', () => {
    for (const mail of [
      renderMail(ctx, 'account_deleted', 'en', 'eve@example.com', { name }),
      renderMail(ctx, 'account_deletion_scheduled', 'en', 'eve@example.com', { name, deletes_at: deletesAt }),
    ]) {
      expect(mail.html).not.toContain('<script>');
      expect(mail.html).toContain('Eve &lt;script&gt;alert(1)&lt;/script&gt; Bcc: x@evil.example');
      expect(mail.html).toContain('Acme &lt;Cloud&gt; &amp; Co');
      expect(mail.text).toContain('Hello Eve <script>alert(1)</script> Bcc: x@evil.example,');
      expect(mail.text).not.toMatch(/^Bcc:/m);
      expect(mail.subject).not.toMatch(/[\r\n]/);
      expect(mail.to).toBe('eve@example.com');
    }
    expect(renderMail(ctx, 'account_deletion_scheduled', 'en', 'eve@example.com', { name: null, deletes_at: deletesAt }).text).toContain(
      'It will be deleted with all its data on 2026-01-08 12:30 UTC',
    );
  });
});

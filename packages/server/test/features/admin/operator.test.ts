/**
 * The operator features of the admin API over HTTP, with real mail (nodemailer over SMTP to an
 * smtp-server on 127.0.0.1): the last sign-in, sorting with exact cursor paging, the total count,
 * changing a user's email, mailing a reset link, and inviting a user who then chooses their own
 * password. Refusals included. Runs on SQLite and on PostgreSQL (the vitest projects).
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_PASSWORD_HASH } from '../../../src/passwords/no-password.js';
import { bearer, createTestApp, testClock, type TestApp, type TestClock } from '../../support/helpers.js';
import { startSmtp, tokenFromText, waitFor, type ReceivedMail, type TestSmtp } from '../../support/email.js';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a brand new passphrase 42';
const MINUTE = 60_000;
const DAY = 86_400_000;

interface AdminUserJson {
  id: string;
  email: string;
  name: string | null;
  roles: string[];
  email_verified: boolean;
  disabled: boolean;
  created_at: string;
  updated_at: string;
  last_sign_in_at: string | null;
  invite_pending: boolean;
}

describe('admin operator features', () => {
  let smtp: TestSmtp;
  let t: TestApp;
  let clock: TestClock;
  let passwordHash: string;
  let adminEmail: string;
  let adminId: string;
  let adminAccess = '';
  let adminLoggedInAt = 0;
  let plainEmail: string;

  const inject = (options: InjectOptions): Promise<LightMyRequestResponse> => t.app.inject(options);
  const tag = () => randomUUID().slice(0, 8);

  /** A user made in the store (one shared hash, no registration mail). */
  async function storedUser(overrides: { email?: string; roles?: string[]; createdAt?: number; emailVerified?: boolean } = {}) {
    const id = randomUUID();
    const email = overrides.email ?? `u-${tag()}@example.com`;
    const user = await t.app.latchkey.store.createUser({
      id,
      email,
      name: null,
      passwordHash,
      roles: overrides.roles ?? [],
      emailVerified: overrides.emailVerified ?? false,
      createdAt: overrides.createdAt ?? clock(),
    });
    return user!;
  }

  async function login(email: string, password = PASSWORD) {
    return inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
  }

  /** The admin's bearer header, logging in again once the clock has moved past the token's life. */
  async function admin(): Promise<{ authorization: string }> {
    if (!adminAccess || clock() - adminLoggedInAt > 10 * MINUTE) {
      const res = await login(adminEmail);
      expect(res.statusCode, res.body).toBe(200);
      adminAccess = res.json().access_token;
      adminLoggedInAt = clock();
    }
    return bearer(adminAccess);
  }

  /** A fresh access token of a user without the admin role (the test clock moves past token lifetimes). */
  async function plainUser(): Promise<{ authorization: string }> {
    return bearer((await login(plainEmail)).json().access_token);
  }

  function mails(address: string, subject: RegExp): ReceivedMail[] {
    return smtp.received.filter((m) => m.envelopeTo.includes(address) && subject.test(m.parsed.subject ?? ''));
  }

  /** The token of the nth (1-based) mail to `address` whose subject matches. */
  async function mailedToken(address: string, subject: RegExp, path: 'reset-password' | 'accept-invite', nth = 1): Promise<string> {
    const mail = await waitFor(`mail ${nth} to ${address}`, () => mails(address, subject)[nth - 1]);
    return tokenFromText(mail.parsed.text ?? '', path).token;
  }

  async function detail(id: string): Promise<{ user: AdminUserJson; events: Array<{ type: string; detail: Record<string, unknown> | null }> }> {
    const res = await inject({ method: 'GET', url: `/admin/users/${id}`, headers: await admin() });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  }

  beforeAll(async () => {
    smtp = await startSmtp();
    clock = testClock();
    t = await createTestApp({ SMTP_URL: smtp.url, APP_URL: 'https://app.example.test', PRODUCT_NAME: 'Example' }, { clock });
    passwordHash = await t.app.latchkey.hasher.hash(PASSWORD);
    adminEmail = `root-${tag()}@example.com`;
    adminId = (await storedUser({ email: adminEmail, roles: ['admin'], emailVerified: true })).id;
    plainEmail = (await storedUser()).email;
  });

  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

  describe('last sign-in', () => {
    it('is null until the first login, then the login’s time; a refresh does not move it; /auth/me does not show it', async () => {
      const u = await storedUser();
      expect((await detail(u.id)).user).toMatchObject({ last_sign_in_at: null, invite_pending: false });

      clock.advance(1000);
      const first = await login(u.email);
      const firstAt = clock();
      expect((await detail(u.id)).user.last_sign_in_at).toBe(new Date(firstAt).toISOString());

      clock.advance(1000);
      const refreshed = await inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: first.json().refresh_token } });
      expect(refreshed.statusCode).toBe(200);
      const afterRefresh = (await detail(u.id)).user;
      expect(afterRefresh.last_sign_in_at).toBe(new Date(firstAt).toISOString());
      // A sign-in is not an edit of the user.
      expect(afterRefresh.updated_at).toBe(afterRefresh.created_at);

      clock.advance(1000);
      await login(u.email);
      expect((await detail(u.id)).user.last_sign_in_at).toBe(new Date(clock()).toISOString());

      const me = await inject({ method: 'GET', url: '/auth/me', headers: bearer(first.json().access_token) });
      expect(Object.keys(me.json().user).sort()).toEqual(['created_at', 'disabled', 'email', 'email_verified', 'id', 'locale', 'name', 'roles', 'updated_at']);
    });

    it('the OpenAPI document keeps /auth/me’s user shape and documents the admin one', async () => {
      const doc = (await inject({ method: 'GET', url: '/openapi.json' })).json();
      const meUser = doc.paths['/auth/me'].get.responses['200'].content['application/json'].schema.properties.user;
      expect(Object.keys(meUser.properties).sort()).toEqual(['created_at', 'disabled', 'email', 'email_verified', 'id', 'locale', 'name', 'roles', 'updated_at']);
      const list = doc.paths['/admin/users'].get;
      expect(list.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['sort', 'order', 'cursor']));
      const listed = list.responses['200'].content['application/json'].schema;
      expect(listed.required).toContain('total');
      expect(listed.properties.users.items.properties).toHaveProperty('last_sign_in_at');
      expect(doc.paths['/admin/users/invite'].post.responses).toHaveProperty('201');
      expect(doc.paths['/admin/users/{id}/password-reset'].post.responses).toHaveProperty('202');
      expect(doc.paths['/auth/invite/accept'].post.responses).toHaveProperty('200');
    });
  });

  describe('sorting, paging and the total', () => {
    /** Users of one role (so that the filter isolates them): created and signed in at times with ties, some never. */
    async function seed(role: string, count: number) {
      const base = clock();
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const u = await storedUser({ roles: [role], createdAt: base - (i % 7) * MINUTE });
        ids.push(u.id);
        if (i % 4 !== 0) {
          await t.app.latchkey.store.createSession({
            id: randomUUID(),
            userId: u.id,
            createdAt: base - (i % 5) * MINUTE,
            expiresAt: base + DAY,
            idleExpiresAt: base + DAY,
            userAgent: null,
            ip: null,
            refreshTokenHash: randomUUID(),
            authTime: base - (i % 5) * MINUTE,
            amr: ['pwd'],
          });
        }
      }
      return ids;
    }

    async function pageAll(query: string, limit: number) {
      const users: AdminUserJson[] = [];
      const totals = new Set<number>();
      let cursor: string | null = null;
      for (let guard = 0; guard < 200; guard++) {
        const url = `/admin/users?limit=${limit}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const res = await inject({ method: 'GET', url, headers: await admin() });
        expect(res.statusCode, res.body).toBe(200);
        const body = res.json() as { users: AdminUserJson[]; next_cursor: string | null; total: number };
        users.push(...body.users);
        totals.add(body.total);
        cursor = body.next_cursor;
        if (!cursor) return { users, totals: [...totals] };
      }
      throw new Error('paging did not end');
    }

    const time = (iso: string | null) => (iso === null ? -1 : Date.parse(iso));

    it.each([
      ['created_at', 'asc'],
      ['created_at', 'desc'],
      ['last_sign_in_at', 'asc'],
      ['last_sign_in_at', 'desc'],
    ] as const)('sort=%s&order=%s: every user exactly once, in order, ties by id; total on every page', async (sort, order) => {
      const role = `sorted-${sort.replace(/_/g, '-')}-${order}`;
      const ids = await seed(role, 60);
      const { users, totals } = await pageAll(`&role=${role}&sort=${sort}&order=${order}`, 7);
      expect(users.map((u) => u.id).sort()).toEqual([...ids].sort());
      expect(new Set(users.map((u) => u.id)).size).toBe(60);
      expect(totals).toEqual([60]);
      const sign = order === 'asc' ? 1 : -1;
      for (let i = 1; i < users.length; i++) {
        const [a, b] = [users[i - 1]!, users[i]!];
        const ka = sort === 'created_at' ? Date.parse(a.created_at) : time(a.last_sign_in_at);
        const kb = sort === 'created_at' ? Date.parse(b.created_at) : time(b.last_sign_in_at);
        const c = ka - kb || (a.id < b.id ? -1 : 1);
        expect(sign * c, `rows ${i - 1}, ${i}`).toBeLessThan(0);
      }
      if (sort === 'last_sign_in_at') {
        const never = users.filter((u) => u.last_sign_in_at === null);
        expect(never).toHaveLength(15);
        expect(order === 'asc' ? users.slice(0, 15) : users.slice(-15)).toEqual(never);
      }
    });

    it('total counts the matches of the filters; the default is created_at ascending', async () => {
      const role = `counted-${tag()}`;
      await seed(role, 12);
      const res = await inject({ method: 'GET', url: `/admin/users?role=${role}&limit=5`, headers: await admin() });
      expect(res.json()).toMatchObject({ total: 12 });
      const users = res.json().users as AdminUserJson[];
      expect(users.map((u) => u.created_at)).toEqual([...users.map((u) => u.created_at)].sort());
      const none = await inject({ method: 'GET', url: `/admin/users?role=${role}&search=nothing-like-this`, headers: await admin() });
      expect(none.json()).toEqual({ users: [], next_cursor: null, total: 0 });
      // count=false: the same page, no count.
      const uncounted = await inject({ method: 'GET', url: `/admin/users?role=${role}&limit=5&count=false`, headers: await admin() });
      expect(uncounted.json()).toEqual({ ...res.json(), total: null });
      expect((await inject({ method: 'GET', url: `/admin/users?count=maybe`, headers: await admin() })).statusCode).toBe(422);
    });

    it('refuses a bad sort or order, and a cursor of another sort or order (422 on the field)', async () => {
      for (const query of ['sort=email', 'sort=', 'order=up', 'sort=last_sign_in_at&order=DESC']) {
        const res = await inject({ method: 'GET', url: `/admin/users?${query}`, headers: await admin() });
        expect(res.statusCode, query).toBe(422);
        expect(res.json().code).toBe('VALIDATION_FAILED');
      }
      const first = await inject({ method: 'GET', url: '/admin/users?limit=2&sort=last_sign_in_at&order=desc', headers: await admin() });
      const cursor = first.json().next_cursor as string;
      expect(cursor).toEqual(expect.any(String));
      for (const other of ['', '&sort=created_at&order=desc', '&sort=last_sign_in_at', '&sort=last_sign_in_at&order=asc']) {
        const res = await inject({ method: 'GET', url: `/admin/users?limit=2${other}&cursor=${cursor}`, headers: await admin() });
        expect(res.statusCode, other).toBe(422);
        expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'cursor' }] });
      }
      const same = await inject({ method: 'GET', url: `/admin/users?limit=2&sort=last_sign_in_at&order=desc&cursor=${cursor}`, headers: await admin() });
      expect(same.statusCode).toBe(200);
    });
  });

  describe('changing a user’s email', () => {
    it('normalises it, unverifies it, kills links mailed to the old address, keeps the sessions, records the change', async () => {
      const u = await storedUser({ emailVerified: true });
      const session = (await login(u.email)).json();
      // A reset link mailed to the old address before the change.
      expect((await inject({ method: 'POST', url: `/admin/users/${u.id}/password-reset`, headers: await admin() })).statusCode).toBe(202);
      const oldLink = await mailedToken(u.email, /^Reset your/, 'reset-password');

      const newEmail = `moved-${tag()}@example.com`;
      const res = await inject({ method: 'PATCH', url: `/admin/users/${u.id}`, headers: await admin(), payload: { email: `  ${newEmail.toUpperCase()} ` } });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().user).toMatchObject({ email: newEmail, email_verified: false });

      const reset = await inject({ method: 'POST', url: '/auth/password/reset', payload: { token: oldLink, new_password: NEW_PASSWORD } });
      expect(reset.json().code).toBe('TOKEN_INVALID');
      // The session stays, and shows the new address.
      const me = await inject({ method: 'GET', url: '/auth/me', headers: bearer(session.access_token) });
      expect(me.statusCode).toBe(200);
      expect(me.json().user.email).toBe(newEmail);
      // The old address no longer logs in; the new one does.
      expect((await login(u.email)).json().code).toBe('INVALID_CREDENTIALS');
      expect((await login(newEmail)).statusCode).toBe(200);

      const { events } = await detail(u.id);
      expect(events.find((e) => e.type === 'admin_user_updated')?.detail).toMatchObject({
        admin_id: adminId,
        changes: ['email'],
        previous_email: u.email,
        email: newEmail,
      });
    });

    it('stays verified when the same request says so; the same address again changes nothing', async () => {
      const u = await storedUser({ emailVerified: false });
      const newEmail = `kept-${tag()}@example.com`;
      const res = await inject({ method: 'PATCH', url: `/admin/users/${u.id}`, headers: await admin(), payload: { email: newEmail, email_verified: true } });
      expect(res.json().user).toMatchObject({ email: newEmail, email_verified: true });
      const same = await inject({ method: 'PATCH', url: `/admin/users/${u.id}`, headers: await admin(), payload: { email: newEmail.toUpperCase() } });
      expect(same.statusCode).toBe(200);
      expect(same.json().user).toMatchObject({ email: newEmail, email_verified: true });
    });

    it('refuses a taken address (409), an invalid one (422), an unknown user (404), a non-admin (403)', async () => {
      const a = await storedUser();
      const b = await storedUser();
      const taken = await inject({ method: 'PATCH', url: `/admin/users/${a.id}`, headers: await admin(), payload: { email: b.email.toUpperCase() } });
      expect(taken.statusCode).toBe(409);
      expect(taken.json().code).toBe('EMAIL_TAKEN');
      expect((await detail(a.id)).user.email).toBe(a.email);
      for (const email of ['not-an-email', 'a@b', '', 'x'.repeat(250) + '@example.com']) {
        const bad = await inject({ method: 'PATCH', url: `/admin/users/${a.id}`, headers: await admin(), payload: { email } });
        expect(bad.statusCode, email).toBe(422);
        expect(bad.json().code).toBe('VALIDATION_FAILED');
      }
      const missing = await inject({ method: 'PATCH', url: `/admin/users/${randomUUID()}`, headers: await admin(), payload: { email: `x-${tag()}@example.com` } });
      expect(missing.statusCode).toBe(404);
      const forbidden = await inject({ method: 'PATCH', url: `/admin/users/${a.id}`, headers: await plainUser(), payload: { email: `x-${tag()}@example.com` } });
      expect(forbidden.statusCode).toBe(403);
    });

    it('two admins moving two users to one address at once: one 200, one 409', async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const [a, b] = [await storedUser(), await storedUser()];
        const target = `contested-${tag()}@example.com`;
        const answers = await Promise.all(
          [a, b].map(async (u) => inject({ method: 'PATCH', url: `/admin/users/${u.id}`, headers: await admin(), payload: { email: target } })),
        );
        expect(answers.map((r) => r.statusCode).sort(), `attempt ${attempt}`).toEqual([200, 409]);
      }
    });
  });

  describe('mailing a reset link', () => {
    it('mails the forgot-password link; it resets the password (ending the sessions); recorded on the user', async () => {
      const u = await storedUser();
      const session = (await login(u.email)).json();
      const res = await inject({ method: 'POST', url: `/admin/users/${u.id}/password-reset`, headers: await admin() });
      expect(res.statusCode).toBe(202);
      expect(res.body).toBe('');
      const mail = await waitFor('reset mail', () => mails(u.email, /^Reset your Example password/)[0]);
      const { link, token } = tokenFromText(mail.parsed.text ?? '', 'reset-password');
      expect(link.startsWith('https://app.example.test/reset-password?token=')).toBe(true);
      expect(mail.parsed.html).toContain('Choose a new password');

      const reset = await inject({ method: 'POST', url: '/auth/password/reset', payload: { token, new_password: NEW_PASSWORD } });
      expect(reset.statusCode).toBe(204);
      expect((await inject({ method: 'GET', url: '/auth/me', headers: bearer(session.access_token) })).statusCode).toBe(401);
      expect((await login(u.email, NEW_PASSWORD)).statusCode).toBe(200);
      const { events } = await detail(u.id);
      expect(events.find((e) => e.type === 'admin_password_reset_sent')?.detail).toEqual({ admin_id: adminId });
    });

    it('is limited to 3 reset mails per address per 15 minutes, counted with forgot-password (429 + Retry-After)', async () => {
      const u = await storedUser();
      expect((await inject({ method: 'POST', url: '/auth/password/forgot', payload: { email: u.email } })).statusCode).toBe(202);
      for (let i = 0; i < 2; i++) {
        expect((await inject({ method: 'POST', url: `/admin/users/${u.id}/password-reset`, headers: await admin() })).statusCode).toBe(202);
      }
      const limited = await inject({ method: 'POST', url: `/admin/users/${u.id}/password-reset`, headers: await admin() });
      expect(limited.statusCode).toBe(429);
      expect(limited.json().code).toBe('RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      await waitFor('three reset mails', () => mails(u.email, /^Reset your/).length === 3);
      clock.advance(15 * MINUTE + 1000);
      expect((await inject({ method: 'POST', url: `/admin/users/${u.id}/password-reset`, headers: await admin() })).statusCode).toBe(202);
    });

    it('unknown user 404, non-admin 403, anonymous 401', async () => {
      const u = await storedUser();
      expect((await inject({ method: 'POST', url: `/admin/users/${randomUUID()}/password-reset`, headers: await admin() })).statusCode).toBe(404);
      expect((await inject({ method: 'POST', url: `/admin/users/${u.id}/password-reset`, headers: await plainUser() })).statusCode).toBe(403);
      expect((await inject({ method: 'POST', url: `/admin/users/${u.id}/password-reset` })).statusCode).toBe(401);
    });
  });

  describe('inviting a user', () => {
    async function invite(payload: object) {
      return inject({ method: 'POST', url: '/admin/users/invite', headers: await admin(), payload });
    }

    it('creates the account without a password, mails the link; accepting sets the password and verifies the address, then the user logs in', async () => {
      const email = `invitee-${tag()}@example.com`;
      const res = await invite({ email: ` ${email.toUpperCase()}`, name: 'Ivy Invited', roles: ['editor'] });
      expect(res.statusCode, res.body).toBe(201);
      const user = res.json().user as AdminUserJson;
      expect(user).toMatchObject({ email, name: 'Ivy Invited', roles: ['editor'], email_verified: false, invite_pending: true, last_sign_in_at: null });
      expect(res.body).not.toContain(NO_PASSWORD_HASH);

      const mail = await waitFor('invitation', () => mails(email, /^You are invited to Example$/)[0]);
      const { link, token } = tokenFromText(mail.parsed.text ?? '', 'accept-invite');
      expect(link.startsWith('https://app.example.test/accept-invite?token=')).toBe(true);
      expect(mail.parsed.text).toContain('expires in 7 days');

      // No password logs in, and refusing costs exactly one verification, like a wrong password.
      const queue = t.app.latchkey.hasher.queue;
      const before = queue.started;
      expect((await login(email, 'any password at all')).json().code).toBe('INVALID_CREDENTIALS');
      expect((await login(email, NO_PASSWORD_HASH)).json().code).toBe('INVALID_CREDENTIALS');
      expect(queue.started - before).toBe(2);
      // Not logged as a broken hash: the account simply has no password yet.
      expect(t.logs.join('')).not.toContain('outside the accepted costs');

      // The invitation token is no reset token; a refused password leaves the link usable.
      expect((await inject({ method: 'POST', url: '/auth/password/reset', payload: { token, new_password: NEW_PASSWORD } })).json().code).toBe('TOKEN_INVALID');
      const weak = await inject({ method: 'POST', url: '/auth/invite/accept', payload: { token, password: 'password1' } });
      expect(weak.statusCode).toBe(422);
      expect(weak.json().errors[0].field).toBe('password');

      const accepted = await inject({ method: 'POST', url: '/auth/invite/accept', payload: { token, password: NEW_PASSWORD } });
      expect(accepted.statusCode, accepted.body).toBe(200);
      expect(accepted.json().user).toMatchObject({ id: user.id, email, email_verified: true });
      // Nothing was signed in by accepting.
      expect(accepted.json()).not.toHaveProperty('access_token');
      expect(await t.app.latchkey.store.listSessions(user.id, clock())).toEqual([]);

      const again = await inject({ method: 'POST', url: '/auth/invite/accept', payload: { token, password: NEW_PASSWORD } });
      expect(again.statusCode).toBe(400);
      expect(again.json().code).toBe('TOKEN_INVALID');

      const signedIn = await login(email, NEW_PASSWORD);
      expect(signedIn.statusCode).toBe(200);
      const after = await detail(user.id);
      expect(after.user).toMatchObject({ invite_pending: false, email_verified: true, last_sign_in_at: new Date(clock()).toISOString() });
      expect(after.events.map((e) => e.type)).toEqual(expect.arrayContaining(['admin_user_invited', 'invite_accepted', 'login_succeeded']));
      expect(after.events.find((e) => e.type === 'admin_user_invited')?.detail).toEqual({ admin_id: adminId, again: false });

      // Invited and accepted: a second invitation is a taken address.
      const twice = await invite({ email });
      expect(twice.statusCode).toBe(409);
      expect(twice.json().code).toBe('EMAIL_TAKEN');
    });

    it('inviting again before it is accepted mails a new link (200) and the old one stops working', async () => {
      const email = `twice-${tag()}@example.com`;
      const first = await invite({ email, roles: ['a'] });
      expect(first.statusCode).toBe(201);
      const oldToken = await mailedToken(email, /^You are invited/, 'accept-invite', 1);
      const second = await invite({ email, name: 'Ignored', roles: ['b'] });
      expect(second.statusCode).toBe(200);
      expect(second.json().user).toMatchObject({ id: first.json().user.id, name: null, roles: ['a'], invite_pending: true });
      const newToken = await mailedToken(email, /^You are invited/, 'accept-invite', 2);
      expect(newToken).not.toBe(oldToken);
      expect((await inject({ method: 'POST', url: '/auth/invite/accept', payload: { token: oldToken, password: NEW_PASSWORD } })).json().code).toBe('TOKEN_INVALID');
      expect((await inject({ method: 'POST', url: '/auth/invite/accept', payload: { token: newToken, password: NEW_PASSWORD } })).statusCode).toBe(200);
      // A third and fourth try within 15 minutes: the third mail is the last one allowed.
      const other = `limited-${tag()}@example.com`;
      for (let i = 0; i < 3; i++) expect((await invite({ email: other })).statusCode).toBe(i === 0 ? 201 : 200);
      const limited = await invite({ email: other });
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['retry-after']).toBeDefined();
    });

    it('an invitation link expires after INVITE_TTL (7 days)', async () => {
      const email = `late-${tag()}@example.com`;
      expect((await invite({ email })).statusCode).toBe(201);
      const token = await mailedToken(email, /^You are invited/, 'accept-invite');
      clock.advance(7 * DAY + 1000);
      const res = await inject({ method: 'POST', url: '/auth/invite/accept', payload: { token, password: NEW_PASSWORD } });
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('TOKEN_INVALID');
    });

    it('a reset link cannot accept an invitation; a reset of an invited account makes the invitation moot', async () => {
      const email = `reset-invitee-${tag()}@example.com`;
      const invited = (await invite({ email })).json().user as AdminUserJson;
      const inviteToken = await mailedToken(email, /^You are invited/, 'accept-invite');
      expect((await inject({ method: 'POST', url: `/admin/users/${invited.id}/password-reset`, headers: await admin() })).statusCode).toBe(202);
      const resetToken = await mailedToken(email, /^Reset your/, 'reset-password');
      expect((await inject({ method: 'POST', url: '/auth/invite/accept', payload: { token: resetToken, password: NEW_PASSWORD } })).json().code).toBe('TOKEN_INVALID');
      expect((await inject({ method: 'POST', url: '/auth/password/reset', payload: { token: resetToken, new_password: NEW_PASSWORD } })).statusCode).toBe(204);
      // The account has a password now: the invitation link can no longer set one.
      const late = await inject({ method: 'POST', url: '/auth/invite/accept', payload: { token: inviteToken, password: 'yet another passphrase' } });
      expect(late.json().code).toBe('TOKEN_INVALID');
      expect((await login(email, NEW_PASSWORD)).statusCode).toBe(200);
    });

    it('refuses an existing account (409), bad input (422), a non-admin (403); a bogus token (400) costs no hash', async () => {
      const existing = await storedUser();
      const taken = await invite({ email: existing.email });
      expect(taken.statusCode).toBe(409);
      expect(taken.json().code).toBe('EMAIL_TAKEN');
      for (const payload of [{ email: 'nope' }, {}, { email: `r-${tag()}@example.com`, roles: ['Bad Role'] }, { email: `x-${tag()}@example.com`, password: PASSWORD }]) {
        const res = await invite(payload);
        expect(res.statusCode, JSON.stringify(payload)).toBe(422);
      }
      const forbidden = await inject({ method: 'POST', url: '/admin/users/invite', headers: await plainUser(), payload: { email: `f-${tag()}@example.com` } });
      expect(forbidden.statusCode).toBe(403);
      const queue = t.app.latchkey.hasher.queue;
      const before = queue.started;
      const bogus = await inject({ method: 'POST', url: '/auth/invite/accept', payload: { token: 'x'.repeat(43), password: NEW_PASSWORD } });
      expect(bogus.statusCode).toBe(400);
      expect(bogus.json().code).toBe('TOKEN_INVALID');
      expect(queue.started - before).toBe(0);
      expect((await inject({ method: 'POST', url: '/auth/invite/accept', payload: { token: 'x' } })).statusCode).toBe(422);
    });
  });
});

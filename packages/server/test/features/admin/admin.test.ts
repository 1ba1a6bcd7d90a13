import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqliteStore } from '../../../src/store/sqlite/index.js';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';

const PASSWORD = 'correct horse battery staple';

interface Actor {
  email: string;
  access: string;
  refresh: string;
  userId: string;
}

async function makeAdmin(t: TestApp, email: string): Promise<Actor> {
  const u = await registerAndLogin(t.app, email, PASSWORD);
  await t.app.latchkey.store.updateUser(u.userId, { roles: ['admin'] }, Date.now());
  // The role is in the token: log in again to get an admin token.
  const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
  const body = login.json() as { access_token: string; refresh_token: string };
  return { email, access: body.access_token, refresh: body.refresh_token, userId: u.userId };
}

describe('admin API', () => {
  let t: TestApp;
  let admin: Actor;
  let plain: Actor;

  beforeAll(async () => {
    t = await createTestApp();
    admin = await makeAdmin(t, 'root@example.com');
    plain = await registerAndLogin(t.app, 'plain@example.com', PASSWORD);
  });
  afterAll(() => t.close());

  it('authorises every admin route: anonymous 401, plain user 403, admin 2xx', async () => {
    const target = await registerAndLogin(t.app, 'target@example.com', PASSWORD);
    const sessions = await t.app.latchkey.store.listSessions(target.userId, Date.now());
    const routes: Array<{ method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; payload?: object; ok: number }> = [
      { method: 'GET', url: '/admin/users', ok: 200 },
      { method: 'GET', url: `/admin/users/${target.userId}`, ok: 200 },
      { method: 'PATCH', url: `/admin/users/${target.userId}`, payload: { name: 'Renamed' }, ok: 200 },
      { method: 'DELETE', url: `/admin/users/${target.userId}/sessions/${sessions[0]!.id}`, ok: 204 },
      { method: 'POST', url: `/admin/users/${target.userId}/revoke-sessions`, ok: 200 },
      { method: 'POST', url: '/admin/users', payload: { email: 'created@example.com', password: PASSWORD }, ok: 201 },
      { method: 'DELETE', url: `/admin/users/${target.userId}`, ok: 204 },
    ];
    for (const r of routes) {
      const anon = await t.app.inject({ method: r.method, url: r.url, ...(r.payload ? { payload: r.payload } : {}) });
      expect(anon.statusCode, `${r.method} ${r.url} anonymous`).toBe(401);
      expect(anon.headers['www-authenticate']).toContain('Bearer');
      const user = await t.app.inject({ method: r.method, url: r.url, headers: bearer(plain.access), ...(r.payload ? { payload: r.payload } : {}) });
      expect(user.statusCode, `${r.method} ${r.url} plain user`).toBe(403);
      expect(user.json().code).toBe('FORBIDDEN');
    }
    for (const r of routes) {
      const res = await t.app.inject({ method: r.method, url: r.url, headers: bearer(admin.access), ...(r.payload ? { payload: r.payload } : {}) });
      expect(res.statusCode, `${r.method} ${r.url} admin: ${res.body}`).toBe(r.ok);
      expect(res.headers['cache-control'], `${r.method} ${r.url}`).toBe('no-store');
    }
  });

  it('shows a user with their sessions and recent events, never a hash', async () => {
    const u = await registerAndLogin(t.app, 'detail@example.com', PASSWORD);
    const res = await t.app.inject({ method: 'GET', url: `/admin/users/${u.userId}`, headers: bearer(admin.access) });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.user.email).toBe('detail@example.com');
    expect(body.sessions).toHaveLength(1);
    expect(body.events.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['register', 'login_succeeded']));
    expect(res.body).not.toMatch(/argon2|password_hash|passwordHash/);
  });

  it('disabling a user ends their sessions at once', async () => {
    const victim = await registerAndLogin(t.app, 'disable-me@example.com', PASSWORD);
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(victim.access) })).statusCode).toBe(200);
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/admin/users/${victim.userId}`,
      headers: bearer(admin.access),
      payload: { disabled: true },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().user.disabled).toBe(true);
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(victim.access) })).statusCode).toBe(401);
    const refresh = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: victim.refresh } });
    expect(refresh.statusCode).toBe(403);
    expect(refresh.json().code).toBe('ACCOUNT_DISABLED');
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: victim.email, password: PASSWORD } });
    expect(login.statusCode).toBe(403);
    expect(login.json().code).toBe('ACCOUNT_DISABLED');
    // The admin action is recorded on the user, naming the acting admin.
    const events = await t.app.latchkey.store.listEvents(victim.userId, 10);
    const update = events.find((e) => e.type === 'admin_user_updated')!;
    expect(update.detail).toMatchObject({ admin_id: admin.userId, sessions_revoked: 1 });
  });

  it('changing roles keeps the sessions; the next refresh carries the new roles; end_sessions ends them', async () => {
    const u = await registerAndLogin(t.app, 'promote@example.com', PASSWORD);
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/admin/users/${u.userId}`,
      headers: bearer(admin.access),
      payload: { roles: ['editor', 'billing:read'] },
    });
    expect(res.statusCode).toBe(200);
    // The session goes on; its access token keeps the old roles until the next refresh.
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(u.access) })).statusCode).toBe(200);
    const refreshed = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: u.refresh } });
    expect(refreshed.statusCode).toBe(200);
    const claims = JSON.parse(Buffer.from(refreshed.json().access_token.split('.')[1], 'base64url').toString()) as { roles: string[] };
    expect(claims.roles).toEqual(['editor', 'billing:read']);
    const update = (await t.app.latchkey.store.listEvents(u.userId, 10)).find((e) => e.type === 'admin_user_updated')!;
    expect(update.detail).toMatchObject({ changes: ['roles'], sessions_revoked: 0 });
    // end_sessions: true ends them at once.
    const ended = await t.app.inject({
      method: 'PATCH',
      url: `/admin/users/${u.userId}`,
      headers: bearer(admin.access),
      payload: { roles: ['editor'], end_sessions: true },
    });
    expect(ended.statusCode).toBe(200);
    const after = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(refreshed.json().access_token) });
    expect(after.statusCode).toBe(401);
    expect(after.json()).toMatchObject({ code: 'INVALID_TOKEN', reason: 'roles_changed' });
    // Setting the same roles again is not a change: sessions survive, even with end_sessions.
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: u.email, password: PASSWORD } });
    const again = await t.app.inject({
      method: 'PATCH',
      url: `/admin/users/${u.userId}`,
      headers: bearer(admin.access),
      payload: { roles: ['editor'], end_sessions: true },
    });
    expect(again.statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(login.json().access_token) })).statusCode).toBe(200);
  });

  it('a removed admin role takes effect on the admin routes at once, with the session still live', async () => {
    const second = await makeAdmin(t, 'second-admin@example.com');
    const before = await t.app.inject({ method: 'GET', url: '/admin/users?limit=1', headers: bearer(second.access) });
    expect(before.statusCode).toBe(200);
    const demote = await t.app.inject({ method: 'PATCH', url: `/admin/users/${second.userId}`, headers: bearer(admin.access), payload: { roles: [] } });
    expect(demote.statusCode).toBe(200);
    // Its access token still says admin, but the admin routes read the stored roles.
    const after = await t.app.inject({ method: 'GET', url: '/admin/users?limit=1', headers: bearer(second.access) });
    expect(after.statusCode).toBe(403);
    expect(after.json().code).toBe('FORBIDDEN');
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(second.access) })).json().user.roles).toEqual([]);
  });

  it('validates input: bad roles, unknown fields, empty patch → 422; unknown user → 404', async () => {
    const cases = [
      { roles: ['Has Spaces'] },
      { roles: 'admin' },
      { disabled: 'yes' },
      { password_hash: 'x' },
      {},
    ];
    for (const payload of cases) {
      const res = await t.app.inject({ method: 'PATCH', url: `/admin/users/${plain.userId}`, headers: bearer(admin.access), payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(422);
      expect(res.json().code).toBe('VALIDATION_FAILED');
    }
    const missing = await t.app.inject({ method: 'PATCH', url: '/admin/users/nope', headers: bearer(admin.access), payload: { name: 'x' } });
    expect(missing.statusCode).toBe(404);
    const badQuery = await t.app.inject({ method: 'GET', url: '/admin/users?limit=lots', headers: bearer(admin.access) });
    expect(badQuery.statusCode).toBe(422);
    const badCursor = await t.app.inject({ method: 'GET', url: '/admin/users?cursor=%%%', headers: bearer(admin.access) });
    expect(badCursor.statusCode).toBe(422);
    expect(badCursor.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'cursor' }] });
    // Well-formed base64url that does not decode to a cursor is refused the same way.
    const forged = Buffer.from(JSON.stringify({ after: 1 })).toString('base64url');
    const forgedRes = await t.app.inject({ method: 'GET', url: `/admin/users?cursor=${forged}`, headers: bearer(admin.access) });
    expect(forgedRes.statusCode).toBe(422);
  });

  it('creates users: 409 on a duplicate, 422 on a common password', async () => {
    const dup = await t.app.inject({ method: 'POST', url: '/admin/users', headers: bearer(admin.access), payload: { email: 'PLAIN@example.com', password: PASSWORD } });
    expect(dup.statusCode).toBe(409);
    const weak = await t.app.inject({ method: 'POST', url: '/admin/users', headers: bearer(admin.access), payload: { email: 'weak@example.com', password: 'password1' } });
    expect(weak.statusCode).toBe(422);
    const ok = await t.app.inject({
      method: 'POST',
      url: '/admin/users',
      headers: bearer(admin.access),
      payload: { email: 'Staff@Example.com', password: PASSWORD, roles: ['staff'], email_verified: true, name: 'Staff' },
    });
    expect(ok.statusCode).toBe(201);
    expect(ok.json().user).toMatchObject({ email: 'staff@example.com', roles: ['staff'], email_verified: true });
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'staff@example.com', password: PASSWORD } });
    expect(login.statusCode).toBe(200);
  });
});

describe('last-admin protection and deletion', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('the last enabled admin cannot demote, disable or delete themselves; with a second admin they can', async () => {
    const a = await makeAdmin(t, 'only-admin@example.com');
    for (const payload of [{ roles: [] }, { disabled: true }]) {
      const res = await t.app.inject({ method: 'PATCH', url: `/admin/users/${a.userId}`, headers: bearer(a.access), payload });
      expect(res.statusCode).toBe(409);
      expect(res.json().code).toBe('LAST_ADMIN');
    }
    const del = await t.app.inject({ method: 'DELETE', url: `/admin/users/${a.userId}`, headers: bearer(a.access) });
    expect(del.statusCode).toBe(409);
    // Keeping the role while changing something else is fine.
    expect((await t.app.inject({ method: 'PATCH', url: `/admin/users/${a.userId}`, headers: bearer(a.access), payload: { roles: ['admin', 'ops'] } })).statusCode).toBe(200);

    const b = await makeAdmin(t, 'second-admin@example.com');
    const demote = await t.app.inject({ method: 'PATCH', url: `/admin/users/${a.userId}`, headers: bearer(b.access), payload: { roles: [] } });
    expect(demote.statusCode).toBe(200);
    // Now b is the last admin again.
    expect((await t.app.inject({ method: 'PATCH', url: `/admin/users/${b.userId}`, headers: bearer(b.access), payload: { disabled: true } })).statusCode).toBe(409);
  });

  it('deleting a user removes every row of theirs, in one transaction', async () => {
    const admin = await makeAdmin(t, 'deleter@example.com');
    const u = await registerAndLogin(t.app, 'doomed@example.com', PASSWORD);
    // A second session, a rotated refresh token, a one-time token and a few events.
    const second = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: u.email, password: PASSWORD } });
    await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: second.json().refresh_token } });
    await t.app.latchkey.store.createOneTimeToken({ tokenHash: 'f'.repeat(64), userId: u.userId, purpose: 'reset_password', createdAt: Date.now(), expiresAt: Date.now() + 60_000 });
    const db = (t.app.latchkey.store as SqliteStore).db as Database.Database;
    const count = (sql: string) => (db.prepare(sql).get(u.userId) as { n: number }).n;
    const rows = () => ({
      users: count('SELECT count(*) AS n FROM users WHERE id = ?'),
      sessions: count('SELECT count(*) AS n FROM sessions WHERE user_id = ?'),
      tokens: count('SELECT count(*) AS n FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = ?)'),
      oneTime: count('SELECT count(*) AS n FROM one_time_tokens WHERE user_id = ?'),
      events: count('SELECT count(*) AS n FROM security_events WHERE user_id = ?'),
    });
    const before = rows();
    // One-time tokens: the reset token above, plus the verification mail's token from registration.
    expect(before).toMatchObject({ users: 1, sessions: 2 });
    expect(before.oneTime).toBeGreaterThanOrEqual(1);
    expect(before.tokens).toBe(3);
    expect(before.events).toBeGreaterThanOrEqual(3);
    const del = await t.app.inject({ method: 'DELETE', url: `/admin/users/${u.userId}`, headers: bearer(admin.access) });
    expect(del.statusCode).toBe(204);
    expect(rows()).toEqual({ users: 0, sessions: 0, tokens: 0, oneTime: 0, events: 0 });
    // Their token is dead at once; a second delete is 404; the deletion is on the admin's record.
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(u.access) })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'DELETE', url: `/admin/users/${u.userId}`, headers: bearer(admin.access) })).statusCode).toBe(404);
    const adminEvents = await t.app.latchkey.store.listEvents(admin.userId, 5);
    expect(adminEvents[0]).toMatchObject({ type: 'admin_user_deleted', detail: { user_id: u.userId, email: 'doomed@example.com' } });
  });
});

describe('paging and search', () => {
  let t: TestApp;
  let admin: Actor;
  beforeAll(async () => {
    t = await createTestApp();
    admin = await makeAdmin(t, 'pager@example.com');
    const base = Date.now();
    const batch = Array.from({ length: 1000 }, (_, i) => ({
      id: `user-${String(i).padStart(4, '0')}`,
      email: `bulk${i}@example.com`,
      name: i % 10 === 0 ? `Tenth ${i}` : null,
      passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g',
      roles: i % 100 === 0 ? ['auditor'] : [],
      emailVerified: i % 2 === 0,
      disabled: i % 50 === 0,
      // Many users share a timestamp: the cursor must break ties by id.
      createdAt: base + Math.floor(i / 7),
    }));
    await t.app.latchkey.store.importUsers(batch, 'skip');
  });
  afterAll(() => t.close());

  async function pageAll(query: string, limit: number): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    for (let guard = 0; guard < 1000; guard++) {
      const url = `/admin/users?limit=${limit}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await t.app.inject({ method: 'GET', url, headers: bearer(admin.access) });
      expect(res.statusCode).toBe(200);
      const body = res.json() as { users: Array<{ id: string }>; next_cursor: string | null };
      ids.push(...body.users.map((u) => u.id));
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    return ids;
  }

  it('pages through 1,000 users returning each exactly once', async () => {
    const ids = await pageAll('', 37);
    expect(ids).toHaveLength(1001); // the 1,000 plus the admin
    expect(new Set(ids).size).toBe(1001);
  });

  it('searches by email or name and filters by disabled, verified and role', async () => {
    expect(await pageAll('&search=bulk99', 50)).toEqual(expect.arrayContaining(['user-0099', 'user-0990', 'user-0999']));
    expect(await pageAll('&search=bulk99', 50)).toHaveLength(11);
    expect(await pageAll('&search=TENTH', 30)).toHaveLength(100);
    expect(await pageAll('&disabled=true', 7)).toHaveLength(20);
    // The 500 odd users are unverified (none is a multiple of 50, so none disabled), plus the admin.
    expect(await pageAll('&verified=false&disabled=false', 100)).toHaveLength(501);
    expect(await pageAll('&role=auditor', 3)).toHaveLength(10);
    expect(await pageAll('&search=%25', 10)).toHaveLength(0); // a literal %, not a wildcard
  });
});

describe.each(['sqlite', 'postgres'] as const)('last-admin rule under concurrency (%s)', (db) => {
  let t: TestApp;
  let passwordHash: string;
  beforeAll(async () => {
    t = await createTestApp({}, { db });
    passwordHash = await t.app.latchkey.hasher.hash(PASSWORD);
  });
  afterAll(() => t.close());

  /** An enabled admin made directly in the store (no registration mail, one hash), logged in over HTTP. */
  async function freshAdmin(): Promise<Actor> {
    const id = randomUUID();
    const email = `race-${id.slice(0, 8)}@example.com`;
    await t.app.latchkey.store.createUser({ id, email, name: null, passwordHash, roles: ['admin'], emailVerified: true, createdAt: Date.now() });
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
    const body = login.json() as { access_token: string; refresh_token: string };
    return { email, access: body.access_token, refresh: body.refresh_token, userId: id };
  }

  const changes = {
    demote: (target: string) => ({ method: 'PATCH' as const, url: `/admin/users/${target}`, payload: { roles: ['staff'] } }),
    disable: (target: string) => ({ method: 'PATCH' as const, url: `/admin/users/${target}`, payload: { disabled: true } }),
    delete: (target: string) => ({ method: 'DELETE' as const, url: `/admin/users/${target}` }),
  };

  it.each(Object.keys(changes) as Array<keyof typeof changes>)(
    'the only two admins who %s each other at the same moment leave exactly one enabled admin (20 attempts)',
    async (change) => {
      for (let attempt = 0; attempt < 20; attempt++) {
        const a = await freshAdmin();
        const b = await freshAdmin();
        try {
          const [byA, byB] = await Promise.all([
            t.app.inject({ ...changes[change](b.userId), headers: bearer(a.access) }),
            t.app.inject({ ...changes[change](a.userId), headers: bearer(b.access) }),
          ]);
          const statuses = [byA.statusCode, byB.statusCode].sort();
          // One change wins. The other is refused as the last admin; or, when the loser's request
          // is authenticated after the winner's change committed, the loser is no longer an
          // enabled admin: 401 (session revoked, account disabled) or 403 (role already gone).
          expect(statuses.filter((s) => s === 200 || s === 204), `attempt ${attempt}: ${byA.body} ${byB.body}`).toHaveLength(1);
          for (const res of [byA, byB]) {
            if (res.statusCode === 409) expect(res.json().code).toBe('LAST_ADMIN');
            else if (res.statusCode === 403) expect(res.json().code).toBe('FORBIDDEN');
            else expect([200, 204, 401]).toContain(res.statusCode);
          }
          const admins = await t.app.latchkey.store.listUsers({ limit: 10, role: 'admin', disabled: false });
          expect(admins.users.map((u) => u.id), `attempt ${attempt}`).toHaveLength(1);
        } finally {
          // Clear the pair away, also after a failed attempt, so that the next attempt (or the
          // retry) starts again with exactly two admins instead of inheriting a third.
          const left = await t.app.latchkey.store.listUsers({ limit: 10, role: 'admin', disabled: false });
          for (const u of left.users) await t.app.latchkey.store.updateUser(u.id, { roles: [] }, Date.now());
        }
      }
    },
  );
});

describe('ROLE_CHANGE_ENDS_SESSIONS=true', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ ROLE_CHANGE_ENDS_SESSIONS: 'true' });
  });
  afterAll(() => t.close());

  it('a role change ends the sessions unless the request says end_sessions: false', async () => {
    const admin = await makeAdmin(t, 'root@example.com');
    const u = await registerAndLogin(t.app, 'strict@example.com', PASSWORD);
    const patch = (payload: object) => t.app.inject({ method: 'PATCH', url: `/admin/users/${u.userId}`, headers: bearer(admin.access), payload });
    expect((await patch({ roles: ['editor'], end_sessions: false })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(u.access) })).statusCode).toBe(200);
    expect((await patch({ roles: ['editor', 'viewer'] })).statusCode).toBe(200);
    const refresh = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: u.refresh } });
    expect(refresh.statusCode).toBe(401);
    expect(refresh.json()).toMatchObject({ code: 'INVALID_REFRESH_TOKEN', reason: 'roles_changed' });
  });
});

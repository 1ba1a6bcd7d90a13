import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeOldAudit, EXPORT_BATCH } from '../../../src/features/audit/service.js';
import type { AuditRecord } from '../../../src/store/types.js';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';

// The audit log over HTTP, on the project's database (both adapters): an entry for each admin
// action and each security change, with its actor, target, before/after without secrets, address,
// user agent and request id; none for a sign-in, a refresh or /auth/me; GET /admin/audit with its
// filters and pages; the JSON-lines export; the retention purge.

const PASSWORD = 'correct horse battery staple';
const UA = 'audit-test/1.0';
const DAY = 86_400_000;

interface Entry {
  id: string;
  at: string;
  actor: { type: string; id: string | null; email: string | null };
  action: string;
  target: { type: string | null; id: string | null };
  changes: Record<string, unknown> | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
}

let t: TestApp;
let admin: { email: string; access: string; userId: string };

async function loginAs(email: string): Promise<string> {
  const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
  return (login.json() as { access_token: string }).access_token;
}

function headers(token: string): Record<string, string> {
  return { ...bearer(token), 'user-agent': UA };
}

async function audit(query = ''): Promise<{ entries: Entry[]; next_cursor: string | null }> {
  const res = await t.app.inject({ method: 'GET', url: `/admin/audit${query}`, headers: bearer(admin.access) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

/** The newest entry of `action` (on `target` if given). */
async function newest(action: string, target?: string): Promise<Entry> {
  const page = await audit(`?action=${encodeURIComponent(action)}${target ? `&target=${encodeURIComponent(target)}` : ''}&limit=1`);
  expect(page.entries, `no ${action} entry`).toHaveLength(1);
  return page.entries[0]!;
}

/** The request id the access log wrote for the last request to `path`. */
function accessLogReqId(method: string, path: string): string {
  const line = [...t.logs]
    .reverse()
    .map((l) => JSON.parse(l) as { msg?: string; method?: string; path?: string; reqId?: string })
    .find((l) => l.msg === 'request' && l.method === method && l.path === path);
  expect(line, `no access line for ${method} ${path}`).toBeDefined();
  return line!.reqId!;
}

function expectAdminEntry(e: Entry, action: string, target: { type: string; id: string }): void {
  expect(e.action).toBe(action);
  expect(e.actor).toEqual({ type: 'admin', id: admin.userId, email: admin.email });
  expect(e.target).toEqual(target);
  expect(e.ip).toBe('127.0.0.1');
  expect(e.user_agent).toBe(UA);
  expect(e.request_id).toMatch(/^[0-9a-f-]{36}$/);
}

beforeAll(async () => {
  t = await createTestApp({ LOG_LEVEL: 'info' });
  const email = `root-${randomUUID().slice(0, 8)}@example.com`;
  const u = await registerAndLogin(t.app, email, PASSWORD);
  await t.app.latchkey.store.updateUser(u.userId, { roles: ['admin'] }, Date.now());
  admin = { email, access: await loginAs(email), userId: u.userId };
});
afterAll(() => t?.close());

describe('audit entries of admin actions', () => {
  it('create, update (before/after of each changed field), revoke one and all sessions, reset factors, password-reset mail, delete: one entry each, actor the admin', async () => {
    const h = headers(admin.access);
    const created = await t.app.inject({ method: 'POST', url: '/admin/users', headers: h, payload: { email: 'made@example.com', password: PASSWORD, roles: ['editor'] } });
    expect(created.statusCode).toBe(201);
    const id = (created.json() as { user: { id: string } }).user.id;
    const made = await newest('admin.user.created', id);
    expectAdminEntry(made, 'admin.user.created', { type: 'user', id });
    expect(made.request_id).toBe(accessLogReqId('POST', '/admin/users'));
    expect(made.changes).toEqual({
      email: { from: null, to: 'made@example.com' },
      name: { from: null, to: null },
      roles: { from: null, to: ['editor'] },
      email_verified: { from: null, to: false },
      password: { changed: true },
    });
    expect(JSON.stringify(made)).not.toContain(PASSWORD);
    expect(JSON.stringify(made)).not.toMatch(/argon2/);

    const userAccess = await loginAs('made@example.com');
    const sessions = await t.app.latchkey.store.listSessions(id, t.app.latchkey.clock());
    const patched = await t.app.inject({ method: 'PATCH', url: `/admin/users/${id}`, headers: h, payload: { roles: ['editor', 'billing'], name: 'Made', email_verified: false } });
    expect(patched.statusCode).toBe(200);
    const updated = await newest('admin.user.updated', id);
    expectAdminEntry(updated, 'admin.user.updated', { type: 'user', id });
    // email_verified was sent but did not change: not in the changes.
    expect(updated.changes).toEqual({ roles: { from: ['editor'], to: ['editor', 'billing'] }, name: { from: null, to: 'Made' } });
    expect(updated.request_id).toBe(accessLogReqId('PATCH', `/admin/users/${id}`));

    expect((await t.app.inject({ method: 'DELETE', url: `/admin/users/${id}/sessions/${sessions[0]!.id}`, headers: h })).statusCode).toBe(204);
    const one = await newest('admin.session.revoked');
    expectAdminEntry(one, 'admin.session.revoked', { type: 'session', id: sessions[0]!.id });
    expect(one.changes).toEqual({ user_id: id });
    void userAccess;

    await loginAs('made@example.com');
    expect((await t.app.inject({ method: 'POST', url: `/admin/users/${id}/revoke-sessions`, headers: h })).statusCode).toBe(200);
    const all = await newest('admin.sessions.revoked', id);
    expectAdminEntry(all, 'admin.sessions.revoked', { type: 'user', id });
    expect(all.changes).toEqual({ sessions_revoked: 1 });

    expect((await t.app.inject({ method: 'DELETE', url: `/admin/users/${id}/factors?type=totp`, headers: h })).statusCode).toBe(200);
    const reset = await newest('admin.factors.reset', id);
    expectAdminEntry(reset, 'admin.factors.reset', { type: 'user', id });
    expect(reset.changes).toEqual({ type: 'totp', removed: { totp: 0, recovery_codes: 0, passkeys: 0 } });

    expect((await t.app.inject({ method: 'POST', url: `/admin/users/${id}/password-reset`, headers: h })).statusCode).toBe(202);
    expectAdminEntry(await newest('admin.user.password_reset_sent', id), 'admin.user.password_reset_sent', { type: 'user', id });

    expect((await t.app.inject({ method: 'DELETE', url: `/admin/users/${id}`, headers: h })).statusCode).toBe(204);
    const deleted = await newest('admin.user.deleted', id);
    expectAdminEntry(deleted, 'admin.user.deleted', { type: 'user', id });
    expect(deleted.changes).toEqual({ email: { from: 'made@example.com', to: null }, roles: { from: ['editor', 'billing'], to: null } });
    // The user is gone; their audit entries stay.
    expect((await audit(`?target=${id}`)).entries.map((e) => e.action).sort()).toEqual(
      [
        'admin.factors.reset',
        'admin.sessions.revoked',
        'admin.user.created',
        'admin.user.deleted',
        'admin.user.password_reset_sent',
        'admin.user.updated',
      ].sort(),
    );
  });

  it('an update that changes nothing writes no entry; a refused one (LAST_ADMIN) none either', async () => {
    const before = (await audit('?action=admin.user.updated')).entries.length;
    const u = await registerAndLogin(t.app, `same-${randomUUID().slice(0, 8)}@example.com`, PASSWORD);
    expect((await t.app.inject({ method: 'PATCH', url: `/admin/users/${u.userId}`, headers: headers(admin.access), payload: { disabled: false } })).statusCode).toBe(200);
    const refused = await t.app.inject({ method: 'PATCH', url: `/admin/users/${admin.userId}`, headers: headers(admin.access), payload: { roles: [] } });
    expect(refused.statusCode).toBe(409);
    expect((await audit('?action=admin.user.updated')).entries.length).toBe(before);
  });

  it('an invitation and its acceptance-free resend, and an admin unlink of an identity', async () => {
    const h = headers(admin.access);
    const email = `invited-${randomUUID().slice(0, 8)}@example.com`;
    const first = await t.app.inject({ method: 'POST', url: '/admin/users/invite', headers: h, payload: { email, roles: ['viewer'] } });
    expect(first.statusCode).toBe(201);
    const id = (first.json() as { user: { id: string } }).user.id;
    const invited = await newest('admin.user.invited', id);
    expectAdminEntry(invited, 'admin.user.invited', { type: 'user', id });
    expect(invited.changes).toEqual({ email: { from: null, to: email }, roles: { from: null, to: ['viewer'] } });
    expect((await t.app.inject({ method: 'POST', url: '/admin/users/invite', headers: h, payload: { email } })).statusCode).toBe(200);
    expect((await newest('admin.user.invited', id)).changes).toEqual({ invitation: { resent: true } });

    const identityId = randomUUID();
    const { store, clock } = t.app.latchkey;
    expect(await store.createIdentity({ id: identityId, userId: id, provider: 'github', subject: `s-${identityId}`, email, emailVerified: true, createdAt: clock() })).toBe(true);
    expect((await t.app.inject({ method: 'DELETE', url: `/admin/users/${id}/identities/${identityId}`, headers: h })).statusCode).toBe(204);
    const unlinked = await newest('admin.identity.unlinked', identityId);
    expectAdminEntry(unlinked, 'admin.identity.unlinked', { type: 'identity', id: identityId });
    expect(unlinked.changes).toEqual({ user_id: id, provider: 'github' });
    // Not also audited as the user's own unlink.
    expect((await audit(`?action=user.identity.unlinked&target=${identityId}`)).entries).toEqual([]);
  });
});

describe('audit entries of security changes and what writes none', () => {
  it('a password change is one entry by the user, `password: {changed: true}`, never the password or a hash', async () => {
    const u = await registerAndLogin(t.app, `pw-${randomUUID().slice(0, 8)}@example.com`, PASSWORD);
    const next = 'another long passphrase entirely';
    const res = await t.app.inject({ method: 'POST', url: '/auth/change-password', headers: headers(u.access), payload: { current_password: PASSWORD, new_password: next } });
    expect(res.statusCode).toBe(204);
    const e = await newest('user.password.changed', u.userId);
    expect(e.actor).toEqual({ type: 'user', id: u.userId, email: u.email });
    expect(e.changes).toEqual({ password: { changed: true }, sessions_revoked: 0 });
    expect(e.request_id).toBe(accessLogReqId('POST', '/auth/change-password'));
    const text = JSON.stringify(e);
    expect(text).not.toContain(next);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toMatch(/argon2/);
  });

  it('sign-in, refresh, /auth/me and sign-out write no entry; registration writes one', async () => {
    const before = await t.app.latchkey.store.listAudit({ actor: null, action: null, target: null, since: null, until: null, before: null, limit: 10_000 });
    const u = await registerAndLogin(t.app, `quiet-${randomUUID().slice(0, 8)}@example.com`, PASSWORD);
    const refreshed = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: u.refresh } });
    expect(refreshed.statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(u.access) })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer((refreshed.json() as { access_token: string }).access_token) })).statusCode).toBe(204);
    const after = await t.app.latchkey.store.listAudit({ actor: null, action: null, target: null, since: null, until: null, before: null, limit: 10_000 });
    const added = after.filter((a) => !before.some((b) => b.id === a.id));
    expect(added.map((a) => a.action)).toEqual(['user.registered']);
    expect(added[0]).toMatchObject({ actorType: 'user', actorId: u.userId, actorEmail: u.email, targetId: u.userId });
  });

  it('a replayed refresh token is `session.reuse_detected` by the system, on the session', async () => {
    const clocked = await createTestApp({ LOG_LEVEL: 'silent' }, { clock: true });
    try {
      const u = await registerAndLogin(clocked.app, undefined, PASSWORD);
      const first = await clocked.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: u.refresh } });
      expect(first.statusCode).toBe(200);
      clocked.clock!.advance(60_000);
      const replay = await clocked.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: u.refresh } });
      expect(replay.json().code).toBe('REFRESH_TOKEN_REUSED');
      const [session] = await clocked.app.latchkey.store.listSessions(u.userId, 0);
      const rows = await clocked.app.latchkey.store.listAudit({ actor: null, action: 'session.reuse_detected', target: null, since: null, until: null, before: null, limit: 5 });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ actorType: 'system', actorId: null, targetType: 'session', changes: { user_id: u.userId } });
      if (session) expect(rows[0]!.targetId).toBe(session.id);
    } finally {
      await clocked.close();
    }
  });
});

describe('GET /admin/audit', () => {
  it('is for admins only: 401 without a token, 403 for a user', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/admin/audit' })).statusCode).toBe(401);
    const u = await registerAndLogin(t.app, undefined, PASSWORD);
    for (const url of ['/admin/audit', '/admin/audit/export']) {
      const res = await t.app.inject({ method: 'GET', url, headers: bearer(u.access) });
      expect(res.statusCode, url).toBe(403);
      expect(res.json().code).toBe('FORBIDDEN');
    }
  });

  it('filters by actor (id or email), action (exact or prefix), target, since and until; pages newest first with next_cursor', async () => {
    const { store } = t.app.latchkey;
    const actor = `pager-${randomUUID().slice(0, 8)}`;
    const base = Date.UTC(2030, 0, 1);
    const rows: AuditRecord[] = [];
    for (let i = 0; i < 5; i++) {
      rows.push({
        id: randomUUID(),
        at: base + i * DAY,
        actorType: 'cli',
        actorId: actor,
        actorEmail: `${actor}@example.com`,
        action: i % 2 === 0 ? 'admin.user.updated' : 'admin.user.deleted',
        targetType: 'user',
        targetId: `target-${i}`,
        changes: null,
        ip: null,
        userAgent: null,
        requestId: null,
      });
    }
    for (const r of rows) await store.appendAudit(r);
    const ids = (p: { entries: Entry[] }) => p.entries.map((e) => e.id);
    expect(ids(await audit(`?actor=${actor}`))).toEqual(rows.map((r) => r.id).reverse());
    expect(ids(await audit(`?actor=${actor}@example.com&action=admin.user.deleted`))).toEqual([rows[3]!.id, rows[1]!.id]);
    expect(ids(await audit(`?actor=${actor}&action=admin.user.*`))).toHaveLength(5);
    expect(ids(await audit(`?actor=${actor}&target=target-2`))).toEqual([rows[2]!.id]);
    expect(ids(await audit(`?actor=${actor}&since=2030-01-02&until=2030-01-04T00:00:00Z`))).toEqual([rows[2]!.id, rows[1]!.id]);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await audit(`?actor=${actor}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...ids(page));
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(rows.map((r) => r.id).reverse());
  });

  it('a bad cursor, date or limit is 422 VALIDATION_FAILED naming the field', async () => {
    for (const [query, field] of [
      ['?cursor=not-a-cursor', 'cursor'],
      ['?since=yesterday', 'since'],
      ['?until=2030-13-45', 'until'],
      ['?limit=abc', 'limit'],
      ['?colour=red', null],
    ] as const) {
      const res = await t.app.inject({ method: 'GET', url: `/admin/audit${query}`, headers: bearer(admin.access) });
      expect(res.statusCode, query).toBe(422);
      expect(res.json().code).toBe('VALIDATION_FAILED');
      if (field) expect(JSON.stringify(res.json().errors), query).toContain(field);
    }
    const bad = await t.app.inject({ method: 'GET', url: '/admin/audit/export?since=never', headers: bearer(admin.access) });
    expect(bad.statusCode).toBe(422);
  });
});

describe('GET /admin/audit/export', () => {
  it('streams every matching entry as JSON lines, newest first, as an attachment, across several read batches', async () => {
    const { store } = t.app.latchkey;
    const actor = `export-${randomUUID().slice(0, 8)}`;
    const count = EXPORT_BATCH * 2 + 7;
    const base = Date.UTC(2031, 0, 1);
    for (let i = 0; i < count; i++) {
      await store.appendAudit({
        id: randomUUID(),
        at: base + Math.floor(i / 3), // several in one millisecond: the keyset's tie-break is exercised
        actorType: 'system',
        actorId: actor,
        actorEmail: null,
        action: 'test.exported',
        targetType: null,
        targetId: null,
        changes: { n: { from: i, to: i + 1 } },
        ip: null,
        userAgent: null,
        requestId: null,
      });
    }
    const res = await t.app.inject({ method: 'GET', url: `/admin/audit/export?actor=${actor}`, headers: bearer(admin.access) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="latchkey-audit-[0-9-]+\.jsonl"$/);
    expect(res.headers['cache-control']).toBe('no-store');
    const lines = res.body.split('\n');
    expect(lines.pop()).toBe('');
    const entries = lines.map((l) => JSON.parse(l) as Entry);
    expect(entries).toHaveLength(count);
    expect(new Set(entries.map((e) => e.id)).size).toBe(count);
    const times = entries.map((e) => Date.parse(e.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(entries[0]).toMatchObject({ actor: { type: 'system', id: actor, email: null }, action: 'test.exported', target: { type: null, id: null } });
  });
});

describe('retention', () => {
  it('AUDIT_RETENTION purges older entries in batches; 0 (forever) keeps everything', async () => {
    for (const [retention, kept] of [
      ['30d', 1],
      ['forever', 2],
      ['0', 2],
    ] as const) {
      const app = await createTestApp({ LOG_LEVEL: 'silent', AUDIT_RETENTION: retention }, { clock: true });
      try {
        const ctx = app.app.latchkey;
        const now = ctx.clock();
        const row = (at: number): AuditRecord => ({ id: randomUUID(), at, actorType: 'system', actorId: null, actorEmail: null, action: 'test.kept', targetType: null, targetId: null, changes: null, ip: null, userAgent: null, requestId: null });
        await ctx.store.appendAudit(row(now - 31 * DAY));
        await ctx.store.appendAudit(row(now - 29 * DAY));
        await purgeOldAudit(ctx, 1000);
        const left = await ctx.store.listAudit({ actor: null, action: 'test.kept', target: null, since: null, until: null, before: null, limit: 10 });
        expect(left, retention).toHaveLength(kept);
      } finally {
        await app.close();
      }
    }
  });
});

/**
 * The revocation feed over HTTP, on both stores: the credential, every revocation path's entry,
 * paging and cursors, expiry and the purge, and the SSE stream (backlog, live, resume, close).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeRevocations } from '../../../src/features/housekeeping/purge.js';
import { hashToken } from '../../../src/lib/ids.js';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { bearerRefresh, claimsOf, expectProblem } from '../../support/sessions.js';
import { openSse } from '../../support/sse.js';

const FEED_TOKEN = 'feed-token-of-at-least-thirty-two-characters';
const feed = { authorization: `Bearer ${FEED_TOKEN}` };

interface Entry {
  type: 'session' | 'user';
  sid?: string;
  sub?: string;
  before?: number;
  cursor: string;
  exp: number;
}

/** Every entry after `after`, paged. */
async function allEntries(t: TestApp, after = ''): Promise<Entry[]> {
  const out: Entry[] = [];
  let cursor = after;
  for (;;) {
    const res = await t.app.inject({ method: 'GET', url: `/auth/revocations?limit=2${cursor ? `&after=${cursor}` : ''}`, headers: feed });
    expect(res.statusCode, res.body).toBe(200);
    const page = res.json() as { entries: Entry[]; next: string; has_more: boolean };
    out.push(...page.entries);
    cursor = page.next;
    if (!page.has_more) return out;
  }
}

/**
 * The entries after `after` once there are at least `n` (on PostgreSQL an entry is served once
 * no older transaction of the cluster is still running: soon, not at once).
 */
async function entriesOnceThere(t: TestApp, after: string, n: number): Promise<Entry[]> {
  const deadline = Date.now() + 20_000;
  let entries = await allEntries(t, after);
  while (entries.length < n && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    entries = await allEntries(t, after);
  }
  return entries;
}

async function tail(t: TestApp): Promise<string> {
  const res = await t.app.inject({ method: 'GET', url: '/auth/revocations?limit=1000', headers: feed });
  let page = res.json() as { next: string; has_more: boolean };
  while (page.has_more) page = (await t.app.inject({ method: 'GET', url: `/auth/revocations?limit=1000&after=${page.next}`, headers: feed })).json();
  return page.next;
}

async function makeAdmin(t: TestApp): Promise<string> {
  const admin = await registerAndLogin(t.app);
  await t.app.latchkey.store.updateUser(admin.userId, { roles: ['admin'] }, Date.now());
  return (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: admin.email, password: admin.password } })).json().access_token;
}

describe('revocation feed', () => {
  let t: TestApp;
  let off: TestApp;
  let adminToken: string;

  beforeAll(async () => {
    t = await createTestApp({ REVOCATION_FEED_TOKEN: FEED_TOKEN, REFRESH_GRACE: '0s' });
    off = await createTestApp({});
    adminToken = await makeAdmin(t);
  });

  afterAll(async () => {
    await t?.close();
    await off?.close();
  });

  it('without REVOCATION_FEED_TOKEN both routes answer 404, as if absent', async () => {
    for (const url of ['/auth/revocations', '/auth/revocations/stream']) {
      expectProblem(await off.app.inject({ method: 'GET', url, headers: feed }), 404, 'NOT_FOUND');
    }
  });

  it('refuses a request without the credential, with another value, or with a user access token (401 + WWW-Authenticate: Bearer)', async () => {
    const user = await registerAndLogin(t.app);
    for (const url of ['/auth/revocations', '/auth/revocations/stream', '/auth/revocations?after=junk']) {
      for (const headers of [{}, { authorization: `Bearer ${FEED_TOKEN}x` }, { authorization: `Bearer ${FEED_TOKEN.slice(1)}` }, bearer(user.access)]) {
        const res = await t.app.inject({ method: 'GET', url, headers });
        expectProblem(res, 401, 'REVOCATION_FEED_UNAUTHORIZED');
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      }
    }
  });

  it('pages with limit, next and has_more; no-store; window_seconds; a malformed cursor is 400 INVALID_CURSOR', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/auth/revocations', headers: feed });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toMatchObject({ window_seconds: 900 + 60, has_more: false });
    for (const after of ['junk', '1', '-1-2', '1-2-3', '01-2', '99999999999999999999999-1', '1-9223372036854775808']) {
      expectProblem(await t.app.inject({ method: 'GET', url: `/auth/revocations?after=${encodeURIComponent(after)}`, headers: feed }), 400, 'INVALID_CURSOR');
    }
    for (const limit of ['0', '1001', 'x', '-1']) {
      expectProblem(await t.app.inject({ method: 'GET', url: `/auth/revocations?limit=${limit}`, headers: feed }), 422, 'VALIDATION_FAILED');
    }
    const start = await tail(t);
    const users = [await registerAndLogin(t.app), await registerAndLogin(t.app), await registerAndLogin(t.app)];
    for (const u of users) await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(u.access) });
    await entriesOnceThere(t, start, 3);
    const first = (await t.app.inject({ method: 'GET', url: `/auth/revocations?limit=2&after=${start}`, headers: feed })).json();
    expect(first.entries).toHaveLength(2);
    expect(first.has_more).toBe(true);
    expect(first.next).toBe(first.entries[1].cursor);
    const second = (await t.app.inject({ method: 'GET', url: `/auth/revocations?limit=2&after=${first.next}`, headers: feed })).json();
    expect(second.has_more).toBe(false);
    expect([...first.entries, ...second.entries].map((e: Entry) => e.sid)).toEqual(users.map((u) => claimsOf(u.access).sid));
    // Past the end: nothing, and `next` stays where it was.
    const empty = (await t.app.inject({ method: 'GET', url: `/auth/revocations?after=${second.next}`, headers: feed })).json();
    expect(empty).toMatchObject({ entries: [], next: second.next, has_more: false });
  });

  it('every revocation path feeds the right entry, and nothing else about the user', async () => {
    const { store } = t.app.latchkey;
    let cursor = await tail(t);
    // The entries after the last ones taken, once there are `n`. An entry that should not be
    // there shows up in the next step's list.
    const since = async (n: number) => {
      const entries = await entriesOnceThere(t, cursor, n);
      if (entries.length) cursor = entries[entries.length - 1]!.cursor;
      return entries.map(({ cursor: _c, exp, ...rest }) => {
        expect(exp).toBeGreaterThan(Date.now() / 1000 + 900);
        expect(exp).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 960);
        return rest;
      });
    };
    const sessionOf = (access: string) => ({ type: 'session', sid: claimsOf(access).sid });
    const userEntry = (sub: string) => ({ type: 'user', sub, before: expect.any(Number) as number });
    const login = async (email: string, password: string) =>
      (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } })).json() as { access_token: string; refresh_token: string };

    // Logout with the access token; with the refresh token.
    const a = await registerAndLogin(t.app);
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(a.access) });
    expect(await since(1)).toEqual([sessionOf(a.access)]);
    const a2 = await login(a.email, a.password);
    await t.app.inject({ method: 'POST', url: '/auth/logout', payload: { refresh_token: a2.refresh_token } });
    expect(await since(1)).toEqual([sessionOf(a2.access_token)]);
    // Logging out again revokes nothing: no entry (the next step's list would show it).
    await t.app.inject({ method: 'POST', url: '/auth/logout', payload: { refresh_token: a2.refresh_token } });

    // DELETE /auth/sessions/{id}.
    const b1 = await login(a.email, a.password);
    const b2 = await login(a.email, a.password);
    expect((await t.app.inject({ method: 'DELETE', url: `/auth/sessions/${claimsOf(b2.access_token).sid}`, headers: bearer(b1.access_token) })).statusCode).toBe(204);
    expect(await since(1)).toEqual([sessionOf(b2.access_token)]);

    // Change password: the other sessions only, no user entry (this session's tokens stay good).
    const b3 = await login(a.email, a.password);
    const changed = await t.app.inject({
      method: 'POST', url: '/auth/change-password', headers: bearer(b1.access_token),
      payload: { current_password: a.password, new_password: 'a brand new passphrase' },
    });
    expect(changed.statusCode).toBe(204);
    expect(await since(1)).toEqual([sessionOf(b3.access_token)]);

    // Logout-all: the sessions and the user.
    const c1 = await login(a.email, 'a brand new passphrase');
    const before = Math.floor(Date.now() / 1000);
    await t.app.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(c1.access_token) });
    const all = await since(3);
    expect(all.slice(0, 2)).toEqual(expect.arrayContaining([sessionOf(b1.access_token), sessionOf(c1.access_token)]));
    expect(all.slice(2)).toEqual([userEntry(a.userId)]);
    // The revocation's second: older tokens by the user entry, that second's by the session entries.
    expect((all[2] as { before: number }).before).toBeGreaterThanOrEqual(before);
    expect((all[2] as { before: number }).before).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));

    // Refresh token reuse (REFRESH_GRACE=0 here: a second use is reuse at once).
    const d = await registerAndLogin(t.app);
    expect((await bearerRefresh(t.app, d.refresh)).statusCode).toBe(200);
    expectProblem(await bearerRefresh(t.app, d.refresh), 401, 'REFRESH_TOKEN_REUSED');
    expect(await since(1)).toEqual([sessionOf(d.access)]);

    // Password reset: the sessions and the user.
    const e = await registerAndLogin(t.app);
    const resetToken = 'reset-token-for-the-feed-test-' + Math.random().toString(36).slice(2);
    await store.createOneTimeToken({ tokenHash: hashToken(resetToken), userId: e.userId, purpose: 'reset_password', createdAt: Date.now(), expiresAt: Date.now() + 600_000 });
    const reset = await t.app.inject({ method: 'POST', url: '/auth/password/reset', payload: { token: resetToken, new_password: 'reset passphrase here' } });
    expect(reset.statusCode, reset.body).toBe(204);
    expect(await since(2)).toEqual([sessionOf(e.access), userEntry(e.userId)]);

    // Admin: disable; revoke the sessions; delete.
    const f = await registerAndLogin(t.app);
    expect((await t.app.inject({ method: 'PATCH', url: `/admin/users/${f.userId}`, headers: bearer(adminToken), payload: { disabled: true } })).statusCode).toBe(200);
    expect(await since(2)).toEqual([sessionOf(f.access), userEntry(f.userId)]);
    const g = await registerAndLogin(t.app);
    const g2 = await login(g.email, g.password);
    expect((await t.app.inject({ method: 'DELETE', url: `/admin/users/${g.userId}/sessions/${claimsOf(g2.access_token).sid}`, headers: bearer(adminToken) })).statusCode).toBe(204);
    expect(await since(1)).toEqual([sessionOf(g2.access_token)]);
    expect((await t.app.inject({ method: 'POST', url: `/admin/users/${g.userId}/revoke-sessions`, headers: bearer(adminToken) })).statusCode).toBe(200);
    expect(await since(2)).toEqual([sessionOf(g.access), userEntry(g.userId)]);
    const h = await registerAndLogin(t.app);
    expect((await t.app.inject({ method: 'DELETE', url: `/admin/users/${h.userId}`, headers: bearer(adminToken) })).statusCode).toBe(204);
    const deleted = await since(1);
    expect(deleted).toEqual([userEntry(h.userId)]);
    // A deleted user's every token up to that second is void.
    expect((deleted[0] as { before: number }).before).toBeGreaterThan(claimsOf(h.access).exp - 900);

    // A user deleted without a live session (never signed in): nothing to revoke, no entry.
    const created = await t.app.inject({ method: 'POST', url: '/admin/users', headers: bearer(adminToken), payload: { email: `never-${Date.now()}@example.com`, password: 'never signed in here' } });
    expect(created.statusCode, created.body).toBe(201);
    expect((await t.app.inject({ method: 'DELETE', url: `/admin/users/${created.json().user.id}`, headers: bearer(adminToken) })).statusCode).toBe(204);
    const marker = await registerAndLogin(t.app);
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(marker.access) });
    expect(await since(1)).toEqual([sessionOf(marker.access)]);

    // Nothing about the user in any entry: only these members.
    for (const entry of await allEntries(t)) {
      expect(Object.keys(entry).sort()).toEqual(entry.type === 'session' ? ['cursor', 'exp', 'sid', 'type'] : ['before', 'cursor', 'exp', 'sub', 'type']);
    }
  });

  it('the stream sends the backlog after its cursor, then live entries; it resumes by Last-Event-ID or ?after=', async () => {
    const address = await listening(t);
    const start = await tail(t);
    const u1 = await registerAndLogin(t.app);
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(u1.access) });

    const s = await openSse(`${address}/auth/revocations/stream?after=${start}`, feed);
    try {
      expect(s.status).toBe(200);
      expect(s.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(s.headers['cache-control']).toBe('no-store');
      const backlog = await s.waitFor('the backlog entry', (m) => m.find((x) => JSON.parse(x.data).sid === claimsOf(u1.access).sid));
      expect(backlog.event).toBe('revocation');
      expect(backlog.id).toBe(JSON.parse(backlog.data).cursor);
      expect(s.raw).toMatch(/^retry: 1000\n\n/);

      const u2 = await registerAndLogin(t.app);
      await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(u2.access) });
      const live = await s.waitFor('the live entry', (m) => m.find((x) => JSON.parse(x.data).sid === claimsOf(u2.access).sid));
      expect(s.messages.map((m) => m.id)).toEqual([backlog.id, live.id]);

      // Resume after the first: exactly the second, by header and by query.
      for (const headers of [{ ...feed, 'last-event-id': backlog.id! }, feed]) {
        const url = `${address}/auth/revocations/stream${'last-event-id' in headers ? `?after=${start}` : `?after=${backlog.id}`}`;
        const r = await openSse(url, headers);
        try {
          await r.waitFor('the resumed entry', (m) => m.length >= 1);
          expect(r.messages.map((m) => m.id)).toEqual([live.id]);
        } finally {
          r.close();
        }
      }
      const bad = await fetch(`${address}/auth/revocations/stream`, { headers: { ...feed, 'last-event-id': 'nope' } });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { code: string }).code).toBe('INVALID_CURSOR');
    } finally {
      s.close();
    }
  });

  it('entries leave the feed once no token they affect can be alive, and the purge deletes them', async () => {
    const timed = await createTestApp({ REVOCATION_FEED_TOKEN: FEED_TOKEN, ACCESS_TOKEN_TTL: '5m' }, { clock: true });
    try {
      const u = await registerAndLogin(timed.app);
      await timed.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(u.access) });
      const [entry] = await entriesOnceThere(timed, '', 1);
      expect(entry).toMatchObject({ type: 'session', sid: claimsOf(u.access).sid, exp: Math.ceil((timed.clock!() + 300_000 + 60_000) / 1000) });
      // The token itself (iat + 5 min) and a verifier's 60 s leeway: until then the entry stays.
      timed.clock!.advance(360_000);
      expect(await allEntries(timed)).toHaveLength(1);
      expect(await purgeRevocations(timed.app.latchkey)).toBe(0);
      timed.clock!.advance(1);
      expect(await allEntries(timed)).toEqual([]);
      expect(await purgeRevocations(timed.app.latchkey)).toBe(1);
    } finally {
      await timed.close();
    }
  });

  it('REVOCATION_FEED_MAX_STREAMS: one stream more is 503; app.close() ends open streams promptly', async () => {
    const small = await createTestApp({ REVOCATION_FEED_TOKEN: FEED_TOKEN, REVOCATION_FEED_MAX_STREAMS: '1' });
    const address = await listening(small);
    const s = await openSse(`${address}/auth/revocations/stream`, feed);
    try {
      expect(s.status).toBe(200);
      const second = await fetch(`${address}/auth/revocations/stream`, { headers: feed });
      expect(second.status).toBe(503);
      expect(second.headers.get('retry-after')).toBe('5');
      expect(((await second.json()) as { code: string }).code).toBe('OVERLOADED');
      // Closing the app ends the stream (server.close() would otherwise wait for it).
      await small.close();
      await s.ended;
    } finally {
      s.close();
    }
  });
});

/** Listens on a free port of 127.0.0.1 (once per app); returns its base URL. */
async function listening(t: TestApp): Promise<string> {
  const address = t.app.server.address();
  if (address && typeof address === 'object') return `http://127.0.0.1:${address.port}`;
  return t.app.listen({ port: 0, host: '127.0.0.1' });
}

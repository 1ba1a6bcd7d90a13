/**
 * Background purge of ended sessions and spent refresh tokens: bounded batches in the store,
 * the batch loop, the PURGE_INTERVAL timer of the plugin, and what retention means for replays.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { purgeSessions } from '../../../src/features/housekeeping/purge.js';
import { SqliteStore } from '../../../src/store/sqlite/index.js';
import type { NewSession } from '../../../src/store/types.js';
import { createTestApp, registerAndLogin, tempDir } from '../../support/helpers.js';
import { bearerRefresh, claimsOf, expectProblem, sqliteOf } from '../../support/sessions.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 0, 10);

function session(id: string, userId: string, over: Partial<NewSession> = {}): NewSession {
  return {
    id,
    userId,
    createdAt: NOW - 20 * DAY,
    expiresAt: NOW + 10 * DAY,
    idleExpiresAt: NOW + 5 * DAY,
    userAgent: null,
    ip: null,
    refreshTokenHash: `first-${id}`,
    authTime: NOW - 20 * DAY,
    amr: ['pwd'],
    ...over,
  };
}

function count(store: SqliteStore, sql: string): number {
  return store.db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${sql}`).get()!.n;
}

describe('store.purgeExpired (frozen clock)', () => {
  let store: SqliteStore;
  let cleanup: () => void;

  beforeEach(async () => {
    const tmp = tempDir();
    cleanup = tmp.cleanup;
    store = new SqliteStore(join(tmp.dir, 'purge.db'));
    await store.migrate();
  });
  afterEach(async () => {
    await store.close();
    cleanup();
  });

  it('deletes ended sessions and old spent tokens at most `limit` of each per call, and nothing else', async () => {
    const user = await store.createUser({
      id: 'u1',
      email: 'purge@example.com',
      name: null,
      passwordHash: 'x',
      roles: [],
      emailVerified: false,
      createdAt: NOW - 30 * DAY,
    });
    const uid = user!.id;
    for (let i = 0; i < 25; i++) {
      await store.createSession(session(`expired-${i}`, uid, { expiresAt: NOW - DAY + i, idleExpiresAt: NOW - DAY + i }));
    }
    for (let i = 0; i < 3; i++) await store.createSession(session(`idle-${i}`, uid, { idleExpiresAt: NOW - i }));
    for (let i = 0; i < 6; i++) {
      await store.createSession(session(`revoked-${i}`, uid));
      // Four revoked 8 days ago (past the 7-day retention), two yesterday.
      await store.revokeSession(uid, `revoked-${i}`, 'logout', i < 4 ? NOW - 8 * DAY : NOW - DAY);
    }
    // One live session whose lineage spent 15 tokens 8 days ago and 5 an hour ago.
    await store.createSession(session('live', uid, { createdAt: NOW - 9 * DAY }));
    let current = 'first-live';
    for (let i = 0; i < 20; i++) {
      const at = i < 15 ? NOW - 8 * DAY + i : NOW - HOUR + i;
      const next = `live-${i}`;
      const r = await store.rotateRefreshToken({ oldTokenHash: current, newTokenHash: next, now: at, graceMs: 10_000, idleTimeoutMs: 30 * DAY });
      expect(r.kind).toBe('rotated');
      current = next;
    }
    expect(count(store, 'sessions')).toBe(35);
    expect(count(store, 'refresh_tokens WHERE used_at IS NOT NULL')).toBe(20);

    const perCall: Array<{ returned: number; sessions: number; spentOld: number }> = [];
    for (let call = 0; call < 6; call++) {
      const sessionsBefore = count(store, 'sessions');
      const spentBefore = count(store, `refresh_tokens WHERE used_at <= ${NOW - 7 * DAY}`);
      const returned = await store.purgeExpired(NOW, 7 * DAY, 10);
      perCall.push({
        returned,
        sessions: sessionsBefore - count(store, 'sessions'),
        spentOld: spentBefore - count(store, `refresh_tokens WHERE used_at <= ${NOW - 7 * DAY}`),
      });
    }
    expect(perCall).toEqual([
      { returned: 20, sessions: 10, spentOld: 10 },
      { returned: 15, sessions: 10, spentOld: 5 },
      { returned: 10, sessions: 10, spentOld: 0 },
      { returned: 2, sessions: 2, spentOld: 0 },
      { returned: 0, sessions: 0, spentOld: 0 },
      { returned: 0, sessions: 0, spentOld: 0 },
    ]);

    const left = store.db.prepare<[], { id: string }>('SELECT id FROM sessions ORDER BY id').all().map((r) => r.id);
    expect(left).toEqual(['live', 'revoked-4', 'revoked-5']);
    // The live session keeps its 5 recent spent tokens (replays are still reuse) and its live one;
    // the deleted sessions' tokens went with them.
    const liveTokens = store.db
      .prepare<[], { token_hash: string; used_at: number | null }>("SELECT token_hash, used_at FROM refresh_tokens WHERE session_id = 'live'")
      .all();
    expect(liveTokens.filter((r) => r.used_at === null).map((r) => r.token_hash)).toEqual(['live-19']);
    expect(liveTokens.filter((r) => r.used_at !== null)).toHaveLength(5);
    expect(count(store, 'refresh_tokens')).toBe(6 + 2);
  });

  it('finds old spent tokens through the partial used_at index, which holds no live token', async () => {
    const plan = store.db
      .prepare(
        `EXPLAIN QUERY PLAN SELECT token_hash FROM refresh_tokens WHERE used_at IS NOT NULL AND used_at <= 1 LIMIT 10`,
      )
      .all() as Array<{ detail: string }>;
    expect(plan.map((r) => r.detail).join('\n')).toMatch(/USING (COVERING )?INDEX refresh_tokens_used_idx/);
    const index = store.db
      .prepare<[], { sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'refresh_tokens_used_idx'")
      .get();
    expect(index?.sql).toMatch(/WHERE used_at IS NOT NULL/);
  });
});

describe('purgeSessions (the batch loop)', () => {
  it('runs batches until nothing is left, or stops at maxBatches', async () => {
    const t = await createTestApp({}, { clock: true });
    try {
      const ctx = t.app.latchkey;
      const uid = (await registerAndLogin(t.app)).userId;
      const now = t.clock!();
      for (let i = 0; i < 25; i++) {
        await ctx.store.createSession(session(`gone-${i}`, uid, { createdAt: now - DAY, expiresAt: now - 1, idleExpiresAt: now - 1 }));
      }
      const store = sqliteOf(t.app);
      expect(await purgeSessions(ctx, { batchSize: 10, maxBatches: 2 })).toBe(20);
      expect(count(store, "sessions WHERE id LIKE 'gone-%'")).toBe(5);
      expect(await purgeSessions(ctx, { batchSize: 10 })).toBe(5);
      expect(count(store, "sessions WHERE id LIKE 'gone-%'")).toBe(0);
      // The helper's own login session is live and stays.
      expect(count(store, 'sessions')).toBe(1);
    } finally {
      await t.close();
    }
  });
});

describe('the plugin timer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('purges every PURGE_INTERVAL', async () => {
    // Only the interval timers are faked; the clock the app reads is the injected one.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const t = await createTestApp({ PURGE_INTERVAL: '5m', KEY_RELOAD_INTERVAL: '1h' }, { clock: true });
    try {
      const u = await registerAndLogin(t.app);
      const sid = claimsOf(u.access).sid;
      const store = sqliteOf(t.app);
      const rows = () => count(store, `sessions WHERE id = '${sid}'`);
      t.clock!.advance(8 * DAY); // idle for more than 7 days: ended, waiting for the purge
      expectProblem(await bearerRefresh(t.app, u.refresh), 401, 'SESSION_EXPIRED');

      vi.advanceTimersByTime(5 * MIN - 1);
      await new Promise((resolve) => setImmediate(resolve));
      expect(rows()).toBe(1);

      vi.advanceTimersByTime(1);
      await vi.waitUntil(() => rows() === 0, { timeout: 5000, interval: 5 });
      expect(rows()).toBe(0);
    } finally {
      await t.close();
    }
  });
});

describe('OAuth provider rows', () => {
  it('the PURGE_INTERVAL timer deletes expired oidc-provider rows and keeps live ones', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const t = await createTestApp({ PURGE_INTERVAL: '5m', KEY_RELOAD_INTERVAL: '1h' }, { clock: true });
    try {
      const store = sqliteOf(t.app);
      const now = t.clock!();
      const row = (id: string, expiresAt: number) => ({
        model: 'AccessToken', id, payload: { jti: id }, grantId: null, userCode: null, uid: null, accountId: null, clientId: null, expiresAt, consumedAt: null,
      });
      await store.upsertOAuthPayload(row('soon', now + MIN));
      await store.upsertOAuthPayload(row('later', now + DAY));
      const rows = () => count(store, 'oauth_payloads');
      t.clock!.advance(2 * MIN);
      vi.advanceTimersByTime(5 * MIN);
      await vi.waitUntil(() => rows() === 1, { timeout: 5000, interval: 5 });
      expect(await store.findOAuthPayload('AccessToken', 'later', t.clock!())).not.toBeNull();
    } finally {
      vi.useRealTimers();
      await t.close();
    }
  });
});

describe('retention of spent tokens', () => {
  it('a replay is reuse while the spent token is kept (idle timeout), and merely unknown once purged', async () => {
    const t = await createTestApp({ SESSION_IDLE_TIMEOUT: '1h', SESSION_MAX_AGE: '1d' }, { clock: true });
    try {
      const ctx = t.app.latchkey;
      const a = await registerAndLogin(t.app);
      const b = await registerAndLogin(t.app);
      const a1 = (await bearerRefresh(t.app, a.refresh)).json().refresh_token as string;
      const b1 = (await bearerRefresh(t.app, b.refresh)).json().refresh_token as string;
      t.clock!.advance(50 * MIN);
      const a2 = (await bearerRefresh(t.app, a1)).json().refresh_token as string;
      const b2 = (await bearerRefresh(t.app, b1)).json().refresh_token as string;

      // 59 minutes after its use the first token is still on record: replaying it ends session A.
      t.clock!.advance(9 * MIN);
      await purgeSessions(ctx);
      expectProblem(await bearerRefresh(t.app, a.refresh), 401, 'REFRESH_TOKEN_REUSED');
      expectProblem(await bearerRefresh(t.app, a2), 401, 'INVALID_REFRESH_TOKEN');

      // Past the retention the purge drops it: the replay is refused but session B lives on.
      t.clock!.advance(2 * MIN);
      expect(await purgeSessions(ctx)).toBeGreaterThan(0);
      expectProblem(await bearerRefresh(t.app, b.refresh), 401, 'INVALID_REFRESH_TOKEN');
      expect((await bearerRefresh(t.app, b2)).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});

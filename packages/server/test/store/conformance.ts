/**
 * The Store conformance suite: one case file that every adapter runs (sqlite.test.ts,
 * postgres.test.ts). It covers every method of the contract in src/store/types.ts, and fires
 * concurrent calls wherever the contract states atomicity. No case is skipped for any adapter.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewSession, NewUser, RotateInput, RotateResult, SigningKeyRecord, Store } from '../../src/store/types.js';

export interface ConformanceOptions {
  /**
   * Total row count of each table holding per-user data (users, sessions, refresh_tokens,
   * one_time_tokens, security_events), read with the adapter's own SQL: proves that deleteUser
   * leaves no orphan row behind, which the Store interface alone cannot see.
   */
  countRows(store: Store): Promise<Record<string, number>>;
}

const T0 = Date.UTC(2026, 0, 1);
const SECOND = 1000;
const DAY = 86_400_000;
const IDLE = 7 * DAY;
const MAX_AGE = 30 * DAY;

function hash(): string {
  return randomBytes(32).toString('hex');
}

function newUser(overrides: Partial<NewUser> = {}): NewUser {
  const id = randomUUID();
  return {
    id,
    email: `u-${id.slice(0, 8)}@example.com`,
    name: null,
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo',
    roles: [],
    emailVerified: false,
    createdAt: T0,
    ...overrides,
  };
}

function newSession(userId: string, overrides: Partial<NewSession> = {}): NewSession {
  const createdAt = overrides.createdAt ?? T0;
  return {
    id: randomUUID(),
    userId,
    createdAt,
    expiresAt: createdAt + MAX_AGE,
    idleExpiresAt: createdAt + IDLE,
    userAgent: 'conformance/1.0',
    ip: '127.0.0.1',
    refreshTokenHash: hash(),
    ...overrides,
  };
}

function key(kid: string, createdAt: number, overrides: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  return {
    kid,
    alg: 'ES256',
    privateJwk: JSON.stringify({ kty: 'EC', kid, d: 'private' }),
    publicJwk: JSON.stringify({ kty: 'EC', kid, use: 'sig' }),
    createdAt,
    retiredAt: null,
    expiresAt: null,
    ...overrides,
  };
}

function kinds(results: RotateResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) {
    const k = r.kind === 'invalid' ? `invalid:${r.reason}` : r.kind;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/**
 * Registers the conformance cases. `makeStore` returns a new, empty, not yet migrated store for
 * each case; the suite migrates it and closes it afterwards.
 */
export function describeStoreConformance(name: string, makeStore: () => Promise<Store>, options: ConformanceOptions): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    let applied: number[];

    beforeEach(async () => {
      store = await makeStore();
      applied = await store.migrate();
    });

    afterEach(async () => {
      await store.close();
    });

    async function user(overrides: Partial<NewUser> = {}) {
      const u = await store.createUser(newUser(overrides));
      if (!u) throw new Error('setup: createUser returned null');
      return u;
    }

    async function session(userId: string, overrides: Partial<NewSession> = {}) {
      const input = newSession(userId, overrides);
      const s = await store.createSession(input);
      return { ...s, token: input.refreshTokenHash };
    }

    function rotate(oldTokenHash: string, now: number, extra: Partial<RotateInput> = {}) {
      return store.rotateRefreshToken({ oldTokenHash, newTokenHash: hash(), now, graceMs: 10 * SECOND, idleTimeoutMs: IDLE, ...extra });
    }

    describe('lifecycle', () => {
      it('migrate applies every version once, ascending from 1, and is then a no-op', async () => {
        expect(applied.length).toBeGreaterThan(0);
        expect(applied[0]).toBe(1);
        expect([...applied].sort((a, b) => a - b)).toEqual(applied);
        expect(await store.migrate()).toEqual([]);
      });

      it('pendingMigrations lists every version before migrate and none after', async () => {
        const fresh = await makeStore();
        try {
          const pending = await fresh.pendingMigrations();
          expect(pending.length).toBeGreaterThan(0);
          expect(await fresh.migrate()).toEqual(pending);
          expect(await fresh.pendingMigrations()).toEqual([]);
        } finally {
          await fresh.close();
        }
        expect(await store.pendingMigrations()).toEqual([]);
      });

      it('serverTime, where the adapter has it, is the database clock in epoch ms', async () => {
        if (!store.serverTime) {
          // Optional in the contract: an embedded database shares the process clock.
          expect(store.kind).toBe('sqlite');
          return;
        }
        const t = await store.serverTime();
        expect(Number.isSafeInteger(t)).toBe(true);
        expect(Math.abs(t - Date.now())).toBeLessThan(DAY);
      });

      it('ping resolves on a reachable database', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('close is idempotent and a closed store no longer answers', async () => {
        const other = await makeStore();
        await other.migrate();
        await other.close();
        await expect(other.close()).resolves.toBeUndefined();
        await expect(other.ping()).rejects.toThrow();
      });
    });

    describe('users', () => {
      it('createUser stores every field and returns the record', async () => {
        const input = newUser({ name: 'Ada Lovelace', roles: ['admin', 'editor'], emailVerified: true, createdAt: T0 + 5 });
        const u = await store.createUser(input);
        expect(u).toEqual({
          id: input.id,
          email: input.email,
          name: 'Ada Lovelace',
          passwordHash: input.passwordHash,
          roles: ['admin', 'editor'],
          emailVerified: true,
          disabled: false,
          createdAt: T0 + 5,
          updatedAt: T0 + 5,
        });
        expect(await store.findUserById(input.id)).toEqual(u);
        expect(await store.findUserByEmail(input.email)).toEqual(u);
        const disabled = await store.createUser(newUser({ disabled: true }));
        expect(disabled?.disabled).toBe(true);
      });

      it('createUser returns null for an existing email and changes nothing', async () => {
        const first = await user({ email: 'dup@example.com', name: 'first' });
        expect(await store.createUser(newUser({ email: 'dup@example.com', name: 'second' }))).toBeNull();
        expect(await store.findUserByEmail('dup@example.com')).toEqual(first);
      });

      it('50 concurrent createUser of one email: exactly one wins', async () => {
        const inputs = Array.from({ length: 50 }, () => newUser({ email: 'race@example.com' }));
        const results = await Promise.all(inputs.map((u) => store.createUser(u)));
        const winners = results.filter((r) => r !== null);
        expect(winners).toHaveLength(1);
        expect((await store.findUserByEmail('race@example.com'))?.id).toBe(winners[0]!.id);
        expect(await store.listUsers({ limit: 100, search: 'race@' })).toMatchObject({ users: [{ id: winners[0]!.id }] });
      });

      it('find by an unknown id or email gives null', async () => {
        expect(await store.findUserById(randomUUID())).toBeNull();
        expect(await store.findUserByEmail('nobody@example.com')).toBeNull();
      });

      it('updateUser changes only the given fields and stamps updatedAt', async () => {
        const u = await user({ name: 'old', roles: ['a'] });
        const named = await store.updateUser(u.id, { name: 'new' }, T0 + 10);
        expect(named).toEqual({ ...u, name: 'new', updatedAt: T0 + 10 });
        const all = await store.updateUser(u.id, { name: null, roles: ['x', 'y'], emailVerified: true, disabled: true }, T0 + 20);
        expect(all).toEqual({ ...u, name: null, roles: ['x', 'y'], emailVerified: true, disabled: true, updatedAt: T0 + 20 });
        const touched = await store.updateUser(u.id, {}, T0 + 30);
        expect(touched).toEqual({ ...all, updatedAt: T0 + 30 });
        expect(await store.findUserById(u.id)).toEqual(touched);
        expect(await store.updateUser(randomUUID(), { name: 'x' }, T0)).toBeNull();
      });

      it('replacePasswordHash swaps only while the expected hash is current', async () => {
        const u = await user();
        expect(await store.replacePasswordHash(u.id, 'not-the-hash', 'h2', T0 + 1)).toBe(false);
        expect((await store.findUserById(u.id))?.passwordHash).toBe(u.passwordHash);
        expect(await store.replacePasswordHash(u.id, u.passwordHash, 'h2', T0 + 2)).toBe(true);
        expect(await store.findUserById(u.id)).toMatchObject({ passwordHash: 'h2', updatedAt: T0 + 2 });
        expect(await store.replacePasswordHash(u.id, u.passwordHash, 'h3', T0 + 3)).toBe(false);
        expect(await store.replacePasswordHash(randomUUID(), 'h2', 'h3', T0)).toBe(false);
      });

      it('replacePasswordHash under concurrency: one replacement from one expected hash', async () => {
        const u = await user();
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.replacePasswordHash(u.id, u.passwordHash, `new-${i}`, T0 + 1)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await store.findUserById(u.id))?.passwordHash).toBe(`new-${results.indexOf(true)}`);
      });

      it('setPasswordHash sets unconditionally; unknown id gives false', async () => {
        const u = await user();
        expect(await store.setPasswordHash(u.id, 'reset-hash', T0 + 9)).toBe(true);
        expect(await store.findUserById(u.id)).toMatchObject({ passwordHash: 'reset-hash', updatedAt: T0 + 9 });
        expect(await store.setPasswordHash(randomUUID(), 'x', T0)).toBe(false);
      });

      it('countUsersWithRole counts exact role membership', async () => {
        await user({ roles: ['admin'] });
        await user({ roles: ['admin', 'editor'] });
        await user({ roles: ['administrator'] });
        await user({ roles: [] });
        expect(await store.countUsersWithRole('admin')).toBe(2);
        expect(await store.countUsersWithRole('editor')).toBe(1);
        expect(await store.countUsersWithRole('adm')).toBe(0);
      });

      it('findUsersByEmailOrId returns each matching user once', async () => {
        const a = await user();
        const b = await user();
        const c = await user();
        await user();
        const found = await store.findUsersByEmailOrId([a.email, b.email, 'missing@example.com'], [b.id, c.id, randomUUID()]);
        expect(found.map((u) => u.id).sort()).toEqual([a.id, b.id, c.id].sort());
        expect(found.find((u) => u.id === a.id)).toEqual(a);
        expect(await store.findUsersByEmailOrId([], [])).toEqual([]);
        expect((await store.findUsersByEmailOrId([], [a.id])).map((u) => u.id)).toEqual([a.id]);
      });
    });

    describe('sessions and refresh tokens', () => {
      it('createSession stores the session with its first token; getSessionWithUser returns both', async () => {
        const u = await user();
        const input = newSession(u.id, { userAgent: null, ip: null });
        const s = await store.createSession(input);
        expect(s).toEqual({
          id: input.id,
          userId: u.id,
          createdAt: T0,
          lastUsedAt: T0,
          expiresAt: T0 + MAX_AGE,
          idleExpiresAt: T0 + IDLE,
          userAgent: null,
          ip: null,
          revokedAt: null,
          revokedReason: null,
        });
        // The user without its password hash: request.auth never carries it.
        const { passwordHash: _hash, ...authUser } = u;
        const found = await store.getSessionWithUser(s.id);
        expect(found).toEqual({ session: s, user: authUser });
        expect(found!.user).not.toHaveProperty('passwordHash');
        expect(await store.getSessionWithUser(randomUUID())).toBeNull();
        expect((await rotate(input.refreshTokenHash, T0 + 1)).kind).toBe('rotated');
      });

      it('getSessionWithUser: concurrent lookups each get their own session, and see a revocation made before them', async () => {
        const users = [await user(), await user({ roles: ['admin'], name: 'Second' })].map(({ passwordHash: _hash, ...u }) => u);
        const sessions = await Promise.all(Array.from({ length: 6 }, (_, i) => store.createSession(newSession(users[i % 2]!.id))));
        const ids = [...sessions.map((s) => s.id), randomUUID(), sessions[0]!.id];
        const found = await Promise.all(Array.from({ length: 80 }, (_, i) => store.getSessionWithUser(ids[i % ids.length]!)));
        found.forEach((f, i) => {
          const k = i % ids.length;
          if (k === 6) return expect(f).toBeNull();
          const s = sessions[k === 7 ? 0 : k]!;
          expect(f).toEqual({ session: s, user: users[(k === 7 ? 0 : k) % 2] });
        });
        // Lookups still in flight do not answer a lookup made after the revocation.
        const target = sessions[1]!;
        const before = Array.from({ length: 40 }, () => store.getSessionWithUser(target.id));
        expect(await store.revokeSession(target.userId, target.id, 'logout', T0 + 5)).toBe(true);
        const after = await Promise.all(Array.from({ length: 5 }, () => store.getSessionWithUser(target.id)));
        for (const a of after) expect(a?.session).toMatchObject({ revokedAt: T0 + 5, revokedReason: 'logout' });
        await Promise.all(before);
      });

      it('createSession is one transaction: a duplicate first token leaves no session behind', async () => {
        const u = await user();
        const first = await session(u.id);
        const dup = newSession(u.id, { refreshTokenHash: first.token });
        await expect(store.createSession(dup)).rejects.toThrow();
        expect(await store.getSessionWithUser(dup.id)).toBeNull();
      });

      it('rotate: a live token is spent, the new one is live, the session is touched', async () => {
        const u = await user();
        const s = await session(u.id);
        const next = hash();
        const r = await store.rotateRefreshToken({ oldTokenHash: s.token, newTokenHash: next, now: T0 + 60 * SECOND, graceMs: 10 * SECOND, idleTimeoutMs: IDLE });
        expect(r.kind).toBe('rotated');
        if (r.kind !== 'rotated') return;
        const { passwordHash: _hash, ...authUser } = u;
        expect(r.user).toEqual(authUser);
        expect(r.user).not.toHaveProperty('passwordHash');
        expect(r.session).toMatchObject({ id: s.id, lastUsedAt: T0 + 60 * SECOND, idleExpiresAt: T0 + 60 * SECOND + IDLE });
        expect((await store.getSessionWithUser(s.id))?.session).toEqual(r.session);
        expect((await rotate(next, T0 + 120 * SECOND)).kind).toBe('rotated');
      });

      it('rotate: the idle deadline never passes the absolute expiry', async () => {
        const u = await user();
        const s = await session(u.id, { idleExpiresAt: T0 + MAX_AGE });
        const r = await rotate(s.token, T0 + MAX_AGE - DAY);
        expect(r.kind === 'rotated' && r.session.idleExpiresAt).toBe(T0 + MAX_AGE);
      });

      it('rotate: a spent token inside the grace window gets a further live token', async () => {
        const u = await user();
        const s = await session(u.id);
        const t1 = T0 + 100 * SECOND;
        expect((await rotate(s.token, t1)).kind).toBe('rotated');
        const second = hash();
        const g = await store.rotateRefreshToken({ oldTokenHash: s.token, newTokenHash: second, now: t1 + 10 * SECOND - 1, graceMs: 10 * SECOND, idleTimeoutMs: IDLE });
        expect(g.kind).toBe('grace');
        expect(g.kind === 'grace' && g.session.id).toBe(s.id);
        expect(g.kind === 'grace' && g.user.id).toBe(u.id);
        expect((await rotate(second, t1 + 11 * SECOND)).kind).toBe('rotated');
        expect((await store.getSessionWithUser(s.id))?.session.revokedAt).toBeNull();
      });

      it('rotate: a spent token at or after the grace window revokes the whole session', async () => {
        const u = await user();
        const s = await session(u.id);
        const t1 = T0 + 100 * SECOND;
        const live = hash();
        await store.rotateRefreshToken({ oldTokenHash: s.token, newTokenHash: live, now: t1, graceMs: 10 * SECOND, idleTimeoutMs: IDLE });
        const r = await rotate(s.token, t1 + 10 * SECOND);
        expect(r).toEqual({ kind: 'reused', sessionId: s.id, userId: u.id });
        expect((await store.getSessionWithUser(s.id))?.session).toMatchObject({ revokedAt: t1 + 10 * SECOND, revokedReason: 'refresh_token_reused' });
        expect(await rotate(live, t1 + 11 * SECOND)).toEqual({ kind: 'invalid', reason: 'revoked' });
      });

      it('rotate: graceMs 0 grants no grace, even within the same millisecond', async () => {
        const u = await user();
        const s = await session(u.id);
        expect((await rotate(s.token, T0 + 5, { graceMs: 0 })).kind).toBe('rotated');
        expect((await rotate(s.token, T0 + 5, { graceMs: 0 })).kind).toBe('reused');
      });

      it('rotate: graceMs 0 grants no grace to a rotation whose clock read before the one that spent the token', async () => {
        // Concurrent requests: the winner read its clock at T0 + 5 and spent the token; a loser
        // that read T0 + 3 arrives after it. The token is spent, not spent "in the future".
        const u = await user();
        const s = await session(u.id);
        expect((await rotate(s.token, T0 + 5, { graceMs: 0 })).kind).toBe('rotated');
        expect((await rotate(s.token, T0 + 3, { graceMs: 0 })).kind).toBe('reused');
        const t = await session(u.id);
        expect((await rotate(t.token, T0 + 5, { graceMs: 10 * SECOND })).kind).toBe('rotated');
        expect((await rotate(t.token, T0 + 3, { graceMs: 10 * SECOND })).kind).toBe('grace');
      });

      it('rotate: unknown, revoked, expired, idle and disabled are invalid and spend nothing', async () => {
        const u = await user();
        expect(await rotate(hash(), T0)).toEqual({ kind: 'invalid', reason: 'unknown' });

        const revoked = await session(u.id);
        await store.revokeSession(u.id, revoked.id, 'logout', T0 + 1);
        expect(await rotate(revoked.token, T0 + 2)).toEqual({ kind: 'invalid', reason: 'revoked' });

        const s = await session(u.id);
        expect(await rotate(s.token, T0 + MAX_AGE)).toEqual({ kind: 'invalid', reason: 'expired' });
        expect(await rotate(s.token, T0 + IDLE)).toEqual({ kind: 'invalid', reason: 'idle' });
        await store.updateUser(u.id, { disabled: true }, T0 + 1);
        expect(await rotate(s.token, T0 + 2)).toEqual({ kind: 'invalid', reason: 'disabled' });
        await store.updateUser(u.id, { disabled: false }, T0 + 3);
        // None of the refusals spent the token: it still rotates.
        expect((await rotate(s.token, T0 + 4)).kind).toBe('rotated');
      });

      it('20 concurrent rotations of one live token: exactly one rotated, the rest grace, all tokens live', async () => {
        const u = await user();
        const s = await session(u.id);
        const fresh = Array.from({ length: 20 }, () => hash());
        const results = await Promise.all(
          fresh.map((newTokenHash) =>
            store.rotateRefreshToken({ oldTokenHash: s.token, newTokenHash, now: T0 + 1000, graceMs: 10 * SECOND, idleTimeoutMs: IDLE }),
          ),
        );
        expect(kinds(results)).toEqual({ rotated: 1, grace: 19 });
        const next = await Promise.all(fresh.map((h) => rotate(h, T0 + 2000)));
        expect(kinds(next)).toEqual({ rotated: 20 });
      });

      it('20 concurrent rotations with graceMs 0: one rotated, the others find reuse, the session is revoked', async () => {
        const u = await user();
        const s = await session(u.id);
        const fresh = Array.from({ length: 20 }, () => hash());
        const results = await Promise.all(
          fresh.map((newTokenHash) =>
            store.rotateRefreshToken({ oldTokenHash: s.token, newTokenHash, now: T0 + 1000, graceMs: 0, idleTimeoutMs: IDLE }),
          ),
        );
        const count = kinds(results);
        expect(count.rotated).toBe(1);
        expect(count.grace).toBeUndefined();
        // The first loser revokes the session ('reused'); later ones may then find it revoked.
        expect(count.reused).toBeGreaterThanOrEqual(1);
        expect((count.reused ?? 0) + (count['invalid:revoked'] ?? 0)).toBe(19);
        expect((await store.getSessionWithUser(s.id))?.session.revokedReason).toBe('refresh_token_reused');
        const winner = fresh[results.findIndex((r) => r.kind === 'rotated')]!;
        expect(await rotate(winner, T0 + 2000)).toEqual({ kind: 'invalid', reason: 'revoked' });
      });

      it('listSessions lists the live sessions of one user, most recently used first', async () => {
        const u = await user();
        const other = await user();
        const a = await session(u.id, { createdAt: T0 });
        const b = await session(u.id, { createdAt: T0 + 10 });
        const c = await session(u.id, { createdAt: T0 + 20 });
        await session(u.id, { createdAt: T0, expiresAt: T0 + 50 });
        await session(u.id, { createdAt: T0, idleExpiresAt: T0 + 50 });
        await session(other.id);
        await rotate(a.token, T0 + 30);
        await store.revokeSession(u.id, c.id, 'logout', T0 + 40);
        const listed = await store.listSessions(u.id, T0 + 50);
        expect(listed.map((s) => s.id)).toEqual([a.id, b.id]);
        expect(listed[0]).toMatchObject({ lastUsedAt: T0 + 30, userId: u.id, userAgent: 'conformance/1.0', ip: '127.0.0.1' });
        expect(await store.listSessions(randomUUID(), T0)).toEqual([]);
      });

      it('revokeSessionByRefreshToken works with a live or spent token, once', async () => {
        const u = await user();
        const s = await session(u.id);
        expect(await store.revokeSessionByRefreshToken(s.token, 'logout', T0 + 5)).toEqual({ sessionId: s.id, userId: u.id });
        expect((await store.getSessionWithUser(s.id))?.session).toMatchObject({ revokedAt: T0 + 5, revokedReason: 'logout' });
        expect(await store.revokeSessionByRefreshToken(s.token, 'logout', T0 + 6)).toBeNull();

        const t = await session(u.id);
        await rotate(t.token, T0 + 1);
        expect(await store.revokeSessionByRefreshToken(t.token, 'logout', T0 + 7)).toEqual({ sessionId: t.id, userId: u.id });
        expect(await store.revokeSessionByRefreshToken(hash(), 'logout', T0)).toBeNull();
      });

      it('revokeSession revokes only a session of that user, once', async () => {
        const u = await user();
        const other = await user();
        const s = await session(u.id);
        expect(await store.revokeSession(other.id, s.id, 'revoked_by_user', T0 + 1)).toBe(false);
        expect((await store.getSessionWithUser(s.id))?.session.revokedAt).toBeNull();
        expect(await store.revokeSession(u.id, s.id, 'revoked_by_user', T0 + 2)).toBe(true);
        expect((await store.getSessionWithUser(s.id))?.session).toMatchObject({ revokedAt: T0 + 2, revokedReason: 'revoked_by_user' });
        expect(await store.revokeSession(u.id, s.id, 'revoked_by_user', T0 + 3)).toBe(false);
        expect(await store.revokeSession(u.id, randomUUID(), 'x', T0)).toBe(false);
      });

      it('revokeUserSessions revokes every live session but the excepted one and counts them', async () => {
        const u = await user();
        const other = await user();
        const keep = await session(u.id);
        const s1 = await session(u.id);
        const s2 = await session(u.id);
        const theirs = await session(other.id);
        expect(await store.revokeUserSessions(u.id, 'password_changed', T0 + 1, keep.id)).toBe(2);
        for (const s of [s1, s2]) {
          expect((await store.getSessionWithUser(s.id))?.session).toMatchObject({ revokedAt: T0 + 1, revokedReason: 'password_changed' });
        }
        expect((await store.getSessionWithUser(keep.id))?.session.revokedAt).toBeNull();
        expect((await store.getSessionWithUser(theirs.id))?.session.revokedAt).toBeNull();
        expect(await store.revokeUserSessions(u.id, 'logout_all', T0 + 2, keep.id)).toBe(0);
        expect(await store.revokeUserSessions(u.id, 'logout_all', T0 + 3)).toBe(1);
        // An earlier revocation keeps its reason and time.
        expect((await store.getSessionWithUser(s1.id))?.session.revokedReason).toBe('password_changed');
      });

      it('purgeExpired deletes ended sessions in bounded batches and keeps live ones', async () => {
        const u = await user();
        const ended = [];
        for (let i = 0; i < 25; i++) ended.push(await session(u.id, { createdAt: T0, expiresAt: T0 + 100 + i }));
        const live = await session(u.id);
        const now = T0 + 1000;
        const batches = [];
        for (let i = 0; i < 5; i++) batches.push(await store.purgeExpired(now, DAY, 10));
        expect(batches).toEqual([10, 10, 5, 0, 0]);
        for (const s of ended) expect(await store.getSessionWithUser(s.id)).toBeNull();
        expect(await rotate(ended[0]!.token, now)).toEqual({ kind: 'invalid', reason: 'unknown' });
        expect(await store.getSessionWithUser(live.id)).not.toBeNull();
        expect((await rotate(live.token, now)).kind).toBe('rotated');
      });

      it('purgeExpired removes idle sessions, and revoked ones only after the retention', async () => {
        const u = await user();
        const idle = await session(u.id, { idleExpiresAt: T0 + 500 });
        const revoked = await session(u.id);
        await store.revokeSession(u.id, revoked.id, 'logout', T0 + 1000);
        const retention = 10 * SECOND;
        expect(await store.purgeExpired(T0 + 1000 + retention - 1, retention, 100)).toBe(1);
        expect(await store.getSessionWithUser(idle.id)).toBeNull();
        expect(await store.getSessionWithUser(revoked.id)).not.toBeNull();
        expect(await store.purgeExpired(T0 + 1000 + retention, retention, 100)).toBe(1);
        expect(await store.getSessionWithUser(revoked.id)).toBeNull();
      });

      it('purgeExpired keeps spent tokens for the retention so that a late replay is still reuse', async () => {
        const u = await user();
        const s = await session(u.id);
        const t1 = T0 + 1000;
        const second = hash();
        await store.rotateRefreshToken({ oldTokenHash: s.token, newTokenHash: second, now: t1, graceMs: 0, idleTimeoutMs: IDLE });
        await rotate(second, t1);
        const retention = 60 * SECOND;
        expect(await store.purgeExpired(t1 + retention - 1, retention, 100)).toBe(0);
        expect(await store.purgeExpired(t1 + retention, retention, 1)).toBe(1);
        expect(await store.purgeExpired(t1 + retention, retention, 1)).toBe(1);
        expect(await store.purgeExpired(t1 + retention, retention, 1)).toBe(0);
        // The spent tokens are gone; the live one (from the second rotation) still rotates.
        expect(await rotate(s.token, t1 + retention)).toEqual({ kind: 'invalid', reason: 'unknown' });
        expect(await store.getSessionWithUser(s.id)).not.toBeNull();
      });
    });

    describe('signing keys', () => {
      it('insert and list round-trip every field, oldest first', async () => {
        const b = key('kid-b', T0 + 2);
        const a = key('kid-a', T0 + 1, { alg: 'HS256', publicJwk: null, retiredAt: T0 + 5, expiresAt: T0 + 99 });
        await store.insertSigningKey(b);
        await store.insertSigningKey(a);
        expect(await store.listSigningKeys()).toEqual([a, b]);
      });

      it('rotateSigningKey retires the active key and makes the new one active', async () => {
        const old = key('old', T0, { retiredAt: T0 - 10, expiresAt: T0 + 50 });
        const current = key('current', T0 + 1);
        await store.insertSigningKey(old);
        await store.insertSigningKey(current);
        const next = key('next', T0 + 100);
        await store.rotateSigningKey(next, T0 + 100, T0 + 100 + 900_000);
        expect(await store.listSigningKeys()).toEqual([old, { ...current, retiredAt: T0 + 100, expiresAt: T0 + 100 + 900_000 }, next]);
      });

      it('10 concurrent rotateSigningKey leave exactly one active key', async () => {
        await store.insertSigningKey(key('first', T0));
        await Promise.all(Array.from({ length: 10 }, (_, i) => store.rotateSigningKey(key(`k${i}`, T0 + 10 + i), T0 + 10 + i, T0 + 1000)));
        const keys = await store.listSigningKeys();
        expect(keys).toHaveLength(11);
        expect(keys.filter((k) => k.retiredAt === null)).toHaveLength(1);
      });

      it('replaceSigningKeyPrivate replaces only the expected value; of 10 concurrent replacements exactly one wins', async () => {
        const k = key('sealed', T0);
        await store.insertSigningKey(k);
        await store.insertSigningKey(key('other', T0 + 1));
        expect(await store.replaceSigningKeyPrivate('sealed', 'not the stored value', 'lk1:x')).toBe(false);
        expect(await store.replaceSigningKeyPrivate('missing', k.privateJwk, 'lk1:x')).toBe(false);
        const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => store.replaceSigningKeyPrivate('sealed', k.privateJwk, `lk1:${i}`)));
        expect(wins.filter(Boolean)).toHaveLength(1);
        const [sealed, other] = await store.listSigningKeys();
        expect(sealed).toEqual({ ...k, privateJwk: `lk1:${wins.indexOf(true)}` });
        expect(other).toEqual(key('other', T0 + 1));
      });

      it('deleteExpiredSigningKeys deletes keys whose expiry has passed, never an active one', async () => {
        await store.insertSigningKey(key('gone', T0, { retiredAt: T0, expiresAt: T0 + 10 }));
        await store.insertSigningKey(key('edge', T0 + 1, { retiredAt: T0, expiresAt: T0 + 20 }));
        await store.insertSigningKey(key('later', T0 + 2, { retiredAt: T0, expiresAt: T0 + 30 }));
        await store.insertSigningKey(key('active', T0 + 3));
        expect(await store.deleteExpiredSigningKeys(T0 + 20)).toBe(2);
        expect((await store.listSigningKeys()).map((k) => k.kid)).toEqual(['later', 'active']);
        expect(await store.deleteExpiredSigningKeys(T0 + 20)).toBe(0);
      });
    });

    describe('security events', () => {
      it('recordEvent and listEvents: one user, newest first, limited, details round-trip', async () => {
        const u = await user();
        const other = await user();
        const base = { ip: '10.0.0.1', userAgent: 'ua', detail: null };
        await store.recordEvent({ ...base, id: randomUUID(), userId: u.id, type: 'register', createdAt: T0 });
        await store.recordEvent({ ...base, id: randomUUID(), userId: u.id, type: 'login_succeeded', createdAt: T0 + 2, detail: { session_id: 's1', nested: { n: [1, 2] } } });
        await store.recordEvent({ ...base, id: randomUUID(), userId: u.id, type: 'logout', createdAt: T0 + 1, ip: null, userAgent: null });
        await store.recordEvent({ ...base, id: randomUUID(), userId: other.id, type: 'register', createdAt: T0 + 3 });
        await store.recordEvent({ ...base, id: randomUUID(), userId: null, type: 'login_failed', createdAt: T0 + 4 });
        const events = await store.listEvents(u.id, 10);
        expect(events.map((e) => e.type)).toEqual(['login_succeeded', 'logout', 'register']);
        expect(events[0]).toMatchObject({ userId: u.id, ip: '10.0.0.1', userAgent: 'ua', createdAt: T0 + 2, detail: { session_id: 's1', nested: { n: [1, 2] } } });
        expect(events[1]).toMatchObject({ ip: null, userAgent: null, detail: null });
        expect((await store.listEvents(u.id, 2)).map((e) => e.type)).toEqual(['login_succeeded', 'logout']);
      });

      it('purgeEvents deletes events older than the cutoff in bounded batches', async () => {
        const u = await user();
        for (let i = 0; i < 15; i++) await store.recordEvent({ id: randomUUID(), userId: u.id, type: 'old', ip: null, userAgent: null, detail: null, createdAt: T0 + i });
        for (let i = 0; i < 5; i++) await store.recordEvent({ id: randomUUID(), userId: null, type: 'new', ip: null, userAgent: null, detail: null, createdAt: T0 + 100 + i });
        expect(await store.purgeEvents(T0 + 100, 10)).toBe(10);
        expect(await store.purgeEvents(T0 + 100, 10)).toBe(5);
        expect(await store.purgeEvents(T0 + 100, 10)).toBe(0);
        expect(await store.listEvents(u.id, 100)).toEqual([]);
        expect(await store.purgeEvents(T0 + 105, 10)).toBe(5);
      });
    });

    describe('one-time tokens', () => {
      it('consumeOneTimeToken spends a token once, for its purpose, before it expires', async () => {
        const u = await user();
        const t = hash();
        await store.createOneTimeToken({ tokenHash: t, userId: u.id, purpose: 'verify_email', createdAt: T0, expiresAt: T0 + 100 });
        expect(await store.consumeOneTimeToken(t, 'reset_password', T0 + 1)).toBeNull();
        expect(await store.consumeOneTimeToken(t, 'verify_email', T0 + 1)).toBe(u.id);
        expect(await store.consumeOneTimeToken(t, 'verify_email', T0 + 2)).toBeNull();
        expect(await store.consumeOneTimeToken(hash(), 'verify_email', T0)).toBeNull();

        const late = hash();
        await store.createOneTimeToken({ tokenHash: late, userId: u.id, purpose: 'reset_password', createdAt: T0, expiresAt: T0 + 100 });
        expect(await store.consumeOneTimeToken(late, 'reset_password', T0 + 100)).toBeNull();
        expect(await store.consumeOneTimeToken(late, 'reset_password', T0 + 99)).toBe(u.id);
      });

      it('findOneTimeToken looks a live token up without spending it', async () => {
        const u = await user();
        const t = hash();
        await store.createOneTimeToken({ tokenHash: t, userId: u.id, purpose: 'reset_password', createdAt: T0, expiresAt: T0 + 100 });
        expect(await store.findOneTimeToken(hash(), 'reset_password', T0 + 1)).toBeNull();
        expect(await store.findOneTimeToken(t, 'verify_email', T0 + 1)).toBeNull();
        expect(await store.findOneTimeToken(t, 'reset_password', T0 + 100)).toBeNull();
        // Looked up as often as asked: it stays live, and is spent only by consume.
        for (let i = 0; i < 3; i++) expect(await store.findOneTimeToken(t, 'reset_password', T0 + 1)).toBe(u.id);
        expect(await store.consumeOneTimeToken(t, 'reset_password', T0 + 2)).toBe(u.id);
        expect(await store.findOneTimeToken(t, 'reset_password', T0 + 3)).toBeNull();
        const other = hash();
        await store.createOneTimeToken({ tokenHash: other, userId: u.id, purpose: 'reset_password', createdAt: T0, expiresAt: T0 + DAY });
        await store.deleteOneTimeTokens(u.id, 'reset_password');
        expect(await store.findOneTimeToken(other, 'reset_password', T0 + 1)).toBeNull();
      });

      it('20 concurrent consumes after 20 concurrent lookups: every lookup sees it, exactly one consume wins', async () => {
        const u = await user();
        const t = hash();
        await store.createOneTimeToken({ tokenHash: t, userId: u.id, purpose: 'reset_password', createdAt: T0, expiresAt: T0 + DAY });
        const found = await Promise.all(Array.from({ length: 20 }, () => store.findOneTimeToken(t, 'reset_password', T0 + 1)));
        expect(found.every((r) => r === u.id)).toBe(true);
        const spent = await Promise.all(Array.from({ length: 20 }, () => store.consumeOneTimeToken(t, 'reset_password', T0 + 1)));
        expect(spent.filter((r) => r === u.id)).toHaveLength(1);
      });

      it('20 concurrent consumes of one token: exactly one receives the user', async () => {
        const u = await user();
        const t = hash();
        await store.createOneTimeToken({ tokenHash: t, userId: u.id, purpose: 'reset_password', createdAt: T0, expiresAt: T0 + DAY });
        const results = await Promise.all(Array.from({ length: 20 }, () => store.consumeOneTimeToken(t, 'reset_password', T0 + 1)));
        expect(results.filter((r) => r === u.id)).toHaveLength(1);
        expect(results.filter((r) => r === null)).toHaveLength(19);
      });

      it('deleteOneTimeTokens removes one purpose of one user only', async () => {
        const u = await user();
        const other = await user();
        const [v1, v2, r1, o1] = [hash(), hash(), hash(), hash()];
        const make = (tokenHash: string, userId: string, purpose: 'verify_email' | 'reset_password') =>
          store.createOneTimeToken({ tokenHash, userId, purpose, createdAt: T0, expiresAt: T0 + DAY });
        await make(v1, u.id, 'verify_email');
        await make(v2, u.id, 'verify_email');
        await make(r1, u.id, 'reset_password');
        await make(o1, other.id, 'verify_email');
        await store.deleteOneTimeTokens(u.id, 'verify_email');
        expect(await store.consumeOneTimeToken(v1, 'verify_email', T0 + 1)).toBeNull();
        expect(await store.consumeOneTimeToken(v2, 'verify_email', T0 + 1)).toBeNull();
        expect(await store.consumeOneTimeToken(r1, 'reset_password', T0 + 1)).toBe(u.id);
        expect(await store.consumeOneTimeToken(o1, 'verify_email', T0 + 1)).toBe(other.id);
      });
    });

    describe('administration', () => {
      /** 1,000 users with many equal created_at values, so that the id tie-break matters. */
      async function thousandUsers() {
        const users = Array.from({ length: 1000 }, (_, i) =>
          newUser({
            email: `user${i}@example.com`,
            name: i % 4 === 0 ? `Zed Person ${i}` : null,
            createdAt: T0 + (i % 50),
            disabled: i % 3 === 0,
            emailVerified: i % 5 === 0,
            roles: i % 7 === 0 ? ['admin'] : [],
          }),
        );
        expect(await store.importUsers(users, 'skip')).toEqual({ inserted: 1000, updated: 0, skipped: 0 });
        return users;
      }

      async function pageAll(query: { search?: string; disabled?: boolean; emailVerified?: boolean; role?: string }, limit: number) {
        const ids: string[] = [];
        let cursor: string | null = null;
        for (let pages = 0; pages < 2000; pages++) {
          const page = await store.listUsers({ ...query, cursor, limit });
          expect(page.users.length).toBeLessThanOrEqual(limit);
          ids.push(...page.users.map((u) => u.id));
          if (page.nextCursor === null) return ids;
          expect(page.users).toHaveLength(limit);
          cursor = page.nextCursor;
        }
        throw new Error('paging did not end');
      }

      const byCreatedThenId = (a: NewUser, b: NewUser) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

      it('listUsers pages 1,000 users: each exactly once, ordered by (created_at, id)', async () => {
        const users = await thousandUsers();
        const ids = await pageAll({}, 37);
        expect(ids).toHaveLength(1000);
        expect(new Set(ids).size).toBe(1000);
        expect(ids).toEqual([...users].sort(byCreatedThenId).map((u) => u.id));
        const first = await store.listUsers({ limit: 5 });
        expect(first.users[0]).toMatchObject({ email: expect.stringMatching(/^user\d+@example\.com$/), passwordHash: expect.any(String) });
      });

      it('listUsers filters (search, disabled, verified, role) page through each match once', async () => {
        const users = await thousandUsers();
        const expectIds = (pred: (u: NewUser, i: number) => boolean) => users.filter(pred).sort(byCreatedThenId).map((u) => u.id);
        expect(await pageAll({ search: 'USER12' }, 4)).toEqual(expectIds((u) => u.email.startsWith('user12')));
        expect(await pageAll({ search: 'zed person 9' }, 7)).toEqual(expectIds((u) => (u.name ?? '').startsWith('Zed Person 9')));
        expect(await pageAll({ disabled: true, role: 'admin' }, 5)).toEqual(expectIds((_, i) => i % 3 === 0 && i % 7 === 0));
        expect(await pageAll({ emailVerified: true, disabled: false }, 50)).toEqual(expectIds((_, i) => i % 5 === 0 && i % 3 !== 0));
        expect(await pageAll({ emailVerified: false, search: 'user99' }, 3)).toEqual(
          expectIds((u, i) => u.email.startsWith('user99') && i % 5 !== 0),
        );
        expect(await store.countUsersWithRole('admin')).toBe(users.filter((_, i) => i % 7 === 0).length);
      });

      it('listUsers search treats LIKE wildcards literally', async () => {
        const underscore = await user({ email: 'a_b@example.com' });
        await user({ email: 'axb@example.com' });
        const percent = await user({ email: 'p%q@example.com' });
        await user({ email: 'pzzq@example.com' });
        expect((await store.listUsers({ limit: 10, search: 'a_b' })).users.map((u) => u.id)).toEqual([underscore.id]);
        expect((await store.listUsers({ limit: 10, search: 'p%q' })).users.map((u) => u.id)).toEqual([percent.id]);
      });

      it('listUsers: an exactly full last page has no next cursor; a malformed cursor gives an empty page', async () => {
        for (let i = 0; i < 4; i++) await user({ createdAt: T0 + i });
        const page = await store.listUsers({ limit: 4 });
        expect(page.users).toHaveLength(4);
        expect(page.nextCursor).toBeNull();
        expect(await store.listUsers({ limit: 4, cursor: 'not-a-cursor' })).toEqual({ users: [], nextCursor: null });
      });

      it('deleteUser removes the user with every session, token, one-time token and event', async () => {
        const victim = await user();
        const bystander = await user();
        const seed = async (uid: string) => {
          const s1 = await session(uid);
          await session(uid);
          await rotate(s1.token, T0 + 1);
          await store.createOneTimeToken({ tokenHash: hash(), userId: uid, purpose: 'verify_email', createdAt: T0, expiresAt: T0 + DAY });
          await store.createOneTimeToken({ tokenHash: hash(), userId: uid, purpose: 'reset_password', createdAt: T0, expiresAt: T0 + DAY });
          await store.recordEvent({ id: randomUUID(), userId: uid, type: 'register', ip: null, userAgent: null, detail: null, createdAt: T0 });
          await store.recordEvent({ id: randomUUID(), userId: uid, type: 'logout', ip: null, userAgent: null, detail: null, createdAt: T0 });
          return s1;
        };
        const victimSession = await seed(victim.id);
        const bystanderSession = await seed(bystander.id);
        const before = await options.countRows(store);
        // Per user: 1 user, 2 sessions, 3 refresh tokens (2 first tokens + 1 from the rotation), 2 one-time tokens, 2 events.
        expect(before).toMatchObject({ users: 2, sessions: 4, refresh_tokens: 6, one_time_tokens: 4, security_events: 4 });

        expect(await store.deleteUser(victim.id)).toBe(true);
        expect(await options.countRows(store)).toMatchObject({ users: 1, sessions: 2, refresh_tokens: 3, one_time_tokens: 2, security_events: 2 });
        expect(await store.findUserById(victim.id)).toBeNull();
        expect(await store.getSessionWithUser(victimSession.id)).toBeNull();
        expect(await store.listEvents(victim.id, 10)).toEqual([]);
        expect(await store.deleteUser(victim.id)).toBe(false);
        expect(await store.getSessionWithUser(bystanderSession.id)).not.toBeNull();
        expect(await store.listEvents(bystander.id, 10)).toHaveLength(2);
      });
    });

    describe('keeping an enabled role holder (the last-admin rule)', () => {
      it('updateUserKeepingRole refuses to demote or disable the last enabled holder and writes nothing', async () => {
        const only = await user({ roles: ['admin', 'ops'] });
        await user({ roles: ['admin'], disabled: true }); // a disabled holder does not count
        await user({ roles: ['ops'] });
        for (const patch of [{ roles: ['ops'] }, { roles: [] }, { disabled: true }, { roles: ['admin'], disabled: true, name: 'x' }]) {
          expect(await store.updateUserKeepingRole(only.id, patch, T0 + 1, 'admin'), JSON.stringify(patch)).toEqual({ kind: 'last_holder' });
        }
        expect(await store.findUserById(only.id)).toEqual(only);
        // A change that keeps them an enabled holder goes through, and reports the row before it.
        const kept = await store.updateUserKeepingRole(only.id, { roles: ['admin'], name: 'Still admin', emailVerified: true }, T0 + 2, 'admin');
        expect(kept).toEqual({
          kind: 'updated',
          before: only,
          user: { ...only, roles: ['admin'], name: 'Still admin', emailVerified: true, updatedAt: T0 + 2 },
        });
        expect(await store.updateUserKeepingRole('no-such-id', { disabled: true }, T0, 'admin')).toEqual({ kind: 'not_found' });
      });

      it('updateUserKeepingRole lets a holder go while another enabled holder remains; non-holders are never held back', async () => {
        const a = await user({ roles: ['admin'] });
        const b = await user({ roles: ['admin'] });
        const plain = await user();
        expect(await store.updateUserKeepingRole(plain.id, { disabled: true }, T0 + 1, 'admin')).toMatchObject({ kind: 'updated' });
        const demoted = await store.updateUserKeepingRole(a.id, { roles: [] }, T0 + 1, 'admin');
        expect(demoted).toMatchObject({ kind: 'updated', before: { roles: ['admin'] }, user: { roles: [] } });
        expect(await store.updateUserKeepingRole(b.id, { disabled: true }, T0 + 2, 'admin')).toEqual({ kind: 'last_holder' });
        // Re-enabling a disabled holder, or granting the role, is always allowed.
        const c = await user({ roles: ['admin'], disabled: true });
        expect(await store.updateUserKeepingRole(c.id, { disabled: false }, T0 + 3, 'admin')).toMatchObject({ kind: 'updated', user: { disabled: false } });
        expect(await store.updateUserKeepingRole(b.id, { disabled: true }, T0 + 4, 'admin')).toMatchObject({ kind: 'updated' });
      });

      it('deleteUserKeepingRole refuses the last enabled holder and deletes anyone else with their rows', async () => {
        const only = await user({ roles: ['admin'] });
        const disabledAdmin = await user({ roles: ['admin'], disabled: true });
        const plain = await user();
        await session(plain.id);
        expect(await store.deleteUserKeepingRole(only.id, 'admin')).toEqual({ kind: 'last_holder' });
        expect(await store.findUserById(only.id)).toEqual(only);
        expect(await store.deleteUserKeepingRole(disabledAdmin.id, 'admin')).toEqual({ kind: 'deleted', user: disabledAdmin });
        expect(await store.deleteUserKeepingRole(plain.id, 'admin')).toEqual({ kind: 'deleted', user: plain });
        expect(await options.countRows(store)).toMatchObject({ users: 1, sessions: 0, refresh_tokens: 0 });
        expect(await store.deleteUserKeepingRole(plain.id, 'admin')).toEqual({ kind: 'not_found' });
        const second = await user({ roles: ['admin'] });
        expect(await store.deleteUserKeepingRole(only.id, 'admin')).toMatchObject({ kind: 'deleted' });
        expect(await store.deleteUserKeepingRole(second.id, 'admin')).toEqual({ kind: 'last_holder' });
      });

      const removals = {
        demote: (id: string) => store.updateUserKeepingRole(id, { roles: ['ops'] }, T0 + 1, 'admin'),
        disable: (id: string) => store.updateUserKeepingRole(id, { disabled: true }, T0 + 1, 'admin'),
        delete: (id: string) => store.deleteUserKeepingRole(id, 'admin'),
      };
      type Removal = keyof typeof removals;
      const pairs: Array<[Removal, Removal]> = [
        ['demote', 'demote'],
        ['disable', 'disable'],
        ['delete', 'delete'],
        ['demote', 'delete'],
        ['disable', 'demote'],
      ];

      it.each(pairs)(
        'the only two enabled holders removed at once (%s one, %s the other), 20 times: exactly one change is done, one holder remains',
        async (first, second) => {
          for (let attempt = 0; attempt < 20; attempt++) {
            const a = await user({ roles: ['admin'] });
            const b = await user({ roles: ['admin'] });
            const results = await Promise.all([removals[first](a.id), removals[second](b.id)]);
            const outcomes = results.map((r) => r.kind).sort();
            expect(outcomes, `attempt ${attempt}`).toEqual(outcomes.includes('deleted') ? ['deleted', 'last_holder'] : ['last_holder', 'updated']);
            const holders = await store.listUsers({ limit: 10, role: 'admin', disabled: false });
            expect(holders.users, `attempt ${attempt}`).toHaveLength(1);
            // The survivor is the one whose removal was refused.
            expect(holders.users[0]!.id).toBe(results[0]!.kind === 'last_holder' ? a.id : b.id);
            await store.updateUser(holders.users[0]!.id, { roles: [] }, T0 + 2);
          }
        },
      );
    });

    describe('import', () => {
      it("importUsers 'skip' inserts new emails and leaves existing accounts untouched", async () => {
        const existing = await user({ email: 'keep@example.com', name: 'Original' });
        const fresh = newUser({ email: 'fresh@example.com', roles: ['imported'], emailVerified: true, createdAt: T0 - DAY, updatedAt: T0 - 5 });
        const result = await store.importUsers([newUser({ email: 'keep@example.com', name: 'Imported' }), fresh], 'skip');
        expect(result).toEqual({ inserted: 1, updated: 0, skipped: 1 });
        expect(await store.findUserByEmail('keep@example.com')).toEqual(existing);
        expect(await store.findUserByEmail('fresh@example.com')).toMatchObject({
          id: fresh.id,
          roles: ['imported'],
          emailVerified: true,
          createdAt: T0 - DAY,
          updatedAt: T0 - 5,
        });
      });

      it("importUsers 'update' overwrites name, hash, roles and flags, never the id or created_at", async () => {
        const existing = await user({ email: 'over@example.com', name: 'Original', createdAt: T0 });
        const incoming = newUser({
          email: 'over@example.com',
          name: 'Imported',
          passwordHash: '$2b$10$abcdefghijklmnopqrstuu5Zg3p6Jv7k1kqY3D0hRj0Zb0cC0dE1q',
          roles: ['admin'],
          emailVerified: true,
          disabled: true,
          createdAt: T0 + 500,
        });
        expect(await store.importUsers([incoming, newUser({ email: 'another@example.com' })], 'update')).toEqual({ inserted: 1, updated: 1, skipped: 0 });
        expect(await store.findUserByEmail('over@example.com')).toMatchObject({
          id: existing.id,
          createdAt: T0,
          name: 'Imported',
          passwordHash: incoming.passwordHash,
          roles: ['admin'],
          emailVerified: true,
          disabled: true,
        });
      });

      it('importUsers handles the same email twice in one batch', async () => {
        const a = newUser({ email: 'twice@example.com', name: 'first' });
        const b = newUser({ email: 'twice@example.com', name: 'second' });
        expect(await store.importUsers([a, b], 'skip')).toEqual({ inserted: 1, updated: 0, skipped: 1 });
        expect((await store.findUserByEmail('twice@example.com'))?.name).toBe('first');
        const c = newUser({ email: 'twice2@example.com', name: 'first' });
        const d = newUser({ email: 'twice2@example.com', name: 'second' });
        expect(await store.importUsers([c, d], 'update')).toEqual({ inserted: 1, updated: 1, skipped: 0 });
        expect(await store.findUserByEmail('twice2@example.com')).toMatchObject({ id: c.id, name: 'second' });
      });

      it('importUsers is one transaction: a failing row leaves nothing of the batch', async () => {
        const existing = await user();
        const good = newUser({ email: 'good@example.com' });
        const clash = newUser({ id: existing.id, email: 'other-email@example.com' });
        await expect(store.importUsers([good, clash], 'skip')).rejects.toThrow();
        expect(await store.findUserByEmail('good@example.com')).toBeNull();
        expect(await store.importUsers([good], 'skip')).toEqual({ inserted: 1, updated: 0, skipped: 0 });
      });
    });

    describe('rate counters', () => {
      it('hitRateCounter counts hits in a fixed window and starts a new one after it', async () => {
        expect(await store.peekRateCounter('login:ip', T0)).toBeNull();
        expect(await store.hitRateCounter('login:ip', T0, 60_000)).toEqual({ count: 1, resetAt: T0 + 60_000 });
        expect(await store.hitRateCounter('login:ip', T0 + 10, 60_000)).toEqual({ count: 2, resetAt: T0 + 60_000 });
        expect(await store.peekRateCounter('login:ip', T0 + 20)).toEqual({ count: 2, resetAt: T0 + 60_000 });
        expect(await store.hitRateCounter('other', T0 + 10, 1000)).toEqual({ count: 1, resetAt: T0 + 1010 });
        expect(await store.peekRateCounter('login:ip', T0 + 60_000)).toBeNull();
        expect(await store.hitRateCounter('login:ip', T0 + 60_000, 60_000)).toEqual({ count: 1, resetAt: T0 + 120_000 });
      });

      it('resetRateCounter starts the key over', async () => {
        await store.hitRateCounter('k', T0, 60_000);
        await store.hitRateCounter('k', T0, 60_000);
        await store.resetRateCounter('k');
        expect(await store.peekRateCounter('k', T0)).toBeNull();
        expect(await store.hitRateCounter('k', T0 + 1, 60_000)).toEqual({ count: 1, resetAt: T0 + 60_001 });
        await expect(store.resetRateCounter('never-seen')).resolves.toBeUndefined();
      });

      it('50 concurrent hits are each counted once', async () => {
        const results = await Promise.all(Array.from({ length: 50 }, () => store.hitRateCounter('burst', T0 + 5, 60_000)));
        expect(results.map((r) => r.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
        expect(new Set(results.map((r) => r.resetAt))).toEqual(new Set([T0 + 60_005]));
        expect(await store.peekRateCounter('burst', T0 + 6)).toEqual({ count: 50, resetAt: T0 + 60_005 });
      });
    });
  });
}

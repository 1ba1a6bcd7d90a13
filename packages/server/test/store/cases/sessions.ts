/** The sessions and refresh tokens concern, with the races the contract settles ("one winner"). */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RotateResult } from '../../../src/store/types.js';
import { T0, SECOND, DAY, IDLE, MAX_AGE, hash, newSession, kinds, type StoreCaseContext } from './context.js';

export function sessionCases(ctx: StoreCaseContext): void {
  const { user, session, rotate } = ctx;

  describe('sessions and refresh tokens', () => {
    it('createSession stores the session with its first token; getSessionWithUser returns both', async () => {
      const u = await user();
      const input = newSession(u.id, { userAgent: null, ip: null });
      const s = await ctx.store.createSession(input);
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
        authTime: T0,
        amr: ['pwd'],
      });
      // The user without its password hash: request.auth never carries it.
      const { passwordHash: _hash, lastSignInAt: _signIn, deletionDueAt: _due, ...authUser } = u;
      const found = await ctx.store.getSessionWithUser(s.id);
      expect(found).toEqual({ session: s, user: authUser });
      expect(found!.user).not.toHaveProperty('passwordHash');
      expect(await ctx.store.getSessionWithUser(randomUUID())).toBeNull();
      expect((await rotate(input.refreshTokenHash, T0 + 1)).kind).toBe('rotated');
    });

    it('a session keeps its sign-in (authTime, amr) through lookups and rotations, on both rotation paths', async () => {
      const u = await user();
      const input = newSession(u.id, { authTime: T0 - 5 * SECOND, amr: ['pwd', 'otp', 'mfa'] });
      const s = await ctx.store.createSession(input);
      expect(s).toMatchObject({ authTime: T0 - 5 * SECOND, amr: ['pwd', 'otp', 'mfa'] });
      expect((await ctx.store.getSessionWithUser(s.id))!.session).toMatchObject({ authTime: T0 - 5 * SECOND, amr: ['pwd', 'otp', 'mfa'] });
      // The live token (PostgreSQL: the one-statement path), then a spent one inside the grace window (the transaction's).
      const rotated = await rotate(input.refreshTokenHash, T0 + SECOND);
      const grace = await rotate(input.refreshTokenHash, T0 + 2 * SECOND);
      for (const r of [rotated, grace]) {
        expect(r.kind === 'rotated' || r.kind === 'grace').toBe(true);
        if (r.kind === 'rotated' || r.kind === 'grace') expect(r.session).toMatchObject({ authTime: T0 - 5 * SECOND, amr: ['pwd', 'otp', 'mfa'] });
      }
      expect((await ctx.store.listSessions(u.id, T0 + 3 * SECOND))[0]).toMatchObject({ authTime: T0 - 5 * SECOND, amr: ['pwd', 'otp', 'mfa'] });
    });

    it('getSessionWithUser: concurrent lookups each get their own session, and see a revocation made before them', async () => {
      const users = [await user(), await user({ roles: ['admin'], name: 'Second' })].map(({ passwordHash: _hash, lastSignInAt: _signIn, deletionDueAt: _due, ...u }) => u);
      const sessions = await Promise.all(Array.from({ length: 6 }, (_, i) => ctx.store.createSession(newSession(users[i % 2]!.id))));
      const ids = [...sessions.map((s) => s.id), randomUUID(), sessions[0]!.id];
      const found = await Promise.all(Array.from({ length: 80 }, (_, i) => ctx.store.getSessionWithUser(ids[i % ids.length]!)));
      found.forEach((f, i) => {
        const k = i % ids.length;
        if (k === 6) return expect(f).toBeNull();
        const s = sessions[k === 7 ? 0 : k]!;
        expect(f).toEqual({ session: s, user: users[(k === 7 ? 0 : k) % 2] });
      });
      // Lookups still in flight do not answer a lookup made after the revocation.
      const target = sessions[1]!;
      const before = Array.from({ length: 40 }, () => ctx.store.getSessionWithUser(target.id));
      expect(await ctx.store.revokeSession(target.userId, target.id, 'logout', T0 + 5)).toBe(true);
      const after = await Promise.all(Array.from({ length: 5 }, () => ctx.store.getSessionWithUser(target.id)));
      for (const a of after) expect(a?.session).toMatchObject({ revokedAt: T0 + 5, revokedReason: 'logout' });
      await Promise.all(before);
    });

    it('createSession is one transaction: a duplicate first token leaves no session behind', async () => {
      const u = await user();
      const first = await session(u.id);
      const dup = newSession(u.id, { refreshTokenHash: first.token });
      await expect(ctx.store.createSession(dup)).rejects.toThrow();
      expect(await ctx.store.getSessionWithUser(dup.id)).toBeNull();
    });

    it('rotate: a live token is spent, the new one is live, the session is touched', async () => {
      const u = await user();
      const s = await session(u.id);
      const next = hash();
      const r = await ctx.store.rotateRefreshToken({ oldTokenHash: s.token, newTokenHash: next, now: T0 + 60 * SECOND, graceMs: 10 * SECOND, idleTimeoutMs: IDLE });
      expect(r.kind).toBe('rotated');
      if (r.kind !== 'rotated') return;
      const { passwordHash: _hash, lastSignInAt: _signIn, deletionDueAt: _due, ...authUser } = u;
      expect(r.user).toEqual(authUser);
      expect(r.user).not.toHaveProperty('passwordHash');
      expect(r.session).toMatchObject({ id: s.id, lastUsedAt: T0 + 60 * SECOND, idleExpiresAt: T0 + 60 * SECOND + IDLE });
      expect((await ctx.store.getSessionWithUser(s.id))?.session).toEqual(r.session);
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
      const g = await ctx.store.rotateRefreshToken({ oldTokenHash: s.token, newTokenHash: second, now: t1 + 10 * SECOND - 1, graceMs: 10 * SECOND, idleTimeoutMs: IDLE });
      expect(g.kind).toBe('grace');
      expect(g.kind === 'grace' && g.session.id).toBe(s.id);
      expect(g.kind === 'grace' && g.user.id).toBe(u.id);
      expect((await rotate(second, t1 + 11 * SECOND)).kind).toBe('rotated');
      expect((await ctx.store.getSessionWithUser(s.id))?.session.revokedAt).toBeNull();
    });

    it('rotate: a spent token at or after the grace window revokes the whole session', async () => {
      const u = await user();
      const s = await session(u.id);
      const t1 = T0 + 100 * SECOND;
      const live = hash();
      await ctx.store.rotateRefreshToken({ oldTokenHash: s.token, newTokenHash: live, now: t1, graceMs: 10 * SECOND, idleTimeoutMs: IDLE });
      const r = await rotate(s.token, t1 + 10 * SECOND);
      expect(r).toEqual({ kind: 'reused', sessionId: s.id, userId: u.id });
      expect((await ctx.store.getSessionWithUser(s.id))?.session).toMatchObject({ revokedAt: t1 + 10 * SECOND, revokedReason: 'refresh_token_reused' });
      expect(await rotate(live, t1 + 11 * SECOND)).toEqual({ kind: 'invalid', reason: 'revoked', revokedReason: 'refresh_token_reused' });
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
      await ctx.store.revokeSession(u.id, revoked.id, 'logout', T0 + 1);
      expect(await rotate(revoked.token, T0 + 2)).toEqual({ kind: 'invalid', reason: 'revoked', revokedReason: 'logout' });

      const s = await session(u.id);
      expect(await rotate(s.token, T0 + MAX_AGE)).toEqual({ kind: 'invalid', reason: 'expired' });
      expect(await rotate(s.token, T0 + IDLE)).toEqual({ kind: 'invalid', reason: 'idle' });
      await ctx.store.updateUser(u.id, { disabled: true }, T0 + 1);
      expect(await rotate(s.token, T0 + 2)).toEqual({ kind: 'invalid', reason: 'disabled' });
      await ctx.store.updateUser(u.id, { disabled: false }, T0 + 3);
      // None of the refusals spent the token: it still rotates.
      expect((await rotate(s.token, T0 + 4)).kind).toBe('rotated');
    });

    it('rotate: a revoked session says why it ended; a disabled user is "disabled" even once revoked', async () => {
      const u = await user();
      for (const why of ['password_changed', 'revoked_by_admin', 'roles_changed']) {
        const s = await session(u.id);
        await ctx.store.revokeUserSessions(u.id, why, T0 + 1);
        expect(await rotate(s.token, T0 + 2)).toEqual({ kind: 'invalid', reason: 'revoked', revokedReason: why });
      }
      const s = await session(u.id);
      await ctx.store.updateUser(u.id, { disabled: true }, T0 + 1);
      await ctx.store.revokeUserSessions(u.id, 'disabled_by_admin', T0 + 1);
      expect(await rotate(s.token, T0 + 2)).toEqual({ kind: 'invalid', reason: 'disabled' });
      // Enabled again: the session stays ended, for the reason it was ended with.
      await ctx.store.updateUser(u.id, { disabled: false }, T0 + 3);
      expect(await rotate(s.token, T0 + 4)).toEqual({ kind: 'invalid', reason: 'revoked', revokedReason: 'disabled_by_admin' });
    });

    it('20 concurrent rotations of one live token: exactly one rotated, the rest grace, all tokens live', async () => {
      const u = await user();
      const s = await session(u.id);
      const fresh = Array.from({ length: 20 }, () => hash());
      const results = await Promise.all(
        fresh.map((newTokenHash) =>
          ctx.store.rotateRefreshToken({ oldTokenHash: s.token, newTokenHash, now: T0 + 1000, graceMs: 10 * SECOND, idleTimeoutMs: IDLE }),
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
          ctx.store.rotateRefreshToken({ oldTokenHash: s.token, newTokenHash, now: T0 + 1000, graceMs: 0, idleTimeoutMs: IDLE }),
        ),
      );
      const count = kinds(results);
      expect(count.rotated).toBe(1);
      expect(count.grace).toBeUndefined();
      // The first loser revokes the session ('reused'); later ones may then find it revoked.
      expect(count.reused).toBeGreaterThanOrEqual(1);
      expect((count.reused ?? 0) + (count['invalid:revoked'] ?? 0)).toBe(19);
      expect((await ctx.store.getSessionWithUser(s.id))?.session.revokedReason).toBe('refresh_token_reused');
      const winner = fresh[results.findIndex((r) => r.kind === 'rotated')]!;
      expect(await rotate(winner, T0 + 2000)).toEqual({ kind: 'invalid', reason: 'revoked', revokedReason: 'refresh_token_reused' });
    });

    it('reauthenticateSession: new authTime and amr, the live tokens spent, the new one live, the session touched', async () => {
      const u = await user();
      const s = await session(u.id, { amr: ['pwd'] });
      const t1 = T0 + 100 * SECOND;
      const fresh = hash();
      const r = await ctx.store.reauthenticateSession({ sessionId: s.id, userId: u.id, authTime: t1, amr: ['pwd', 'otp', 'mfa'], newTokenHash: fresh, now: t1, idleTimeoutMs: IDLE });
      expect(r).toMatchObject({ id: s.id, authTime: t1, amr: ['pwd', 'otp', 'mfa'], lastUsedAt: t1, idleExpiresAt: t1 + IDLE, revokedAt: null });
      expect((await ctx.store.getSessionWithUser(s.id))!.session).toEqual(r);
      // The new token rotates and keeps the new sign-in; the old one is spent: grace inside the window, then reuse.
      const next = await rotate(fresh, t1 + SECOND);
      expect(next.kind).toBe('rotated');
      if (next.kind === 'rotated') expect(next.session).toMatchObject({ authTime: t1, amr: ['pwd', 'otp', 'mfa'] });
      expect((await rotate(s.token, t1 + 2 * SECOND)).kind).toBe('grace');
      expect((await rotate(s.token, t1 + 10 * SECOND)).kind).toBe('reused');
    });

    it('reauthenticateSession: null and nothing changed for another user, or a revoked, expired or idle session', async () => {
      const u = await user();
      const other = await user();
      const input = (sessionId: string, userId: string, now: number) => ({
        sessionId, userId, authTime: now, amr: ['pwd', 'otp', 'mfa'], newTokenHash: hash(), now, idleTimeoutMs: IDLE,
      });
      const s = await session(u.id);
      expect(await ctx.store.reauthenticateSession(input(s.id, other.id, T0 + SECOND))).toBeNull();
      expect(await ctx.store.reauthenticateSession(input(randomUUID(), u.id, T0 + SECOND))).toBeNull();
      expect((await ctx.store.getSessionWithUser(s.id))!.session).toMatchObject({ authTime: T0, amr: ['pwd'], lastUsedAt: T0 });
      expect((await rotate(s.token, T0 + 2 * SECOND)).kind).toBe('rotated');

      const revoked = await session(u.id);
      await ctx.store.revokeSession(u.id, revoked.id, 'logout', T0 + SECOND);
      expect(await ctx.store.reauthenticateSession(input(revoked.id, u.id, T0 + 2 * SECOND))).toBeNull();
      const expired = await session(u.id, { expiresAt: T0 + 5 * SECOND });
      expect(await ctx.store.reauthenticateSession(input(expired.id, u.id, T0 + 5 * SECOND))).toBeNull();
      const idle = await session(u.id, { idleExpiresAt: T0 + 5 * SECOND });
      expect(await ctx.store.reauthenticateSession(input(idle.id, u.id, T0 + 5 * SECOND))).toBeNull();
      for (const x of [revoked, expired, idle]) expect((await ctx.store.getSessionWithUser(x.id))!.session).toMatchObject({ authTime: T0, amr: ['pwd'] });
    });

    it('reauthenticateSession and rotations of one session at once: every call settles, one live family', async () => {
      const u = await user();
      const s = await session(u.id);
      const t1 = T0 + 100 * SECOND;
      const results = await Promise.all([
        ...Array.from({ length: 5 }, () => rotate(s.token, t1)),
        ctx.store.reauthenticateSession({ sessionId: s.id, userId: u.id, authTime: t1, amr: ['pwd', 'otp', 'mfa'], newTokenHash: hash(), now: t1, idleTimeoutMs: IDLE }),
      ]);
      const rotations = results.slice(0, 5) as RotateResult[];
      // At most one spent the live token; the others found it spent within the window.
      expect(rotations.filter((r) => r.kind === 'rotated').length).toBeLessThanOrEqual(1);
      for (const r of rotations) expect(['rotated', 'grace']).toContain(r.kind);
      expect(results[5]).toMatchObject({ authTime: t1 });
      expect((await ctx.store.getSessionWithUser(s.id))!.session).toMatchObject({ revokedAt: null, authTime: t1, amr: ['pwd', 'otp', 'mfa'] });
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
      await ctx.store.revokeSession(u.id, c.id, 'logout', T0 + 40);
      const listed = await ctx.store.listSessions(u.id, T0 + 50);
      expect(listed.map((s) => s.id)).toEqual([a.id, b.id]);
      expect(listed[0]).toMatchObject({ lastUsedAt: T0 + 30, userId: u.id, userAgent: 'conformance/1.0', ip: '127.0.0.1' });
      expect(await ctx.store.listSessions(randomUUID(), T0)).toEqual([]);
    });

    it('revokeSessionByRefreshToken works with a live or spent token, once', async () => {
      const u = await user();
      const s = await session(u.id);
      expect(await ctx.store.revokeSessionByRefreshToken(s.token, 'logout', T0 + 5)).toEqual({ sessionId: s.id, userId: u.id });
      expect((await ctx.store.getSessionWithUser(s.id))?.session).toMatchObject({ revokedAt: T0 + 5, revokedReason: 'logout' });
      expect(await ctx.store.revokeSessionByRefreshToken(s.token, 'logout', T0 + 6)).toBeNull();

      const t = await session(u.id);
      await rotate(t.token, T0 + 1);
      expect(await ctx.store.revokeSessionByRefreshToken(t.token, 'logout', T0 + 7)).toEqual({ sessionId: t.id, userId: u.id });
      expect(await ctx.store.revokeSessionByRefreshToken(hash(), 'logout', T0)).toBeNull();
    });

    it('revokeSession revokes only a session of that user, once', async () => {
      const u = await user();
      const other = await user();
      const s = await session(u.id);
      expect(await ctx.store.revokeSession(other.id, s.id, 'revoked_by_user', T0 + 1)).toBe(false);
      expect((await ctx.store.getSessionWithUser(s.id))?.session.revokedAt).toBeNull();
      expect(await ctx.store.revokeSession(u.id, s.id, 'revoked_by_user', T0 + 2)).toBe(true);
      expect((await ctx.store.getSessionWithUser(s.id))?.session).toMatchObject({ revokedAt: T0 + 2, revokedReason: 'revoked_by_user' });
      expect(await ctx.store.revokeSession(u.id, s.id, 'revoked_by_user', T0 + 3)).toBe(false);
      expect(await ctx.store.revokeSession(u.id, randomUUID(), 'x', T0)).toBe(false);
    });

    it('revokeUserSessions revokes every live session but the excepted one and counts them', async () => {
      const u = await user();
      const other = await user();
      const keep = await session(u.id);
      const s1 = await session(u.id);
      const s2 = await session(u.id);
      const theirs = await session(other.id);
      expect(await ctx.store.revokeUserSessions(u.id, 'password_changed', T0 + 1, keep.id)).toBe(2);
      for (const s of [s1, s2]) {
        expect((await ctx.store.getSessionWithUser(s.id))?.session).toMatchObject({ revokedAt: T0 + 1, revokedReason: 'password_changed' });
      }
      expect((await ctx.store.getSessionWithUser(keep.id))?.session.revokedAt).toBeNull();
      expect((await ctx.store.getSessionWithUser(theirs.id))?.session.revokedAt).toBeNull();
      expect(await ctx.store.revokeUserSessions(u.id, 'logout_all', T0 + 2, keep.id)).toBe(0);
      expect(await ctx.store.revokeUserSessions(u.id, 'logout_all', T0 + 3)).toBe(1);
      // An earlier revocation keeps its reason and time.
      expect((await ctx.store.getSessionWithUser(s1.id))?.session.revokedReason).toBe('password_changed');
    });

    it('purgeExpired deletes ended sessions in bounded batches and keeps live ones', async () => {
      const u = await user();
      const ended = [];
      for (let i = 0; i < 25; i++) ended.push(await session(u.id, { createdAt: T0, expiresAt: T0 + 100 + i }));
      const live = await session(u.id);
      const now = T0 + 1000;
      const batches = [];
      for (let i = 0; i < 5; i++) batches.push(await ctx.store.purgeExpired(now, DAY, 10));
      expect(batches).toEqual([10, 10, 5, 0, 0]);
      for (const s of ended) expect(await ctx.store.getSessionWithUser(s.id)).toBeNull();
      expect(await rotate(ended[0]!.token, now)).toEqual({ kind: 'invalid', reason: 'unknown' });
      expect(await ctx.store.getSessionWithUser(live.id)).not.toBeNull();
      expect((await rotate(live.token, now)).kind).toBe('rotated');
    });

    it('purgeExpired removes idle sessions, and revoked ones only after the retention', async () => {
      const u = await user();
      const idle = await session(u.id, { idleExpiresAt: T0 + 500 });
      const revoked = await session(u.id);
      await ctx.store.revokeSession(u.id, revoked.id, 'logout', T0 + 1000);
      const retention = 10 * SECOND;
      expect(await ctx.store.purgeExpired(T0 + 1000 + retention - 1, retention, 100)).toBe(1);
      expect(await ctx.store.getSessionWithUser(idle.id)).toBeNull();
      expect(await ctx.store.getSessionWithUser(revoked.id)).not.toBeNull();
      expect(await ctx.store.purgeExpired(T0 + 1000 + retention, retention, 100)).toBe(1);
      expect(await ctx.store.getSessionWithUser(revoked.id)).toBeNull();
    });

    it('purgeExpired keeps spent tokens for the retention so that a late replay is still reuse', async () => {
      const u = await user();
      const s = await session(u.id);
      const t1 = T0 + 1000;
      const second = hash();
      await ctx.store.rotateRefreshToken({ oldTokenHash: s.token, newTokenHash: second, now: t1, graceMs: 0, idleTimeoutMs: IDLE });
      await rotate(second, t1);
      const retention = 60 * SECOND;
      expect(await ctx.store.purgeExpired(t1 + retention - 1, retention, 100)).toBe(0);
      expect(await ctx.store.purgeExpired(t1 + retention, retention, 1)).toBe(1);
      expect(await ctx.store.purgeExpired(t1 + retention, retention, 1)).toBe(1);
      expect(await ctx.store.purgeExpired(t1 + retention, retention, 1)).toBe(0);
      // The spent tokens are gone; the live one (from the second rotation) still rotates.
      expect(await rotate(s.token, t1 + retention)).toEqual({ kind: 'invalid', reason: 'unknown' });
      expect(await ctx.store.getSessionWithUser(s.id)).not.toBeNull();
    });
  });
}

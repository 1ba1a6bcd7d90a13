/**
 * The revocation feed concern: every revocation writes its entry in its own transaction, only
 * what was really revoked does, the page order and cursors, expiry and the purge. (The late
 * commit on PostgreSQL, which needs two connections held by hand, is in postgres/revocations.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { parseRevocationCursor } from '../../../src/store/revocation-cursor.js';
import type { RevocationRecord } from '../../../src/store/types.js';
import { T0, SECOND, type StoreCaseContext } from './context.js';

/** Every servable entry from the start, paged `pageSize` at a time, as (kind, subject, iatBefore, revokedAt). */
async function allEntries(ctx: StoreCaseContext, pageSize = 1000, revokedAfter = 0): Promise<RevocationRecord[]> {
  const out: RevocationRecord[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await ctx.store.listRevocations(after === null ? null : parseRevocationCursor(after), pageSize, revokedAfter);
    out.push(...page.entries);
    if (!page.hasMore) return out;
    after = page.entries[page.entries.length - 1]!.cursor;
  }
}

function brief(entries: RevocationRecord[]) {
  return entries.map(({ kind, subject, iatBefore, revokedAt }) => ({ kind, subject, iatBefore, revokedAt }));
}

export function revocationCases(ctx: StoreCaseContext): void {
  const { user, session, rotate } = ctx;

  describe('revocation feed', () => {
    it('a session revoked by revokeSession, by its refresh token or by reuse gets one session entry; a second revocation none', async () => {
      const u = await user();
      const [a, b, c] = [await session(u.id), await session(u.id), await session(u.id)];
      expect(await ctx.store.revokeSession(u.id, a.id, 'logout', T0 + SECOND)).toBe(true);
      expect(await ctx.store.revokeSession(u.id, a.id, 'logout', T0 + 2 * SECOND)).toBe(false);
      expect(await ctx.store.revokeSessionByRefreshToken(b.token, 'logout', T0 + 3 * SECOND)).toEqual({ sessionId: b.id, userId: u.id });
      expect(await ctx.store.revokeSessionByRefreshToken(b.token, 'logout', T0 + 4 * SECOND)).toBeNull();
      expect((await rotate(c.token, T0 + 5 * SECOND)).kind).toBe('rotated');
      expect((await rotate(c.token, T0 + 60 * SECOND)).kind).toBe('reused');
      expect((await rotate(c.token, T0 + 61 * SECOND)).kind).toBe('invalid');
      expect(brief(await allEntries(ctx))).toEqual([
        { kind: 'session', subject: a.id, iatBefore: null, revokedAt: T0 + SECOND },
        { kind: 'session', subject: b.id, iatBefore: null, revokedAt: T0 + 3 * SECOND },
        { kind: 'session', subject: c.id, iatBefore: null, revokedAt: T0 + 60 * SECOND },
      ]);
    });

    it('revokeUserSessions: an entry per session it revoked, and a user entry when no session is spared', async () => {
      const u = await user();
      const [keep, other] = [await session(u.id), await session(u.id)];
      const at = T0 + 10_500; // inside second T0/1000 + 10
      expect(await ctx.store.revokeUserSessions(u.id, 'password_changed', at, keep.id)).toBe(1);
      expect(brief(await allEntries(ctx))).toEqual([{ kind: 'session', subject: other.id, iatBefore: null, revokedAt: at }]);

      const third = await session(u.id);
      expect(await ctx.store.revokeUserSessions(u.id, 'logout_all', at + SECOND)).toBe(2);
      const entries = brief(await allEntries(ctx));
      expect(entries.slice(1, 3).map((e) => e.subject).sort()).toEqual([keep.id, third.id].sort());
      // iat_before is the revocation's second: the session entries cover that second's tokens.
      expect(entries[3]).toEqual({ kind: 'user', subject: u.id, iatBefore: Math.floor((at + SECOND) / 1000), revokedAt: at + SECOND });

      // Nothing left to revoke: no entry at all.
      expect(await ctx.store.revokeUserSessions(u.id, 'disabled_by_admin', at + 2 * SECOND)).toBe(0);
      expect(await allEntries(ctx)).toHaveLength(4);
    });

    it('deleting a user with a session not yet revoked writes a user entry voiding every token up to that second; without one, nothing', async () => {
      const signedIn = await user();
      await session(signedIn.id);
      const never = await user();
      const revoked = await user();
      const s = await session(revoked.id);
      await ctx.store.revokeSession(revoked.id, s.id, 'logout', T0);
      const admin = await user({ roles: ['admin'] });
      await session(admin.id);
      await user({ roles: ['admin'] });

      const at = T0 + 7_250;
      expect(await ctx.store.deleteUser(signedIn.id, at)).toBe(true);
      expect(await ctx.store.deleteUser(never.id, at)).toBe(true);
      expect(await ctx.store.deleteUserKeepingRole(revoked.id, 'admin', at)).toMatchObject({ kind: 'deleted' });
      expect(await ctx.store.deleteUserKeepingRole(admin.id, 'admin', at)).toMatchObject({ kind: 'deleted' });
      expect(await ctx.store.deleteUser(signedIn.id, at)).toBe(false);
      const iatBefore = Math.floor(at / 1000) + 1;
      expect(brief(await allEntries(ctx))).toEqual([
        { kind: 'session', subject: s.id, iatBefore: null, revokedAt: T0 },
        { kind: 'user', subject: signedIn.id, iatBefore, revokedAt: at },
        { kind: 'user', subject: admin.id, iatBefore, revokedAt: at },
      ]);
    });

    it('a refused deletion (last admin) writes no entry', async () => {
      const only = await user({ roles: ['admin'] });
      await session(only.id);
      expect(await ctx.store.deleteUserKeepingRole(only.id, 'admin', T0)).toEqual({ kind: 'last_holder' });
      expect(await allEntries(ctx)).toEqual([]);
      expect(await ctx.store.lastRevocationCursor()).toBeNull();
    });

    it('pages in order with hasMore; a reader resuming after a cursor gets exactly the later entries', async () => {
      const u = await user();
      const sessions = [];
      for (let i = 0; i < 7; i++) sessions.push(await session(u.id));
      for (const [i, s] of sessions.entries()) await ctx.store.revokeSession(u.id, s.id, 'logout', T0 + i * SECOND);
      const first = await ctx.store.listRevocations(null, 3, 0);
      expect(first.hasMore).toBe(true);
      expect(first.entries.map((e) => e.subject)).toEqual(sessions.slice(0, 3).map((s) => s.id));
      expect((await allEntries(ctx, 3)).map((e) => e.subject)).toEqual(sessions.map((s) => s.id));
      const last = await ctx.store.listRevocations(parseRevocationCursor(first.entries[2]!.cursor), 10, 0);
      expect(last.hasMore).toBe(false);
      expect(last.entries.map((e) => e.subject)).toEqual(sessions.slice(3).map((s) => s.id));
      expect(await ctx.store.lastRevocationCursor()).toBe(last.entries[3]!.cursor);
      // After the newest: nothing, until the next revocation.
      const tail = parseRevocationCursor(last.entries[3]!.cursor);
      expect((await ctx.store.listRevocations(tail, 10, 0)).entries).toEqual([]);
      const next = await session(u.id);
      await ctx.store.revokeSession(u.id, next.id, 'logout', T0 + 10 * SECOND);
      expect((await ctx.store.listRevocations(tail, 10, 0)).entries.map((e) => e.subject)).toEqual([next.id]);
    });

    it('expired entries are not served; purgeRevocations deletes them, at most `limit`, and cursors go on past them', async () => {
      const u = await user();
      const ss = [await session(u.id), await session(u.id), await session(u.id), await session(u.id)];
      for (const [i, s] of ss.entries()) await ctx.store.revokeSession(u.id, s.id, 'logout', T0 + i * SECOND);
      // Revoked at or before T0 + 1 s: expired.
      expect((await allEntries(ctx, 1000, T0 + SECOND)).map((e) => e.subject)).toEqual([ss[2]!.id, ss[3]!.id]);
      const lastCursor = await ctx.store.lastRevocationCursor();
      expect(await ctx.store.purgeRevocations(T0 + SECOND, 1)).toBe(1);
      expect(await ctx.store.purgeRevocations(T0 + SECOND, 10)).toBe(1);
      expect(await ctx.store.purgeRevocations(T0 + SECOND, 10)).toBe(0);
      expect((await allEntries(ctx)).map((e) => e.subject)).toEqual([ss[2]!.id, ss[3]!.id]);
      // Everything purged: a new entry still sorts after the last cursor ever handed out.
      expect(await ctx.store.purgeRevocations(T0 + 10 * SECOND, 10)).toBe(2);
      expect(await ctx.store.lastRevocationCursor()).toBeNull();
      const later = await session(u.id);
      await ctx.store.revokeSession(u.id, later.id, 'logout', T0 + 20 * SECOND);
      expect((await ctx.store.listRevocations(parseRevocationCursor(lastCursor!), 10, 0)).entries.map((e) => e.subject)).toEqual([later.id]);
    });
  });
}

/** The users concern: accounts, administration (paging, deletion, the last-holder guard) and import. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NewUser } from '../../../src/store/types.js';
import { T0, DAY, hash, newUser, type StoreCaseContext } from './context.js';

export function userCases(ctx: StoreCaseContext): void {
  const { user, session, rotate } = ctx;

  describe('users', () => {
    it('createUser stores every field and returns the record', async () => {
      const input = newUser({ name: 'Ada Lovelace', roles: ['admin', 'editor'], emailVerified: true, createdAt: T0 + 5 });
      const u = await ctx.store.createUser(input);
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
        lastSignInAt: null,
      });
      expect(await ctx.store.findUserById(input.id)).toEqual(u);
      expect(await ctx.store.findUserByEmail(input.email)).toEqual(u);
      const disabled = await ctx.store.createUser(newUser({ disabled: true }));
      expect(disabled?.disabled).toBe(true);
    });

    it('createUser returns null for an existing email and changes nothing', async () => {
      const first = await user({ email: 'dup@example.com', name: 'first' });
      expect(await ctx.store.createUser(newUser({ email: 'dup@example.com', name: 'second' }))).toBeNull();
      expect(await ctx.store.findUserByEmail('dup@example.com')).toEqual(first);
    });

    it('50 concurrent createUser of one email: exactly one wins', async () => {
      const inputs = Array.from({ length: 50 }, () => newUser({ email: 'race@example.com' }));
      const results = await Promise.all(inputs.map((u) => ctx.store.createUser(u)));
      const winners = results.filter((r) => r !== null);
      expect(winners).toHaveLength(1);
      expect((await ctx.store.findUserByEmail('race@example.com'))?.id).toBe(winners[0]!.id);
      expect(await ctx.store.listUsers({ limit: 100, search: 'race@' })).toMatchObject({ users: [{ id: winners[0]!.id }] });
    });

    it('find by an unknown id or email gives null', async () => {
      expect(await ctx.store.findUserById(randomUUID())).toBeNull();
      expect(await ctx.store.findUserByEmail('nobody@example.com')).toBeNull();
    });

    it('updateUser changes only the given fields and stamps updatedAt', async () => {
      const u = await user({ name: 'old', roles: ['a'] });
      const named = await ctx.store.updateUser(u.id, { name: 'new' }, T0 + 10);
      expect(named).toEqual({ ...u, name: 'new', updatedAt: T0 + 10 });
      const all = await ctx.store.updateUser(u.id, { name: null, roles: ['x', 'y'], emailVerified: true, disabled: true }, T0 + 20);
      expect(all).toEqual({ ...u, name: null, roles: ['x', 'y'], emailVerified: true, disabled: true, updatedAt: T0 + 20 });
      const touched = await ctx.store.updateUser(u.id, {}, T0 + 30);
      expect(touched).toEqual({ ...all, updatedAt: T0 + 30 });
      expect(await ctx.store.findUserById(u.id)).toEqual(touched);
      expect(await ctx.store.updateUser(randomUUID(), { name: 'x' }, T0)).toBeNull();
    });

    it('replacePasswordHash swaps only while the expected hash is current', async () => {
      const u = await user();
      expect(await ctx.store.replacePasswordHash(u.id, 'not-the-hash', 'h2', T0 + 1)).toBe(false);
      expect((await ctx.store.findUserById(u.id))?.passwordHash).toBe(u.passwordHash);
      expect(await ctx.store.replacePasswordHash(u.id, u.passwordHash, 'h2', T0 + 2)).toBe(true);
      expect(await ctx.store.findUserById(u.id)).toMatchObject({ passwordHash: 'h2', updatedAt: T0 + 2 });
      expect(await ctx.store.replacePasswordHash(u.id, u.passwordHash, 'h3', T0 + 3)).toBe(false);
      expect(await ctx.store.replacePasswordHash(randomUUID(), 'h2', 'h3', T0)).toBe(false);
    });

    it('replacePasswordHash under concurrency: one replacement from one expected hash', async () => {
      const u = await user();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => ctx.store.replacePasswordHash(u.id, u.passwordHash, `new-${i}`, T0 + 1)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await ctx.store.findUserById(u.id))?.passwordHash).toBe(`new-${results.indexOf(true)}`);
    });

    it('setPasswordHash sets unconditionally; unknown id gives false', async () => {
      const u = await user();
      expect(await ctx.store.setPasswordHash(u.id, 'reset-hash', T0 + 9)).toBe(true);
      expect(await ctx.store.findUserById(u.id)).toMatchObject({ passwordHash: 'reset-hash', updatedAt: T0 + 9 });
      expect(await ctx.store.setPasswordHash(randomUUID(), 'x', T0)).toBe(false);
    });

    it('countUsersWithRole counts exact role membership', async () => {
      await user({ roles: ['admin'] });
      await user({ roles: ['admin', 'editor'] });
      await user({ roles: ['administrator'] });
      await user({ roles: [] });
      expect(await ctx.store.countUsersWithRole('admin')).toBe(2);
      expect(await ctx.store.countUsersWithRole('editor')).toBe(1);
      expect(await ctx.store.countUsersWithRole('adm')).toBe(0);
    });

    it('findUsersByEmailOrId returns each matching user once', async () => {
      const a = await user();
      const b = await user();
      const c = await user();
      await user();
      const found = await ctx.store.findUsersByEmailOrId([a.email, b.email, 'missing@example.com'], [b.id, c.id, randomUUID()]);
      expect(found.map((u) => u.id).sort()).toEqual([a.id, b.id, c.id].sort());
      expect(found.find((u) => u.id === a.id)).toEqual(a);
      expect(await ctx.store.findUsersByEmailOrId([], [])).toEqual([]);
      expect((await ctx.store.findUsersByEmailOrId([], [a.id])).map((u) => u.id)).toEqual([a.id]);
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
      expect(await ctx.store.importUsers(users, 'skip')).toEqual({ inserted: 1000, updated: 0, skipped: 0 });
      return users;
    }

    async function pageAll(query: { search?: string; disabled?: boolean; emailVerified?: boolean; role?: string }, limit: number) {
      const ids: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 2000; pages++) {
        const page = await ctx.store.listUsers({ ...query, cursor, limit });
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
      const first = await ctx.store.listUsers({ limit: 5 });
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
      expect(await ctx.store.countUsersWithRole('admin')).toBe(users.filter((_, i) => i % 7 === 0).length);
    });

    it('listUsers search treats LIKE wildcards literally', async () => {
      const underscore = await user({ email: 'a_b@example.com' });
      await user({ email: 'axb@example.com' });
      const percent = await user({ email: 'p%q@example.com' });
      await user({ email: 'pzzq@example.com' });
      expect((await ctx.store.listUsers({ limit: 10, search: 'a_b' })).users.map((u) => u.id)).toEqual([underscore.id]);
      expect((await ctx.store.listUsers({ limit: 10, search: 'p%q' })).users.map((u) => u.id)).toEqual([percent.id]);
    });

    it('listUsers: an exactly full last page has no next cursor; a malformed cursor gives an empty page', async () => {
      for (let i = 0; i < 4; i++) await user({ createdAt: T0 + i });
      const page = await ctx.store.listUsers({ limit: 4 });
      expect(page.users).toHaveLength(4);
      expect(page.nextCursor).toBeNull();
      expect(await ctx.store.listUsers({ limit: 4, cursor: 'not-a-cursor' })).toEqual({ users: [], nextCursor: null, total: 4 });
    });

    it('deleteUser removes the user with every session, token, one-time token and event', async () => {
      const victim = await user();
      const bystander = await user();
      const seed = async (uid: string) => {
        const s1 = await session(uid);
        await session(uid);
        await rotate(s1.token, T0 + 1);
        await ctx.store.createOneTimeToken({ tokenHash: hash(), userId: uid, purpose: 'verify_email', createdAt: T0, expiresAt: T0 + DAY });
        await ctx.store.createOneTimeToken({ tokenHash: hash(), userId: uid, purpose: 'reset_password', createdAt: T0, expiresAt: T0 + DAY });
        await ctx.store.recordEvent({ id: randomUUID(), userId: uid, type: 'register', ip: null, userAgent: null, detail: null, createdAt: T0 });
        await ctx.store.recordEvent({ id: randomUUID(), userId: uid, type: 'logout', ip: null, userAgent: null, detail: null, createdAt: T0 });
        return s1;
      };
      const victimSession = await seed(victim.id);
      const bystanderSession = await seed(bystander.id);
      const before = await ctx.countRows();
      // Per user: 1 user, 2 sessions, 3 refresh tokens (2 first tokens + 1 from the rotation), 2 one-time tokens, 2 events.
      expect(before).toMatchObject({ users: 2, sessions: 4, refresh_tokens: 6, one_time_tokens: 4, security_events: 4 });

      expect(await ctx.store.deleteUser(victim.id, T0)).toBe(true);
      expect(await ctx.countRows()).toMatchObject({ users: 1, sessions: 2, refresh_tokens: 3, one_time_tokens: 2, security_events: 2 });
      expect(await ctx.store.findUserById(victim.id)).toBeNull();
      expect(await ctx.store.getSessionWithUser(victimSession.id)).toBeNull();
      expect(await ctx.store.listEvents(victim.id, 10)).toEqual([]);
      expect(await ctx.store.deleteUser(victim.id, T0)).toBe(false);
      expect(await ctx.store.getSessionWithUser(bystanderSession.id)).not.toBeNull();
      expect(await ctx.store.listEvents(bystander.id, 10)).toHaveLength(2);
    });
  });

  describe('keeping an enabled role holder (the last-admin rule)', () => {
    it('updateUserKeepingRole refuses to demote or disable the last enabled holder and writes nothing', async () => {
      const only = await user({ roles: ['admin', 'ops'] });
      await user({ roles: ['admin'], disabled: true }); // a disabled holder does not count
      await user({ roles: ['ops'] });
      for (const patch of [{ roles: ['ops'] }, { roles: [] }, { disabled: true }, { roles: ['admin'], disabled: true, name: 'x' }]) {
        expect(await ctx.store.updateUserKeepingRole(only.id, patch, T0 + 1, 'admin'), JSON.stringify(patch)).toEqual({ kind: 'last_holder' });
      }
      expect(await ctx.store.findUserById(only.id)).toEqual(only);
      // A change that keeps them an enabled holder goes through, and reports the row before it.
      const kept = await ctx.store.updateUserKeepingRole(only.id, { roles: ['admin'], name: 'Still admin', emailVerified: true }, T0 + 2, 'admin');
      expect(kept).toEqual({
        kind: 'updated',
        before: only,
        user: { ...only, roles: ['admin'], name: 'Still admin', emailVerified: true, updatedAt: T0 + 2 },
      });
      expect(await ctx.store.updateUserKeepingRole('no-such-id', { disabled: true }, T0, 'admin')).toEqual({ kind: 'not_found' });
    });

    it('updateUserKeepingRole lets a holder go while another enabled holder remains; non-holders are never held back', async () => {
      const a = await user({ roles: ['admin'] });
      const b = await user({ roles: ['admin'] });
      const plain = await user();
      expect(await ctx.store.updateUserKeepingRole(plain.id, { disabled: true }, T0 + 1, 'admin')).toMatchObject({ kind: 'updated' });
      const demoted = await ctx.store.updateUserKeepingRole(a.id, { roles: [] }, T0 + 1, 'admin');
      expect(demoted).toMatchObject({ kind: 'updated', before: { roles: ['admin'] }, user: { roles: [] } });
      expect(await ctx.store.updateUserKeepingRole(b.id, { disabled: true }, T0 + 2, 'admin')).toEqual({ kind: 'last_holder' });
      // Re-enabling a disabled holder, or granting the role, is always allowed.
      const c = await user({ roles: ['admin'], disabled: true });
      expect(await ctx.store.updateUserKeepingRole(c.id, { disabled: false }, T0 + 3, 'admin')).toMatchObject({ kind: 'updated', user: { disabled: false } });
      expect(await ctx.store.updateUserKeepingRole(b.id, { disabled: true }, T0 + 4, 'admin')).toMatchObject({ kind: 'updated' });
    });

    it('deleteUserKeepingRole refuses the last enabled holder and deletes anyone else with their rows', async () => {
      const only = await user({ roles: ['admin'] });
      const disabledAdmin = await user({ roles: ['admin'], disabled: true });
      const plain = await user();
      await session(plain.id);
      expect(await ctx.store.deleteUserKeepingRole(only.id, 'admin', T0)).toEqual({ kind: 'last_holder' });
      expect(await ctx.store.findUserById(only.id)).toEqual(only);
      expect(await ctx.store.deleteUserKeepingRole(disabledAdmin.id, 'admin', T0)).toEqual({ kind: 'deleted', user: disabledAdmin });
      // Its session made a sign-in: the deleted row is the user as stored then.
      expect(await ctx.store.deleteUserKeepingRole(plain.id, 'admin', T0)).toEqual({ kind: 'deleted', user: { ...plain, lastSignInAt: T0 } });
      expect(await ctx.countRows()).toMatchObject({ users: 1, sessions: 0, refresh_tokens: 0 });
      expect(await ctx.store.deleteUserKeepingRole(plain.id, 'admin', T0)).toEqual({ kind: 'not_found' });
      const second = await user({ roles: ['admin'] });
      expect(await ctx.store.deleteUserKeepingRole(only.id, 'admin', T0)).toMatchObject({ kind: 'deleted' });
      expect(await ctx.store.deleteUserKeepingRole(second.id, 'admin', T0)).toEqual({ kind: 'last_holder' });
    });

    const removals = {
      demote: (id: string) => ctx.store.updateUserKeepingRole(id, { roles: ['ops'] }, T0 + 1, 'admin'),
      disable: (id: string) => ctx.store.updateUserKeepingRole(id, { disabled: true }, T0 + 1, 'admin'),
      delete: (id: string) => ctx.store.deleteUserKeepingRole(id, 'admin', T0),
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
          const holders = await ctx.store.listUsers({ limit: 10, role: 'admin', disabled: false });
          expect(holders.users, `attempt ${attempt}`).toHaveLength(1);
          // The survivor is the one whose removal was refused.
          expect(holders.users[0]!.id).toBe(results[0]!.kind === 'last_holder' ? a.id : b.id);
          await ctx.store.updateUser(holders.users[0]!.id, { roles: [] }, T0 + 2);
        }
      },
    );
  });

  describe('import', () => {
    it("importUsers 'skip' inserts new emails and leaves existing accounts untouched", async () => {
      const existing = await user({ email: 'keep@example.com', name: 'Original' });
      const fresh = newUser({ email: 'fresh@example.com', roles: ['imported'], emailVerified: true, createdAt: T0 - DAY, updatedAt: T0 - 5 });
      const result = await ctx.store.importUsers([newUser({ email: 'keep@example.com', name: 'Imported' }), fresh], 'skip');
      expect(result).toEqual({ inserted: 1, updated: 0, skipped: 1 });
      expect(await ctx.store.findUserByEmail('keep@example.com')).toEqual(existing);
      expect(await ctx.store.findUserByEmail('fresh@example.com')).toMatchObject({
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
      expect(await ctx.store.importUsers([incoming, newUser({ email: 'another@example.com' })], 'update')).toEqual({ inserted: 1, updated: 1, skipped: 0 });
      expect(await ctx.store.findUserByEmail('over@example.com')).toMatchObject({
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
      expect(await ctx.store.importUsers([a, b], 'skip')).toEqual({ inserted: 1, updated: 0, skipped: 1 });
      expect((await ctx.store.findUserByEmail('twice@example.com'))?.name).toBe('first');
      const c = newUser({ email: 'twice2@example.com', name: 'first' });
      const d = newUser({ email: 'twice2@example.com', name: 'second' });
      expect(await ctx.store.importUsers([c, d], 'update')).toEqual({ inserted: 1, updated: 1, skipped: 0 });
      expect(await ctx.store.findUserByEmail('twice2@example.com')).toMatchObject({ id: c.id, name: 'second' });
    });

    it('importUsers is one transaction: a failing row leaves nothing of the batch', async () => {
      const existing = await user();
      const good = newUser({ email: 'good@example.com' });
      const clash = newUser({ id: existing.id, email: 'other-email@example.com' });
      await expect(ctx.store.importUsers([good, clash], 'skip')).rejects.toThrow();
      expect(await ctx.store.findUserByEmail('good@example.com')).toBeNull();
      expect(await ctx.store.importUsers([good], 'skip')).toEqual({ inserted: 1, updated: 0, skipped: 0 });
    });
  });
}

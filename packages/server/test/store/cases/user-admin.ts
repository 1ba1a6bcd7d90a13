/**
 * The users concern, what the admin console adds: the last sign-in written with each new session,
 * paging under every sort and order, the total count, and changing a user's email under the
 * unique index.
 */
import { describe, expect, it } from 'vitest';
import { decodeUserCursor, encodeUserCursor } from '../../../src/store/query-helpers.js';
import type { NewUser, SortOrder, UserListQuery, UserSort } from '../../../src/store/types.js';
import { DAY, T0, hash, newUser, type StoreCaseContext } from './context.js';

type Filters = Pick<UserListQuery, 'search' | 'disabled' | 'emailVerified' | 'role'>;

export function userAdminCases(ctx: StoreCaseContext): void {
  const { user, session, rotate } = ctx;

  describe('users: last sign-in', () => {
    it('a new user has none; createSession records its start as the last sign-in, without touching updatedAt', async () => {
      const u = await user({ createdAt: T0 });
      expect(u.lastSignInAt).toBeNull();
      await session(u.id, { createdAt: T0 + 5 * DAY });
      expect(await ctx.store.findUserById(u.id)).toEqual({ ...u, lastSignInAt: T0 + 5 * DAY });
      const s = await session(u.id, { createdAt: T0 + 6 * DAY });
      expect((await ctx.store.findUserByEmail(u.email))?.lastSignInAt).toBe(T0 + 6 * DAY);
      // A refresh is not a sign-in.
      expect(await rotate(s.token, T0 + 7 * DAY)).toMatchObject({ kind: 'rotated' });
      expect((await ctx.store.findUserById(u.id))?.lastSignInAt).toBe(T0 + 6 * DAY);
      // Other users are untouched.
      const other = await user();
      expect((await ctx.store.findUserById(other.id))?.lastSignInAt).toBeNull();
    });

    it('concurrent sign-ins of one user each create their session; the last sign-in is one of theirs', async () => {
      const u = await user();
      const times = Array.from({ length: 20 }, (_, i) => T0 + DAY + i);
      const sessions = await Promise.all(times.map((t) => session(u.id, { createdAt: t })));
      expect(new Set(sessions.map((s) => s.id)).size).toBe(20);
      expect(times).toContain((await ctx.store.findUserById(u.id))?.lastSignInAt);
      expect(await ctx.store.listSessions(u.id, T0 + DAY + 30)).toHaveLength(20);
    });

    it('the user of a session lookup does not carry the last sign-in (the hot path does not read it)', async () => {
      const u = await user();
      const s = await session(u.id, { createdAt: T0 + DAY });
      const found = await ctx.store.getSessionWithUser(s.id);
      expect(found?.user).not.toHaveProperty('lastSignInAt');
      expect(found?.user).not.toHaveProperty('passwordHash');
    });
  });

  describe('users: admin list sorts and total', () => {
    /**
     * 600 users: created at 40 distinct times and signed in at 25 distinct times (ties, so that
     * the id tie-break matters), and one in three never signed in (NULL, the sort's -1).
     */
    async function seed(): Promise<NewUser[]> {
      const users = Array.from({ length: 600 }, (_, i) =>
        newUser({
          email: `sorted${i}@example.com`,
          name: i % 4 === 0 ? `Quinn ${i}` : null,
          createdAt: T0 + (i % 40),
          disabled: i % 5 === 0,
          emailVerified: i % 2 === 0,
          roles: i % 6 === 0 ? ['ops'] : [],
        }),
      );
      expect(await ctx.store.importUsers(users, 'skip')).toMatchObject({ inserted: 600 });
      // Sign-ins through the store's one way of recording them: a session.
      const signedIn = new Map<string, number>();
      await Promise.all(
        users.map(async (u, i) => {
          if (i % 3 === 0) return;
          const at = T0 + DAY + (i % 25) * 1000;
          signedIn.set(u.id, at);
          await session(u.id, { createdAt: at });
        }),
      );
      return users.map((u) => ({ ...u, lastSignInAt: signedIn.get(u.id) ?? null }) as NewUser & { lastSignInAt: number | null });
    }

    const key = (u: NewUser & { lastSignInAt?: number | null }, sort: UserSort) => (sort === 'created_at' ? u.createdAt : (u.lastSignInAt ?? -1));
    const compare = (sort: UserSort, order: SortOrder) => (a: NewUser, b: NewUser) => {
      const c = key(a, sort) - key(b, sort) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
      return order === 'asc' ? c : -c;
    };

    async function pageAll(query: Filters & { sort: UserSort; order: SortOrder }, limit: number) {
      const ids: string[] = [];
      const totals = new Set<number | null>();
      let cursor: string | null = null;
      for (let pages = 0; pages < 1000; pages++) {
        const page = await ctx.store.listUsers({ ...query, cursor, limit });
        totals.add(page.total);
        ids.push(...page.users.map((u) => u.id));
        if (page.nextCursor === null) return { ids, totals: [...totals] };
        expect(page.users).toHaveLength(limit);
        expect(decodeUserCursor(page.nextCursor)).toMatchObject({ sort: query.sort, order: query.order });
        cursor = page.nextCursor;
      }
      throw new Error('paging did not end');
    }

    const sorts: Array<[UserSort, SortOrder]> = [
      ['created_at', 'asc'],
      ['created_at', 'desc'],
      ['last_sign_in_at', 'asc'],
      ['last_sign_in_at', 'desc'],
    ];

    it.each(sorts)('sort %s %s pages 600 users: each exactly once, in order, ties by id, the total on every page', async (sort, order) => {
      const users = await seed();
      const { ids, totals } = await pageAll({ sort, order }, 23);
      expect(ids).toHaveLength(600);
      expect(new Set(ids).size).toBe(600);
      expect(ids).toEqual([...users].sort(compare(sort, order)).map((u) => u.id));
      expect(totals).toEqual([600]);
      if (sort === 'last_sign_in_at') {
        // Never signed in: first ascending, last descending.
        const never = users.filter((_, i) => i % 3 === 0).map((u) => u.id);
        const place = order === 'asc' ? ids.slice(0, never.length) : ids.slice(-never.length);
        expect(new Set(place)).toEqual(new Set(never));
      }
    });

    it.each(sorts)('sort %s %s with filters: each match once, the total counts the matches', async (sort, order) => {
      const users = await seed();
      const expectIds = (pred: (u: NewUser, i: number) => boolean) => users.filter(pred).sort(compare(sort, order)).map((u) => u.id);
      const cases: Array<[Filters, (u: NewUser, i: number) => boolean]> = [
        [{ disabled: false, emailVerified: true }, (_, i) => i % 5 !== 0 && i % 2 === 0],
        [{ role: 'ops' }, (_, i) => i % 6 === 0],
        [{ search: 'QUINN 1' }, (u) => (u.name ?? '').startsWith('Quinn 1')],
        [{ search: 'sorted5', disabled: true }, (u, i) => u.email.startsWith('sorted5') && i % 5 === 0],
        [{ search: 'nobody-matches' }, () => false],
      ];
      for (const [filters, pred] of cases) {
        const expected = expectIds(pred);
        const { ids, totals } = await pageAll({ ...filters, sort, order }, 7);
        expect(ids, JSON.stringify(filters)).toEqual(expected);
        expect(totals, JSON.stringify(filters)).toEqual([expected.length]);
      }
    });

    it('a cursor of another sort or order gives an empty page (with the total); so does a malformed one', async () => {
      await seed();
      const first = await ctx.store.listUsers({ limit: 10, sort: 'last_sign_in_at', order: 'desc' });
      expect(first.nextCursor).not.toBeNull();
      for (const [sort, order] of [['created_at', 'desc'], ['last_sign_in_at', 'asc'], ['created_at', 'asc']] as const) {
        expect(await ctx.store.listUsers({ limit: 10, sort, order, cursor: first.nextCursor })).toEqual({ users: [], nextCursor: null, total: 600 });
      }
      expect(await ctx.store.listUsers({ limit: 10, cursor: 'not-a-cursor' })).toEqual({ users: [], nextCursor: null, total: 600 });
      // The default sort is created_at ascending, and a cursor of the earlier form ([created_at, id]) is read as one.
      const page = await ctx.store.listUsers({ limit: 10 });
      const last = page.users[9]!;
      const legacy = Buffer.from(JSON.stringify([last.createdAt, last.id])).toString('base64url');
      const viaLegacy = await ctx.store.listUsers({ limit: 10, cursor: legacy });
      expect(viaLegacy.users.map((u) => u.id)).toEqual((await ctx.store.listUsers({ limit: 10, cursor: page.nextCursor })).users.map((u) => u.id));
      expect(decodeUserCursor(encodeUserCursor({ sort: 'last_sign_in_at', order: 'asc', key: -1, id: 'x' }))).toEqual({
        sort: 'last_sign_in_at',
        order: 'asc',
        key: -1,
        id: 'x',
      });
    });

    it('count: false skips the count (total null) and pages the same', async () => {
      await seed();
      const counted = await ctx.store.listUsers({ limit: 9, sort: 'last_sign_in_at', order: 'asc', role: 'ops' });
      const uncounted = await ctx.store.listUsers({ limit: 9, sort: 'last_sign_in_at', order: 'asc', role: 'ops', count: false });
      expect(counted.total).toBe(100);
      expect(uncounted).toEqual({ ...counted, total: null });
      const next = await ctx.store.listUsers({ limit: 9, sort: 'last_sign_in_at', order: 'asc', role: 'ops', count: false, cursor: uncounted.nextCursor });
      expect(next.total).toBeNull();
      expect(next.users).toHaveLength(9);
    });

    it('an empty store: no users, no cursor, total 0', async () => {
      expect(await ctx.store.listUsers({ limit: 5, sort: 'last_sign_in_at', order: 'desc' })).toEqual({ users: [], nextCursor: null, total: 0 });
    });
  });

  describe('users: email change (updateUserKeepingRole)', () => {
    it('changes the email, deletes every outstanding one-time token of the user, keeps sessions and other users’ tokens', async () => {
      const u = await user({ email: 'before@example.com', emailVerified: true });
      const other = await user();
      const s = await session(u.id, { createdAt: T0 + 1 });
      for (const purpose of ['verify_email', 'reset_password', 'invite'] as const) {
        await ctx.store.createOneTimeToken({ tokenHash: `${purpose}-${u.id}`, userId: u.id, purpose, createdAt: T0, expiresAt: T0 + DAY });
      }
      await ctx.store.createOneTimeToken({ tokenHash: `other-${other.id}`, userId: other.id, purpose: 'reset_password', createdAt: T0, expiresAt: T0 + DAY });

      const result = await ctx.store.updateUserKeepingRole(u.id, { email: 'after@example.com', emailVerified: false }, T0 + 10, 'admin');
      expect(result).toMatchObject({ kind: 'updated', before: { email: 'before@example.com' }, user: { email: 'after@example.com', emailVerified: false, updatedAt: T0 + 10 } });
      expect(await ctx.store.findUserByEmail('before@example.com')).toBeNull();
      expect((await ctx.store.findUserByEmail('after@example.com'))?.id).toBe(u.id);
      for (const purpose of ['verify_email', 'reset_password', 'invite'] as const) {
        expect(await ctx.store.findOneTimeToken(`${purpose}-${u.id}`, purpose, T0 + 11), purpose).toBeNull();
      }
      expect(await ctx.store.findOneTimeToken(`other-${other.id}`, 'reset_password', T0 + 11)).toBe(other.id);
      expect(await ctx.store.getSessionWithUser(s.id)).toMatchObject({ session: { revokedAt: null }, user: { email: 'after@example.com' } });

      // The same email again is no change of address: tokens stay.
      await ctx.store.createOneTimeToken({ tokenHash: `again-${u.id}`, userId: u.id, purpose: 'reset_password', createdAt: T0, expiresAt: T0 + DAY });
      expect(await ctx.store.updateUserKeepingRole(u.id, { email: 'after@example.com', name: 'Same' }, T0 + 12, 'admin')).toMatchObject({ kind: 'updated' });
      expect(await ctx.store.findOneTimeToken(`again-${u.id}`, 'reset_password', T0 + 13)).toBe(u.id);
    });

    it('an email of another user is email_taken and writes nothing (tokens, other fields included)', async () => {
      const taken = await user({ email: 'taken@example.com' });
      const u = await user({ email: 'mine@example.com', name: 'Mine' });
      await ctx.store.createOneTimeToken({ tokenHash: hash(), userId: u.id, purpose: 'verify_email', createdAt: T0, expiresAt: T0 + DAY });
      const before = await ctx.countRows();
      expect(await ctx.store.updateUserKeepingRole(u.id, { email: 'taken@example.com', name: 'Changed' }, T0 + 1, 'admin')).toEqual({ kind: 'email_taken' });
      expect(await ctx.store.findUserById(u.id)).toEqual(u);
      expect(await ctx.store.findUserById(taken.id)).toEqual(taken);
      expect(await ctx.countRows()).toEqual(before);
      // The store still works after the refused statement (the transaction was ended cleanly).
      expect(await ctx.store.updateUserKeepingRole(u.id, { email: 'free@example.com' }, T0 + 2, 'admin')).toMatchObject({ kind: 'updated' });
    });

    it('20 users changed to one address at once: exactly one gets it, the others are email_taken', async () => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const target = `contested-${attempt}@example.com`;
        const users = await Promise.all(Array.from({ length: 20 }, () => user()));
        const results = await Promise.all(users.map((u) => ctx.store.updateUserKeepingRole(u.id, { email: target }, T0 + 1, 'admin')));
        const kinds = results.map((r) => r.kind);
        expect(kinds.filter((k) => k === 'updated'), `attempt ${attempt}`).toHaveLength(1);
        expect(kinds.filter((k) => k === 'email_taken'), `attempt ${attempt}`).toHaveLength(19);
        const winner = users[kinds.indexOf('updated')]!;
        expect((await ctx.store.findUserByEmail(target))?.id).toBe(winner.id);
        // The losers keep their own addresses.
        for (const u of users.filter((x) => x.id !== winner.id)) expect((await ctx.store.findUserById(u.id))?.email).toBe(u.email);
      }
    });

    it('an email change racing createUser of the same address: exactly one of them has it', async () => {
      for (let attempt = 0; attempt < 10; attempt++) {
        const target = `race-create-${attempt}@example.com`;
        const existing = await user();
        const [changed, created] = await Promise.all([
          ctx.store.updateUserKeepingRole(existing.id, { email: target }, T0 + 1, 'admin'),
          ctx.store.createUser(newUser({ email: target })),
        ]);
        expect([changed.kind === 'updated', created !== null].filter(Boolean), `attempt ${attempt}`).toHaveLength(1);
        expect(changed.kind === 'updated' ? 'updated' : 'email_taken').toBe(changed.kind);
        const owner = await ctx.store.findUserByEmail(target);
        expect(owner?.id).toBe(changed.kind === 'updated' ? existing.id : created?.id);
      }
    });

    it('the last-holder guard still applies with an email in the patch', async () => {
      const only = await user({ roles: ['admin'] });
      expect(await ctx.store.updateUserKeepingRole(only.id, { email: 'x@example.com', disabled: true }, T0 + 1, 'admin')).toEqual({ kind: 'last_holder' });
      expect(await ctx.store.findUserById(only.id)).toEqual(only);
      expect(await ctx.store.updateUserKeepingRole('no-such-id', { email: 'y@example.com' }, T0, 'admin')).toEqual({ kind: 'not_found' });
    });
  });
}

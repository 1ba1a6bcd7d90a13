/**
 * Account deletion (docs/account.md): deleting a user leaves no row of theirs in any table, and
 * the scheduled deletion of ACCOUNT_DELETION_GRACE (scheduleUserDeletion, listDueDeletions,
 * deleteDueUser, cancelUserDeletion, and createSession's cancellation) with its guards.
 *
 * "No row" is read with the adapter's own SQL over every column of every table of the schema
 * (ConformanceOptions.rowsMentioning), not over a list of tables: a table added later that
 * keeps the user's id or email is caught without touching this file.
 */
import { describe, expect, it } from 'vitest';
import { DAY, SECOND, T0, hash, type StoreCaseContext } from './context.js';

/** The tables a user with one of everything has rows in (users itself, and every per-user table). */
const PER_USER_TABLES = [
  'users',
  'sessions',
  'refresh_tokens',
  'one_time_tokens',
  'security_events',
  'factors',
  'recovery_codes',
  'passkeys',
  'passkey_challenges',
  'identities',
  'oauth_states',
  'oauth_exchange_codes',
  'email_sign_in_challenges',
];

export function accountDeletionCases(ctx: StoreCaseContext): void {
  /** A user with a row in every per-user table; the needles (id, email, the session id) that find them. */
  async function userWithEverything() {
    const u = await ctx.user({ name: 'Doomed Person' });
    const s = await ctx.session(u.id);
    // The refresh token's row names only the session: the session id is a needle too.
    expect((await ctx.rotate(s.token, T0 + SECOND)).kind).toBe('rotated');
    await ctx.store.createOneTimeToken({ tokenHash: hash(), userId: u.id, purpose: 'reset_password', createdAt: T0, expiresAt: T0 + DAY });
    await ctx.store.recordEvent({ id: crypto.randomUUID(), userId: u.id, type: 'login_succeeded', ip: '192.0.2.7', userAgent: 'ua', detail: { session_id: s.id }, createdAt: T0 });
    const factorId = crypto.randomUUID();
    expect(await ctx.store.putPendingFactor({ id: factorId, userId: u.id, kind: 'totp', secret: 'sealed-secret', createdAt: T0 })).toBe(true);
    expect(await ctx.store.confirmFactor(u.id, factorId, 1, T0, [hash(), hash()])).toBe(true);
    expect(
      await ctx.store.createPasskey({
        id: crypto.randomUUID(),
        userId: u.id,
        credentialId: `cred-${hash().slice(0, 16)}`,
        publicKey: 'pQECAyYgASFYIA',
        counter: 0,
        transports: ['internal'],
        deviceType: 'multiDevice',
        backedUp: true,
        aaguid: '00000000-0000-0000-0000-000000000000',
        name: 'Laptop',
        createdAt: T0,
      }),
    ).toBe(true);
    await ctx.store.createPasskeyChallenge({ challengeHash: hash(), purpose: 'passkey_reauth', userId: u.id, createdAt: T0, expiresAt: T0 + DAY });
    const identityId = crypto.randomUUID();
    expect(
      await ctx.store.createIdentity({ id: identityId, userId: u.id, provider: 'github', subject: `gh-${hash().slice(0, 8)}`, email: u.email, emailVerified: true, createdAt: T0 }),
    ).toBe(true);
    await ctx.store.createOAuthState({
      stateHash: hash(),
      browserHash: hash(),
      provider: 'github',
      nonce: null,
      codeVerifier: 'verifier',
      redirectTo: 'https://app.example/done',
      appCodeChallenge: null,
      linkUserId: u.id,
      createdAt: T0,
      expiresAt: T0 + DAY,
    });
    await ctx.store.createExchangeCode({ codeHash: hash(), userId: u.id, identityId, purpose: 'sign_in', appCodeChallenge: null, createdAt: T0, expiresAt: T0 + DAY });
    // An email sign-in challenge names only the address (it may be answered before an account exists).
    await ctx.store.putEmailSignInChallenge({ id: crypto.randomUUID(), email: u.email, tokenHash: hash(), codeHash: hash(), createdAt: T0, expiresAt: T0 + DAY });
    return { user: u, needles: [u.id, u.email, s.id] };
  }

  describe('account deletion', () => {
    it('deleteUserKeepingRole leaves no row that names the user, their email or their session in any table', async () => {
      const bystander = await userWithEverything();
      const { user, needles } = await userWithEverything();
      const before = await ctx.rowsMentioning(needles);
      const bystanderBefore = await ctx.rowsMentioning(bystander.needles);
      // The setup reached every per-user table, so the count after is not zero by accident.
      for (const table of PER_USER_TABLES) expect(before[table], table).toBeGreaterThan(0);

      expect(await ctx.store.deleteUserKeepingRole(user.id, 'admin', T0)).toMatchObject({ kind: 'deleted', user: { id: user.id } });

      const after = await ctx.rowsMentioning(needles);
      // Except the revocation feed's entry, which names the user's id on purpose (services that
      // verify offline must refuse the deleted user's tokens) and leaves once no token can be alive
      // (revocation cases); it holds nothing else about them.
      expect(after.revocations ?? 0).toBeLessThanOrEqual(1);
      expect(Object.entries(after).filter(([table, n]) => n > 0 && table !== 'revocations')).toEqual([]);
      // Another user's rows are all still there.
      expect(await ctx.rowsMentioning(bystander.needles)).toEqual(bystanderBefore);
    });

    it('scheduleUserDeletion sets deletionDueAt and revokes every live session in one go; a sign-in clears it', async () => {
      const u = await ctx.user();
      const a = await ctx.session(u.id);
      const b = await ctx.session(u.id);
      expect(u.deletionDueAt).toBeNull();
      const result = await ctx.store.scheduleUserDeletion(u.id, T0 + 7 * DAY, T0 + SECOND, 'admin', 'account_deletion_scheduled');
      expect(result).toMatchObject({ kind: 'scheduled', sessionsRevoked: 2, user: { id: u.id, deletionDueAt: T0 + 7 * DAY } });
      expect((await ctx.store.findUserById(u.id))?.deletionDueAt).toBe(T0 + 7 * DAY);
      for (const s of [a, b]) {
        const found = await ctx.store.getSessionWithUser(s.id);
        expect(found?.session).toMatchObject({ revokedAt: T0 + SECOND, revokedReason: 'account_deletion_scheduled' });
        // The per-request lookup does not carry it (AuthUser).
        expect(found?.user).not.toHaveProperty('deletionDueAt');
      }
      expect(await ctx.store.listDueDeletions(T0 + 7 * DAY - 1, 10)).toEqual([]);
      expect((await ctx.store.listDueDeletions(T0 + 7 * DAY, 10)).map((x) => x.id)).toEqual([u.id]);

      await ctx.session(u.id, { createdAt: T0 + 2 * DAY });
      expect((await ctx.store.findUserById(u.id))?.deletionDueAt).toBeNull();
      expect(await ctx.store.listDueDeletions(T0 + 8 * DAY, 10)).toEqual([]);
      expect(await ctx.store.deleteDueUser(u.id, T0 + 8 * DAY, 'admin')).toEqual({ kind: 'not_found' });
      expect(await ctx.store.findUserById(u.id)).not.toBeNull();
    });

    it('deleteDueUser deletes only once due, and lists due users earliest first', async () => {
      const later = await ctx.user();
      const sooner = await ctx.user();
      const never = await ctx.user();
      await ctx.store.scheduleUserDeletion(later.id, T0 + 3 * DAY, T0, 'admin', 'account_deletion_scheduled');
      await ctx.store.scheduleUserDeletion(sooner.id, T0 + 2 * DAY, T0, 'admin', 'account_deletion_scheduled');
      expect((await ctx.store.listDueDeletions(T0 + 5 * DAY, 10)).map((x) => x.id)).toEqual([sooner.id, later.id]);
      expect((await ctx.store.listDueDeletions(T0 + 5 * DAY, 1)).map((x) => x.id)).toEqual([sooner.id]);
      expect(await ctx.store.deleteDueUser(later.id, T0 + 2 * DAY, 'admin')).toEqual({ kind: 'not_found' });
      expect(await ctx.store.deleteDueUser(never.id, T0 + 5 * DAY, 'admin')).toEqual({ kind: 'not_found' });
      expect(await ctx.store.deleteDueUser(sooner.id, T0 + 2 * DAY, 'admin')).toMatchObject({ kind: 'deleted', user: { id: sooner.id } });
      expect(await ctx.store.findUserById(sooner.id)).toBeNull();
      expect(await ctx.store.findUserById(later.id)).not.toBeNull();
      expect(await ctx.store.findUserById(never.id)).not.toBeNull();
    });

    it('the last enabled admin can be neither scheduled nor deleted when due; cancelUserDeletion says whether one was scheduled', async () => {
      const admin = await ctx.user({ roles: ['admin'] });
      const s = await ctx.session(admin.id);
      expect(await ctx.store.scheduleUserDeletion(admin.id, T0 + DAY, T0, 'admin', 'account_deletion_scheduled')).toEqual({ kind: 'last_holder' });
      expect((await ctx.store.findUserById(admin.id))?.deletionDueAt).toBeNull();
      expect((await ctx.store.getSessionWithUser(s.id))?.session.revokedAt).toBeNull();

      // With a second admin it may be scheduled; once that one is gone, the due delete is refused.
      const other = await ctx.user({ roles: ['admin'] });
      expect((await ctx.store.scheduleUserDeletion(admin.id, T0 + DAY, T0, 'admin', 'account_deletion_scheduled')).kind).toBe('scheduled');
      expect((await ctx.store.deleteUserKeepingRole(other.id, 'admin', T0)).kind).toBe('deleted');
      expect(await ctx.store.deleteDueUser(admin.id, T0 + DAY, 'admin')).toEqual({ kind: 'last_holder' });
      expect(await ctx.store.findUserById(admin.id)).not.toBeNull();
      expect(await ctx.store.cancelUserDeletion(admin.id)).toBe(true);
      expect(await ctx.store.cancelUserDeletion(admin.id)).toBe(false);
      expect(await ctx.store.scheduleUserDeletion('no-such-user', T0 + DAY, T0, 'admin', 'x')).toEqual({ kind: 'not_found' });
    });

    it('two admins scheduled at once: both are scheduled, and of their due deletes racing exactly one wins', async () => {
      const [a, b] = [await ctx.user({ roles: ['admin'] }), await ctx.user({ roles: ['admin'] })];
      const results = await Promise.all([a, b].map((u) => ctx.store.scheduleUserDeletion(u.id, T0 + DAY, T0, 'admin', 'account_deletion_scheduled')));
      // Scheduled is not deleted: both stay holders until due, so both may be scheduled; the due
      // deletes then race, and exactly one wins.
      expect(results.map((r) => r.kind)).toEqual(['scheduled', 'scheduled']);
      const deletes = await Promise.all([a, b].map((u) => ctx.store.deleteDueUser(u.id, T0 + DAY, 'admin')));
      expect(deletes.map((r) => r.kind).sort()).toEqual(['deleted', 'last_holder']);
    });
  });
}

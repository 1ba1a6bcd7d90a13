/**
 * DELETE /auth/me (docs/account.md): a user deletes their own account, at once or, with
 * ACCOUNT_DELETION_GRACE, after a grace period that a sign-in cancels; the housekeeping purge
 * deletes the accounts that fall due.
 *
 * Deletion is deleteUser's (features/users/service.ts): the user row and, by ON DELETE CASCADE in
 * the same transaction, every row of theirs in every table (sessions and their refresh tokens,
 * one-time tokens, factors, recovery codes, passkeys and their challenges, identities, OAuth
 * states and exchange codes, security events). Nothing of the user survives in the database, so
 * the deletion itself is told to the operator by a log line that names only the user id (the
 * `sub` other services keyed their data on) and what deleted it, never the email, name or IP.
 */
import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { failure, success, type Outcome } from '../../outcome.js';
import type { UserRecord } from '../../store/types.js';
import { mailLocaleFor, renderMail } from '../email/render.js';
import { recordEvent } from '../events/service.js';
import { requireRecentAuthentication } from '../factors/step-up.js';
import type { AuthState } from '../sessions/authenticate.js';
import { proveCurrentPassword } from '../sessions/current-password.js';
import { ADMIN_ROLE } from './fields.js';
import { deleteUser, LAST_ADMIN_DETAIL } from './service.js';

/** The sessions' `revoked_reason` when a deletion is scheduled (features/sessions/end-reasons.ts). */
export const DELETION_SCHEDULED_REASON = 'account_deletion_scheduled';

/** What ended the account, in the operator's log line. */
type DeletedBy = 'self' | 'grace_period_ended';

/**
 * The proof DELETE /auth/me demands, from the rules of change-password and step-up (not copies of
 * them: requireRecentAuthentication and proveCurrentPassword decide):
 * - with `current_password`: an account with a second factor must also have authenticated with
 *   it recently (403 REAUTHENTICATION_REQUIRED otherwise, before any password check, so a 403
 *   counts no guess), then the password is checked under the login backoff, as change-password
 *   checks it;
 * - without: a recent authentication of the session (its sign-in or a POST
 *   /auth/reauthenticate within STEP_UP_MAX_AGE; with a factor for an account that has one).
 *   This is how an account without a password (social sign-in) proves itself.
 */
async function proveOwner(ctx: LatchkeyContext, auth: AuthState, currentPassword: string | undefined, meta: RequestMeta): Promise<Outcome<void>> {
  if (currentPassword === undefined) return requireRecentAuthentication(ctx, auth, { alternative: ', or send current_password' });
  const recent = await requireRecentAuthentication(ctx, auth, { secondFactorOnly: true });
  if (!recent.ok) return recent;
  const proved = await proveCurrentPassword(ctx, auth.user, currentPassword, meta, 'delete_account');
  return proved.ok ? success(undefined) : proved;
}

/**
 * Deletes the caller's account after the proof above: at once (`deletesAt: null`), or with
 * ACCOUNT_DELETION_GRACE scheduled for `deletesAt` with every session revoked. The last enabled
 * admin is refused (LAST_ADMIN), with nothing changed.
 *
 * @example
 * const { deletesAt } = unwrap(await deleteOwnAccount(ctx, request.auth!, request.body.current_password, meta));
 */
export async function deleteOwnAccount(
  ctx: LatchkeyContext,
  auth: AuthState,
  currentPassword: string | undefined,
  meta: RequestMeta,
): Promise<Outcome<{ deletesAt: number | null }>> {
  const proved = await proveOwner(ctx, auth, currentPassword, meta);
  if (!proved.ok) return proved;
  const graceMs = ctx.config.housekeeping.accountDeletionGraceMs;
  if (graceMs === 0) {
    const deleted = await deleteUser(ctx, auth.user.id);
    if (!deleted.ok) return deleted.code === 'NOT_FOUND' ? failure('UNAUTHORIZED', 'The account no longer exists.') : deleted;
    accountDeleted(ctx, deleted.value, 'self', meta);
    return success({ deletesAt: null });
  }
  const now = ctx.clock();
  const deletesAt = now + graceMs;
  const scheduled = await ctx.store.scheduleUserDeletion(auth.user.id, deletesAt, now, ADMIN_ROLE, DELETION_SCHEDULED_REASON);
  if (scheduled.kind === 'not_found') return failure('UNAUTHORIZED', 'The account no longer exists.');
  if (scheduled.kind === 'last_holder') return failure('LAST_ADMIN', LAST_ADMIN_DETAIL);
  await recordEvent(ctx, auth.user.id, 'account_deletion_scheduled', meta, {
    session_id: auth.session.id,
    deletes_at: new Date(deletesAt).toISOString(),
    sessions_revoked: scheduled.sessionsRevoked,
  });
  const { email: to, name } = scheduled.user;
  const locale = mailLocaleFor(ctx, scheduled.user, meta);
  ctx.mail.dispatch('account_deletion_scheduled', async () => renderMail(ctx, 'account_deletion_scheduled', locale, to, { name, deletes_at: deletesAt }));
  return success({ deletesAt });
}

/** Deletions of due accounts per purge run; the rest waits for the next PURGE_INTERVAL. */
export const DUE_DELETIONS_PER_RUN = 100;

/**
 * The housekeeping part of ACCOUNT_DELETION_GRACE: deletes the accounts whose deletion fell due,
 * each in its own transaction that checks it is still due (a sign-in may have cancelled it since
 * the list was read). An account that has meanwhile become the last enabled admin is not deleted:
 * its deletion is cancelled, recorded and logged, so that the purge does not try it forever.
 * Returns the number of accounts deleted.
 *
 * @example
 * const deleted = await purgeDueAccounts(ctx);
 */
export async function purgeDueAccounts(ctx: LatchkeyContext, limit = DUE_DELETIONS_PER_RUN): Promise<number> {
  const now = ctx.clock();
  let deleted = 0;
  for (const due of await ctx.store.listDueDeletions(now, limit)) {
    const result = await ctx.store.deleteDueUser(due.id, now, ADMIN_ROLE);
    if (result.kind === 'deleted') {
      deleted++;
      accountDeleted(ctx, result.user, 'grace_period_ended');
    } else if (result.kind === 'last_holder' && (await ctx.store.cancelUserDeletion(due.id))) {
      ctx.log.warn({ event: 'account_deletion_cancelled', user_id: due.id }, 'a scheduled account deletion was cancelled: the account is the last enabled admin');
      await recordEvent(ctx, due.id, 'account_deletion_cancelled', { ip: null, userAgent: null }, { reason: 'last_admin' });
    }
  }
  return deleted;
}

/** The operator's record of a deletion (see the top of this file) and the owner's confirmation mail. */
function accountDeleted(ctx: LatchkeyContext, user: UserRecord, by: DeletedBy, meta?: RequestMeta): void {
  ctx.log.info({ event: 'account_deleted', user_id: user.id, by }, 'account deleted by its owner');
  const { email: to, name } = user;
  // The user's language, else (their own request) the browser's, else DEFAULT_LOCALE.
  const locale = mailLocaleFor(ctx, user, meta);
  ctx.mail.dispatch('account_deleted', async () => renderMail(ctx, 'account_deleted', locale, to, { name }));
}

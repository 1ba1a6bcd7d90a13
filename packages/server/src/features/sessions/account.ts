import { failure, success, type LatchkeyContext, type Outcome, type RequestMeta } from '../../context.js';
import type { AuthState } from '../../http/auth-guard.js';
import { checkPasswordPolicy } from '../../passwords/policy.js';
import { backoffCheck, backoffFail } from '../auth/service.js';
import { recordEvent } from '../events/service.js';
import { publicSession } from './service.js';

export async function listSessions(ctx: LatchkeyContext, userId: string, currentSessionId: string) {
  const sessions = await ctx.store.listSessions(userId, ctx.clock());
  return sessions.map((s) => publicSession(s, currentSessionId));
}

export async function logoutAll(ctx: LatchkeyContext, userId: string, meta: RequestMeta): Promise<number> {
  const count = await ctx.store.revokeUserSessions(userId, 'logout_all', ctx.clock());
  await recordEvent(ctx, userId, 'logout_all', meta, { sessions: count });
  return count;
}

/** Revokes one of the caller's own sessions; someone else's session is "not found", not "forbidden". */
export async function revokeOwnSession(
  ctx: LatchkeyContext,
  userId: string,
  sessionId: string,
  meta: RequestMeta,
): Promise<Outcome<void>> {
  const revoked = await ctx.store.revokeSession(userId, sessionId, 'revoked_by_user', ctx.clock());
  if (!revoked) return failure('NOT_FOUND', 'No such session.');
  await recordEvent(ctx, userId, 'session_revoked', meta, { session_id: sessionId });
  return success(undefined);
}

/**
 * Changes the password after checking the current one. Every other session is revoked; the
 * caller's session continues.
 *
 * A wrong current password counts toward the login backoff of the (account, client IP) pair,
 * and a locked pair is answered 429 before any verification: a stolen access token does not buy
 * unbounded guesses at the password (one verification each) that login would refuse.
 */
export async function changePassword(
  ctx: LatchkeyContext,
  auth: AuthState,
  currentPassword: string,
  newPassword: string,
  meta: RequestMeta,
): Promise<Outcome<void>> {
  const policy = checkPasswordPolicy('new_password', newPassword);
  if (policy) return failure('VALIDATION_FAILED', 'The new password does not meet the policy.', [policy]);
  if (currentPassword === newPassword) return failure('PASSWORD_UNCHANGED', 'The new password must differ from the current one.');
  const locked = await backoffCheck(ctx, auth.user.email, meta);
  if (locked > 0) return { ...failure('RATE_LIMITED', `Too many wrong passwords; retry in ${locked} s.`), retryAfter: locked };
  // The hash is not on request.auth: read it here, the one path that needs it.
  const user = await ctx.store.findUserById(auth.user.id);
  if (!user) return failure('INVALID_CREDENTIALS', 'The current password is wrong.');
  const checked = await ctx.hasher.verify(user.passwordHash, currentPassword);
  if (!checked.ok) {
    const lock = await backoffFail(ctx, auth.user.email, meta);
    if (lock.retryAfter > 0) {
      await recordEvent(ctx, user.id, 'login_backoff', meta, { failures: lock.failures, retry_after: lock.retryAfter, route: 'change_password' });
    }
    return failure('INVALID_CREDENTIALS', 'The current password is wrong.');
  }
  await ctx.backoff.succeed(auth.user.email, meta.ip).catch(() => undefined);
  const newHash = await ctx.hasher.hash(newPassword);
  const now = ctx.clock();
  const replaced = await ctx.store.replacePasswordHash(user.id, user.passwordHash, newHash, now);
  // Another change won the race: the current password we checked is no longer the current one.
  if (!replaced) return failure('INVALID_CREDENTIALS', 'The password was changed concurrently; try again.');
  const ended = await ctx.store.revokeUserSessions(auth.user.id, 'password_changed', now, auth.session.id);
  await recordEvent(ctx, auth.user.id, 'password_changed', meta, { session_id: auth.session.id, sessions_revoked: ended });
  return success(undefined);
}

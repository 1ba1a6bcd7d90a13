import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { failure, invalid, retryLater, success, type Outcome } from '../../outcome.js';
import { hasNoPassword } from '../../passwords/no-password.js';
import { checkPasswordPolicy } from '../../passwords/policy.js';
import { recordEvent } from '../events/service.js';
import { backoffCheck, backoffFail } from '../ratelimit/login-backoff.js';
import type { AuthState } from './authenticate.js';

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
  if (policy) return invalid(policy);
  if (currentPassword === newPassword) return failure('PASSWORD_UNCHANGED', 'The new password must differ from the current one.');
  const locked = await backoffCheck(ctx, auth.user.email, meta);
  if (locked > 0) return retryLater('RATE_LIMITED', `Too many wrong passwords; retry in ${locked} s.`, locked);
  // The hash is not on request.auth: read it here, the one path that needs it.
  const user = await ctx.store.findUserById(auth.user.id);
  if (!user) return failure('INVALID_CREDENTIALS', 'The current password is wrong.');
  // An account from a social sign-in has no current password to prove: it sets one through the
  // reset flow, which proves control of the address instead. Refused before any verification.
  if (hasNoPassword(user.passwordHash)) {
    return failure('PASSWORD_NOT_SET', 'This account has no password yet: set one through POST /auth/password/forgot (the reset link).');
  }
  const checked = await ctx.hasher.verify(user.passwordHash, currentPassword);
  if (!checked.ok) {
    const lock = await backoffFail(ctx, auth.user.email, meta);
    if (lock.retryAfter > 0) {
      await recordEvent(ctx, user.id, 'login_backoff', meta, { failures: lock.failures, retry_after: lock.retryAfter, route: 'change_password' });
      // As at login: the failure that engages the lock answers 429 with its wait.
      return retryLater('RATE_LIMITED', `Too many wrong passwords; retry in ${lock.retryAfter} s.`, lock.retryAfter);
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

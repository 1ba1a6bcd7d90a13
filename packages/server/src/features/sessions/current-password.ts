import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { failure, retryLater, success, type Outcome } from '../../outcome.js';
import type { AuthUser, UserRecord } from '../../store/types.js';
import { hasNoPassword } from '../../passwords/no-password.js';
import { recordEvent } from '../events/service.js';
import { backoffCheck, backoffFail } from '../ratelimit/login-backoff.js';

/**
 * Checks a signed-in user's password (change-password's current password, a reauthentication)
 * under the login backoff of the (account, client IP) pair: a locked pair is answered 429 before
 * any verification, a wrong password counts toward the lock (the failure that engages it answers
 * 429, as at login), a right one clears the count. A stolen access token thus buys no more
 * guesses at the password than login gives. The stored user (with its hash) on success.
 *
 * @example
 * const proved = await proveCurrentPassword(ctx, auth.user, body.current_password, meta, 'change_password');
 * if (!proved.ok) return proved;
 */
export async function proveCurrentPassword(
  ctx: LatchkeyContext,
  user: Pick<AuthUser, 'id' | 'email'>,
  password: string,
  meta: RequestMeta,
  route: string,
): Promise<Outcome<UserRecord>> {
  const locked = await backoffCheck(ctx, user.email, meta);
  if (locked > 0) return retryLater('RATE_LIMITED', `Too many wrong passwords; retry in ${locked} s.`, locked);
  // The hash is not on request.auth: read it here, the one path that needs it.
  const stored = await ctx.store.findUserById(user.id);
  if (!stored) return failure('INVALID_CREDENTIALS', 'The current password is wrong.');
  // An account from a social sign-in has no current password to prove: it sets one through the
  // reset flow, which proves control of the address instead. Refused before any verification.
  if (hasNoPassword(stored.passwordHash)) {
    return failure('PASSWORD_NOT_SET', 'This account has no password yet: set one through POST /auth/password/forgot (the reset link).');
  }
  const checked = await ctx.hasher.verify(stored.passwordHash, password);
  if (!checked.ok) {
    const lock = await backoffFail(ctx, user.email, meta);
    if (lock.retryAfter > 0) {
      await recordEvent(ctx, user.id, 'login_backoff', meta, { failures: lock.failures, retry_after: lock.retryAfter, route });
      return retryLater('RATE_LIMITED', `Too many wrong passwords; retry in ${lock.retryAfter} s.`, lock.retryAfter);
    }
    return failure('INVALID_CREDENTIALS', 'The current password is wrong.');
  }
  await ctx.backoff.succeed(user.email, meta.ip).catch(() => undefined);
  return success(stored);
}

import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { failure, invalid, success, type Outcome } from '../../outcome.js';
import { checkPasswordPolicy } from '../../passwords/policy.js';
import { recordEvent } from '../events/service.js';
import { proveFactor, type FactorProof } from '../factors/service.js';
import { requireRecentAuthentication } from '../factors/step-up.js';
import type { AuthState } from './authenticate.js';
import { proveCurrentPassword } from './current-password.js';

/**
 * Changes the password after checking the current one. Every other session is revoked; the
 * caller's session continues.
 *
 * For an account with a second factor the current password alone is not enough (it is what a
 * thief of the password has): the session must have authenticated recently with a factor
 * (docs/factors.md, Step-up), or the request sends `code` or `recovery_code`, checked after the
 * password so that a wrong password spends no recovery code. Refused before any password check,
 * so a 403 counts no guess.
 *
 * A wrong current password counts toward the login backoff of the (account, client IP) pair
 * (current-password.ts).
 */
export async function changePassword(
  ctx: LatchkeyContext,
  auth: AuthState,
  currentPassword: string,
  newPassword: string,
  meta: RequestMeta,
  proof: FactorProof = {},
): Promise<Outcome<void>> {
  const policy = checkPasswordPolicy('new_password', newPassword);
  if (policy) return invalid(policy);
  if (currentPassword === newPassword) return failure('PASSWORD_UNCHANGED', 'The new password must differ from the current one.');
  const withCode = proof.code !== undefined || proof.recovery_code !== undefined;
  if (!withCode) {
    const recent = await requireRecentAuthentication(ctx, auth, { secondFactorOnly: true, alternative: ', or send code or recovery_code with the passwords' });
    if (!recent.ok) return recent;
  }
  const proved = await proveCurrentPassword(ctx, auth.user, currentPassword, meta, 'change_password');
  if (!proved.ok) return proved;
  const user = proved.value;
  if (withCode) {
    const factor = await proveFactor(ctx, auth.user, proof, meta);
    if (!factor.ok) return factor;
  }
  const newHash = await ctx.hasher.hash(newPassword);
  const now = ctx.clock();
  const replaced = await ctx.store.replacePasswordHash(user.id, user.passwordHash, newHash, now);
  // Another change won the race: the current password we checked is no longer the current one.
  if (!replaced) return failure('INVALID_CREDENTIALS', 'The password was changed concurrently; try again.');
  const ended = await ctx.store.revokeUserSessions(auth.user.id, 'password_changed', now, auth.session.id);
  await recordEvent(ctx, auth.user.id, 'password_changed', meta, { session_id: auth.session.id, sessions_revoked: ended });
  return success(undefined);
}

/**
 * The stored "hash" of an account that has no password yet: a user invited by an admin who has
 * not accepted the invitation (features/email/invite.ts). It is no hash of anything, so no
 * password can match it: PasswordHasher.verify spends one dummy verification on it and fails, so
 * a login to such an account costs and answers exactly like a wrong password; `users import`
 * refuses it (it is not a bcrypt or argon2 string), and accepting the invitation replaces it
 * only while it is still this value (a compare-and-set).
 */
export const NO_PASSWORD_HASH = '!no-password';

/**
 * True while the account has no password of its own (invited, not accepted).
 *
 * @example
 * if (hasNoPassword(user.passwordHash)) scheduleInviteMail(ctx, user);
 */
export function hasNoPassword(passwordHash: string): boolean {
  return passwordHash === NO_PASSWORD_HASH;
}

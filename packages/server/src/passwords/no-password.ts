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
 * The stored "hash" of an account created by a social sign-in (features/social), or by an email
 * sign-in (features/email/sign-in.ts, EMAIL_SIGN_IN_CREATES_USERS): it signs in through its linked
 * identities or by mail and has no password until its owner sets one through the reset
 * flow (POST /auth/password/forgot). Like NO_PASSWORD_HASH, nothing verifies against it (one dummy
 * verification, as a wrong password), `users import` refuses it, and change-password answers
 * PASSWORD_NOT_SET. A marker of its own, not NO_PASSWORD_HASH, so the account is not shown as an
 * invitation pending and a new invitation to its address is EMAIL_TAKEN.
 *
 * Why a marker and not a NULL column: users.password_hash is NOT NULL on both stores, and on
 * SQLite allowing NULL means rebuilding the users table, which every per-user table references
 * (foreign keys that cannot be switched off inside the migration's transaction); and every reader
 * of the hash already handles this kind of marker.
 */
export const FEDERATED_ONLY_HASH = '!federated';

/**
 * True while the account has no password of its own: invited and not accepted, or created by a
 * social sign-in and no password set since.
 *
 * @example
 * if (hasNoPassword(user.passwordHash)) return failure('PASSWORD_NOT_SET', '...');
 */
export function hasNoPassword(passwordHash: string): boolean {
  return passwordHash === NO_PASSWORD_HASH || passwordHash === FEDERATED_ONLY_HASH;
}

/**
 * True while the account is an invitation not yet accepted (not a social sign-in's account).
 *
 * @example
 * if (isInvitationPending(user.passwordHash)) scheduleInviteMail(ctx, user);
 */
export function isInvitationPending(passwordHash: string): boolean {
  return passwordHash === NO_PASSWORD_HASH;
}

/**
 * The one-time tokens concern of the storage contract: email verification, password reset,
 * invitations, and the challenge between a password and a second factor at login (`mfa_challenge`).
 */

/** `identity_link`: the ticket that carries a signed-in user from POST /auth/identities/{provider}/link to the provider. */
export type OneTimeTokenPurpose = 'verify_email' | 'reset_password' | 'invite' | 'mfa_challenge' | 'identity_link';

export interface NewOneTimeToken {
  /** SHA-256 (hex) of the token (mailed to the user, or answered by a login that needs a second factor). */
  tokenHash: string;
  userId: string;
  purpose: OneTimeTokenPurpose;
  createdAt: number;
  expiresAt: number;
}

export interface OneTimeTokenStore {
  createOneTimeToken(token: NewOneTimeToken): Promise<void>;
  /**
   * Spends a token atomically: of concurrent calls exactly one receives the user id; a used,
   * expired, unknown or other-purpose token gives null.
   */
  consumeOneTimeToken(tokenHash: string, purpose: OneTimeTokenPurpose, now: number): Promise<string | null>;
  /**
   * The user id of a live token (unused, unexpired, this purpose) WITHOUT spending it; null
   * otherwise. A check before costly work (hashing the new password at reset): spending stays
   * `consumeOneTimeToken`'s, after that work, so a lookup never decides who wins.
   */
  findOneTimeToken(tokenHash: string, purpose: OneTimeTokenPurpose, now: number): Promise<string | null>;
  /** Deletes the user's outstanding tokens of one purpose (a new mail supersedes the old). */
  deleteOneTimeTokens(userId: string, purpose: OneTimeTokenPurpose): Promise<void>;
}

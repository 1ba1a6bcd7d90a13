/**
 * The email sign-in concern of the storage contract (docs/email.md, "Email sign-in"): the
 * challenge a sign-in mail carries, a link token and a 6-digit code, either of which signs in
 * once. A challenge belongs to an address, not a user: with EMAIL_SIGN_IN_CREATES_USERS the
 * account is made only when the challenge is answered. One live challenge per address; a new one
 * replaces it. The store keeps the token only as its SHA-256 and the code only as its keyed hash
 * (features/email/sign-in-code.ts); it never sees either.
 */

export interface EmailSignInChallenge {
  /** Random id; also the salt of the code's hash, so a new challenge never matches an old code. */
  id: string;
  /** The normalised address the mail went to. */
  email: string;
  /** SHA-256 (hex) of the link's token. */
  tokenHash: string;
  /** The code's keyed hash (hex). */
  codeHash: string;
  /** Code attempts counted so far, the right one included. */
  attempts: number;
  createdAt: number;
  expiresAt: number;
}

export type NewEmailSignInChallenge = Omit<EmailSignInChallenge, 'attempts'>;

export interface EmailSignInStore {
  /**
   * Stores the challenge of `email`, replacing any earlier one of that address in the same
   * statement (its link and code stop working, its attempts are forgotten).
   */
  putEmailSignInChallenge(challenge: NewEmailSignInChallenge): Promise<void>;
  /**
   * Spends the challenge whose link token has this hash: of concurrent calls (and of
   * `consumeEmailSignInChallenge` on the same challenge) exactly one receives it; null when
   * unknown, expired at `now`, spent, replaced, or dead (`attempts` has reached `maxAttempts`).
   * A spent challenge is deleted: its code dies with its link.
   */
  consumeEmailSignInToken(tokenHash: string, now: number, maxAttempts: number): Promise<EmailSignInChallenge | null>;
  /**
   * Counts one code attempt against the live challenge of `email` and returns it (with the new
   * count) for the caller to compare the code; null, counting nothing, when the address has no
   * live challenge or its count has reached `maxAttempts`. Atomic: of any number of calls, at
   * most `maxAttempts` per challenge ever receive it, so no more codes than that can be compared.
   */
  countEmailSignInAttempt(email: string, now: number, maxAttempts: number): Promise<EmailSignInChallenge | null>;
  /**
   * Spends the challenge with this id after its code matched: of concurrent calls (and of
   * `consumeEmailSignInToken` on its token) exactly one returns true; false when it is gone,
   * replaced or expired at `now`.
   */
  consumeEmailSignInChallenge(id: string, now: number): Promise<boolean>;
  /** Deletes the challenge of an address, if any (the account is deleted). */
  deleteEmailSignInChallenge(email: string): Promise<void>;
  /** Deletes at most `limit` challenges expired at `now` (the PURGE_INTERVAL sweep); how many went. */
  purgeEmailSignInChallenges(now: number, limit: number): Promise<number>;
}

/**
 * The storage contract. Every adapter (SQLite, PostgreSQL) implements it and passes the shared
 * conformance suite in test/store/conformance.ts. Times are epoch milliseconds, supplied by the
 * caller (the injected clock), never read inside the store.
 *
 * Concurrency guarantees are stated per method; the conformance suite fires concurrent calls to
 * prove them.
 */

export interface UserRecord {
  id: string;
  /** Normalised: trimmed and lower-cased. Unique. */
  email: string;
  name: string | null;
  /** PHC string (argon2) or modular-crypt bcrypt; never leaves the server. */
  passwordHash: string;
  roles: string[];
  emailVerified: boolean;
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface NewUser {
  id: string;
  email: string;
  name: string | null;
  passwordHash: string;
  roles: string[];
  emailVerified: boolean;
  disabled?: boolean;
  createdAt: number;
  /** Only honoured by `importUsers` (timestamps preserved on import); otherwise equal to createdAt. */
  updatedAt?: number;
}

export interface UserPatch {
  name?: string | null;
  roles?: string[];
  emailVerified?: boolean;
  disabled?: boolean;
}

/**
 * What a change guarded by "keep an enabled holder of this role" did (updateUserKeepingRole,
 * deleteUserKeepingRole). `last_holder`: the change would have left no enabled user with the
 * role, so nothing was written.
 */
export type KeepRoleUpdate =
  | { kind: 'updated'; before: UserRecord; user: UserRecord }
  | { kind: 'not_found' }
  | { kind: 'last_holder' };

export type KeepRoleDelete = { kind: 'deleted'; user: UserRecord } | { kind: 'not_found' } | { kind: 'last_holder' };

export interface SessionRecord {
  id: string;
  userId: string;
  createdAt: number;
  lastUsedAt: number;
  /** Absolute end of life; the session dies then whatever its activity. */
  expiresAt: number;
  /** Idle deadline: last use + idle timeout. Moved forward at every refresh. */
  idleExpiresAt: number;
  userAgent: string | null;
  ip: string | null;
  revokedAt: number | null;
  revokedReason: string | null;
}

export interface NewSession {
  id: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
  idleExpiresAt: number;
  userAgent: string | null;
  ip: string | null;
  /** SHA-256 (hex) of the first refresh token of the family. */
  refreshTokenHash: string;
}

/**
 * The user as an authenticated request sees it: every field but the password hash, which only
 * the password paths read (and load themselves), so it is never on `request.auth`.
 */
export type AuthUser = Omit<UserRecord, 'passwordHash'>;

export type RotateResult =
  /** The caller won: the old token is now spent and `newTokenHash` is live. */
  | { kind: 'rotated'; session: SessionRecord; user: AuthUser }
  /**
   * The token was already spent, but less than `graceMs` ago (`now - usedAt < graceMs`, so
   * `graceMs = 0` never grants grace): `newTokenHash` was added as a
   * further live token of the same family, so concurrent callers all stay logged in.
   */
  | { kind: 'grace'; session: SessionRecord; user: AuthUser }
  /** Spent `graceMs` ago or earlier: the whole session has been revoked by this call. */
  | { kind: 'reused'; sessionId: string; userId: string }
  /** Unknown token, or its session is revoked, expired or idle. */
  | { kind: 'invalid'; reason: 'unknown' | 'revoked' | 'expired' | 'idle' | 'disabled' };

export interface RotateInput {
  oldTokenHash: string;
  newTokenHash: string;
  now: number;
  graceMs: number;
  idleTimeoutMs: number;
}

export interface SigningKeyRecord {
  kid: string;
  alg: string;
  /** Private JWK as JSON (or the HS256 secret as an `oct` JWK). Never served. */
  privateJwk: string;
  /** Public JWK as JSON; null for symmetric keys. */
  publicJwk: string | null;
  createdAt: number;
  /** When it stopped signing; null while it is the active key. */
  retiredAt: number | null;
  /** After this it is no longer published nor accepted (retiredAt + max token lifetime). */
  expiresAt: number | null;
}

export type OneTimeTokenPurpose = 'verify_email' | 'reset_password';

export interface SecurityEvent {
  id: string;
  userId: string | null;
  type: string;
  ip: string | null;
  userAgent: string | null;
  detail: Record<string, unknown> | null;
  createdAt: number;
}

export interface NewOneTimeToken {
  /** SHA-256 (hex) of the token mailed to the user. */
  tokenHash: string;
  userId: string;
  purpose: OneTimeTokenPurpose;
  createdAt: number;
  expiresAt: number;
}

export interface UserListQuery {
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string | null;
  limit: number;
  /** Case-insensitive substring of the email or the name. */
  search?: string | null;
  disabled?: boolean | null;
  emailVerified?: boolean | null;
  role?: string | null;
}

export interface UserPage {
  users: UserRecord[];
  /** Pass back to get the next page; null on the last page. */
  nextCursor: string | null;
}

export interface ImportResult {
  inserted: number;
  updated: number;
  skipped: number;
}

export interface RateCounter {
  count: number;
  /** When the current window ends (epoch ms). */
  resetAt: number;
}

/** Hits to add to one rate-limit key (see Store.addRateCounts). */
export interface RateCountIncrement {
  key: string;
  count: number;
  windowMs: number;
}

/** One key's total after Store.addRateCounts. */
export interface RateCountTotal extends RateCounter {
  key: string;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';

  /** Applies pending migrations; idempotent. Returns the versions applied by this call. */
  migrate(): Promise<number[]>;
  /** Versions not applied yet (read only; `latchkey doctor`). */
  pendingMigrations(): Promise<number[]>;
  /** The database server's clock (epoch ms), where it has one; used to detect skew. */
  serverTime?(): Promise<number>;
  /** Cheap round-trip used by /health/ready. Throws when the database is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Connection-pool figures for /metrics; adapters without a pool omit it. */
  poolStats?(): { total: number; idle: number; waiting: number } | null;

  // users
  /** Inserts a user. Returns null (and inserts nothing) when the email exists: race-safe. */
  createUser(user: NewUser): Promise<UserRecord | null>;
  findUserByEmail(email: string): Promise<UserRecord | null>;
  findUserById(id: string): Promise<UserRecord | null>;
  updateUser(id: string, patch: UserPatch, now: number): Promise<UserRecord | null>;
  /** Replaces the hash only if it is still `expectedHash` (a rehash never overwrites a change). */
  replacePasswordHash(id: string, expectedHash: string, newHash: string, now: number): Promise<boolean>;

  // sessions and refresh tokens
  /** Creates a session together with its first refresh token, in one transaction. */
  createSession(session: NewSession): Promise<SessionRecord>;
  /** The session and its user, for authenticating a request; null when either is missing. */
  getSessionWithUser(sessionId: string): Promise<{ session: SessionRecord; user: AuthUser } | null>;
  /**
   * Rotates a refresh token atomically: of concurrent calls with the same live token exactly
   * one receives `rotated`; the others see it spent (`grace` inside the window, else `reused`).
   */
  rotateRefreshToken(input: RotateInput): Promise<RotateResult>;
  listSessions(userId: string, now: number): Promise<SessionRecord[]>;
  /** Revokes the session that a refresh token (live or spent) belongs to; null when unknown or already revoked. */
  revokeSessionByRefreshToken(tokenHash: string, reason: string, now: number): Promise<{ sessionId: string; userId: string } | null>;
  /** Revokes one session of this user; false when it is not theirs or already revoked. */
  revokeSession(userId: string, sessionId: string, reason: string, now: number): Promise<boolean>;
  /** Revokes every live session of the user except `exceptSessionId`; returns the count. */
  revokeUserSessions(userId: string, reason: string, now: number, exceptSessionId?: string): Promise<number>;
  /**
   * Deletes ended sessions (expired, idle, or revoked more than `retentionMs` ago) with their
   * tokens, and spent tokens used more than `retentionMs` ago; at most `limit` rows of each
   * per call. Spent tokens are kept that long so that a late replay is still recognised as reuse.
   * Also deletes used or expired one-time tokens and ended rate-limit windows (at most `limit` each).
   */
  purgeExpired(now: number, retentionMs: number, limit: number): Promise<number>;

  // signing keys
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  insertSigningKey(key: SigningKeyRecord): Promise<void>;
  /** Marks every active key retired (expiring at `expiresAt`) and inserts `key` as active, atomically. */
  rotateSigningKey(key: SigningKeyRecord, now: number, expiresAt: number): Promise<void>;
  /**
   * Replaces the stored private part of key `kid` (plaintext or sealed, see lib/secret-box.ts)
   * if it still equals `expected`: compare and set, so that of several instances re-encrypting
   * the keys at once exactly one writes each row. False when the row changed or is gone.
   */
  replaceSigningKeyPrivate(kid: string, expected: string, privateJwk: string): Promise<boolean>;
  deleteExpiredSigningKeys(now: number): Promise<number>;

  // security events
  recordEvent(event: SecurityEvent): Promise<void>;
  /** Newest first. */
  listEvents(userId: string, limit: number): Promise<SecurityEvent[]>;
  /** Deletes events older than `before`, at most `limit`; returns the count. */
  purgeEvents(before: number, limit: number): Promise<number>;

  // one-time tokens (email verification, password reset)
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

  // administration
  /** Pages users ordered by (created_at, id); every user appears exactly once across pages. */
  listUsers(query: UserListQuery): Promise<UserPage>;
  /** Deletes a user with their sessions, tokens and events in one transaction. */
  deleteUser(id: string): Promise<boolean>;
  /**
   * Updates a user unless the patch takes `role` from the last enabled user holding it (removes
   * the role, or disables them): then nothing is written and the result is `last_holder`. A
   * disabled holder does not count. Race-safe: the check and the write are one transaction that
   * locks the holders, so of two concurrent changes that each remove a different one of the last
   * two enabled holders exactly one is `updated`, the other `last_holder`. `before` is the row as
   * the change found it (under the lock).
   */
  updateUserKeepingRole(id: string, patch: UserPatch, now: number, role: string): Promise<KeepRoleUpdate>;
  /** deleteUser with the same guard and the same race-safety as updateUserKeepingRole. */
  deleteUserKeepingRole(id: string, role: string): Promise<KeepRoleDelete>;
  /** Sets the hash unconditionally (password reset, admin). */
  setPasswordHash(id: string, newHash: string, now: number): Promise<boolean>;
  countUsersWithRole(role: string): Promise<number>;

  // import
  /**
   * Inserts a batch in one transaction. On an existing email: `skip` leaves it, `update`
   * overwrites name, hash, roles, flags (never the id or created_at).
   */
  importUsers(users: NewUser[], onConflict: 'skip' | 'update'): Promise<ImportResult>;
  /**
   * Read-only batch lookup for import planning and dry runs: every user whose email is in
   * `emails` or whose id is in `ids` (each list at most a few thousand entries).
   */
  findUsersByEmailOrId(emails: string[], ids: string[]): Promise<UserRecord[]>;

  // shared rate-limit counters (used when several processes share the database and no Redis)
  /** Adds one hit to `key` in a fixed window of `windowMs`; atomic under concurrency. */
  hitRateCounter(key: string, now: number, windowMs: number): Promise<RateCounter>;
  /** The current window of `key` without counting a hit; null when none is open at `now`. */
  peekRateCounter(key: string, now: number): Promise<RateCounter | null>;
  resetRateCounter(key: string): Promise<void>;
  /**
   * Adds `count` hits to each key (keys distinct) in one atomic statement; a key whose window
   * has ended at `now` starts a new one of its `windowMs`. Returns every key's new total.
   * Optional: the adapter where each statement is a network round trip (PostgreSQL) has it,
   * and the per-IP limits then count in batches (features/ratelimit/counters.ts).
   */
  addRateCounts?(increments: readonly RateCountIncrement[], now: number): Promise<RateCountTotal[]>;
}

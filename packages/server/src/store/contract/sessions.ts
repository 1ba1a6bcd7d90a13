/** The sessions and refresh tokens concern of the storage contract. */
import type { AuthUser } from './users.js';

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
  /**
   * When the user last proved who they are for this session (RFC 9068 `auth_time`, epoch ms):
   * its login, or the second factor of its login. Kept by refresh.
   */
  authTime: number;
  /** How they proved it (RFC 8176 `amr` values: `pwd`, `otp`, `mfa`). Kept by refresh. */
  amr: readonly string[];
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
  /** See SessionRecord.authTime; usually `createdAt`. */
  authTime: number;
  /** See SessionRecord.amr. */
  amr: readonly string[];
}

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
  /**
   * Unknown token, or its session expired or idle, or its user disabled (also when the session
   * was revoked, e.g. by the disabling: the account's state is what the caller can act on).
   */
  | { kind: 'invalid'; reason: 'unknown' | 'expired' | 'idle' | 'disabled' }
  /** Its session was revoked; `revokedReason` is the session's `revoked_reason` (why it ended). */
  | { kind: 'invalid'; reason: 'revoked'; revokedReason: string | null };

export interface RotateInput {
  oldTokenHash: string;
  newTokenHash: string;
  now: number;
  graceMs: number;
  idleTimeoutMs: number;
}

/** A new authentication of a live session (POST /auth/reauthenticate, docs/factors.md "Step-up"). */
export interface ReauthenticateInput {
  sessionId: string;
  userId: string;
  /** The session's new `authTime` (usually `now`). */
  authTime: number;
  /** The session's new `amr`. */
  amr: readonly string[];
  /** SHA-256 (hex) of the session's new refresh token; every token of the session live before is spent at `now`. */
  newTokenHash: string;
  now: number;
  idleTimeoutMs: number;
}

export interface SessionStore {
  /**
   * Creates a session together with its first refresh token, and records it as the user's last
   * sign-in (`lastSignInAt = createdAt`), in one transaction: a session is only ever started by
   * a sign-in, so every sign-in path records it without a write of its own.
   */
  createSession(session: NewSession): Promise<SessionRecord>;
  /** The session and its user, for authenticating a request; null when either is missing. */
  getSessionWithUser(sessionId: string): Promise<{ session: SessionRecord; user: AuthUser } | null>;
  /**
   * Rotates a refresh token atomically: of concurrent calls with the same live token exactly
   * one receives `rotated`; the others see it spent (`grace` inside the window, else `reused`).
   */
  rotateRefreshToken(input: RotateInput): Promise<RotateResult>;
  /**
   * Records a new authentication of a live session of this user, atomically: its `authTime` and
   * `amr` are replaced, every live refresh token of the session is spent at `now` (a later use of
   * one is then a grace or a reuse, as after a rotation), `newTokenHash` becomes its live token
   * and the session is touched as a rotation touches it. Null, changing nothing, when the session
   * is not this user's or not live (revoked, expired, idle) at `now`.
   */
  reauthenticateSession(input: ReauthenticateInput): Promise<SessionRecord | null>;
  listSessions(userId: string, now: number): Promise<SessionRecord[]>;
  // Every session these revoke (and the reuse branch of rotateRefreshToken) gets a `session`
  // entry of the revocation feed in the same transaction (contract/revocations.ts).
  /** Revokes the session that a refresh token (live or spent) belongs to; null when unknown or already revoked. */
  revokeSessionByRefreshToken(tokenHash: string, reason: string, now: number): Promise<{ sessionId: string; userId: string } | null>;
  /** Revokes one session of this user; false when it is not theirs or already revoked. */
  revokeSession(userId: string, sessionId: string, reason: string, now: number): Promise<boolean>;
  /**
   * Revokes every live session of the user except `exceptSessionId`; returns the count. Without
   * an exception and with at least one session revoked, also writes a `user` entry of the
   * revocation feed (every token of the user issued before this second is void).
   */
  revokeUserSessions(userId: string, reason: string, now: number, exceptSessionId?: string): Promise<number>;
  /**
   * Deletes ended sessions (expired, idle, or revoked more than `retentionMs` ago) with their
   * tokens, and spent tokens used more than `retentionMs` ago; at most `limit` rows of each
   * per call. Spent tokens are kept that long so that a late replay is still recognised as reuse.
   * Also deletes used or expired one-time tokens and ended rate-limit windows (at most `limit` each).
   */
  purgeExpired(now: number, retentionMs: number, limit: number): Promise<number>;
}

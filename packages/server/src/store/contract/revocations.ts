/**
 * The revocation feed concern of the storage contract (docs/verify.md, "Revocation feed"): what
 * was revoked, for services that verify access tokens offline.
 *
 * Entries are written by the store itself, in the transaction of the revocation, never by a
 * caller: a session whose `revoked_at` goes from null to a time gets a `session` entry (a
 * trigger on the sessions table, so every path that revokes a session feeds it, including the
 * ones added later); `revokeUserSessions` without an exception and the deletion of a user write
 * a `user` entry. Nothing else about the user is stored (no email, no reason).
 *
 * Order and cursors never skip an entry committed late: on SQLite writes are serialised, so the
 * row id order is the commit order; on PostgreSQL an entry carries the id of its writing
 * transaction (`xid8`) and only entries of transactions older than every transaction still
 * running are served (`xid < pg_snapshot_xmin(pg_current_snapshot())`), ordered by (xid, seq).
 */

/** A cursor of the feed: `<a>-<b>`, two decimal numbers (opaque to clients). */
export interface RevocationCursor {
  /** PostgreSQL: the writing transaction's xid8; SQLite: always "0". */
  readonly xid: string;
  /** The entry's sequence number (PostgreSQL identity, SQLite row id). */
  readonly seq: string;
}

export interface RevocationRecord {
  /** Where a reader resumes to get the entries after this one (RevocationCursor as `<xid>-<seq>`). */
  cursor: string;
  kind: 'session' | 'user';
  /** The session id (`session`) or the user id (`user`). */
  subject: string;
  /**
   * `user` entries: every access token of the user with `iat < iatBefore` (epoch seconds) is
   * void. Null for `session` entries.
   */
  iatBefore: number | null;
  /** When it was revoked (epoch ms, the caller's clock). */
  revokedAt: number;
}

export interface RevocationPage {
  entries: RevocationRecord[];
  /** More entries follow the last one (ask again after its cursor). */
  hasMore: boolean;
}

export interface RevocationStore {
  /**
   * At most `limit` entries after `after` (from the start when null), oldest first, skipping
   * those revoked at or before `revokedAfter` (expired: no token they affect can be alive).
   * Never returns an entry whose transaction is still running, nor an entry ordered before one
   * that is; so a reader that resumes after the last cursor it got never misses one.
   */
  listRevocations(after: RevocationCursor | null, limit: number, revokedAfter: number): Promise<RevocationPage>;
  /** The cursor of the newest servable entry (see listRevocations), or null when there is none. */
  lastRevocationCursor(): Promise<string | null>;
  /** Deletes entries revoked at or before `revokedUpTo`, at most `limit`; returns the count. */
  purgeRevocations(revokedUpTo: number, limit: number): Promise<number>;
}

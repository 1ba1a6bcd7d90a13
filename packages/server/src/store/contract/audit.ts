/**
 * The audit log concern of the storage contract: who did what to whom, kept append-only. The
 * store has no method that changes or deletes an entry except the retention purge, and each
 * adapter's table refuses an UPDATE (a trigger), so an entry reads as it was written.
 */

/** Who acted: a signed-in user on their own account, an admin, the server itself, or the CLI. */
export type AuditActorType = 'user' | 'admin' | 'system' | 'cli';

export interface AuditRecord {
  id: string;
  /** When, epoch ms. */
  at: number;
  actorType: AuditActorType;
  actorId: string | null;
  /** The actor's address at the time (a deleted or renamed actor still reads). */
  actorEmail: string | null;
  /** Dotted, e.g. `admin.user.updated`, `user.password.changed`, `session.reuse_detected`. */
  action: string;
  targetType: string | null;
  targetId: string | null;
  /** `{ field: { from, to } }`, or other facts of the action; never a secret. */
  changes: Record<string, unknown> | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

/** Filters and the page of listAudit; every filter is optional (null = any). */
export interface AuditQuery {
  /** The actor's id or email (exact). */
  actor: string | null;
  /** An action, exact; ending in `*`, a prefix (`admin.*`). */
  action: string | null;
  /** The target's id (exact). */
  target: string | null;
  /** at >= since (epoch ms). */
  since: number | null;
  /** at < until (epoch ms). */
  until: number | null;
  /** Keyset: only entries strictly before this (at, id) in the newest-first order. */
  before: { at: number; id: string } | null;
  limit: number;
}

export interface AuditStore {
  /** Appends one entry. */
  appendAudit(entry: AuditRecord): Promise<void>;
  /** Entries matching the query, newest first (at DESC, id DESC), at most `limit`. */
  listAudit(query: AuditQuery): Promise<AuditRecord[]>;
  /** Deletes entries older than `before`, at most `limit`; returns the count (the retention purge, nothing else deletes). */
  purgeAudit(before: number, limit: number): Promise<number>;
}

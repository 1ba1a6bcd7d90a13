import type { Pool, PoolClient } from 'pg';
import { formatRevocationCursor } from '../revocation-cursor.js';
import type { RevocationRecord, RevocationStore } from '../types.js';
import type { PgConnection } from './connection.js';

interface RevocationRow {
  xid: string;
  seq: string;
  kind: 'session' | 'user';
  subject: string;
  iat_before: string | null;
  revoked_at: string;
}

function recordFromRow(r: RevocationRow): RevocationRecord {
  return {
    cursor: formatRevocationCursor(r.xid, r.seq),
    kind: r.kind,
    subject: r.subject,
    iatBefore: r.iat_before === null ? null : Number(r.iat_before),
    revokedAt: Number(r.revoked_at),
  };
}

/**
 * Only rows of transactions that ended before every transaction still running: a row of a
 * running transaction (or one ordered after it) waits until that transaction ends, so a reader
 * never moves its cursor past an entry that is about to commit.
 */
const SETTLED = 'xid < pg_snapshot_xmin(pg_current_snapshot())';

/**
 * A `user` entry (contract/revocations.ts), in the caller's transaction: every access token of
 * the user with `iat < iatBefore` is void.
 */
export async function recordUserRevocation(q: Pool | PoolClient, userId: string, iatBefore: number, now: number): Promise<void> {
  await q.query("INSERT INTO revocations (kind, subject, iat_before, revoked_at) VALUES ('user', $1, $2, $3)", [userId, iatBefore, now]);
}

/**
 * The `user` entry of a deletion, in the caller's transaction and before the DELETE: only when
 * the user has a session not yet revoked (a revoked one has its own entry; a user who never
 * signed in has no token). Every token of the user up to this second is void.
 */
export async function recordUserDeletion(q: Pool | PoolClient, userId: string, now: number): Promise<void> {
  await q.query(
    `INSERT INTO revocations (kind, subject, iat_before, revoked_at)
     SELECT 'user', $1, $2, $3 WHERE EXISTS (SELECT 1 FROM sessions WHERE user_id = $1 AND revoked_at IS NULL)`,
    [userId, Math.floor(now / 1000) + 1, now],
  );
}

/** The revocation feed concern on PostgreSQL (see SETTLED for why a late commit is never skipped). */
export function postgresRevocations(db: PgConnection): RevocationStore {
  return {
    async listRevocations(after, limit, revokedAfter) {
      const rows = await db.query<RevocationRow>(
        `SELECT xid::text AS xid, seq, kind, subject, iat_before, revoked_at FROM revocations
         WHERE (xid, seq) > ($1::xid8, $2::bigint) AND ${SETTLED} AND revoked_at > $3
         ORDER BY xid, seq LIMIT $4`,
        [after?.xid ?? '0', after?.seq ?? '0', revokedAfter, limit + 1],
      );
      return { entries: rows.slice(0, limit).map(recordFromRow), hasMore: rows.length > limit };
    },

    async lastRevocationCursor() {
      const rows = await db.query<{ xid: string; seq: string }>(
        `SELECT xid::text AS xid, seq FROM revocations WHERE ${SETTLED} ORDER BY xid DESC, seq DESC LIMIT 1`,
      );
      return rows[0] ? formatRevocationCursor(rows[0].xid, rows[0].seq) : null;
    },

    async purgeRevocations(revokedUpTo, limit) {
      return db.execute(
        `DELETE FROM revocations WHERE (xid, seq) IN (
           SELECT xid, seq FROM revocations WHERE revoked_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [revokedUpTo, limit],
      );
    },
  };
}

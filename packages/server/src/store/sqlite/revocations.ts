import type Database from 'better-sqlite3';
import { formatRevocationCursor } from '../revocation-cursor.js';
import type { RevocationStore } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { guardOutages } from './errors.js';

interface RevocationRow {
  seq: number;
  kind: 'session' | 'user';
  subject: string;
  iat_before: number | null;
  revoked_at: number;
}

interface RevocationWrites {
  insertUserRevocation: Database.Statement<[string, number, number]>;
  insertUserDeletion: Database.Statement<[{ userId: string; iatBefore: number; now: number }]>;
}

/** The revocation statements other concerns run inside their own transactions. */
export function prepareRevocationWrites(db: Database.Database): RevocationWrites {
  return {
    /** A `user` entry: every access token of the user with `iat < iat_before` is void. */
    insertUserRevocation: db.prepare<[string, number, number]>(
      "INSERT INTO revocations (kind, subject, iat_before, revoked_at) VALUES ('user', ?, ?, ?)",
    ),
    /**
     * The `user` entry of a deletion, run before the DELETE: only when the user has a session
     * not yet revoked (a revoked one has its own entry; a user who never signed in has no token).
     */
    insertUserDeletion: db.prepare<[{ userId: string; iatBefore: number; now: number }]>(
      `INSERT INTO revocations (kind, subject, iat_before, revoked_at)
       SELECT 'user', @userId, @iatBefore, @now WHERE EXISTS (SELECT 1 FROM sessions WHERE user_id = @userId AND revoked_at IS NULL)`,
    ),
  };
}

function prepareRevocationStatements(db: Database.Database) {
  return {
    list: db.prepare<[number, number, number], RevocationRow>(
      'SELECT seq, kind, subject, iat_before, revoked_at FROM revocations WHERE seq > ? AND revoked_at > ? ORDER BY seq LIMIT ?',
    ),
    last: db.prepare<[], { seq: number }>('SELECT seq FROM revocations ORDER BY seq DESC LIMIT 1'),
    purge: db.prepare('DELETE FROM revocations WHERE seq IN (SELECT seq FROM revocations WHERE revoked_at <= ? LIMIT ?)'),
  };
}

/**
 * The revocation feed concern on SQLite. Every process on the file writes under one write lock,
 * so row ids are handed out in commit order and a reader past id N never misses a later commit.
 * The cursor's first part is always 0 (the PostgreSQL adapter's transaction id).
 */
export function sqliteRevocations(c: SqliteConnection): RevocationStore {
  const s = c.statements(prepareRevocationStatements);
  return guardOutages<RevocationStore>({
    listRevocations(after, limit, revokedAfter) {
      // The xid part is always 0 here (a cursor is good only for the database that gave it).
      const from = after === null ? 0 : Math.min(Number(after.seq), Number.MAX_SAFE_INTEGER);
      const rows = s().list.all(from, revokedAfter, limit + 1);
      return {
        entries: rows.slice(0, limit).map((r) => ({
          cursor: formatRevocationCursor(0, r.seq),
          kind: r.kind,
          subject: r.subject,
          iatBefore: r.iat_before,
          revokedAt: r.revoked_at,
        })),
        hasMore: rows.length > limit,
      };
    },

    lastRevocationCursor() {
      const row = s().last.get();
      return row ? formatRevocationCursor(0, row.seq) : null;
    },

    purgeRevocations(revokedUpTo, limit) {
      return s().purge.run(revokedUpTo, limit).changes;
    },
  });
}

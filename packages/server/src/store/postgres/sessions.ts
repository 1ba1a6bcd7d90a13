import { amrFromColumn, amrToColumn, sessionFromRow, type SessionRow } from '../rows.js';
import type { AuthUser, RotateInput, RotateResult, SessionRecord, SessionStore } from '../types.js';
import { isRetryable, type PgConnection } from './connection.js';
import { postgresError } from './errors.js';
import { recordUserRevocation } from './revocations.js';
import { userRevocationIatBefore } from '../revocation-cursor.js';
import { userFromRow, type UserRow } from './users.js';

// Session and user columns in one row, read as an array (no per-row object with 19 keys, no JSON).
const SESSION_USER_COLUMNS = `s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.idle_expires_at, s.user_agent,
  s.ip, s.revoked_at, s.revoked_reason, u.id, u.email, u.name, u.roles, u.email_verified, u.disabled,
  u.created_at, u.updated_at, s.auth_time, s.amr`;

type SessionUserRow = [
  string, string, number, number, number, number, string | null, string | null, number | null, string | null,
  string, string, string | null, string[], boolean, boolean, number, number, number | null, string,
];

function sessionUserFromRow(r: SessionUserRow): { session: SessionRecord; user: AuthUser } {
  return {
    session: {
      id: r[0],
      userId: r[1],
      createdAt: r[2],
      lastUsedAt: r[3],
      expiresAt: r[4],
      idleExpiresAt: r[5],
      userAgent: r[6],
      ip: r[7],
      revokedAt: r[8],
      revokedReason: r[9],
      authTime: r[18] ?? r[2],
      amr: amrFromColumn(r[19]),
    },
    user: {
      id: r[10],
      email: r[11],
      name: r[12],
      roles: r[13],
      emailVerified: r[14],
      disabled: r[15],
      createdAt: r[16],
      updatedAt: r[17],
    },
  };
}

type SessionWithUser = { session: SessionRecord; user: AuthUser };

interface PendingLookup {
  id: string;
  resolve(found: SessionWithUser | null): void;
  reject(err: unknown): void;
}

/**
 * Lookup statements out at once. One: under load every lookup that arrives while it runs goes in
 * the next (bench/ab.mjs --pg, GET /auth/me at 32 connections: 59 against 67 µs of server CPU
 * and 21 against 28 µs of PostgreSQL CPU per request with two); idle, a lookup goes at once.
 */
const LOOKUP_STATEMENTS_IN_FLIGHT = 1;
/** Session ids in one lookup statement at most. */
const LOOKUP_BATCH_MAX = 128;

/**
 * The sessions and refresh tokens concern on PostgreSQL. rotateRefreshToken locks the session
 * row (`SELECT ... FOR UPDATE`), so rotations of one family run one at a time and exactly one of
 * them spends the live token.
 */
export function postgresSessions(db: PgConnection): SessionStore {
  const { pool } = db;
  const lookups: PendingLookup[] = [];
  let lookupsInFlight = 0;

  function sendLookups(): void {
    const batch = lookups.splice(0, LOOKUP_BATCH_MAX);
    if (batch.length === 0) return;
    lookupsInFlight++;
    pool
      .query<SessionUserRow>({
        name: 'latchkey_session_user',
        text: `SELECT ${SESSION_USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ANY ($1::text[])`,
        values: [batch.map((l) => l.id)],
        rowMode: 'array',
      })
      .then(
        ({ rows }) => {
          if (batch.length === 1) {
            batch[0]!.resolve(rows[0] ? sessionUserFromRow(rows[0]) : null);
            return;
          }
          const byId = new Map<string, SessionUserRow>();
          for (const row of rows) byId.set(row[0], row);
          // Two requests for one session get their own objects: callers may keep or change them.
          for (const l of batch) {
            const row = byId.get(l.id);
            l.resolve(row ? sessionUserFromRow(row) : null);
          }
        },
        (err: unknown) => {
          const failure = postgresError(err);
          for (const l of batch) l.reject(failure);
        },
      )
      .finally(() => {
        lookupsInFlight--;
        if (lookups.length > 0) sendLookups();
      });
  }

  async function rotateInTransaction(input: RotateInput): Promise<RotateResult> {
    const { oldTokenHash, newTokenHash, now, graceMs, idleTimeoutMs } = input;
    return db.tx(async (c): Promise<RotateResult> => {
      // Every rotation of one family queues on its session row. Once through, the statements
      // below read the state that the previous holder committed (READ COMMITTED).
      const locked = await c.query<SessionRow>(
        `SELECT s.* FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
         WHERE t.token_hash = $1 FOR UPDATE OF s`,
        [oldTokenHash],
      );
      const session = locked.rows[0];
      if (!session) return { kind: 'invalid', reason: 'unknown' };
      const current = await c.query<{ used_at: number | null; u: UserRow; s: SessionRow }>(
        `SELECT t.used_at, to_jsonb(u) AS u, to_jsonb(s) AS s FROM refresh_tokens t
         JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
         WHERE t.token_hash = $1`,
        [oldTokenHash],
      );
      const row = current.rows[0];
      if (!row) return { kind: 'invalid', reason: 'unknown' };
      const s = sessionFromRow(row.s);
      const user = userFromRow(row.u);
      if (s.revokedAt !== null) {
        return user.disabled ? { kind: 'invalid', reason: 'disabled' } : { kind: 'invalid', reason: 'revoked', revokedReason: s.revokedReason };
      }
      if (now >= s.expiresAt) return { kind: 'invalid', reason: 'expired' };
      if (now >= s.idleExpiresAt) return { kind: 'invalid', reason: 'idle' };
      if (user.disabled) return { kind: 'invalid', reason: 'disabled' };

      let kind: 'rotated' | 'grace';
      if (row.used_at === null) {
        const spent = await c.query('UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL', [
          now,
          oldTokenHash,
        ]);
        if (spent.rowCount !== 1) throw new Error('refresh token changed under the session lock');
        kind = 'rotated';
      } else if (Math.max(0, now - Number(row.used_at)) < graceMs) {
        // Spent less than graceMs ago; graceMs = 0 is no window at all. A concurrent rotation
        // may have spent it at a `now` read after ours: its age is then 0, never negative.
        kind = 'grace';
      } else {
        await c.query('UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL', [
          now,
          'refresh_token_reused',
          s.id,
        ]);
        return { kind: 'reused', sessionId: s.id, userId: s.userId };
      }
      await c.query('INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)', [
        newTokenHash,
        s.id,
        now,
      ]);
      const idle = Math.min(now + idleTimeoutMs, s.expiresAt);
      await c.query('UPDATE sessions SET last_used_at = $1, idle_expires_at = $2 WHERE id = $3', [now, idle, s.id]);
      return { kind, session: { ...s, lastUsedAt: now, idleExpiresAt: idle }, user };
    });
  }

  return {
    /**
     * The session, its first refresh token and the user's last sign-in in one statement (one
     * round trip instead of five for BEGIN, two INSERTs, an UPDATE and COMMIT): a statement is
     * atomic, so either all three writes happen or none does, as with the transaction it replaces.
     */
    async createSession(n) {
      let rows: SessionRow[];
      try {
        ({ rows } = await pool.query<SessionRow>({
          name: 'latchkey_create_session',
          text: `WITH s AS (
                 INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, idle_expires_at, user_agent, ip, auth_time, amr)
                 VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $9, $10) RETURNING *
               ), t AS (
                 INSERT INTO refresh_tokens (token_hash, session_id, created_at) SELECT $8, id, created_at FROM s
               ), signed_in AS (
                 UPDATE users SET last_sign_in_at = $3 WHERE id = $2
               )
               SELECT * FROM s`,
          values: [n.id, n.userId, n.createdAt, n.expiresAt, n.idleExpiresAt, n.userAgent, n.ip, n.refreshTokenHash, n.authTime, amrToColumn(n.amr)],
        }));
      } catch (err) {
        throw postgresError(err);
      }
      return sessionFromRow(rows[0]!);
    },

    /**
     * The hot path: every authenticated request. Lookups that arrive while a lookup statement is
     * out (LOOKUP_STATEMENTS_IN_FLIGHT) wait for it to finish, then go together in one statement
     * (`WHERE s.id = ANY($1)`): under load one round trip (one socket write, one wake-up of a
     * PostgreSQL backend, one execution of the prepared plan) serves many requests. Each request's
     * rows are still read by a statement sent after the request arrived, never reused from an
     * earlier one: a revocation committed before a request is always seen by it (no session cache).
     */
    getSessionWithUser(sessionId) {
      return new Promise((resolve, reject) => {
        lookups.push({ id: sessionId, resolve, reject });
        if (lookupsInFlight < LOOKUP_STATEMENTS_IN_FLIGHT) sendLookups();
      });
    },

    /**
     * The common case, a live token of a live session, in one statement (one round trip instead
     * of seven for BEGIN, lock, read, three writes, COMMIT); everything else in the transaction of
     * rotateInTransaction, which classifies exactly.
     *
     * Why the single statement keeps "exactly one winner": it first updates the session row (the
     * lock every rotation and revocation of the family takes first, so a concurrent one waits
     * here, and the revoked / expiry conditions are re-checked on the row as committed after the
     * wait), then spends the token with `used_at IS NULL`, also re-checked on the committed row
     * after any wait: of two concurrent statements only one spends it, and only the one that spent
     * it inserts the new token. The loser (and any token already spent, unknown, revoked, expired
     * or disabled) returns no row; the transaction then finds the token spent and answers `grace`
     * or `reused` as before. The loser may have moved the session's last use to `now`, which is
     * what a `grace` answer does too, and a `reused` answer revokes the session anyway.
     */
    /**
     * One statement: the session row's UPDATE comes first, so it queues behind (and is queued
     * behind by) the rotations and revocations of the family, which take that row first too.
     */
    async reauthenticateSession(input) {
      const { sessionId, userId, authTime, amr, newTokenHash, now, idleTimeoutMs } = input;
      let rows: SessionRow[];
      try {
        ({ rows } = await pool.query<SessionRow>({
          name: 'latchkey_reauthenticate_session',
          text: `WITH s AS (
                 UPDATE sessions SET auth_time = $3, amr = $4, last_used_at = $6, idle_expires_at = LEAST($6 + $7, expires_at)
                 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $6 AND idle_expires_at > $6
                 RETURNING *
               ), spent AS (
                 UPDATE refresh_tokens SET used_at = $6 WHERE session_id = (SELECT id FROM s) AND used_at IS NULL
               ), fresh AS (
                 INSERT INTO refresh_tokens (token_hash, session_id, created_at) SELECT $5, id, $6 FROM s
               )
               SELECT * FROM s`,
          values: [sessionId, userId, authTime, amrToColumn(amr), newTokenHash, now, idleTimeoutMs],
        }));
      } catch (err) {
        throw postgresError(err);
      }
      return rows[0] ? sessionFromRow(rows[0]) : null;
    },

    async rotateRefreshToken(input) {
      const { oldTokenHash, newTokenHash, now, idleTimeoutMs } = input;
      let rows: SessionUserRow[];
      try {
        ({ rows } = await pool.query<SessionUserRow>({
          name: 'latchkey_rotate',
          text: `WITH s AS (
                 UPDATE sessions SET last_used_at = $2, idle_expires_at = LEAST($2 + $4, expires_at)
                 WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NULL)
                   AND revoked_at IS NULL AND expires_at > $2 AND idle_expires_at > $2
                   AND NOT (SELECT disabled FROM users WHERE users.id = sessions.user_id)
                 RETURNING *
               ), spent AS (
                 UPDATE refresh_tokens SET used_at = $2
                 WHERE token_hash = $1 AND used_at IS NULL AND session_id = (SELECT id FROM s)
                 RETURNING session_id
               ), fresh AS (
                 INSERT INTO refresh_tokens (token_hash, session_id, created_at) SELECT $3, session_id, $2 FROM spent
               )
               SELECT ${SESSION_USER_COLUMNS} FROM s JOIN users u ON u.id = s.user_id JOIN spent ON spent.session_id = s.id`,
          values: [oldTokenHash, now, newTokenHash, idleTimeoutMs],
          rowMode: 'array',
        }));
      } catch (err) {
        if (!isRetryable(err)) throw postgresError(err);
        rows = [];
      }
      const row = rows[0];
      if (row) {
        const { session, user } = sessionUserFromRow(row);
        return { kind: 'rotated', session, user };
      }
      return rotateInTransaction(input);
    },

    async listSessions(userId, now) {
      const rows = await db.query<SessionRow>(
        `SELECT * FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND idle_expires_at > $2
         ORDER BY last_used_at DESC`,
        [userId, now],
      );
      return rows.map(sessionFromRow);
    },

    async revokeSessionByRefreshToken(tokenHash, reason, now) {
      const rows = await db.query<{ id: string; user_id: string }>(
        `UPDATE sessions SET revoked_at = $1, revoked_reason = $2
         WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $3) AND revoked_at IS NULL
         RETURNING id, user_id`,
        [now, reason, tokenHash],
      );
      return rows[0] ? { sessionId: rows[0].id, userId: rows[0].user_id } : null;
    },

    async revokeSession(userId, sessionId, reason, now) {
      const n = await db.execute(
        'UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL',
        [now, reason, sessionId, userId],
      );
      return n === 1;
    },

    async revokeUserSessions(userId, reason, now, exceptSessionId) {
      return db.tx(async (c) => {
        const revoked = await c.query(
          `UPDATE sessions SET revoked_at = $1, revoked_reason = $2
           WHERE user_id = $3 AND revoked_at IS NULL AND id IS DISTINCT FROM $4`,
          [now, reason, userId, exceptSessionId ?? null],
        );
        const n = revoked.rowCount ?? 0;
        if (n > 0 && exceptSessionId === undefined) await recordUserRevocation(c, userId, userRevocationIatBefore(now), now);
        return n;
      });
    },

    async purgeExpired(now, retentionMs, limit) {
      const cutoff = now - retentionMs;
      // SKIP LOCKED: a purge on one instance never waits for (nor blocks) a rotation on another.
      const sessions = await db.execute(
        `DELETE FROM sessions WHERE id IN (
           SELECT id FROM sessions WHERE expires_at <= $1 OR idle_expires_at <= $1
             OR (revoked_at IS NOT NULL AND revoked_at <= $2)
           LIMIT $3 FOR UPDATE SKIP LOCKED)`,
        [now, cutoff, limit],
      );
      const tokens = await db.execute(
        `DELETE FROM refresh_tokens WHERE token_hash IN (
           SELECT token_hash FROM refresh_tokens WHERE used_at IS NOT NULL AND used_at <= $1
           LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [cutoff, limit],
      );
      // One-time tokens that can no longer be used, and rate-limit windows that have ended.
      const oneTime = await db.execute(
        `DELETE FROM one_time_tokens WHERE token_hash IN (
           SELECT token_hash FROM one_time_tokens WHERE expires_at <= $1 OR (used_at IS NOT NULL AND used_at <= $1)
           LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [now, limit],
      );
      const counters = await db.execute(
        `DELETE FROM rate_counters WHERE key IN (
           SELECT key FROM rate_counters WHERE reset_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [now, limit],
      );
      return sessions + tokens + oneTime + counters;
    },
  };
}

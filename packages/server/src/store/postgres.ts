import { Pool, types as pgTypes, type CustomTypesConfig, type PoolClient, type QueryResultRow } from 'pg';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { holdsRole, takesRoleAway } from './keep-role.js';
import { keyFromRow, sessionFromRow, type KeyRow, type SessionRow } from './rows.js';
import { decodeUserCursor, encodeUserCursor, likePattern } from './sqlite.js';
import type {
  ImportResult,
  KeepRoleDelete,
  KeepRoleUpdate,
  NewOneTimeToken,
  NewSession,
  NewUser,
  OneTimeTokenPurpose,
  RateCounter,
  RateCountIncrement,
  RateCountTotal,
  RotateInput,
  RotateResult,
  SecurityEvent,
  SessionRecord,
  SigningKeyRecord,
  Store,
  UserListQuery,
  UserPage,
  UserPatch,
  UserRecord,
  AuthUser,
} from './types.js';

interface UserRow {
  id: string;
  email: string;
  name: string | null;
  password_hash: string;
  roles: string[];
  email_verified: boolean;
  disabled: boolean;
  created_at: number;
  updated_at: number;
}



interface EventRow {
  id: string;
  user_id: string | null;
  type: string;
  ip: string | null;
  user_agent: string | null;
  detail: Record<string, unknown> | null;
  created_at: number;
}

const INT8_OID = 20;

/**
 * BIGINT columns hold epoch milliseconds, far below 2^53: read them as numbers. Set per pool so
 * that a host application sharing the `pg` module keeps its own parsers.
 */
const parseInt8 = (value: string): number => Number(value);
const typeParsers: CustomTypesConfig = {
  // Asked once per column of every result (pg describes each statement's result), so no closure
  // is made per call.
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pgTypes.getTypeParser(oid, format)) as CustomTypesConfig['getTypeParser'],
};

/** Transaction failures that succeed when simply run again. */
const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected

function userFromRow(r: UserRow): UserRecord {
  return {
    id: r.id,
    email: r.email,
    name: r.name,
    passwordHash: r.password_hash,
    roles: r.roles,
    emailVerified: r.email_verified,
    disabled: r.disabled,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}



// Session and user columns in one row, read as an array (no per-row object with 19 keys, no JSON).
const SESSION_USER_COLUMNS = `s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.idle_expires_at, s.user_agent,
  s.ip, s.revoked_at, s.revoked_reason, u.id, u.email, u.name, u.roles, u.email_verified, u.disabled,
  u.created_at, u.updated_at`;

type SessionUserRow = [
  string, string, number, number, number, number, string | null, string | null, number | null, string | null,
  string, string, string | null, string[], boolean, boolean, number, number,
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

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

// An error on a client that is checked out but between queries would otherwise be an unhandled
// 'error' event and end the process; the failure surfaces on the next query instead.
function ignoreClientError(): void {}

export interface PostgresStoreOptions {
  /** Connections this process keeps at most (DATABASE_POOL_SIZE). */
  poolSize: number;
  /** How long a request waits for a connection before failing (then answered 503); default 5 s. */
  connectionTimeoutMs?: number;
}

/**
 * The multi-node adapter: PostgreSQL 15+ through a `pg` pool. Several Latchkey processes share
 * one database; every guarantee of the Store contract holds across processes:
 * - createUser relies on the unique index (`ON CONFLICT DO NOTHING`), so one insert wins;
 * - rotateRefreshToken locks the session row (`SELECT ... FOR UPDATE`), so rotations of one
 *   family run one at a time and exactly one of them spends the live token;
 * - single-use tokens and counters are one conditional `UPDATE`/upsert each;
 * - migrations and signing-key rotation take an advisory lock, so instances starting at once or
 *   two `keys rotate` at once do not collide.
 * Transactions run at READ COMMITTED: each statement after a lock sees the winner's commit.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly pool: Pool;
  private closed = false;
  private readonly lookups: PendingLookup[] = [];
  private lookupsInFlight = 0;

  constructor(url: string, options: PostgresStoreOptions) {
    this.pool = new Pool({
      connectionString: url,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'latchkey',
      types: typeParsers,
    });
    // An idle connection that the server drops (restart, failover, idle timeout) is reported
    // here. The pool has already discarded it and the next query opens a new one, so there is
    // nothing to do, but without a listener the event would crash the process.
    this.pool.on('error', () => undefined);
  }

  private async query<R extends QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    return (await this.pool.query<R>(text, values)).rows;
  }

  private async execute(text: string, values: unknown[] = []): Promise<number> {
    return (await this.pool.query(text, values)).rowCount ?? 0;
  }

  /** Runs `fn` in one transaction on one connection; retried on deadlock or serialization failure. */
  private async tx<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      client.on('error', ignoreClientError);
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
          // The connection itself failed: destroy it rather than return it to the pool.
          broken = rollbackErr instanceof Error ? rollbackErr : new Error('rollback failed');
        });
        if (!broken && attempt < 3 && RETRYABLE.has(errorCode(err) ?? '')) continue;
        throw err;
      } finally {
        client.off('error', ignoreClientError);
        client.release(broken);
      }
    }
  }

  async migrate(): Promise<number[]> {
    return this.tx(async (c) => {
      // Instances starting together queue here; the first applies, the others find nothing to do.
      await c.query("SELECT pg_advisory_xact_lock(hashtext('latchkey.migrations'))");
      await c.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
      );
      const done = new Set((await c.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      const applied: number[] = [];
      for (const m of POSTGRES_MIGRATIONS) {
        if (done.has(m.version)) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          Date.now(),
        ]);
        applied.push(m.version);
      }
      return applied;
    });
  }

  async pendingMigrations(): Promise<number[]> {
    const exists = await this.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
    const done = new Set(
      exists[0]?.t ? (await this.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version) : [],
    );
    return POSTGRES_MIGRATIONS.map((m) => m.version).filter((v) => !done.has(v));
  }

  async serverTime(): Promise<number> {
    const [row] = await this.query<{ ms: string }>('SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms');
    return Number(row!.ms);
  }

  poolStats(): { total: number; idle: number; waiting: number } {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  // users

  async createUser(u: NewUser): Promise<UserRecord | null> {
    const rows = await this.query<UserRow>(
      `INSERT INTO users (id, email, name, password_hash, roles, email_verified, disabled, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
       ON CONFLICT (email) DO NOTHING
       RETURNING *`,
      [u.id, u.email, u.name, u.passwordHash, u.roles, u.emailVerified, u.disabled ?? false, u.createdAt],
    );
    return rows[0] ? userFromRow(rows[0]) : null;
  }

  async findUserByEmail(email: string): Promise<UserRecord | null> {
    const rows = await this.query<UserRow>('SELECT * FROM users WHERE email = $1', [email]);
    return rows[0] ? userFromRow(rows[0]) : null;
  }

  async findUserById(id: string): Promise<UserRecord | null> {
    const rows = await this.query<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
    return rows[0] ? userFromRow(rows[0]) : null;
  }

  async updateUser(id: string, patch: UserPatch, now: number): Promise<UserRecord | null> {
    return updateUserOn(this.pool, id, patch, now);
  }

  async updateUserKeepingRole(id: string, patch: UserPatch, now: number, role: string): Promise<KeepRoleUpdate> {
    return this.tx(async (c) => {
      const locked = await lockUserAndRoleHolders(c, id, role);
      const before = locked.find((u) => u.id === id);
      if (!before) return { kind: 'not_found' };
      if (takesRoleAway(before, patch, role) && !locked.some((u) => u.id !== id && holdsRole(u, role))) return { kind: 'last_holder' };
      const user = await updateUserOn(c, id, patch, now);
      return user ? { kind: 'updated', before, user } : { kind: 'not_found' };
    });
  }

  async replacePasswordHash(id: string, expectedHash: string, newHash: string, now: number): Promise<boolean> {
    const n = await this.execute('UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND password_hash = $4', [
      newHash,
      now,
      id,
      expectedHash,
    ]);
    return n === 1;
  }

  // sessions and refresh tokens

  /**
   * The session and its first refresh token in one statement (one round trip instead of four
   * for BEGIN, two INSERTs and COMMIT): a statement is atomic, so either both rows exist or
   * neither does, as with the transaction it replaces.
   */
  async createSession(n: NewSession): Promise<SessionRecord> {
    const { rows } = await this.pool.query<SessionRow>({
      name: 'latchkey_create_session',
      text: `WITH s AS (
                 INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, idle_expires_at, user_agent, ip)
                 VALUES ($1, $2, $3, $3, $4, $5, $6, $7) RETURNING *
               ), t AS (
                 INSERT INTO refresh_tokens (token_hash, session_id, created_at) SELECT $8, id, created_at FROM s
               )
               SELECT * FROM s`,
      values: [n.id, n.userId, n.createdAt, n.expiresAt, n.idleExpiresAt, n.userAgent, n.ip, n.refreshTokenHash],
    });
    return sessionFromRow(rows[0]!);
  }

  /**
   * The hot path: every authenticated request. Lookups that arrive while a lookup statement is
   * out (LOOKUP_STATEMENTS_IN_FLIGHT) wait for it to finish, then go together in one statement
   * (`WHERE s.id = ANY($1)`): under load one round trip (one socket write, one wake-up of a
   * PostgreSQL backend, one execution of the prepared plan) serves many requests. Each request's
   * rows are still read by a statement sent after the request arrived, never reused from an
   * earlier one: a revocation committed before a request is always seen by it (no session cache).
   */
  getSessionWithUser(sessionId: string): Promise<SessionWithUser | null> {
    return new Promise((resolve, reject) => {
      this.lookups.push({ id: sessionId, resolve, reject });
      if (this.lookupsInFlight < LOOKUP_STATEMENTS_IN_FLIGHT) this.sendLookups();
    });
  }

  private sendLookups(): void {
    const batch = this.lookups.splice(0, LOOKUP_BATCH_MAX);
    if (batch.length === 0) return;
    this.lookupsInFlight++;
    this.pool
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
          for (const l of batch) l.reject(err);
        },
      )
      .finally(() => {
        this.lookupsInFlight--;
        if (this.lookups.length > 0) this.sendLookups();
      });
  }

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
  async rotateRefreshToken(input: RotateInput): Promise<RotateResult> {
    const { oldTokenHash, newTokenHash, now, idleTimeoutMs } = input;
    let rows: SessionUserRow[];
    try {
      ({ rows } = await this.pool.query<SessionUserRow>({
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
      if (!RETRYABLE.has(errorCode(err) ?? '')) throw err;
      rows = [];
    }
    const row = rows[0];
    if (row) {
      const { session, user } = sessionUserFromRow(row);
      return { kind: 'rotated', session, user };
    }
    return this.rotateInTransaction(input);
  }

  private async rotateInTransaction(input: RotateInput): Promise<RotateResult> {
    const { oldTokenHash, newTokenHash, now, graceMs, idleTimeoutMs } = input;
    return this.tx(async (c): Promise<RotateResult> => {
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
      if (s.revokedAt !== null) return { kind: 'invalid', reason: 'revoked' };
      if (now >= s.expiresAt) return { kind: 'invalid', reason: 'expired' };
      if (now >= s.idleExpiresAt) return { kind: 'invalid', reason: 'idle' };
      const user = userFromRow(row.u);
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

  async listSessions(userId: string, now: number): Promise<SessionRecord[]> {
    const rows = await this.query<SessionRow>(
      `SELECT * FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND idle_expires_at > $2
       ORDER BY last_used_at DESC`,
      [userId, now],
    );
    return rows.map(sessionFromRow);
  }

  async revokeSessionByRefreshToken(
    tokenHash: string,
    reason: string,
    now: number,
  ): Promise<{ sessionId: string; userId: string } | null> {
    const rows = await this.query<{ id: string; user_id: string }>(
      `UPDATE sessions SET revoked_at = $1, revoked_reason = $2
       WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $3) AND revoked_at IS NULL
       RETURNING id, user_id`,
      [now, reason, tokenHash],
    );
    return rows[0] ? { sessionId: rows[0].id, userId: rows[0].user_id } : null;
  }

  async revokeSession(userId: string, sessionId: string, reason: string, now: number): Promise<boolean> {
    const n = await this.execute(
      'UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL',
      [now, reason, sessionId, userId],
    );
    return n === 1;
  }

  async revokeUserSessions(userId: string, reason: string, now: number, exceptSessionId?: string): Promise<number> {
    return this.execute(
      `UPDATE sessions SET revoked_at = $1, revoked_reason = $2
       WHERE user_id = $3 AND revoked_at IS NULL AND id IS DISTINCT FROM $4`,
      [now, reason, userId, exceptSessionId ?? null],
    );
  }

  async purgeExpired(now: number, retentionMs: number, limit: number): Promise<number> {
    const cutoff = now - retentionMs;
    // SKIP LOCKED: a purge on one instance never waits for (nor blocks) a rotation on another.
    const sessions = await this.execute(
      `DELETE FROM sessions WHERE id IN (
         SELECT id FROM sessions WHERE expires_at <= $1 OR idle_expires_at <= $1
           OR (revoked_at IS NOT NULL AND revoked_at <= $2)
         LIMIT $3 FOR UPDATE SKIP LOCKED)`,
      [now, cutoff, limit],
    );
    const tokens = await this.execute(
      `DELETE FROM refresh_tokens WHERE token_hash IN (
         SELECT token_hash FROM refresh_tokens WHERE used_at IS NOT NULL AND used_at <= $1
         LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [cutoff, limit],
    );
    // One-time tokens that can no longer be used, and rate-limit windows that have ended.
    const oneTime = await this.execute(
      `DELETE FROM one_time_tokens WHERE token_hash IN (
         SELECT token_hash FROM one_time_tokens WHERE expires_at <= $1 OR (used_at IS NOT NULL AND used_at <= $1)
         LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [now, limit],
    );
    const counters = await this.execute(
      `DELETE FROM rate_counters WHERE key IN (
         SELECT key FROM rate_counters WHERE reset_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [now, limit],
    );
    return sessions + tokens + oneTime + counters;
  }

  // signing keys

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    return (await this.query<KeyRow>('SELECT * FROM signing_keys ORDER BY created_at, kid')).map(keyFromRow);
  }

  private async insertKey(c: PoolClient | Pool, key: SigningKeyRecord): Promise<void> {
    await c.query(
      `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retired_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [key.kid, key.alg, key.privateJwk, key.publicJwk, key.createdAt, key.retiredAt, key.expiresAt],
    );
  }

  async insertSigningKey(key: SigningKeyRecord): Promise<void> {
    await this.insertKey(this.pool, key);
  }

  async rotateSigningKey(key: SigningKeyRecord, now: number, expiresAt: number): Promise<void> {
    await this.tx(async (c) => {
      // Two rotations at once (two instances creating their first key) would otherwise each
      // retire only what they saw and leave two active keys.
      await c.query("SELECT pg_advisory_xact_lock(hashtext('latchkey.signing_keys'))");
      await c.query('UPDATE signing_keys SET retired_at = $1, expires_at = $2 WHERE retired_at IS NULL', [now, expiresAt]);
      await this.insertKey(c, key);
    });
  }

  async deleteExpiredSigningKeys(now: number): Promise<number> {
    return this.execute('DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at <= $1', [now]);
  }

  async replaceSigningKeyPrivate(kid: string, expected: string, privateJwk: string): Promise<boolean> {
    const n = await this.execute('UPDATE signing_keys SET private_jwk = $1 WHERE kid = $2 AND private_jwk = $3', [privateJwk, kid, expected]);
    return n === 1;
  }

  // security events

  async recordEvent(e: SecurityEvent): Promise<void> {
    await this.execute(
      `INSERT INTO security_events (id, user_id, type, ip, user_agent, detail, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [e.id, e.userId, e.type, e.ip, e.userAgent, e.detail === null ? null : JSON.stringify(e.detail), e.createdAt],
    );
  }

  async listEvents(userId: string, limit: number): Promise<SecurityEvent[]> {
    const rows = await this.query<EventRow>(
      'SELECT * FROM security_events WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2',
      [userId, limit],
    );
    return rows.map((r) => ({
      id: r.id,
      userId: r.user_id,
      type: r.type,
      ip: r.ip,
      userAgent: r.user_agent,
      detail: r.detail,
      createdAt: r.created_at,
    }));
  }

  async purgeEvents(before: number, limit: number): Promise<number> {
    return this.execute(
      'DELETE FROM security_events WHERE id IN (SELECT id FROM security_events WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)',
      [before, limit],
    );
  }

  // one-time tokens

  async createOneTimeToken(t: NewOneTimeToken): Promise<void> {
    await this.execute(
      `INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
      [t.tokenHash, t.userId, t.purpose, t.createdAt, t.expiresAt],
    );
  }

  async consumeOneTimeToken(tokenHash: string, purpose: OneTimeTokenPurpose, now: number): Promise<string | null> {
    // Concurrent updates of the row queue on its lock and re-check `used_at IS NULL`: one wins.
    const rows = await this.query<{ user_id: string }>(
      `UPDATE one_time_tokens SET used_at = $1
       WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1
       RETURNING user_id`,
      [now, tokenHash, purpose],
    );
    return rows[0]?.user_id ?? null;
  }

  async findOneTimeToken(tokenHash: string, purpose: OneTimeTokenPurpose, now: number): Promise<string | null> {
    const rows = await this.query<{ user_id: string }>(
      'SELECT user_id FROM one_time_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3',
      [tokenHash, purpose, now],
    );
    return rows[0]?.user_id ?? null;
  }

  async deleteOneTimeTokens(userId: string, purpose: OneTimeTokenPurpose): Promise<void> {
    await this.execute('DELETE FROM one_time_tokens WHERE user_id = $1 AND purpose = $2', [userId, purpose]);
  }

  // administration

  async listUsers(q: UserListQuery): Promise<UserPage> {
    const where: string[] = [];
    const values: unknown[] = [];
    const param = (value: unknown): string => {
      values.push(value);
      return `$${values.length}`;
    };
    if (q.cursor) {
      const c = decodeUserCursor(q.cursor);
      if (!c) return { users: [], nextCursor: null };
      where.push(`(created_at, id) > (${param(c[0])}, ${param(c[1])})`);
    }
    if (q.search) {
      const p = param(likePattern(q.search));
      where.push(`(lower(email) LIKE ${p} ESCAPE '\\' OR lower(coalesce(name, '')) LIKE ${p} ESCAPE '\\')`);
    }
    if (q.disabled !== undefined && q.disabled !== null) where.push(`disabled = ${param(q.disabled)}`);
    if (q.emailVerified !== undefined && q.emailVerified !== null) where.push(`email_verified = ${param(q.emailVerified)}`);
    if (q.role) where.push(`${param(q.role)} = ANY (roles)`);
    const limit = param(q.limit + 1);
    const rows = await this.query<UserRow>(
      `SELECT * FROM users ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at, id LIMIT ${limit}`,
      values,
    );
    const more = rows.length > q.limit;
    const users = rows.slice(0, q.limit).map(userFromRow);
    const last = users[users.length - 1];
    return { users, nextCursor: more && last ? encodeUserCursor(last.createdAt, last.id) : null };
  }

  async deleteUser(id: string): Promise<boolean> {
    // Sessions, refresh tokens, one-time tokens and events go by ON DELETE CASCADE, in this statement.
    return (await this.execute('DELETE FROM users WHERE id = $1', [id])) === 1;
  }

  async deleteUserKeepingRole(id: string, role: string): Promise<KeepRoleDelete> {
    return this.tx(async (c) => {
      const locked = await lockUserAndRoleHolders(c, id, role);
      const user = locked.find((u) => u.id === id);
      if (!user) return { kind: 'not_found' };
      if (takesRoleAway(user, null, role) && !locked.some((u) => u.id !== id && holdsRole(u, role))) return { kind: 'last_holder' };
      // Sessions, refresh tokens, one-time tokens and events go by ON DELETE CASCADE.
      const deleted = await c.query('DELETE FROM users WHERE id = $1', [id]);
      return deleted.rowCount === 1 ? { kind: 'deleted', user } : { kind: 'not_found' };
    });
  }

  async setPasswordHash(id: string, newHash: string, now: number): Promise<boolean> {
    return (await this.execute('UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3', [newHash, now, id])) === 1;
  }

  async countUsersWithRole(role: string): Promise<number> {
    const rows = await this.query<{ n: number }>('SELECT count(*) AS n FROM users WHERE $1 = ANY (roles)', [role]);
    return rows[0]?.n ?? 0;
  }

  // import

  async importUsers(users: NewUser[], onConflict: 'skip' | 'update'): Promise<ImportResult> {
    return this.tx(async (c) => {
      const result: ImportResult = { inserted: 0, updated: 0, skipped: 0 };
      for (const u of users) {
        const updatedAt = u.updatedAt ?? u.createdAt;
        const row = [u.id, u.email, u.name, u.passwordHash, u.roles, u.emailVerified, u.disabled ?? false, updatedAt, u.createdAt];
        const inserted = await c.query(
          `INSERT INTO users (id, email, name, password_hash, roles, email_verified, disabled, updated_at, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (email) DO NOTHING`,
          row,
        );
        if (inserted.rowCount === 1) {
          result.inserted++;
          continue;
        }
        if (onConflict === 'update') {
          // Never the id nor created_at: the existing account keeps its identity.
          const updated = await c.query(
            `UPDATE users SET name = $2, password_hash = $3, roles = $4, email_verified = $5, disabled = $6, updated_at = $7
             WHERE email = $1`,
            row.slice(1, 8),
          );
          if (updated.rowCount === 1) {
            result.updated++;
            continue;
          }
        }
        result.skipped++;
      }
      return result;
    });
  }

  async findUsersByEmailOrId(emails: string[], ids: string[]): Promise<UserRecord[]> {
    if (emails.length === 0 && ids.length === 0) return [];
    const rows = await this.query<UserRow>('SELECT * FROM users WHERE email = ANY ($1::text[]) OR id = ANY ($2::text[])', [
      emails,
      ids,
    ]);
    return rows.map(userFromRow);
  }

  // shared rate-limit counters

  async hitRateCounter(key: string, now: number, windowMs: number): Promise<RateCounter> {
    const rows = await this.query<{ count: number; reset_at: number }>(
      `INSERT INTO rate_counters (key, count, reset_at) VALUES ($1, 1, $3)
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN rate_counters.reset_at <= $2 THEN 1 ELSE rate_counters.count + 1 END,
         reset_at = CASE WHEN rate_counters.reset_at <= $2 THEN $3 ELSE rate_counters.reset_at END
       RETURNING count, reset_at`,
      [key, now, now + windowMs],
    );
    const row = rows[0]!;
    return { count: row.count, resetAt: row.reset_at };
  }

  async addRateCounts(increments: readonly RateCountIncrement[], now: number): Promise<RateCountTotal[]> {
    if (increments.length === 0) return [];
    // Rows are upserted in key order (ORDER BY k), so two instances flushing overlapping keys
    // lock them in the same order and cannot deadlock each other.
    const rows = await this.query<{ key: string; count: number; reset_at: number }>(
      `INSERT INTO rate_counters AS c (key, count, reset_at)
       SELECT k, n, $4::bigint + w FROM unnest($1::text[], $2::int[], $3::bigint[]) AS b(k, n, w) ORDER BY k
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN c.reset_at <= $4 THEN EXCLUDED.count ELSE c.count + EXCLUDED.count END,
         reset_at = CASE WHEN c.reset_at <= $4 THEN EXCLUDED.reset_at ELSE c.reset_at END
       RETURNING key, count, reset_at`,
      [increments.map((i) => i.key), increments.map((i) => i.count), increments.map((i) => i.windowMs), now],
    );
    return rows.map((r) => ({ key: r.key, count: r.count, resetAt: r.reset_at }));
  }

  async peekRateCounter(key: string, now: number): Promise<RateCounter | null> {
    const rows = await this.query<{ count: number; reset_at: number }>(
      'SELECT count, reset_at FROM rate_counters WHERE key = $1 AND reset_at > $2',
      [key, now],
    );
    return rows[0] ? { count: rows[0].count, resetAt: rows[0].reset_at } : null;
  }

  async resetRateCounter(key: string): Promise<void> {
    await this.execute('DELETE FROM rate_counters WHERE key = $1', [key]);
  }
}

/** `UPDATE users` with the fields of `patch`, on the pool or inside a transaction. */
async function updateUserOn(q: Pool | PoolClient, id: string, patch: UserPatch, now: number): Promise<UserRecord | null> {
  const values: unknown[] = [id, now];
  const sets = ['updated_at = $2'];
  const set = (column: string, value: unknown) => {
    values.push(value);
    sets.push(`${column} = $${values.length}`);
  };
  if (patch.name !== undefined) set('name', patch.name);
  if (patch.roles !== undefined) set('roles', patch.roles);
  if (patch.emailVerified !== undefined) set('email_verified', patch.emailVerified);
  if (patch.disabled !== undefined) set('disabled', patch.disabled);
  const { rows } = await q.query<UserRow>(`UPDATE users SET ${sets.join(', ')} WHERE id = $1 RETURNING *`, values);
  return rows[0] ? userFromRow(rows[0]) : null;
}

/**
 * Locks the user `id` and every enabled holder of `role`, in id order (so two such transactions
 * never wait on each other crosswise), and returns them as they are once locked. Why a lock and
 * not one conditional UPDATE: at READ COMMITTED a statement's subquery ("is there another enabled
 * holder?") reads the snapshot taken when the statement began, so two admins demoting each other
 * would each still see the other and both succeed. `FOR UPDATE` waits for a concurrent change of
 * a holder to commit and re-checks the row afterwards: a holder who was just demoted or deleted
 * drops out of the result, and the second change then finds itself the last holder.
 */
async function lockUserAndRoleHolders(c: PoolClient, id: string, role: string): Promise<UserRecord[]> {
  const { rows } = await c.query<UserRow>(
    'SELECT * FROM users WHERE id = $1 OR ($2 = ANY (roles) AND NOT disabled) ORDER BY id FOR UPDATE',
    [id, role],
  );
  return rows.map(userFromRow);
}

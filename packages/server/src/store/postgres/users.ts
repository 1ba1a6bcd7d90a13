import type { Pool, PoolClient } from 'pg';
import { holdsRole, takesRoleAway } from '../keep-role.js';
import { driverErrorCode } from '../errors.js';
import { decodeUserCursor, encodeUserCursor, likePattern, userPageSql, userSortKey } from '../query-helpers.js';
import type { AdminUserPatch, ImportResult, UserListQuery, UserRecord, UserStore } from '../types.js';
import type { PgConnection } from './connection.js';
import { postgresError } from './errors.js';
import { recordUserDeletion } from './revocations.js';

/** A `users` row as pg returns it (roles TEXT[], flags BOOLEAN, times BIGINT read as numbers). */
export interface UserRow {
  id: string;
  email: string;
  name: string | null;
  password_hash: string;
  roles: string[];
  email_verified: boolean;
  disabled: boolean;
  created_at: number;
  updated_at: number;
  last_sign_in_at: number | null;
}

export function userFromRow(r: UserRow): UserRecord {
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
    lastSignInAt: r.last_sign_in_at === null ? null : Number(r.last_sign_in_at),
  };
}

/** Thrown inside a transaction to leave it (rolled back) with the answer `email_taken`. */
class EmailTaken extends Error {}

/** The unique index of the email refused a write (23505 unique_violation on users_email_key). */
function isEmailClash(err: unknown): boolean {
  return driverErrorCode(err) === '23505' && (err as { constraint?: unknown }).constraint === 'users_email_key';
}

/**
 * The WHERE conditions of the admin list's filters (not the cursor), shared by the page and its
 * count; `param` adds a value and returns its placeholder.
 */
function filterConditions(q: UserListQuery, param: (value: unknown) => string): string[] {
  const where: string[] = [];
  if (q.search) {
    const p = param(likePattern(q.search));
    where.push(`(lower(email) LIKE ${p} ESCAPE '\\' OR lower(coalesce(name, '')) LIKE ${p} ESCAPE '\\')`);
  }
  if (q.disabled !== undefined && q.disabled !== null) where.push(`disabled = ${param(q.disabled)}`);
  if (q.emailVerified !== undefined && q.emailVerified !== null) where.push(`email_verified = ${param(q.emailVerified)}`);
  if (q.role) where.push(`${param(q.role)} = ANY (roles)`);
  return where;
}

/** `UPDATE users` with the fields of `patch`, on the pool or inside a transaction. */
async function updateUserOn(q: Pool | PoolClient, id: string, patch: AdminUserPatch, now: number): Promise<UserRecord | null> {
  const values: unknown[] = [id, now];
  const sets = ['updated_at = $2'];
  const set = (column: string, value: unknown) => {
    values.push(value);
    sets.push(`${column} = $${values.length}`);
  };
  if (patch.email !== undefined) set('email', patch.email);
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

/**
 * The users concern on PostgreSQL. createUser relies on the unique index (`ON CONFLICT DO
 * NOTHING`), so one insert wins; the last-holder guard locks the holders (lockUserAndRoleHolders).
 */
export function postgresUsers(db: PgConnection): UserStore {
  return {
    async createUser(u) {
      const rows = await db.query<UserRow>(
        `INSERT INTO users (id, email, name, password_hash, roles, email_verified, disabled, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         ON CONFLICT (email) DO NOTHING
         RETURNING *`,
        [u.id, u.email, u.name, u.passwordHash, u.roles, u.emailVerified, u.disabled ?? false, u.createdAt],
      );
      return rows[0] ? userFromRow(rows[0]) : null;
    },

    async findUserByEmail(email) {
      const rows = await db.query<UserRow>('SELECT * FROM users WHERE email = $1', [email]);
      return rows[0] ? userFromRow(rows[0]) : null;
    },

    async findUserById(id) {
      const rows = await db.query<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
      return rows[0] ? userFromRow(rows[0]) : null;
    },

    async updateUser(id, patch, now) {
      try {
        return await updateUserOn(db.pool, id, patch, now);
      } catch (err) {
        throw postgresError(err);
      }
    },

    async replacePasswordHash(id, expectedHash, newHash, now) {
      const n = await db.execute('UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND password_hash = $4', [
        newHash,
        now,
        id,
        expectedHash,
      ]);
      return n === 1;
    },

    async setPasswordHash(id, newHash, now) {
      return (await db.execute('UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3', [newHash, now, id])) === 1;
    },

    async listUsers(q) {
      const sort = q.sort ?? 'created_at';
      const order = q.order ?? 'asc';
      const values: unknown[] = [];
      const param = (value: unknown): string => {
        values.push(value);
        return `$${values.length}`;
      };
      const where = filterConditions(q, param);
      const filtered = where.length ? 'WHERE ' + where.join(' AND ') : '';
      // The count and the page are two statements on two connections at once: one round trip of waiting.
      const counted =
        q.count === false ? Promise.resolve(null) : db.query<{ n: number }>(`SELECT count(*) AS n FROM users ${filtered}`, [...values]).then((r) => Number(r[0]?.n ?? 0));
      const page = userPageSql(sort, order);
      if (q.cursor) {
        const c = decodeUserCursor(q.cursor);
        if (!c || c.sort !== sort || c.order !== order) return { users: [], nextCursor: null, total: await counted };
        where.push(page.after(param(c.key), param(c.id)));
      }
      const limit = param(q.limit + 1);
      const [rows, total] = await Promise.all([
        db.query<UserRow>(`SELECT * FROM users ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${page.orderBy} LIMIT ${limit}`, values),
        counted,
      ]);
      const more = rows.length > q.limit;
      const users = rows.slice(0, q.limit).map(userFromRow);
      const last = users[users.length - 1];
      const nextCursor = more && last ? encodeUserCursor({ sort, order, key: userSortKey(last, sort), id: last.id }) : null;
      return { users, nextCursor, total };
    },

    async deleteUser(id, now) {
      // Sessions, refresh tokens, one-time tokens and events go by ON DELETE CASCADE, in this statement.
      return db.tx(async (c) => {
        await recordUserDeletion(c, id, now);
        return (await c.query('DELETE FROM users WHERE id = $1', [id])).rowCount === 1;
      });
    },

    async updateUserKeepingRole(id, patch, now, role) {
      try {
        return await db.tx(async (c) => {
          const locked = await lockUserAndRoleHolders(c, id, role);
          const before = locked.find((u) => u.id === id);
          if (!before) return { kind: 'not_found' };
          if (takesRoleAway(before, patch, role) && !locked.some((u) => u.id !== id && holdsRole(u, role))) return { kind: 'last_holder' };
          const emailChanged = patch.email !== undefined && patch.email !== before.email;
          let user: UserRecord | null;
          try {
            user = await updateUserOn(c, id, patch, now);
          } catch (err) {
            // The unique index decides (a concurrent insert or change of the address waits for
            // the other transaction and then clashes); the transaction is rolled back.
            throw emailChanged && isEmailClash(err) ? new EmailTaken() : err;
          }
          // Links mailed to the old address (verification, reset, invitation) die with it.
          if (user && emailChanged) await c.query('DELETE FROM one_time_tokens WHERE user_id = $1', [id]);
          return user ? { kind: 'updated', before, user } : { kind: 'not_found' };
        });
      } catch (err) {
        if (err instanceof EmailTaken) return { kind: 'email_taken' };
        throw err;
      }
    },

    async deleteUserKeepingRole(id, role, now) {
      return db.tx(async (c) => {
        const locked = await lockUserAndRoleHolders(c, id, role);
        const user = locked.find((u) => u.id === id);
        if (!user) return { kind: 'not_found' };
        if (takesRoleAway(user, null, role) && !locked.some((u) => u.id !== id && holdsRole(u, role))) return { kind: 'last_holder' };
        // Sessions, refresh tokens, one-time tokens and events go by ON DELETE CASCADE.
        await recordUserDeletion(c, id, now);
        const deleted = await c.query('DELETE FROM users WHERE id = $1', [id]);
        return deleted.rowCount === 1 ? { kind: 'deleted', user } : { kind: 'not_found' };
      });
    },

    async countUsersWithRole(role) {
      const rows = await db.query<{ n: number }>('SELECT count(*) AS n FROM users WHERE $1 = ANY (roles)', [role]);
      return rows[0]?.n ?? 0;
    },

    async importUsers(users, onConflict) {
      return db.tx(async (c) => {
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
    },

    async findUsersByEmailOrId(emails, ids) {
      if (emails.length === 0 && ids.length === 0) return [];
      const rows = await db.query<UserRow>('SELECT * FROM users WHERE email = ANY ($1::text[]) OR id = ANY ($2::text[])', [
        emails,
        ids,
      ]);
      return rows.map(userFromRow);
    },
  };
}

import type Database from 'better-sqlite3';
import { takesRoleAway } from '../keep-role.js';
import { decodeUserCursor, encodeUserCursor, likePattern, userPageSql, userSortKey } from '../query-helpers.js';
import type { AdminUserPatch, ImportResult, KeepRoleDelete, KeepRoleUpdate, NewUser, UserListQuery, UserRecord, UserStore } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { guardOutages } from './errors.js';
import { prepareRevocationWrites } from './revocations.js';

interface UserRow {
  id: string;
  email: string;
  name: string | null;
  password_hash: string;
  roles: string;
  email_verified: number;
  disabled: number;
  created_at: number;
  updated_at: number;
  last_sign_in_at: number | null;
}

function userFromRow(r: UserRow): UserRecord {
  return {
    id: r.id,
    email: r.email,
    name: r.name,
    passwordHash: r.password_hash,
    roles: JSON.parse(r.roles) as string[],
    emailVerified: r.email_verified === 1,
    disabled: r.disabled === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastSignInAt: r.last_sign_in_at,
  };
}

/** A unique index refused the write (better-sqlite3's extended code). */
function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** The WHERE conditions of the admin list's filters (not the cursor), shared by the page and its count. */
function filterConditions(q: UserListQuery): { where: string[]; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (q.search) {
    where.push("(email LIKE @search ESCAPE '\\' OR lower(coalesce(name, '')) LIKE @search ESCAPE '\\')");
    params.search = likePattern(q.search);
  }
  if (q.disabled !== undefined && q.disabled !== null) {
    where.push('disabled = @disabled');
    params.disabled = q.disabled ? 1 : 0;
  }
  if (q.emailVerified !== undefined && q.emailVerified !== null) {
    where.push('email_verified = @verified');
    params.verified = q.emailVerified ? 1 : 0;
  }
  if (q.role) {
    where.push('EXISTS (SELECT 1 FROM json_each(users.roles) WHERE value = @role)');
    params.role = q.role;
  }
  return { where, params };
}

/** A new user as the named parameters of the users INSERT/UPDATE statements. */
function userParams(u: NewUser) {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    password_hash: u.passwordHash,
    roles: JSON.stringify(u.roles),
    email_verified: u.emailVerified ? 1 : 0,
    disabled: u.disabled ? 1 : 0,
    created_at: u.createdAt,
    updated_at: u.updatedAt ?? u.createdAt,
  };
}

function prepareUserStatements(db: Database.Database) {
  return {
    userByEmail: db.prepare<[string], UserRow>('SELECT * FROM users WHERE email = ?'),
    userById: db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?'),
    insertUser: db.prepare(
      `INSERT INTO users (id, email, name, password_hash, roles, email_verified, disabled, created_at, updated_at)
       VALUES (@id, @email, @name, @password_hash, @roles, @email_verified, @disabled, @created_at, @created_at)
       ON CONFLICT (email) DO NOTHING`,
    ),
    replaceHash: db.prepare('UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND password_hash = ?'),
    deleteUser: db.prepare('DELETE FROM users WHERE id = ?'),
    deleteUserTokens: db.prepare('DELETE FROM one_time_tokens WHERE user_id = ?'),
    setHash: db.prepare('UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?'),
    otherRoleHolder: db.prepare<[string, string], { one: number }>(
      `SELECT 1 AS one FROM users WHERE id <> ? AND disabled = 0
         AND EXISTS (SELECT 1 FROM json_each(users.roles) WHERE value = ?) LIMIT 1`,
    ),
    countRole: db.prepare<[string], { n: number }>(
      "SELECT count(*) AS n FROM users WHERE EXISTS (SELECT 1 FROM json_each(users.roles) WHERE value = ?)",
    ),
    importInsert: db.prepare(
      `INSERT INTO users (id, email, name, password_hash, roles, email_verified, disabled, created_at, updated_at)
       VALUES (@id, @email, @name, @password_hash, @roles, @email_verified, @disabled, @created_at, @updated_at)
       ON CONFLICT (email) DO NOTHING`,
    ),
    importUpdate: db.prepare(
      `UPDATE users SET name = @name, password_hash = @password_hash, roles = @roles, email_verified = @email_verified,
         disabled = @disabled, updated_at = @updated_at WHERE email = @email`,
    ),
    usersByEmailOrId: db.prepare<[string, string], UserRow>(
      `SELECT * FROM users WHERE email IN (SELECT value FROM json_each(?))
       UNION SELECT * FROM users WHERE id IN (SELECT value FROM json_each(?))`,
    ),
  };
}

/** The users concern on SQLite: accounts, administration (paging, the last-holder guard) and import. */
export function sqliteUsers(c: SqliteConnection): UserStore {
  const { db } = c;
  const s = c.statements(prepareUserStatements);
  const w = c.statements(prepareRevocationWrites);
  // The feed entry of a deletion, inside the deleting transaction (before the DELETE: it looks at the sessions).
  const recordUserDeletion = (userId: string, now: number) => w().insertUserDeletion.run({ userId, iatBefore: Math.floor(now / 1000) + 1, now });

  function updateUser(id: string, patch: AdminUserPatch, now: number): UserRecord | null {
    const sets: string[] = ['updated_at = @now'];
    const params: Record<string, unknown> = { id, now };
    if (patch.email !== undefined) {
      sets.push('email = @email');
      params.email = patch.email;
    }
    if (patch.name !== undefined) {
      sets.push('name = @name');
      params.name = patch.name;
    }
    if (patch.roles !== undefined) {
      sets.push('roles = @roles');
      params.roles = JSON.stringify(patch.roles);
    }
    if (patch.emailVerified !== undefined) {
      sets.push('email_verified = @emailVerified');
      params.emailVerified = patch.emailVerified ? 1 : 0;
    }
    if (patch.disabled !== undefined) {
      sets.push('disabled = @disabled');
      params.disabled = patch.disabled ? 1 : 0;
    }
    const info = db.prepare(`UPDATE users SET ${sets.join(', ')} WHERE id = @id`).run(params);
    if (info.changes === 0) return null;
    return userFromRow(s().userById.get(id)!);
  }

  // The check and the write of the two guarded changes below are one BEGIN IMMEDIATE
  // transaction: this process runs it without yielding, and another process on the same file
  // (a cluster worker) waits for the write lock before it reads, so it sees this change.

  const updateKeepingRole = db.transaction((id: string, patch: AdminUserPatch, now: number, role: string): KeepRoleUpdate => {
    const row = s().userById.get(id);
    if (!row) return { kind: 'not_found' };
    const before = userFromRow(row);
    if (takesRoleAway(before, patch, role) && !s().otherRoleHolder.get(id, role)) return { kind: 'last_holder' };
    const emailChanged = patch.email !== undefined && patch.email !== before.email;
    let user: UserRecord | null;
    try {
      user = updateUser(id, patch, now);
    } catch (err) {
      // The unique index decides; the failed statement wrote nothing and nothing was written before it.
      if (emailChanged && isUniqueViolation(err)) return { kind: 'email_taken' };
      throw err;
    }
    // Links mailed to the old address (verification, reset, invitation) die with it.
    if (user && emailChanged) s().deleteUserTokens.run(id);
    return user ? { kind: 'updated', before, user } : { kind: 'not_found' };
  });

  const deleteKeepingRole = db.transaction((id: string, role: string, now: number): KeepRoleDelete => {
    const row = s().userById.get(id);
    if (!row) return { kind: 'not_found' };
    const user = userFromRow(row);
    if (takesRoleAway(user, null, role) && !s().otherRoleHolder.get(id, role)) return { kind: 'last_holder' };
    recordUserDeletion(id, now);
    return s().deleteUser.run(id).changes === 1 ? { kind: 'deleted', user } : { kind: 'not_found' };
  });

  // Sessions, refresh tokens, one-time tokens and events go by ON DELETE CASCADE, in this transaction.
  const deleteOne = db.transaction((id: string, now: number) => {
    recordUserDeletion(id, now);
    return s().deleteUser.run(id).changes === 1;
  });

  const importBatch = db.transaction((users: NewUser[], onConflict: 'skip' | 'update'): ImportResult => {
    const result: ImportResult = { inserted: 0, updated: 0, skipped: 0 };
    for (const u of users) {
      const row = userParams(u);
      if (s().importInsert.run(row).changes === 1) result.inserted++;
      else if (onConflict === 'update' && s().importUpdate.run(row).changes === 1) result.updated++;
      else result.skipped++;
    }
    return result;
  });

  return guardOutages<UserStore>({
    createUser(u) {
      const info = s().insertUser.run(userParams(u));
      if (info.changes === 0) return null;
      return userFromRow(s().userById.get(u.id)!);
    },

    findUserByEmail(email) {
      const row = s().userByEmail.get(email);
      return row ? userFromRow(row) : null;
    },

    findUserById(id) {
      const row = s().userById.get(id);
      return row ? userFromRow(row) : null;
    },

    updateUser,

    replacePasswordHash(id, expectedHash, newHash, now) {
      return s().replaceHash.run(newHash, now, id, expectedHash).changes === 1;
    },

    setPasswordHash(id, newHash, now) {
      return s().setHash.run(newHash, now, id).changes === 1;
    },

    listUsers(q) {
      const sort = q.sort ?? 'created_at';
      const order = q.order ?? 'asc';
      const { where, params } = filterConditions(q);
      const filtered = where.length ? 'WHERE ' + where.join(' AND ') : '';
      const total =
        q.count === false ? null : db.prepare<Record<string, unknown>, { n: number }>(`SELECT count(*) AS n FROM users ${filtered}`).get(params)!.n;
      const page = userPageSql(sort, order);
      if (q.cursor) {
        const cursor = decodeUserCursor(q.cursor);
        if (!cursor || cursor.sort !== sort || cursor.order !== order) return { users: [], nextCursor: null, total };
        where.push(page.after('@cKey', '@cId'));
        params.cKey = cursor.key;
        params.cId = cursor.id;
      }
      params.limit = q.limit + 1;
      const sql = `SELECT * FROM users ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${page.orderBy} LIMIT @limit`;
      const rows = db.prepare<Record<string, unknown>, UserRow>(sql).all(params);
      const more = rows.length > q.limit;
      const users = rows.slice(0, q.limit).map(userFromRow);
      const last = users[users.length - 1];
      const nextCursor = more && last ? encodeUserCursor({ sort, order, key: userSortKey(last, sort), id: last.id }) : null;
      return { users, nextCursor, total };
    },

    deleteUser(id, now) {
      return deleteOne.immediate(id, now);
    },

    updateUserKeepingRole(id, patch, now, role) {
      return updateKeepingRole.immediate(id, patch, now, role);
    },

    deleteUserKeepingRole(id, role, now) {
      return deleteKeepingRole.immediate(id, role, now);
    },

    countUsersWithRole(role) {
      return s().countRole.get(role)?.n ?? 0;
    },

    importUsers(users, onConflict) {
      return importBatch.immediate(users, onConflict);
    },

    findUsersByEmailOrId(emails, ids) {
      if (emails.length === 0 && ids.length === 0) return [];
      return s().usersByEmailOrId.all(JSON.stringify(emails), JSON.stringify(ids)).map(userFromRow);
    },
  });
}

/**
 * The users concern of the storage contract: accounts, and the administration, paging and import
 * that read and write them.
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

/**
 * The user as an authenticated request sees it: every field but the password hash, which only
 * the password paths read (and load themselves), so it is never on `request.auth`.
 */
export type AuthUser = Omit<UserRecord, 'passwordHash'>;

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

export interface UserStore {
  /** Inserts a user. Returns null (and inserts nothing) when the email exists: race-safe. */
  createUser(user: NewUser): Promise<UserRecord | null>;
  findUserByEmail(email: string): Promise<UserRecord | null>;
  findUserById(id: string): Promise<UserRecord | null>;
  updateUser(id: string, patch: UserPatch, now: number): Promise<UserRecord | null>;
  /** Replaces the hash only if it is still `expectedHash` (a rehash never overwrites a change). */
  replacePasswordHash(id: string, expectedHash: string, newHash: string, now: number): Promise<boolean>;
  /** Sets the hash unconditionally (password reset, admin). */
  setPasswordHash(id: string, newHash: string, now: number): Promise<boolean>;

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
}

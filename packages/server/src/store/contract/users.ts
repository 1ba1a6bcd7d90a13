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
  /**
   * When the user last signed in (the creation of their newest session, see
   * SessionStore.createSession); null if never. Not an edit of the user: `updatedAt` stays.
   */
  lastSignInAt: number | null;
}

/**
 * The user as an authenticated request sees it: every field but the password hash, which only
 * the password paths read (and load themselves), so it is never on `request.auth`, and the last
 * sign-in, which only the admin API shows (the session lookup of every request does not read it).
 */
export type AuthUser = Omit<UserRecord, 'passwordHash' | 'lastSignInAt'>;

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
 * What an admin may change (updateUserKeepingRole): a UserPatch and the email (normalised by the
 * caller). Only that method takes an email, because only it answers a clash (`email_taken`).
 */
export interface AdminUserPatch extends UserPatch {
  email?: string;
}

/**
 * What a change guarded by "keep an enabled holder of this role" did (updateUserKeepingRole,
 * deleteUserKeepingRole). `last_holder`: the change would have left no enabled user with the
 * role, so nothing was written.
 */
export type KeepRoleUpdate =
  | { kind: 'updated'; before: UserRecord; user: UserRecord }
  | { kind: 'not_found' }
  | { kind: 'last_holder' }
  /** The patch's email belongs to another user (the unique index decided): nothing was written. */
  | { kind: 'email_taken' };

export type KeepRoleDelete = { kind: 'deleted'; user: UserRecord } | { kind: 'not_found' } | { kind: 'last_holder' };

/**
 * The orders of the admin list. `last_sign_in_at` places users who never signed in before
 * everyone else: first in `asc`, last in `desc`. Ties are broken by id, in the same direction.
 */
export type UserSort = 'created_at' | 'last_sign_in_at';
export type SortOrder = 'asc' | 'desc';

export interface UserListQuery {
  /**
   * Opaque cursor from a previous page's `nextCursor` of the same sort and order; a cursor of
   * another sort or order, or a malformed one, gives an empty page (callers check it first with
   * query-helpers' decodeUserCursor).
   */
  cursor?: string | null;
  /** Default `created_at`. */
  sort?: UserSort;
  /** Default `asc`. */
  order?: SortOrder;
  limit: number;
  /** Case-insensitive substring of the email or the name. */
  search?: string | null;
  disabled?: boolean | null;
  emailVerified?: boolean | null;
  role?: string | null;
  /** Count the matches (UserPage.total); default true. False skips the count and its cost: `total` is null. */
  count?: boolean;
}

export interface UserPage {
  users: UserRecord[];
  /** Pass back to get the next page; null on the last page. */
  nextCursor: string | null;
  /**
   * How many users match the filters (search, disabled, emailVerified, role), on every page
   * alike: an exact count with the same conditions, the cursor left out. Null when the query
   * said `count: false`.
   */
  total: number | null;
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
  /**
   * Pages users ordered by (sort key, id), both ascending or both descending; every user appears
   * exactly once across the pages of one sort and order (keyset paging on an index of each key),
   * as long as nobody changes while paging (a sign-in in between moves that user).
   */
  listUsers(query: UserListQuery): Promise<UserPage>;
  /**
   * Deletes a user with their sessions, tokens and events in one transaction; when they had a
   * session not yet revoked, a revocation feed entry for the user (at `now`) in the same one.
   */
  deleteUser(id: string, now: number): Promise<boolean>;
  /**
   * Updates a user unless the patch takes `role` from the last enabled user holding it (removes
   * the role, or disables them): then nothing is written and the result is `last_holder`. A
   * disabled holder does not count. Race-safe: the check and the write are one transaction that
   * locks the holders, so of two concurrent changes that each remove a different one of the last
   * two enabled holders exactly one is `updated`, the other `last_holder`. `before` is the row as
   * the change found it (under the lock).
   *
   * An `email` that differs from the stored one is written under the unique index: taken by
   * another user (even by one created or changed concurrently), the result is `email_taken` and
   * nothing is written; of concurrent changes to one address exactly one is `updated`. In the
   * same transaction every outstanding one-time token of the user is deleted: links mailed to the
   * old address (verification, reset, invitation) stop working. Sessions are untouched.
   */
  updateUserKeepingRole(id: string, patch: AdminUserPatch, now: number, role: string): Promise<KeepRoleUpdate>;
  /** deleteUser with the same guard and the same race-safety as updateUserKeepingRole. */
  deleteUserKeepingRole(id: string, role: string, now: number): Promise<KeepRoleDelete>;
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

/**
 * Database-neutral helpers shared by both adapters' queries (and the admin routes, which check a
 * cursor before asking the store).
 */

import type { SortOrder, UserRecord, UserSort } from './types.js';

/** A user-page cursor: the sort it belongs to and the (sort key, id) of the last row. */
export interface UserCursor {
  sort: UserSort;
  order: SortOrder;
  key: number;
  id: string;
}

/**
 * The SQL of each sort key, the same text in both adapters' queries and indexes (an index on an
 * expression serves only queries that repeat it). A user who never signed in sorts as -1, below
 * every real time: first ascending, last descending, in one total order that a keyset condition
 * can page through (a NULL would compare as unknown and drop out of every page).
 */
export const USER_SORT_SQL: Readonly<Record<UserSort, string>> = Object.freeze({
  created_at: 'created_at',
  last_sign_in_at: 'coalesce(last_sign_in_at, -1)',
});

/** The sort key of a user, as USER_SORT_SQL computes it. */
export function userSortKey(user: UserRecord, sort: UserSort): number {
  return sort === 'created_at' ? user.createdAt : (user.lastSignInAt ?? -1);
}

/**
 * Cursor of a user page: its sort and order and the (sort key, id) of the last row, base64url
 * JSON. The sort is in the cursor so that a cursor is refused by a list of another sort or
 * order: its key would be compared with another column.
 *
 * @example
 * encodeUserCursor({ sort: 'created_at', order: 'asc', key: 1767225600000, id: 'u1' });
 */
export function encodeUserCursor(cursor: UserCursor): string {
  return Buffer.from(JSON.stringify([`${cursor.sort}:${cursor.order}`, cursor.key, cursor.id])).toString('base64url');
}

const SORT_TAG = /^(created_at|last_sign_in_at):(asc|desc)$/;

/**
 * The cursor made by encodeUserCursor; null for anything else. A cursor of the earlier form,
 * `[created_at, id]`, is read as `created_at:asc` (the only order there was), so that a page
 * open during an upgrade still turns.
 *
 * @example
 * decodeUserCursor(encodeUserCursor({ sort: 'created_at', order: 'asc', key: 5, id: 'u1' })); // { sort: 'created_at', order: 'asc', key: 5, id: 'u1' }
 * decodeUserCursor('not-a-cursor'); // null
 */
export function decodeUserCursor(cursor: string): UserCursor | null {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(v)) return null;
    if (v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') {
      return { sort: 'created_at', order: 'asc', key: v[0] as number, id: v[1] };
    }
    const tag = v.length === 3 && typeof v[0] === 'string' ? SORT_TAG.exec(v[0]) : null;
    if (tag && Number.isSafeInteger(v[1]) && typeof v[2] === 'string') {
      return { sort: tag[1] as UserSort, order: tag[2] as SortOrder, key: v[1] as number, id: v[2] };
    }
  } catch {
    // fall through: a malformed cursor is treated as "no such page"
  }
  return null;
}

/**
 * The ORDER BY and the keyset condition of a user page in one sort and order: `after(k, i)` is
 * the SQL that keeps rows after the cursor's (key, id), with the adapter's placeholders (each
 * used twice). Written as `key >= k AND (key > k OR id > i)` rather than the row value
 * `(key, id) > (k, i)`: both databases seek an index on an expression with the range on its first
 * column, where SQLite scans from the start for a row value over an expression index.
 *
 * @example
 * const { orderBy, after } = userPageSql('last_sign_in_at', 'desc');
 * // orderBy: 'coalesce(last_sign_in_at, -1) DESC, id DESC'
 * // after('?1', '?2'): 'coalesce(last_sign_in_at, -1) <= ?1 AND (coalesce(last_sign_in_at, -1) < ?1 OR id < ?2)'
 */
export function userPageSql(sort: UserSort, order: SortOrder): { orderBy: string; after: (key: string, id: string) => string } {
  const key = USER_SORT_SQL[sort];
  const dir = order === 'asc' ? 'ASC' : 'DESC';
  const cmp = order === 'asc' ? '>' : '<';
  return { orderBy: `${key} ${dir}, id ${dir}`, after: (k, i) => `${key} ${cmp}= ${k} AND (${key} ${cmp} ${k} OR id ${cmp} ${i})` };
}

/**
 * Escapes LIKE wildcards so a search for "a_b%" matches literally (use with `ESCAPE '\'`).
 *
 * @example
 * likePattern('A_b%'); // '%a\\_b\\%%'
 */
export function likePattern(search: string): string {
  return '%' + search.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c) + '%';
}

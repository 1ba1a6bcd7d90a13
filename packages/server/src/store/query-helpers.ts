/**
 * Database-neutral helpers shared by both adapters' queries (and the admin routes, which check a
 * cursor before asking the store).
 */

/**
 * Cursor of a user page: the (created_at, id) of the last row, base64url JSON.
 *
 * @example
 * encodeUserCursor(1767225600000, 'u1'); // 'WzE3NjcyMjU2MDAwMDAsInUxIl0'
 */
export function encodeUserCursor(createdAt: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

/**
 * The (created_at, id) of a cursor made by encodeUserCursor; null for anything else.
 *
 * @example
 * decodeUserCursor(encodeUserCursor(5, 'u1')); // [5, 'u1']
 * decodeUserCursor('not-a-cursor'); // null
 */
export function decodeUserCursor(cursor: string): [number, string] | null {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') {
      return [v[0] as number, v[1] as string];
    }
  } catch {
    // fall through: a malformed cursor is treated as "no such page"
  }
  return null;
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

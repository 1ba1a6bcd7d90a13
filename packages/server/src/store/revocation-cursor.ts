/**
 * The revocation feed's cursor, `<xid>-<seq>` (contract/revocations.ts): both adapters write and
 * read the same shape, so the feed's routes validate it in one place.
 */
import type { RevocationCursor } from './contract/revocations.js';

const CURSOR = /^(0|[1-9][0-9]{0,19})-(0|[1-9][0-9]{0,18})$/;
const XID8_MAX = 2n ** 64n - 1n;
const BIGINT_MAX = 2n ** 63n - 1n;

/**
 * The cursor a string spells, or null when it is not one (the caller answers INVALID_CURSOR).
 *
 * @example
 * parseRevocationCursor('812-3') // { xid: '812', seq: '3' }
 * parseRevocationCursor('abc')   // null
 */
export function parseRevocationCursor(raw: string): RevocationCursor | null {
  const m = CURSOR.exec(raw);
  if (!m) return null;
  const [, xid, seq] = m as unknown as [string, string, string];
  if (BigInt(xid) > XID8_MAX || BigInt(seq) > BIGINT_MAX) return null;
  return { xid, seq };
}

/** `<xid>-<seq>`. */
export function formatRevocationCursor(xid: string | number | bigint, seq: string | number | bigint): string {
  return `${xid}-${seq}`;
}

/**
 * Orders two valid cursors as the feed orders their entries (negative: `a` comes first).
 *
 * @example
 * compareRevocationCursors('9-20', '10-1') < 0 // true
 */
export function compareRevocationCursors(a: string, b: string): number {
  const [ax, as] = a.split('-') as [string, string];
  const [bx, bs] = b.split('-') as [string, string];
  const x = BigInt(ax) - BigInt(bx);
  if (x !== 0n) return x < 0n ? -1 : 1;
  const s = BigInt(as) - BigInt(bs);
  return s === 0n ? 0 : s < 0n ? -1 : 1;
}

/**
 * `iat_before` of the user entry that revokeUserSessions writes beside its session entries:
 * the second of the revocation, so the entry voids tokens of the earlier seconds only. Tokens
 * issued in that very second before the revocation belong to the sessions it revoked, whose
 * own entries void them; a token issued in it after the revocation (a new sign-in) stays good.
 * (A deleted user gets `second + 1`: nothing of theirs may stay good.)
 */
export function userRevocationIatBefore(now: number): number {
  return Math.floor(now / 1000);
}

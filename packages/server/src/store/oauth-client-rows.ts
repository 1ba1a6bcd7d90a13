/** Row shape of `oauth_clients`, shared by both adapters (SQLite: integers and JSON text; PostgreSQL: booleans and JSONB). */
import type { OAuthClientMetadata, OAuthClientRecord } from './types.js';

export interface OAuthClientRow {
  id: string;
  name: string;
  secret_hash: string | null;
  /** JSON text on SQLite, already parsed (JSONB) on PostgreSQL. */
  metadata: string | OAuthClientMetadata;
  first_party: number | boolean;
  dynamic: number | boolean;
  created_at: number | string;
  updated_at: number | string;
  secret_rotated_at: number | string | null;
}

export function oauthClientFromRow(r: OAuthClientRow): OAuthClientRecord {
  return {
    id: r.id,
    name: r.name,
    secretHash: r.secret_hash,
    metadata: typeof r.metadata === 'string' ? (JSON.parse(r.metadata) as OAuthClientMetadata) : r.metadata,
    firstParty: r.first_party === true || r.first_party === 1,
    dynamic: r.dynamic === true || r.dynamic === 1,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    secretRotatedAt: r.secret_rotated_at === null ? null : Number(r.secret_rotated_at),
  };
}

/**
 * Cursor of a client page: the (created_at, id) of its last row, base64url JSON.
 *
 * @example
 * encodeOAuthClientCursor(1767225600000, 'cl_1'); // 'WzE3NjcyMjU2MDAwMDAsImNsXzEiXQ'
 */
export function encodeOAuthClientCursor(createdAt: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

/**
 * The cursor made by encodeOAuthClientCursor; null for anything else (the routes answer 422).
 *
 * @example
 * decodeOAuthClientCursor('nonsense'); // null
 */
export function decodeOAuthClientCursor(cursor: string): { createdAt: number; id: string } | null {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') return { createdAt: v[0] as number, id: v[1] };
  } catch {
    // fall through: not a cursor of ours
  }
  return null;
}

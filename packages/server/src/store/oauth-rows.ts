import type { OAuthGrantRecord, OAuthPayloadRecord } from './types.js';

/** An `oauth_payloads` row as both adapters read it (payload: JSON text on SQLite, parsed JSONB on PostgreSQL). */
export interface OAuthPayloadRow {
  model: string;
  id: string;
  payload: string | Record<string, unknown>;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  account_id: string | null;
  client_id: string | null;
  expires_at: number | string | null;
  consumed_at: number | string | null;
}

export function oauthPayloadFromRow(r: OAuthPayloadRow): OAuthPayloadRecord {
  return {
    model: r.model,
    id: r.id,
    payload: typeof r.payload === 'string' ? (JSON.parse(r.payload) as Record<string, unknown>) : r.payload,
    grantId: r.grant_id,
    userCode: r.user_code,
    uid: r.uid,
    accountId: r.account_id,
    clientId: r.client_id,
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
    consumedAt: r.consumed_at === null ? null : Number(r.consumed_at),
  };
}

/**
 * The scopes of an oidc-provider Grant payload: `openid.scope` (the OIDC scopes) and every
 * `resources[url]` (the scopes granted for an API), deduplicated, in first-seen order.
 */
export function grantScopes(payload: Record<string, unknown>): string[] {
  const out = new Set<string>();
  const add = (value: unknown) => {
    if (typeof value !== 'string') return;
    for (const s of value.split(' ')) if (s.length > 0) out.add(s);
  };
  const openid = payload.openid;
  if (openid !== null && typeof openid === 'object') add((openid as Record<string, unknown>).scope);
  const resources = payload.resources;
  if (resources !== null && typeof resources === 'object') for (const v of Object.values(resources as Record<string, unknown>)) add(v);
  return [...out];
}

/** A Grant row as the listings show it; createdAt is the payload's `iat` (seconds) in ms. */
export function oauthGrantFromRow(r: OAuthPayloadRow): OAuthGrantRecord {
  const rec = oauthPayloadFromRow(r);
  const iat = rec.payload.iat;
  return {
    id: rec.id,
    accountId: rec.accountId ?? '',
    clientId: rec.clientId ?? '',
    scopes: grantScopes(rec.payload),
    createdAt: typeof iat === 'number' ? iat * 1000 : 0,
    expiresAt: rec.expiresAt,
  };
}

/** The grant-listing cursor: the last row's (iat seconds, id), base64url JSON. */
export function encodeGrantCursor(iat: number, id: string): string {
  return Buffer.from(JSON.stringify([iat, id])).toString('base64url');
}

/** The cursor made by encodeGrantCursor; null for anything else (then the listing is empty: no such page). */
export function decodeGrantCursor(cursor: string): { iat: number; id: string } | null {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') return { iat: v[0] as number, id: v[1] };
  } catch {
    // fall through
  }
  return null;
}

/** The page of at most `limit` grants from rows fetched with limit + 1. */
export function grantPage(rows: OAuthPayloadRow[], limit: number): { grants: OAuthGrantRecord[]; nextCursor: string | null } {
  const grants = rows.slice(0, limit).map(oauthGrantFromRow);
  const last = grants[grants.length - 1];
  return { grants, nextCursor: rows.length > limit && last ? encodeGrantCursor(last.createdAt / 1000, last.id) : null };
}

import type { SessionRecord, SigningKeyRecord } from './types.js';

/** A `sessions` row as both adapters read it (times as epoch-ms numbers). */
export interface SessionRow {
  id: string;
  user_id: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  idle_expires_at: number;
  user_agent: string | null;
  ip: string | null;
  revoked_at: number | null;
  revoked_reason: string | null;
  /** Null on sessions older than migration 4: their auth_time is created_at. */
  auth_time: number | null;
  amr: string;
}

/** A `signing_keys` row. */
export interface KeyRow {
  kid: string;
  alg: string;
  private_jwk: string;
  public_jwk: string | null;
  created_at: number;
  retired_at: number | null;
  expires_at: number | null;
}

export function sessionFromRow(r: SessionRow): SessionRecord {
  return {
    id: r.id,
    userId: r.user_id,
    createdAt: Number(r.created_at),
    lastUsedAt: Number(r.last_used_at),
    expiresAt: Number(r.expires_at),
    idleExpiresAt: Number(r.idle_expires_at),
    userAgent: r.user_agent,
    ip: r.ip,
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    revokedReason: r.revoked_reason,
    authTime: r.auth_time === null ? Number(r.created_at) : Number(r.auth_time),
    amr: amrFromColumn(r.amr),
  };
}

/**
 * The `amr` column holds the methods space-separated ("pwd", "pwd otp mfa"). The few values that
 * occur are parsed once and shared (frozen), so a refresh allocates no array for them.
 */
const AMR_VALUES = new Map<string, readonly string[]>();

export function amrFromColumn(column: string): readonly string[] {
  let amr = AMR_VALUES.get(column);
  if (amr === undefined) {
    amr = Object.freeze(column.split(' ').filter((m) => m.length > 0));
    if (AMR_VALUES.size < 64) AMR_VALUES.set(column, amr);
  }
  return amr;
}

/** The `amr` column's text of a list of methods. */
export function amrToColumn(amr: readonly string[]): string {
  return amr.join(' ');
}

export function keyFromRow(r: KeyRow): SigningKeyRecord {
  return {
    kid: r.kid,
    alg: r.alg,
    privateJwk: r.private_jwk,
    publicJwk: r.public_jwk,
    createdAt: Number(r.created_at),
    retiredAt: r.retired_at === null ? null : Number(r.retired_at),
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
  };
}

import type { EmailSignInChallenge, ExchangeCodeRecord, FactorKind, FactorRecord, IdentityRecord, OAuthStateRecord, PasskeyDeviceType, PasskeyRecord, SessionRecord, SigningKeyRecord } from './types.js';

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

/** A `factors` row. */
export interface FactorRow {
  id: string;
  user_id: string;
  kind: string;
  secret: string;
  created_at: number;
  confirmed_at: number | null;
  last_used_step: number | null;
  last_used_at: number | null;
}

export function factorFromRow(r: FactorRow): FactorRecord {
  return {
    id: r.id,
    userId: r.user_id,
    kind: r.kind as FactorKind,
    secret: r.secret,
    createdAt: r.created_at,
    confirmedAt: r.confirmed_at,
    lastUsedStep: r.last_used_step,
    lastUsedAt: r.last_used_at,
  };
}

/** A `passkeys` row; `backed_up` is a BOOLEAN on PostgreSQL, 0 or 1 on SQLite. */
export interface PasskeyRow {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: string;
  counter: number;
  transports: string;
  device_type: string;
  backed_up: boolean | number;
  aaguid: string;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

export function passkeyFromRow(r: PasskeyRow): PasskeyRecord {
  return {
    id: r.id,
    userId: r.user_id,
    credentialId: r.credential_id,
    publicKey: r.public_key,
    counter: r.counter,
    transports: r.transports === '' ? [] : r.transports.split(','),
    deviceType: r.device_type as PasskeyDeviceType,
    backedUp: r.backed_up === true || r.backed_up === 1,
    aaguid: r.aaguid,
    name: r.name,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
  };
}

/** An `identities` row; `email_verified` is a BOOLEAN on PostgreSQL, 0 or 1 on SQLite. */
export interface IdentityRow {
  id: string;
  user_id: string;
  provider: string;
  subject: string;
  email: string | null;
  email_verified: boolean | number;
  created_at: number;
  last_used_at: number | null;
}

export function identityFromRow(r: IdentityRow): IdentityRecord {
  return {
    id: r.id,
    userId: r.user_id,
    provider: r.provider,
    subject: r.subject,
    email: r.email,
    emailVerified: r.email_verified === true || r.email_verified === 1,
    createdAt: Number(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
  };
}

/** An `oauth_states` row. */
export interface OAuthStateRow {
  state_hash: string;
  browser_hash: string;
  provider: string;
  nonce: string | null;
  code_verifier: string;
  redirect_to: string;
  app_code_challenge: string | null;
  link_user_id: string | null;
  created_at: number;
  expires_at: number;
}

export function oauthStateFromRow(r: OAuthStateRow): OAuthStateRecord {
  return {
    stateHash: r.state_hash,
    browserHash: r.browser_hash,
    provider: r.provider,
    nonce: r.nonce,
    codeVerifier: r.code_verifier,
    redirectTo: r.redirect_to,
    appCodeChallenge: r.app_code_challenge,
    linkUserId: r.link_user_id,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
  };
}

/** An `oauth_exchange_codes` row. */
export interface ExchangeCodeRow {
  code_hash: string;
  user_id: string;
  identity_id: string;
  purpose: string;
  app_code_challenge: string | null;
  created_at: number;
  expires_at: number;
}

export function exchangeCodeFromRow(r: ExchangeCodeRow): ExchangeCodeRecord {
  return {
    codeHash: r.code_hash,
    userId: r.user_id,
    identityId: r.identity_id,
    purpose: r.purpose === 'link' ? 'link' : 'sign_in',
    appCodeChallenge: r.app_code_challenge,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
  };
}

/** An `email_sign_in_challenges` row. */
export interface EmailSignInChallengeRow {
  id: string;
  email: string;
  token_hash: string;
  code_hash: string;
  attempts: number;
  created_at: number;
  expires_at: number;
}

export function emailSignInChallengeFromRow(r: EmailSignInChallengeRow): EmailSignInChallenge {
  return {
    id: r.id,
    email: r.email,
    tokenHash: r.token_hash,
    codeHash: r.code_hash,
    attempts: r.attempts,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
  };
}

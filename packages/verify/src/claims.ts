import type { JWTPayload } from 'jose';
import { InvalidTokenError } from './errors.js';

/** The claims of a Latchkey access token (RFC 9068 profile, plus roles). Frozen. */
export interface AccessTokenClaims {
  readonly iss: string;
  readonly aud: string;
  /** The user id. */
  readonly sub: string;
  /** The session id. */
  readonly sid: string;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
  readonly roles: readonly string[];
  readonly email_verified: boolean;
  /**
   * How the user authenticated (RFC 8176: `pwd`, `otp`, `hwk`, `swk`, `mfa`): every method the
   * session has proven, at its sign-in and its step-ups. Empty when the token carries none.
   */
  readonly amr: readonly string[];
  /** When the user last authenticated in this session (epoch seconds, RFC 9068); null when the token carries none. */
  readonly auth_time: number | null;
}

const NO_AMR: readonly string[] = Object.freeze([]);

/** The claims every Latchkey access token carries; one missing means it is not one. */
export const REQUIRED_CLAIMS = ['exp', 'iat', 'sub', 'sid', 'jti'];

/** Checks the types of the claims jose does not check and returns them frozen. */
export function toAccessTokenClaims(payload: JWTPayload, audiences: readonly string[]): AccessTokenClaims {
  const { sub, sid, jti, roles, email_verified: emailVerified, amr, auth_time: authTime } = payload;
  if (typeof sub !== 'string' || typeof sid !== 'string' || typeof jti !== 'string') {
    throw new InvalidTokenError('bad claims');
  }
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) throw new InvalidTokenError('bad roles');
  if (amr !== undefined && (!Array.isArray(amr) || !amr.every((m) => typeof m === 'string'))) throw new InvalidTokenError('bad amr');
  if (authTime !== undefined && (typeof authTime !== 'number' || !Number.isFinite(authTime))) throw new InvalidTokenError('bad auth_time');
  return Object.freeze({
    iss: payload.iss!,
    // jose already checked that one of the token's audiences is accepted; report that one.
    aud: typeof payload.aud === 'string' ? payload.aud : payload.aud!.find((a) => audiences.includes(a))!,
    sub,
    sid,
    jti,
    iat: payload.iat!,
    exp: payload.exp!,
    roles: Object.freeze([...(roles as string[])]),
    email_verified: emailVerified === true,
    amr: amr === undefined ? NO_AMR : Object.freeze([...(amr as string[])]),
    auth_time: authTime === undefined ? null : authTime,
  });
}

import type { AccessTokenClaims } from './claims.js';
import { AuthenticationRequiredError } from './errors.js';

/** What a route demands of the user's authentication, beyond a valid token. */
export interface AuthenticationRequirement {
  /** The user authenticated at most this many seconds ago (the token's `auth_time`). */
  maxAge?: number;
  /**
   * How they authenticated (the token's `amr`, RFC 8176): `'mfa'` for a multi-factor session,
   * or a list of which at least one must be there (`['hwk', 'swk']`: a passkey).
   */
  amr?: readonly string[] | 'mfa';
}

/**
 * Checks a requirement once, at start-up: a bad one throws a TypeError then, not at a request.
 *
 * @example
 * checkRequirement({ maxAge: 300, amr: 'mfa' });
 */
export function checkRequirement(requirement: AuthenticationRequirement): void {
  const { maxAge, amr } = requirement;
  if (maxAge !== undefined && (!Number.isSafeInteger(maxAge) || maxAge < 0)) {
    throw new TypeError('@latchkey/verify: maxAge must be a whole number of seconds, 0 or more');
  }
  if (amr !== undefined && amr !== 'mfa' && (!Array.isArray(amr) || amr.length === 0 || amr.some((m) => typeof m !== 'string' || m === ''))) {
    throw new TypeError("@latchkey/verify: amr must be 'mfa' or a non-empty list of amr values");
  }
}

/**
 * Why `claims` fall short of `requirement`, or null when they meet it. `nowMs` is the verifier's
 * clock. A token without `auth_time` never meets a `maxAge`.
 *
 * @example
 * const refused = authenticationShortfall(claims, { maxAge: 300 }, Date.now());
 */
export function authenticationShortfall(
  claims: Pick<AccessTokenClaims, 'amr' | 'auth_time'>,
  requirement: AuthenticationRequirement,
  nowMs: number,
): AuthenticationRequiredError | null {
  const { maxAge, amr } = requirement;
  if (maxAge !== undefined && (claims.auth_time === null || Math.floor(nowMs / 1000) - claims.auth_time > maxAge)) {
    return new AuthenticationRequiredError('auth_time', maxAge);
  }
  if (amr !== undefined && !(amr === 'mfa' ? claims.amr.includes('mfa') : amr.some((m) => claims.amr.includes(m)))) {
    return new AuthenticationRequiredError('amr', maxAge);
  }
  return null;
}

/**
 * Throws AuthenticationRequiredError unless the verified `claims` meet `requirement`: the user
 * authenticated at most `maxAge` seconds ago, by the `amr` asked for. Map the error to 403
 * REAUTHENTICATION_REQUIRED (what the Fastify and Express helpers answer with `maxAge`/`amr`
 * route options); the client then reauthenticates with Latchkey and retries.
 *
 * @example
 * const claims = await verifier.verify(token);
 * requireAuthentication(claims, { maxAge: 300, amr: 'mfa' }); // throws if older than 5 minutes or not MFA
 */
export function requireAuthentication(
  claims: Pick<AccessTokenClaims, 'amr' | 'auth_time'>,
  requirement: AuthenticationRequirement,
  options: { now?: number } = {},
): void {
  const refused = authenticationShortfall(claims, requirement, options.now ?? Date.now());
  if (refused !== null) throw refused;
}

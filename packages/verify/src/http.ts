import type { AccessTokenClaims } from './claims.js';
import { InvalidTokenError, JwksUnavailableError, RevocationsUnavailableError } from './errors.js';

/**
 * The token of an `Authorization: Bearer <token>` header, or null. The scheme is
 * case-insensitive (RFC 7235); a token in the URL or the body is never read (RFC 6750 §5.3).
 */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined || header.length < 8) return null;
  // Fast path for the usual spelling: one slice, no case folding.
  if (!header.startsWith('Bearer ') && header.slice(0, 7).toLowerCase() !== 'bearer ') return null;
  let start = 7;
  while (start < header.length && header.charCodeAt(start) === 32) start++;
  if (start === header.length) return null;
  return start === 7 ? header.slice(7) : header.slice(start);
}

/** Does `claims` carry every one of `roles`? */
export function hasRoles(claims: AccessTokenClaims, roles: readonly string[]): boolean {
  for (let i = 0; i < roles.length; i++) if (!claims.roles.includes(roles[i]!)) return false;
  return true;
}

/** One refusal, fully rendered once at start-up so that sending it allocates nothing. */
export interface Refusal {
  readonly status: 401 | 403 | 503;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

function quote(value: string): string {
  return value.replace(/["\\]/g, '');
}

function problem(status: number, code: string, title: string, detail: string, members: Record<string, unknown> = {}): string {
  // The same problem+json shape (and type URNs) as the Latchkey server's own errors.
  return JSON.stringify({ type: `urn:latchkey:error:${code.toLowerCase()}`, title, status, detail, code, ...members });
}

function refusal(status: Refusal['status'], challenge: string | null, body: string, extra: Record<string, string> = {}): Refusal {
  const headers: Record<string, string> = {
    'content-type': 'application/problem+json; charset=utf-8',
    'cache-control': 'no-store',
    ...extra,
  };
  if (challenge !== null) headers['www-authenticate'] = challenge;
  return Object.freeze({ status, headers: Object.freeze(headers), body });
}

/** The answers of the HTTP helpers, with RFC 6750 challenges. */
export interface Refusals {
  /** No bearer token: 401, challenge without an error code (RFC 6750 §3.1). */
  missing: Refusal;
  /** Token refused: 401, error="invalid_token". */
  invalid: Refusal;
  /** Token revoked (seen on the revocation feed): 401, error="invalid_token", said so in error_description. */
  revoked: Refusal;
  /** Key unknown and JWKS unreachable: 503 with Retry-After. */
  unavailable: Refusal;
  /** The revocation feed silent for longer than `refuseAfterSeconds`: 503 with Retry-After. */
  revocationsUnavailable: Refusal;
  /** Valid token without the roles the route requires: 403, error="insufficient_scope". */
  forbidden(roles: readonly string[]): Refusal;
  /**
   * Valid token whose authentication is too old or not of a required method: 403
   * REAUTHENTICATION_REQUIRED (with `max_age` when the route has one), the challenge of RFC 9470
   * (error="insufficient_user_authentication").
   */
  reauthenticate(maxAge: number | undefined): Refusal;
}

export function buildRefusals(realm: string | undefined, retryAfterSeconds: number): Refusals {
  const base = realm === undefined ? 'Bearer' : `Bearer realm="${quote(realm)}"`;
  const withError = (error: string, description: string) =>
    `${base}${realm === undefined ? ' ' : ', '}error="${error}", error_description="${description}"`;
  return {
    missing: refusal(
      401,
      base,
      problem(401, 'UNAUTHORIZED', 'Authentication required', 'Send an access token as Authorization: Bearer <token>.'),
    ),
    invalid: refusal(
      401,
      withError('invalid_token', 'The access token is invalid or has expired'),
      problem(401, 'INVALID_TOKEN', 'Invalid access token', 'The access token is invalid or has expired.'),
    ),
    revoked: refusal(
      401,
      withError('invalid_token', 'The access token has been revoked'),
      problem(401, 'INVALID_TOKEN', 'Invalid access token', 'The access token has been revoked.'),
    ),
    unavailable: refusal(
      503,
      null,
      problem(503, 'SERVICE_UNAVAILABLE', 'Service unavailable', 'The signing keys cannot be fetched; retry shortly.'),
      { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    ),
    revocationsUnavailable: refusal(
      503,
      null,
      problem(503, 'SERVICE_UNAVAILABLE', 'Service unavailable', 'The revocation feed cannot be reached; retry shortly.'),
      { 'retry-after': '5' },
    ),
    forbidden(roles) {
      const scope = roles.map(quote).join(' ');
      return refusal(
        403,
        `${withError('insufficient_scope', 'The access token lacks a required role')}, scope="${scope}"`,
        problem(403, 'FORBIDDEN', 'Forbidden', `This route requires the role(s): ${roles.join(', ')}.`),
      );
    },
    reauthenticate(maxAge) {
      // 403 as Latchkey's own step-up answers, not RFC 9470's 401: a client that refreshes and
      // retries on a 401 (as @latchkey/client does) would only repeat the request unchanged.
      const challenge = withError('insufficient_user_authentication', 'A more recent or stronger authentication is required');
      return refusal(
        403,
        maxAge === undefined ? challenge : `${challenge}, max_age="${maxAge}"`,
        problem(
          403,
          'REAUTHENTICATION_REQUIRED',
          'Reauthentication required',
          'Confirm it is you (POST /auth/reauthenticate on Latchkey), then retry.',
          maxAge === undefined ? {} : { max_age: maxAge },
        ),
      );
    },
  };
}

/** Which refusal an error from `Verifier.verify` calls for. */
export function refusalFor(refusals: Refusals, err: unknown): Refusal {
  if (err instanceof JwksUnavailableError) return refusals.unavailable;
  if (err instanceof RevocationsUnavailableError) return refusals.revocationsUnavailable;
  if (err instanceof InvalidTokenError && err.reason === 'revoked') return refusals.revoked;
  return refusals.invalid;
}

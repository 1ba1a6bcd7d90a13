import { AppError, type ErrorCode, type OAuthError } from '../errors.js';
import type { Failure, Outcome } from '../outcome.js';

/**
 * The RFC 6749 `error` value of a failure on a token endpoint (login, refresh).
 *
 * @example
 * oauthErrorFor('VALIDATION_FAILED') // 'invalid_request'
 */
export function oauthErrorFor(code: ErrorCode): OAuthError {
  if (code === 'VALIDATION_FAILED' || code === 'INVALID_REQUEST') return 'invalid_request';
  if (code === 'UNSUPPORTED_GRANT_TYPE') return 'unsupported_grant_type';
  return 'invalid_grant';
}

/**
 * The AppError a service failure becomes: the one place a `Failure` turns into an HTTP error.
 * `oauth`: true on a token endpoint (the `error` member follows the code), or the `error` value
 * itself when the route knows better (a missing parameter is `invalid_request`).
 */
export function failureToError(f: Failure, oauth: boolean | OAuthError = false): AppError {
  const oauthError = oauth === false ? undefined : oauth === true ? oauthErrorFor(f.code) : oauth;
  const headers = f.retryAfter !== undefined ? { 'retry-after': String(f.retryAfter) } : undefined;
  return new AppError(f.code, { detail: f.detail, errors: f.fields, oauthError, headers, members: f.members });
}

/**
 * How a route handler answers a service's outcome: the value, or the failure thrown as its
 * AppError for the error handler to render (problem+json, one place).
 *
 * @example
 * const user = unwrap(await updateProfile(ctx, request.auth!.user.id, request.body));
 * return { user: publicUser(user) };
 */
export function unwrap<T>(outcome: Outcome<T>, oauth: boolean | OAuthError = false): T {
  if (!outcome.ok) throw failureToError(outcome, oauth);
  return outcome.value;
}

/**
 * `unwrap` for a failure the route itself found (a missing parameter, a wrong grant type):
 * thrown as its AppError.
 *
 * @example
 * if (!token) refuse(failure('INVALID_REFRESH_TOKEN', 'Send {"refresh_token": ...}.'), 'invalid_request');
 */
export function refuse(f: Failure, oauth: boolean | OAuthError = false): never {
  throw failureToError(f, oauth);
}

/** One field problem of a 422 VALIDATION_FAILED response. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * The codes Latchkey answers with (docs/errors.md), plus the SDK's own `NETWORK_ERROR` (no answer),
 * `UNEXPECTED_RESPONSE` (an answer that is not Latchkey's problem+json), `PASSKEYS_UNSUPPORTED`
 * (no WebAuthn here) and `PASSKEY_CANCELLED` (the browser's passkey dialog was dismissed or
 * timed out); the SDK's own codes have status 0. A social sign-in's refusal that arrives in the
 * redirect's address (`?error=CODE`) also has status 0, as does INVALID_OAUTH_STATE for a code
 * this tab did not ask for (handleRedirectCallback).
 */
export type LatchkeyErrorCode =
  | 'INVALID_REQUEST'
  | 'VALIDATION_FAILED'
  | 'INVALID_CREDENTIALS'
  | 'UNSUPPORTED_GRANT_TYPE'
  | 'EMAIL_TAKEN'
  | 'EMAIL_ALREADY_VERIFIED'
  | 'UNAUTHORIZED'
  | 'INVALID_TOKEN'
  | 'INVALID_REFRESH_TOKEN'
  | 'REFRESH_TOKEN_REUSED'
  | 'SESSION_EXPIRED'
  | 'ACCOUNT_DISABLED'
  | 'EMAIL_NOT_VERIFIED'
  | 'FORBIDDEN'
  | 'CSRF_FAILED'
  | 'CORS_ORIGIN_DENIED'
  | 'NOT_FOUND'
  | 'LAST_ADMIN'
  | 'METHOD_NOT_ALLOWED'
  | 'PASSWORD_UNCHANGED'
  | 'TOKEN_INVALID'
  | 'MFA_REQUIRED'
  | 'MFA_TOKEN_INVALID'
  | 'INVALID_MFA_CODE'
  | 'FACTOR_ALREADY_ENROLLED'
  | 'MFA_ENROLLMENT_REQUIRED'
  | 'FACTOR_REQUIRED_BY_POLICY'
  | 'REAUTHENTICATION_REQUIRED'
  | 'REAUTHENTICATION_METHOD_UNAVAILABLE'
  | 'PASSKEY_CHALLENGE_INVALID'
  | 'PASSKEY_UNKNOWN'
  | 'PASSKEY_INVALID'
  | 'PASSKEY_COUNTER_REGRESSION'
  | 'PASSKEY_USER_VERIFICATION_REQUIRED'
  | 'PASSKEY_ALREADY_REGISTERED'
  | 'REDIRECT_NOT_ALLOWED'
  | 'INVALID_OAUTH_STATE'
  | 'PROVIDER_ERROR'
  | 'PROVIDER_UNAVAILABLE'
  | 'INVALID_ID_TOKEN'
  | 'ACCOUNT_EXISTS_LINK_REQUIRED'
  | 'EMAIL_NOT_VERIFIED_BY_PROVIDER'
  | 'INVALID_EXCHANGE_CODE'
  | 'IDENTITY_NOT_FOUND'
  | 'IDENTITY_ALREADY_LINKED'
  | 'LAST_SIGN_IN_METHOD'
  | 'PASSWORD_NOT_SET'
  | 'INVALID_SIGN_IN_CODE'
  | 'OAUTH_GRANT_NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'HEADERS_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'OVERLOADED'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL_ERROR'
  | 'NETWORK_ERROR'
  | 'UNEXPECTED_RESPONSE'
  | 'PASSKEYS_UNSUPPORTED'
  | 'PASSKEY_CANCELLED';

/**
 * An error answered by Latchkey (problem+json), or `NETWORK_ERROR` when the server could not
 * be reached. Branch on `code`, never on `message`.
 *
 * @example
 * try { await client.login({ email, password }); }
 * catch (e) {
 *   if (e instanceof LatchkeyError && e.code === 'INVALID_CREDENTIALS') showWrongPassword();
 *   if (e instanceof LatchkeyError && e.code === 'RATE_LIMITED') showRetryIn(e.retryAfter);
 * }
 */
export class LatchkeyError extends Error {
  override name = 'LatchkeyError';
  constructor(
    /**
     * Latchkey's stable UPPER_SNAKE code, or NETWORK_ERROR / UNEXPECTED_RESPONSE. Typed as the
     * known codes, but a newer server may answer one this SDK does not list yet.
     */
    readonly code: LatchkeyErrorCode | (string & {}),
    message: string,
    /** The HTTP status; 0 when no response arrived. */
    readonly status: number,
    /** Per-field problems of VALIDATION_FAILED. */
    readonly errors: FieldError[] = [],
    /**
     * Seconds to wait before trying again, from the `Retry-After` header (429 RATE_LIMITED,
     * 503 OVERLOADED / SERVICE_UNAVAILABLE); null when the answer had none.
     */
    readonly retryAfter: number | null = null,
    /**
     * Why the server ended the session, on INVALID_REFRESH_TOKEN and INVALID_TOKEN of an ended
     * session (`logout`, `revoked_by_user`, `revoked_by_admin`, `password_changed`,
     * `password_reset`, `roles_changed`, `reuse_detected`, `account_disabled`, `revoked`;
     * docs/errors.md); null when the answer has none. The client's state says it as a
     * SignOutReason.
     */
    readonly reason: string | null = null,
  ) {
    super(message);
  }
}

/** What `reauthenticate` accepts, as the server names them in `methods`. */
export type ReauthenticationMethod = 'password' | 'code' | 'recovery_code' | 'passkey';

/**
 * 403 REAUTHENTICATION_REQUIRED: the action needs a recent authentication (docs/factors.md,
 * Step-up). Ask the user for one of `methods`, call `reauthenticate(...)` (or
 * `reauthenticateWithPasskey()`), then retry the action within `maxAge` seconds.
 *
 * @example
 * try { await auth.removePasskey(id); }
 * catch (e) {
 *   if (e instanceof ReauthenticationRequiredError) {
 *     await auth.reauthenticate({ password: await askForPassword(e.methods) });
 *     await auth.removePasskey(id);
 *   }
 * }
 */
export class ReauthenticationRequiredError extends LatchkeyError {
  override name = 'ReauthenticationRequiredError';
  constructor(
    message: string,
    status: number,
    /** Seconds a reauthentication counts as recent (the server's STEP_UP_MAX_AGE); null when not said. */
    readonly maxAge: number | null,
    /** What this account may reauthenticate with; the server's own order. */
    readonly methods: ReauthenticationMethod[],
  ) {
    super('REAUTHENTICATION_REQUIRED', message, status);
  }
}

interface ProblemBody {
  code?: unknown;
  detail?: unknown;
  title?: unknown;
  errors?: unknown;
  reason?: unknown;
  max_age?: unknown;
  methods?: unknown;
}

function methodsOf(raw: unknown): ReauthenticationMethod[] {
  return Array.isArray(raw) ? raw.filter((m): m is ReauthenticationMethod => ['password', 'code', 'recovery_code', 'passkey'].includes(m as string)) : [];
}

function fieldErrors(raw: unknown): FieldError[] {
  if (!Array.isArray(raw)) return [];
  return raw
    .filter((e): e is { field: unknown; message: unknown } => typeof e === 'object' && e !== null)
    .map((e) => ({ field: String(e.field ?? ''), message: String(e.message ?? '') }));
}

/**
 * `Retry-After` as whole seconds from `now`: delta-seconds (what Latchkey sends) or an HTTP date
 * (what a proxy in front of it may send), RFC 9110 §10.2.3. Null when absent or unreadable.
 *
 * @example
 * parseRetryAfter('30');                                              // 30
 * parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', Date.UTC(2015, 9, 21, 7, 28)); // 30
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  // Every HTTP-date form names a day and month; Date.parse alone would take '-5' for a year.
  if (!/[A-Za-z]{3}/.test(trimmed)) return null;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

/** Turns a non-2xx response into a LatchkeyError (reads the body). */
export async function errorFromResponse(response: Response): Promise<LatchkeyError> {
  let body: ProblemBody = {};
  try {
    body = (await response.json()) as ProblemBody;
  } catch {
    // Not JSON (a proxy's error page): fall back to the status line.
  }
  const code = typeof body.code === 'string' ? body.code : 'UNEXPECTED_RESPONSE';
  const message =
    typeof body.detail === 'string' ? body.detail : typeof body.title === 'string' ? body.title : `HTTP ${response.status}`;
  if (code === 'REAUTHENTICATION_REQUIRED') {
    return new ReauthenticationRequiredError(message, response.status, typeof body.max_age === 'number' ? body.max_age : null, methodsOf(body.methods));
  }
  return new LatchkeyError(
    code,
    message,
    response.status,
    fieldErrors(body.errors),
    parseRetryAfter(response.headers.get('retry-after')),
    typeof body.reason === 'string' ? body.reason : null,
  );
}

export function networkError(cause: unknown): LatchkeyError {
  const error = new LatchkeyError('NETWORK_ERROR', 'The authentication server could not be reached.', 0);
  (error as { cause?: unknown }).cause = cause;
  return error;
}

/**
 * The one registry of public error codes: code -> HTTP status, title and (for the OAuth2
 * endpoints) the RFC 6749 `error` value. docs/errors.md documents every code; a test fails
 * when one is missing there.
 */
export const ERROR_CODES = {
  INVALID_REQUEST: { status: 400, title: 'Malformed request' },
  VALIDATION_FAILED: { status: 422, title: 'Validation failed' },
  INVALID_CREDENTIALS: { status: 400, title: 'Invalid email or password' },
  UNSUPPORTED_GRANT_TYPE: { status: 400, title: 'Unsupported grant type' },
  EMAIL_TAKEN: { status: 409, title: 'Email already registered' },
  EMAIL_ALREADY_VERIFIED: { status: 409, title: 'Email already verified' },
  UNAUTHORIZED: { status: 401, title: 'Authentication required' },
  INVALID_TOKEN: { status: 401, title: 'Invalid access token' },
  INVALID_REFRESH_TOKEN: { status: 401, title: 'Invalid refresh token' },
  REFRESH_TOKEN_REUSED: { status: 401, title: 'Refresh token reused' },
  SESSION_EXPIRED: { status: 401, title: 'Session expired' },
  ACCOUNT_DISABLED: { status: 403, title: 'Account disabled' },
  EMAIL_NOT_VERIFIED: { status: 403, title: 'Email not verified' },
  FORBIDDEN: { status: 403, title: 'Forbidden' },
  CSRF_FAILED: { status: 403, title: 'CSRF check failed' },
  CORS_ORIGIN_DENIED: { status: 403, title: 'Origin not allowed' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  LAST_ADMIN: { status: 409, title: 'Last admin' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  PASSWORD_UNCHANGED: { status: 422, title: 'New password must differ' },
  TOKEN_INVALID: { status: 400, title: 'Invalid or expired token' },
  MFA_REQUIRED: { status: 400, title: 'Second factor required' },
  MFA_TOKEN_INVALID: { status: 400, title: 'Invalid or expired MFA token' },
  INVALID_MFA_CODE: { status: 400, title: 'Invalid verification code' },
  FACTOR_ALREADY_ENROLLED: { status: 409, title: 'Factor already enrolled' },
  MFA_ENROLLMENT_REQUIRED: { status: 400, title: 'Second factor enrolment required' },
  FACTOR_REQUIRED_BY_POLICY: { status: 403, title: 'Second factor required by policy' },
  REAUTHENTICATION_REQUIRED: { status: 403, title: 'Reauthentication required' },
  REAUTHENTICATION_METHOD_UNAVAILABLE: { status: 400, title: 'Reauthentication method not available' },
  PASSKEY_CHALLENGE_INVALID: { status: 400, title: 'Invalid or expired passkey challenge' },
  PASSKEY_UNKNOWN: { status: 400, title: 'Unknown passkey' },
  PASSKEY_INVALID: { status: 400, title: 'Passkey response rejected' },
  PASSKEY_COUNTER_REGRESSION: { status: 400, title: 'Passkey signature counter went back' },
  PASSKEY_USER_VERIFICATION_REQUIRED: { status: 400, title: 'Passkey user verification required' },
  PASSKEY_ALREADY_REGISTERED: { status: 409, title: 'Passkey already registered' },
  // Social sign-in and linked identities (docs/social-login.md).
  REDIRECT_NOT_ALLOWED: { status: 400, title: 'Redirect URL not allowed' },
  INVALID_OAUTH_STATE: { status: 400, title: 'Invalid or expired sign-in state' },
  PROVIDER_ERROR: { status: 502, title: 'Sign-in provider error' },
  PROVIDER_UNAVAILABLE: { status: 503, title: 'Sign-in provider unavailable' },
  INVALID_ID_TOKEN: { status: 502, title: 'ID token rejected' },
  ACCOUNT_EXISTS_LINK_REQUIRED: { status: 409, title: 'Account exists: sign in and link' },
  EMAIL_NOT_VERIFIED_BY_PROVIDER: { status: 403, title: 'Email not verified by the provider' },
  INVALID_EXCHANGE_CODE: { status: 400, title: 'Invalid or expired exchange code' },
  IDENTITY_NOT_FOUND: { status: 404, title: 'Identity not found' },
  WEBHOOK_NOT_FOUND: { status: 404, title: 'Webhook endpoint not found' },
  WEBHOOK_URL_NOT_ALLOWED: { status: 400, title: 'Webhook URL not allowed' },
  UNKNOWN_EVENT_TYPE: { status: 422, title: 'Unknown event type' },
  DELIVERY_NOT_FOUND: { status: 404, title: 'Delivery not found' },
  LAST_SIGN_IN_METHOD: { status: 409, title: 'Last sign-in method' },
  IDENTITY_ALREADY_LINKED: { status: 409, title: 'Identity linked to another account' },
  PASSWORD_NOT_SET: { status: 409, title: 'No password set' },
  // The OAuth provider's clients and grants (docs/oauth-provider.md, "Registering clients").
  OAUTH_CLIENT_NOT_FOUND: { status: 404, title: 'OAuth client not found' },
  OAUTH_CLIENT_HAS_NO_SECRET: { status: 409, title: 'OAuth client has no secret' },
  OAUTH_GRANT_NOT_FOUND: { status: 404, title: 'OAuth grant not found' },
  // Email sign-in (docs/email.md, "Email sign-in").
  INVALID_SIGN_IN_CODE: { status: 400, title: 'Invalid or expired sign-in code' },
  // The revocation feed (docs/verify.md, "Revocation feed").
  REVOCATION_FEED_UNAUTHORIZED: { status: 401, title: 'Revocation feed credential required' },
  INVALID_CURSOR: { status: 400, title: 'Invalid cursor' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request header fields too large' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  OVERLOADED: { status: 503, title: 'Server busy' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'Service unavailable' },
  INTERNAL_ERROR: { status: 500, title: 'Internal server error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** RFC 6749 error values used on the token endpoints. */
export type OAuthError = 'invalid_request' | 'invalid_grant' | 'unsupported_grant_type' | 'invalid_client';

export interface FieldError {
  field: string;
  message: string;
}

/**
 * Extension members some problems carry besides the standard ones (docs/errors.md,
 * "Extension members"): what a client can act on without parsing `detail`.
 */
export interface ProblemMembers {
  /** Why a session ended (INVALID_REFRESH_TOKEN, INVALID_TOKEN of a revoked session). */
  reason?: string;
  /** EMAIL_NOT_VERIFIED: whether this refusal mailed a new verification link. */
  mail_sent?: boolean;
  /** REAUTHENTICATION_REQUIRED: how recent (seconds, STEP_UP_MAX_AGE) the authentication must be. */
  max_age?: number;
  /** REAUTHENTICATION_REQUIRED, REAUTHENTICATION_METHOD_UNAVAILABLE: what POST /auth/reauthenticate accepts for this account. */
  methods?: readonly string[];
}

/** The problem+json body every error response carries (RFC 9457, plus a stable `code`). */
export interface Problem extends ProblemMembers {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  error?: OAuthError;
  /** With `error`: the detail as RFC 6749 allows it (printable ASCII, no `"` or `\`), for OAuth2 clients that show it. */
  error_description?: string;
  errors?: FieldError[];
}

export interface AppErrorOptions {
  detail?: string;
  oauthError?: OAuthError;
  errors?: FieldError[];
  headers?: Record<string, string>;
  members?: Readonly<ProblemMembers>;
  cause?: unknown;
}

/**
 * An expected failure on its way to the client. The HTTP layer turns it into problem+json
 * in one place; messages never contain a token, a hash or a password.
 */
export class AppError extends Error {
  override name = 'AppError';
  readonly status: number;
  readonly detail: string;
  readonly oauthError: OAuthError | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  readonly members: Readonly<ProblemMembers> | undefined;

  constructor(
    readonly code: ErrorCode,
    options: AppErrorOptions = {},
  ) {
    super(options.detail ?? ERROR_CODES[code].title, { cause: options.cause });
    this.status = ERROR_CODES[code].status;
    this.detail = options.detail ?? ERROR_CODES[code].title;
    this.oauthError = options.oauthError;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
    this.members = options.members;
  }

  /** Lets a host app's own error handler (embedded mode) answer with the right status. */
  get statusCode(): number {
    return this.status;
  }
}

/** Characters RFC 6749 (5.2) does not allow in `error_description`, other than `"` and `\`. */
const NOT_NQSCHAR = /[^\x20-\x21\x23-\x5b\x5d-\x7e]/g;

/**
 * The `detail` as an RFC 6749 `error_description`: printable ASCII without `"` or `\` (OAuth2
 * clients, the docs page's Authorize dialog among them, show it to the person signing in).
 *
 * @example
 * oauthDescription('Send {"refresh_token": ...}.'); // "Send {'refresh_token': ...}."
 */
export function oauthDescription(detail: string): string {
  return detail
    .replace(/["\u2018\u2019\u201c\u201d]/g, "'")
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/\\/g, '/')
    .replace(NOT_NQSCHAR, ' ');
}

/** Every problem's `type` is a URN naming its code; docs/errors.md lists them all. */
export const ERROR_TYPE_BASE = 'urn:latchkey:error:';

export function toProblem(err: AppError): Problem {
  const problem: Problem = {
    type: ERROR_TYPE_BASE + err.code.toLowerCase(),
    title: ERROR_CODES[err.code].title,
    status: err.status,
    detail: err.detail,
    code: err.code,
  };
  if (err.oauthError) {
    problem.error = err.oauthError;
    problem.error_description = oauthDescription(problem.detail);
  }
  if (err.errors) problem.errors = err.errors;
  if (err.members?.reason !== undefined) problem.reason = err.members.reason;
  if (err.members?.mail_sent !== undefined) problem.mail_sent = err.members.mail_sent;
  if (err.members?.max_age !== undefined) problem.max_age = err.members.max_age;
  if (err.members?.methods !== undefined) problem.methods = err.members.methods;
  return problem;
}

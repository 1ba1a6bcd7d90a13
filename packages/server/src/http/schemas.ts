/** JSON schemas shared by the routes; @fastify/swagger turns them into the OpenAPI document. */

export const userSchema = {
  type: 'object',
  required: ['id', 'email', 'name', 'roles', 'email_verified', 'disabled', 'created_at', 'updated_at', 'locale'],
  properties: {
    id: { type: 'string' },
    email: { type: 'string', format: 'email' },
    name: { type: ['string', 'null'] },
    locale: { type: ['string', 'null'], description: 'BCP 47 tag (lower-case) of the language of the user’s mail; null: none chosen' },
    roles: { type: 'array', items: { type: 'string' } },
    email_verified: { type: 'boolean' },
    disabled: { type: 'boolean' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
} as const;

export const userEnvelopeSchema = {
  type: 'object',
  required: ['user'],
  properties: { user: userSchema },
} as const;

export const tokenResponseSchema = {
  type: 'object',
  required: ['access_token', 'token_type', 'expires_in'],
  properties: {
    access_token: { type: 'string' },
    token_type: { type: 'string', enum: ['Bearer'] },
    expires_in: { type: 'integer', description: 'Lifetime of the access token in seconds' },
    refresh_token: { type: 'string', description: 'Absent in cookie mode' },
    csrf_token: { type: 'string', description: 'Cookie mode only: the value to send as X-CSRF-Token' },
  },
} as const;

export const problemSchema = {
  type: 'object',
  description: 'RFC 9457 problem details with a stable code',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    error: { type: 'string', description: 'RFC 6749 error code on token endpoints' },
    error_description: { type: 'string', description: 'With `error`: the detail in the characters RFC 6749 allows' },
    reason: {
      type: 'string',
      description:
        'Why the session ended (INVALID_REFRESH_TOKEN, INVALID_TOKEN): logout, revoked_by_user, revoked_by_admin, ' +
        'password_changed, password_reset, roles_changed, reuse_detected, account_disabled, account_deletion_scheduled or revoked',
    },
    mail_sent: { type: 'boolean', description: 'EMAIL_NOT_VERIFIED: whether a new verification link was mailed' },
    max_age: { type: 'integer', description: 'REAUTHENTICATION_REQUIRED: seconds an authentication stays recent (STEP_UP_MAX_AGE)' },
    methods: {
      type: 'array',
      items: { type: 'string' },
      description:
        'REAUTHENTICATION_REQUIRED, REAUTHENTICATION_METHOD_UNAVAILABLE: the members POST /auth/reauthenticate accepts for this ' +
        'account (the password, code, recovery_code or passkey member)',
    },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['field', 'message'],
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
} as const;

/** Error responses, keyed by status, for a route's `response` schema. */
export function problems(...statuses: number[]): Record<number, object> {
  const out: Record<number, object> = {};
  // Documented under the media type they are sent with (RFC 9457), not application/json.
  for (const s of statuses) out[s] = { description: `Error (${s})`, content: { 'application/problem+json': { schema: problemSchema } } };
  return out;
}

export const emailProperty = { type: 'string', format: 'email', maxLength: 254 } as const;
export const passwordProperty = { type: 'string', minLength: 1, maxLength: 1024 } as const;
export const nameProperty = { type: ['string', 'null'], maxLength: 200 } as const;

/** A user's mail language: a BCP 47 tag (well-formedness is checked by users/fields.ts normaliseLocale); null clears it. */
export const localeProperty = {
  type: ['string', 'null'],
  maxLength: 35,
  description: 'BCP 47 language tag such as en, de or de-AT, for the user’s mail (docs/email.md); null clears it',
} as const;

/** The OpenAPI security requirement of routes that need an access token. */
export const bearerSecurity: Array<Record<string, string[]>> = [{ OAuth2PasswordBearer: [] }, { BearerAuth: [] }];

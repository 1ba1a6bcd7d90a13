/** Stable codes of the errors this package throws. */
export type VerifyErrorCode = 'ERR_INVALID_TOKEN' | 'ERR_JWKS_UNAVAILABLE' | 'ERR_AUTHENTICATION_REQUIRED' | 'ERR_REVOCATIONS_UNAVAILABLE' | WebhookErrorCode;

/** Why `verifyWebhook` refused a delivery. */
export type WebhookErrorCode = 'ERR_WEBHOOK_HEADERS' | 'ERR_WEBHOOK_TIMESTAMP' | 'ERR_WEBHOOK_SIGNATURE' | 'ERR_WEBHOOK_PAYLOAD';

/** Base class of every error `@latchkey/verify` throws. Messages never contain the token. */
export abstract class VerifyError extends Error {
  abstract readonly code: VerifyErrorCode;
}

/**
 * The token is not acceptable: malformed, badly signed, expired, for another issuer or audience,
 * signed by an unknown key. `reason` is a short machine-readable cause for logs, never for clients.
 */
export class InvalidTokenError extends VerifyError {
  override name = 'InvalidTokenError';
  readonly code = 'ERR_INVALID_TOKEN';
  constructor(readonly reason: string) {
    super(`access token refused: ${reason}`);
  }
}

/**
 * The token names a key that is not cached and the JWKS could not be fetched: the verifier cannot
 * decide. The HTTP helpers answer 503 with Retry-After, not 401, so clients do not log users out.
 */
export class JwksUnavailableError extends VerifyError {
  override name = 'JwksUnavailableError';
  readonly code = 'ERR_JWKS_UNAVAILABLE';
  constructor(options?: { cause?: unknown }) {
    super('the JWKS could not be fetched', options);
  }
}

/**
 * The verifier follows the revocation feed with `onFeedUnavailable: { refuseAfterSeconds }`, and
 * the feed has not been heard from for longer than that (or not yet since start): it cannot tell
 * whether the token was revoked. The HTTP helpers answer 503 with Retry-After, not 401, so that
 * clients retry instead of logging the user out.
 */
export class RevocationsUnavailableError extends VerifyError {
  override name = 'RevocationsUnavailableError';
  readonly code = 'ERR_REVOCATIONS_UNAVAILABLE';
  constructor() {
    super('the revocation feed has not been reachable for longer than allowed');
  }
}

/**
 * A valid token whose authentication does not meet a route's demand (`requireAuthentication`):
 * too old (`auth_time` more than `maxAge` seconds ago, or absent) or not by a required method
 * (`amr`). The user should confirm it is them (Latchkey's POST /auth/reauthenticate) and retry;
 * the HTTP helpers answer 403 REAUTHENTICATION_REQUIRED with `max_age`.
 */
export class AuthenticationRequiredError extends VerifyError {
  override name = 'AuthenticationRequiredError';
  readonly code = 'ERR_AUTHENTICATION_REQUIRED';
  constructor(
    /** `'auth_time'`: too old or absent; `'amr'`: not by a required method. */
    readonly reason: 'auth_time' | 'amr',
    /** The route's maxAge (seconds), when it has one. */
    readonly maxAge: number | undefined,
  ) {
    super(reason === 'auth_time' ? 'the authentication is not recent enough' : 'the authentication did not use a required method');
  }
}

/**
 * A webhook delivery refused by `verifyWebhook`: `ERR_WEBHOOK_HEADERS` (a Standard Webhooks header
 * missing or malformed), `ERR_WEBHOOK_TIMESTAMP` (older or further ahead than the tolerance: a
 * replay, or a clock far off), `ERR_WEBHOOK_SIGNATURE` (no signature matches a secret),
 * `ERR_WEBHOOK_PAYLOAD` (signed, but not a JSON event). Answer it with a 4xx; the message never
 * holds the secret or the signature.
 */
export class WebhookVerificationError extends VerifyError {
  override name = 'WebhookVerificationError';
  constructor(
    readonly code: WebhookErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Stable codes of the errors this package throws. */
export type VerifyErrorCode = 'ERR_INVALID_TOKEN' | 'ERR_JWKS_UNAVAILABLE';

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

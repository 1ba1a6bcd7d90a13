export {
  Verifier,
  createVerifier,
  verifyAccessToken,
  type VerifierOptions,
  type SharedVerifierOptions,
  type VerifierStats,
} from './verifier.js';
export type { AccessTokenClaims } from './claims.js';
export {
  VerifyError,
  InvalidTokenError,
  JwksUnavailableError,
  AuthenticationRequiredError,
  RevocationsUnavailableError,
  WebhookVerificationError,
  type VerifyErrorCode,
  type WebhookErrorCode,
} from './errors.js';
export type { RevocationOptions, FeedUnavailablePolicy, RevocationEntry, RevocationStats } from './revocations.js';
export { verifyWebhook, type VerifyWebhookOptions, type WebhookEvent } from './webhooks.js';
export { requireAuthentication, type AuthenticationRequirement } from './authentication.js';
export { SUPPORTED_ALGORITHMS, type SupportedAlgorithm } from './jwks-cache.js';
export { bearerToken } from './http.js';

/**
 * What a sign-in provider is to the social room: an authorization URL to send the browser to, and
 * the profile its callback proves. Two kinds (providers from SOCIAL_<ID>_TYPE): any OpenID Connect
 * issuer through discovery (oidc.ts, on openid-client), and GitHub's OAuth 2.0 plus its user API
 * (github.ts). Every failure is a Failure with a fixed detail: a provider's own messages may echo
 * what it was sent and are logged at most, never answered.
 */
import type { SocialProviderConfig } from '../../config.js';
import { failure, type Failure, type Outcome } from '../../outcome.js';

/** Who the provider says signed in. */
export interface ProviderProfile {
  /** The provider's stable account id (`sub`, GitHub's numeric id as text). */
  subject: string;
  email: string | null;
  /** True only when the provider says it verified `email`. */
  emailVerified: boolean;
  name: string | null;
}

/** What the start of a sign-in sends and the callback checks. */
export interface AuthorizationChecks {
  state: string;
  /** OIDC only; null for GitHub. */
  nonce: string | null;
  /** The PKCE code_verifier toward the provider (S256). */
  codeVerifier: string;
  /** This server's callback, exactly as registered at the provider. */
  redirectUri: string;
}

export interface SocialProvider {
  readonly config: SocialProviderConfig;
  /** Whether the ID token carries a nonce (OIDC). */
  readonly usesNonce: boolean;
  authorizationUrl(checks: AuthorizationChecks): Promise<Outcome<string>>;
  /** Exchanges the callback's code and proves who signed in (ID token, or GitHub's API). */
  profile(callbackUrl: URL, checks: AuthorizationChecks): Promise<Outcome<ProviderProfile>>;
}

/** How long one request to a provider may take before the sign-in answers PROVIDER_UNAVAILABLE. */
export const PROVIDER_TIMEOUT_MS = 10_000;

export const providerUnavailable = (name: string): Failure =>
  failure('PROVIDER_UNAVAILABLE', `${name} cannot be reached right now; try again in a moment.`);

export const providerError = (name: string): Failure => failure('PROVIDER_ERROR', `${name} answered the sign-in with an error.`);

export const invalidIdToken = (name: string): Failure =>
  failure('INVALID_ID_TOKEN', `The ID token from ${name} was rejected (signature, issuer, audience, nonce or expiry).`);

/** A network failure (refused, reset, DNS, timeout), as opposed to an answer we did not like. */
export function isNetworkError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'AbortError' || err.name === 'TimeoutError' || (err as { code?: unknown }).code === 'OAUTH_TIMEOUT') return true;
  // undici: TypeError('fetch failed') with the socket error as cause.
  if (err instanceof TypeError && err.message === 'fetch failed') return true;
  return err.cause !== undefined && err.cause !== err && isNetworkError(err.cause);
}

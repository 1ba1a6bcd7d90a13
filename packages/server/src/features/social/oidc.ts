/**
 * Any OpenID Connect provider, through discovery, on `openid-client` (v6). The library loads at the
 * first social sign-in, not at start-up (as the passkey library does): a server without social
 * providers, and /auth/me, never pay for it. Discovery is fetched at the first use of a provider
 * and kept; a failed one is forgotten, so the next sign-in tries again, and an unreachable
 * provider never stops start-up.
 *
 * The ID token is checked by the library: `iss`, `aud`, `azp`, `exp`/`iat`, `nonce`, and, with
 * enableNonRepudiationChecks, its signature against the provider's JWKS (the library skips the
 * signature by default for a token received over TLS from the token endpoint; the issue asks for
 * it, and it also covers loopback http providers in development).
 */
import type { Configuration } from 'openid-client';
import type { FastifyBaseLogger } from 'fastify';
import type { SocialProviderConfig } from '../../config.js';
import { success, type Outcome } from '../../outcome.js';
import {
  invalidIdToken,
  isNetworkError,
  providerError,
  providerUnavailable,
  PROVIDER_TIMEOUT_MS,
  type AuthorizationChecks,
  type ProviderProfile,
  type SocialProvider,
} from './provider.js';

const openidClient = () => import('openid-client');

/**
 * The library's codes for an ID token that failed a check: a signature that does not verify
 * (INVALID_RESPONSE), no key of the JWKS for its `kid`, a claim that does not match (`iss`, `aud`,
 * `nonce`), a timestamp out of range (`exp`, `iat`).
 */
const TOKEN_REJECTIONS = new Set([
  'OAUTH_INVALID_RESPONSE',
  'OAUTH_KEY_SELECTION_FAILED',
  'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
]);

function isTokenRejection(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TOKEN_REJECTIONS.has(code);
}

function claimString(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

export class OidcProvider implements SocialProvider {
  readonly usesNonce = true;
  #configuration: Promise<Configuration> | undefined;

  constructor(
    readonly config: SocialProviderConfig,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** The discovered configuration, fetched once; a failure is not kept. */
  private discover(): Promise<Configuration> {
    this.#configuration ??= (async () => {
      const client = await openidClient();
      const issuer = new URL(this.config.issuer!);
      // Plain http only for loopback issuers (checked in config.ts): tests and local development.
      const execute = [client.enableNonRepudiationChecks];
      if (issuer.protocol === 'http:') execute.push(client.allowInsecureRequests);
      const configuration = await client.discovery(issuer, this.config.clientId, this.config.clientSecret, undefined, {
        execute,
        timeout: PROVIDER_TIMEOUT_MS / 1000,
      });
      configuration.timeout = PROVIDER_TIMEOUT_MS / 1000;
      return configuration;
    })();
    const pending = this.#configuration;
    pending.catch(() => {
      if (this.#configuration === pending) this.#configuration = undefined;
    });
    return pending;
  }

  async authorizationUrl(checks: AuthorizationChecks): Promise<Outcome<string>> {
    let configuration: Configuration;
    try {
      configuration = await this.discover();
    } catch (err) {
      this.log.warn({ provider: this.config.id, err: { name: (err as Error).name, code: (err as { code?: unknown }).code } }, 'social provider discovery failed');
      return providerUnavailable(this.config.name);
    }
    const client = await openidClient();
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: checks.redirectUri,
      scope: this.config.scopes,
      state: checks.state,
      nonce: checks.nonce!,
      code_challenge: await client.calculatePKCECodeChallenge(checks.codeVerifier),
      code_challenge_method: 'S256',
      response_type: 'code',
    });
    return success(url.href);
  }

  async profile(callbackUrl: URL, checks: AuthorizationChecks): Promise<Outcome<ProviderProfile>> {
    let configuration: Configuration;
    try {
      configuration = await this.discover();
    } catch {
      return providerUnavailable(this.config.name);
    }
    const client = await openidClient();
    try {
      const tokens = await client.authorizationCodeGrant(
        configuration,
        callbackUrl,
        { expectedState: checks.state, expectedNonce: checks.nonce!, pkceCodeVerifier: checks.codeVerifier, idTokenExpected: true },
        { redirect_uri: checks.redirectUri },
      );
      const idToken = tokens.claims();
      if (!idToken) return invalidIdToken(this.config.name);
      // Some providers put the email only in UserInfo (OIDC Core 5.4, when an access token is
      // issued): asked for then, with the library's check that its `sub` is the ID token's.
      let claims: Record<string, unknown> & { sub: string } = idToken;
      if (idToken.email === undefined && configuration.serverMetadata().userinfo_endpoint && tokens.access_token) {
        claims = { ...(await client.fetchUserInfo(configuration, tokens.access_token, idToken.sub)), sub: idToken.sub };
      }
      // Google and most others say email_verified (some as the string "true"); Microsoft Entra
      // sends no email_verified, but `xms_edov` (email domain owner verified) when the app asks for
      // it as an optional claim (docs/social-login.md).
      const verified =
        claims.email_verified === true ||
        claims.email_verified === 'true' ||
        (claims.email_verified === undefined && (claims.xms_edov === true || claims.xms_edov === 'true' || claims.xms_edov === '1'));
      const email = claimString(claims.email);
      return success({ subject: claims.sub, email, emailVerified: email !== null && verified, name: claimString(claims.name) });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      this.log.warn({ provider: this.config.id, err: { name: (err as Error).name, code } }, 'social sign-in refused at the provider step');
      if (isNetworkError(err)) return providerUnavailable(this.config.name);
      if (isTokenRejection(err)) return invalidIdToken(this.config.name);
      return providerError(this.config.name);
    }
  }
}

/**
 * GitHub (docs/social-login.md): OAuth 2.0 with PKCE, then the signed-in account from its REST
 * API: `/user` for the stable numeric id and the name, `/user/emails` for the addresses and which
 * of them GitHub verified. GitHub issues no ID token, so the account is proved by the API call with
 * the access token the token endpoint gave this server directly. The endpoints are configurable
 * (GitHub Enterprise, the tests' stub).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { SocialProviderConfig } from '../../config.js';
import { success, type Outcome } from '../../outcome.js';
import {
  isNetworkError,
  providerError,
  providerUnavailable,
  PROVIDER_TIMEOUT_MS,
  type AuthorizationChecks,
  type ProviderProfile,
  type SocialProvider,
} from './provider.js';
import { createHash } from 'node:crypto';

/** A provider's answer we cannot use: logged by name, answered as PROVIDER_ERROR. */
class UnusableAnswer extends Error {
  override name = 'UnusableAnswer';
}

interface GitHubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

export class GitHubProvider implements SocialProvider {
  readonly usesNonce = false;

  constructor(
    readonly config: SocialProviderConfig,
    private readonly log: FastifyBaseLogger,
  ) {}

  async authorizationUrl(checks: AuthorizationChecks): Promise<Outcome<string>> {
    const url = new URL(this.config.authorizeUrl!);
    url.searchParams.set('client_id', this.config.clientId);
    url.searchParams.set('redirect_uri', checks.redirectUri);
    url.searchParams.set('scope', this.config.scopes);
    url.searchParams.set('state', checks.state);
    url.searchParams.set('code_challenge', createHash('sha256').update(checks.codeVerifier).digest('base64url'));
    url.searchParams.set('code_challenge_method', 'S256');
    return success(url.href);
  }

  async profile(callbackUrl: URL, checks: AuthorizationChecks): Promise<Outcome<ProviderProfile>> {
    const code = callbackUrl.searchParams.get('code');
    if (!code) return providerError(this.config.name);
    try {
      const accessToken = await this.token(code, checks);
      const user = await this.api('/user', accessToken);
      const id = (user as { id?: unknown }).id;
      if (typeof id !== 'number' || !Number.isSafeInteger(id)) throw new UnusableAnswer('/user has no numeric id');
      const emails = await this.api('/user/emails', accessToken);
      if (!Array.isArray(emails)) throw new UnusableAnswer('/user/emails is not a list');
      const primary = (emails as unknown[]).find(
        (e): e is GitHubEmail => typeof e === 'object' && e !== null && (e as GitHubEmail).primary === true && typeof (e as GitHubEmail).email === 'string',
      );
      const name = (user as { name?: unknown }).name;
      return success({
        subject: String(id),
        email: primary?.email ?? null,
        emailVerified: primary?.verified === true,
        name: typeof name === 'string' && name.length > 0 ? name : null,
      });
    } catch (err) {
      this.log.warn({ provider: this.config.id, err: { name: (err as Error).name, message: err instanceof UnusableAnswer ? err.message : undefined } }, 'social sign-in refused at the provider step');
      return isNetworkError(err) ? providerUnavailable(this.config.name) : providerError(this.config.name);
    }
  }

  private async token(code: string, checks: AuthorizationChecks): Promise<string> {
    const response = await fetch(this.config.tokenUrl!, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: this.config.clientId,
        client_secret: this.config.clientSecret,
        code,
        redirect_uri: checks.redirectUri,
        code_verifier: checks.codeVerifier,
      }),
      signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
      redirect: 'error',
    });
    const body = (await response.json().catch(() => null)) as { access_token?: unknown; error?: unknown } | null;
    // GitHub answers a refused code with 200 and {"error": "bad_verification_code"}.
    if (!response.ok || !body || typeof body.access_token !== 'string' || body.access_token === '') {
      throw new UnusableAnswer(`token endpoint: status ${response.status}${typeof body?.error === 'string' ? `, ${body.error.slice(0, 64)}` : ''}`);
    }
    return body.access_token;
  }

  private async api(path: string, accessToken: string): Promise<unknown> {
    const response = await fetch(new URL(this.config.apiUrl! + path).href, {
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${accessToken}`,
        'user-agent': 'latchkey',
        'x-github-api-version': '2022-11-28',
      },
      signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
      redirect: 'error',
    });
    if (!response.ok) throw new UnusableAnswer(`${path}: status ${response.status}`);
    return response.json();
  }
}

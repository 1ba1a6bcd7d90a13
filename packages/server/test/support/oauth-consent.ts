import * as oidc from 'openid-client';
import type { TestApp } from './helpers.js';
import { Browser, injectFetch, ISSUER, REDIRECT, registerClient } from './oauth.js';

/** What a relying party holds after a user's consent, and the two ways to see whether it still works. */
export interface RealConsent {
  clientId: string;
  /** GET /oauth/userinfo with the access token: 200 while the consent stands, 401 once revoked. */
  userinfoStatus(): Promise<number>;
  /** The refresh token at the token endpoint: 'ok', or the OAuth error (`invalid_grant` once revoked). */
  refresh(): Promise<string>;
}

/**
 * A relying party's sign-in through Latchkey's provider, consent included: a registered
 * confidential client, openid-client building the authorization URL (PKCE S256, prompt=consent),
 * the provider's sign-in and consent pages answered over HTTP (o2's Browser), the code exchanged
 * for an access and a refresh token. For the browser-side tests (SDK, demo) that need a consent
 * as the provider makes it; they load this file at run time (see apps/demo/test/connected-apps.test.ts).
 *
 * @example
 * const notes = await consentThroughProvider(t, user, { name: 'Notes', scope: 'openid email offline_access' });
 * expect(await notes.userinfoStatus()).toBe(200);
 */
export async function consentThroughProvider(
  t: TestApp,
  user: { email: string; password: string },
  opts: { scope: string } & ({ name: string } | { client: { id: string; secret: string; redirectUri: string } }),
): Promise<RealConsent> {
  // A client registered here, or one registered elsewhere (the console) with the secret it showed.
  const { clientId, clientSecret, redirectUri } =
    'client' in opts
      ? { clientId: opts.client.id, clientSecret: opts.client.secret, redirectUri: opts.client.redirectUri }
      : { ...(await registerClient(t, { name: opts.name })), redirectUri: REDIRECT };
  const fetchImpl = injectFetch(t.app);
  const config = await oidc.discovery(new URL(ISSUER), clientId, clientSecret, oidc.ClientSecretBasic(clientSecret!), {
    execute: [oidc.allowInsecureRequests],
    [oidc.customFetch]: fetchImpl,
  });
  config[oidc.customFetch] = fetchImpl;
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: opts.scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    prompt: 'consent',
  });
  const back = await new Browser(t.app).authorize(url.href, user);
  const tokens = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state });
  return {
    clientId,
    async userinfoStatus() {
      const res = await t.app.inject({ method: 'GET', url: '/oauth/userinfo', headers: { host: new URL(ISSUER).host, authorization: `Bearer ${tokens.access_token}` } });
      return res.statusCode;
    },
    async refresh() {
      try {
        await oidc.refreshTokenGrant(config, tokens.refresh_token!);
        return 'ok';
      } catch (error) {
        return error instanceof oidc.ResponseBodyError ? error.error : String(error);
      }
    },
  };
}

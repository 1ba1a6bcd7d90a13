/**
 * Latchkey as an OAuth 2.1 / OpenID Connect provider: panva's oidc-provider (certified), set up
 * over Latchkey's store, users, sessions and signing keys (docs/oauth-provider.md).
 *
 * - Storage: adapter.ts (oauth_payloads; clients from oauth_clients).
 * - Keys: the provider signs ID tokens and JWT access tokens with Latchkey's active signing key
 *   and publishes nothing itself (`jwks_uri` is Latchkey's /.well-known/jwks.json). When the
 *   active key changes (a rotation here or on another instance, seen by the KeyRing's reload),
 *   the provider is built again with the new key (`OAuthProvider.current`).
 * - Cookies: oidc-provider signs its cookies with keys derived (HKDF-SHA-256) from the signing
 *   keys' private parts: every instance sharing the database derives the same ones, and a
 *   rotation keeps the previous key's derivation as a verifying key until it expires.
 * - Sessions: a provider session remembers the Latchkey session its sign-in created
 *   (`latchkeySid`, interactions.ts); a login check sends the user to sign in again once that
 *   session has ended (logout, logout-all, password change or reset, disabled, admin).
 */
import { createPublicKey, hkdfSync, type JsonWebKey as NodeJsonWebKey } from 'node:crypto';
import Provider, { errors, interactionPolicy, type Account, type AsymmetricSigningAlgorithm, type Configuration, type KoaContextWithOIDC, type UnknownObject } from 'oidc-provider';
import type { LatchkeyContext } from '../../context.js';
import { openPrivateJwk } from '../../tokens/keys.js';
import { adapterFactory } from './adapter.js';
import { allowedScopes, clientSecretMatches, newClientSecret } from './clients.js';
import { pageHooks } from './page-hooks.js';

/** Built-in scopes and the claims each releases (S22: openid, profile, email, roles). */
const SCOPE_CLAIMS: Record<string, string[]> = {
  // How and when the user signed in goes into every ID token (apps ask for step-up by max_age/amr).
  openid: ['sub', 'auth_time', 'amr'],
  profile: ['name', 'updated_at', 'locale'],
  email: ['email', 'email_verified'],
  roles: ['roles'],
};

/** The provider's routes, below the mount prefix; `jwks` is Latchkey's own document. */
export const OAUTH_ROUTES = {
  authorization: '/oauth/authorize',
  token: '/oauth/token',
  userinfo: '/oauth/userinfo',
  revocation: '/oauth/revoke',
  introspection: '/oauth/introspect',
  end_session: '/oauth/logout',
  registration: '/oauth/register',
  jwks: '/.well-known/jwks.json',
  // Unused features keep their (never routed) defaults under /oauth/.
  code_verification: '/oauth/device',
  device_authorization: '/oauth/device/auth',
  pushed_authorization_request: '/oauth/par',
  backchannel_authentication: '/oauth/backchannel',
  challenge: '/oauth/challenge',
} as const;

/** Thrown at start-up when the provider cannot run with this configuration; the message says why. */
export class OAuthProviderConfigError extends Error {
  override name = 'OAuthProviderConfigError';
}

/** Keygrip keys for oidc-provider's cookies, from the signing keys (active first). */
function cookieKeys(privateJwks: Array<{ kid: string; jwk: NodeJsonWebKey }>): Buffer[] {
  return privateJwks.map(({ kid, jwk }) => {
    const secret = String(jwk.d ?? '');
    return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'base64url'), Buffer.from(kid, 'utf8'), 'latchkey oauth-provider cookies', 32));
  });
}

/** True while the Latchkey session `sid` of user `accountId` can still be used. */
async function latchkeySessionLive(ctx: LatchkeyContext, accountId: string, sid: unknown): Promise<boolean> {
  if (typeof sid !== 'string' || sid === '') return false;
  const found = await ctx.store.getSessionWithUser(sid);
  if (!found) return false;
  const now = ctx.clock();
  const { session, user } = found;
  return user.id === accountId && !user.disabled && session.revokedAt === null && session.expiresAt > now && session.idleExpiresAt > now;
}

/** The account oidc-provider asks for: a disabled or deleted user is none (refresh and userinfo then fail). */
async function findAccount(ctx: LatchkeyContext, sub: string): Promise<Account | undefined> {
  const user = await ctx.store.findUserById(sub);
  if (!user || user.disabled) return undefined;
  return {
    accountId: user.id,
    async claims() {
      return {
        sub: user.id,
        name: user.name ?? undefined,
        updated_at: Math.floor(user.updatedAt / 1000),
        locale: user.locale ?? undefined,
        email: user.email,
        email_verified: user.emailVerified,
        roles: user.roles,
      };
    },
  };
}

/**
 * The login prompt's first check: a provider session whose Latchkey session has ended needs a
 * new sign-in (with prompt=none: `login_required`).
 */
function latchkeySessionCheck(ctx: LatchkeyContext) {
  return new interactionPolicy.Check('latchkey_session_ended', 'End-User authentication is required', 'login_required', async (koa: KoaContextWithOIDC) => {
    const session = koa.oidc.session;
    if (!session?.accountId) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    // The sign-in being finished right now carries its own, new session.
    if (koa.oidc.result?.login) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    const live = await latchkeySessionLive(ctx, session.accountId, (session as unknown as { latchkeySid?: unknown }).latchkeySid);
    return live ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
  });
}

/** Consent: first-party clients never see the page (interaction-routes.ts grants for them). */
function interactionPolicyOf(ctx: LatchkeyContext) {
  const policy = interactionPolicy.base();
  const login = policy.get('login');
  login?.checks.add(latchkeySessionCheck(ctx), 0);
  return policy;
}

function seconds(ms: number): number {
  return Math.max(1, Math.floor(ms / 1000));
}

/** A token's scopes as a set of words. */
function scopeSet(scope: unknown): Set<string> {
  return new Set(typeof scope === 'string' ? scope.split(' ').filter(Boolean) : []);
}

/** The configuration oidc-provider is built with; `keys` are the signing keys (active first). */
function configuration(ctx: LatchkeyContext, mountPrefix: string, keys: Array<{ kid: string; jwk: NodeJsonWebKey }>): Configuration {
  const { oauth, tokens, sessions } = ctx.config;
  const scopes = [...Object.keys(SCOPE_CLAIMS), 'offline_access', ...oauth.scopes];
  const resources = new Set(oauth.resources);
  // HS256 is refused before (OAuthProvider.create).
  const alg = tokens.jwtAlg as AsymmetricSigningAlgorithm;
  // The pages oidc-provider renders itself (its error page, the logout pages), in the brand.
  const hooks = pageHooks(ctx.config.oauthBranding);
  return {
    adapter: adapterFactory(ctx.store, ctx.clock, allowedScopes(ctx.config)),
    findAccount: (_koa, sub) => findAccount(ctx, sub),
    // The session's claims of every ID token (auth_time, amr, sid, acr), then the scopes'.
    claims: { acr: null, sid: null, iss: null, ...SCOPE_CLAIMS },
    scopes,
    responseTypes: ['code'],
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      id_token_signed_response_alg: alg,
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    enabledJWA: {
      idTokenSigningAlgValues: [alg],
      userinfoSigningAlgValues: [alg],
      introspectionSigningAlgValues: [alg],
      authorizationSigningAlgValues: [alg],
      clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
    },
    jwks: { keys: keys.map((k) => k.jwk as unknown as UnknownObject) } as Configuration['jwks'],
    cookies: {
      keys: cookieKeys(keys),
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    routes: OAUTH_ROUTES,
    pkce: {
      // Public clients must send S256; confidential ones may (oidc-provider checks it when sent).
      required: (_koa, client) => client.clientAuthMethod === 'none',
    },
    // A remembered consent is per user and client, not per browser session: a sign-in in another
    // browser finds the user's grant to this client (the newest) and asks only for what it lacks.
    loadExistingGrant: async (koa) => {
      const clientId = koa.oidc.client?.clientId;
      if (!clientId) return undefined;
      const grantId = (koa.oidc.result?.consent as { grantId?: string } | undefined)?.grantId ?? koa.oidc.session?.grantIdFor(clientId);
      if (grantId) {
        const grant = await koa.oidc.provider.Grant.find(grantId);
        if (grant) return grant;
      }
      const accountId = koa.oidc.session?.accountId;
      if (!accountId) return undefined;
      const remembered = (await ctx.store.listOAuthGrantsForUser(accountId, ctx.clock())).find((g) => g.clientId === clientId);
      return remembered ? koa.oidc.provider.Grant.find(remembered.id) : undefined;
    },
    rotateRefreshToken: true,
    issueRefreshToken: async (_koa, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    // Revoking any token of a grant (RFC 7009, a reused code or refresh token) ends the grant.
    revokeGrantPolicy: () => true,
    conformIdTokenClaims: true,
    allowOmittingSingleRegisteredRedirectUri: false,
    ttl: {
      AccessToken: seconds(oauth.accessTokenTtlMs),
      ClientCredentials: seconds(oauth.accessTokenTtlMs),
      AuthorizationCode: 60,
      IdToken: seconds(oauth.accessTokenTtlMs),
      Interaction: 30 * 60,
      Session: seconds(sessions.sessionMaxAgeMs),
      Grant: seconds(oauth.consentTtlMs),
      // Sliding with rotation; never past the grant it belongs to.
      RefreshToken: (koa, token) => {
        const ttl = seconds(oauth.refreshTokenTtlMs);
        const grantExp = koa?.oidc?.entities?.Grant?.exp;
        if (typeof grantExp === 'number') return Math.max(1, Math.min(ttl, grantExp - Math.floor(Date.now() / 1000)));
        void token;
        return ttl;
      },
    },
    features: {
      devInteractions: { enabled: false },
      introspection: {
        enabled: true,
        // Only a confidential client may introspect; another client's token answers active:false.
        // So does the token of a user who is disabled (or gone): userinfo and refresh already
        // refuse it (findAccount), and a resource server that introspects must refuse it too.
        allowedPolicy: async (koa, client, token) => {
          if (client.clientAuthMethod === 'none' || token.clientId !== koa.oidc.client?.clientId) return false;
          const accountId = (token as { accountId?: string }).accountId;
          return accountId === undefined || (await findAccount(ctx, accountId)) !== undefined;
        },
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (_koa, client, token) => token.clientId === client.clientId,
      },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource: hooks.logoutSource, postLogoutSuccessSource: hooks.postLogoutSuccessSource },
      registration: {
        enabled: oauth.dynamicRegistration,
        // Generated here like the admin API's: `lks_` + 32 random bytes, stored as its SHA-256.
        secretFactory: async () => newClientSecret(),
      },
      registrationManagement: { enabled: oauth.dynamicRegistration, rotateRegistrationAccessToken: true },
      resourceIndicators: {
        enabled: true,
        // The only resource is the default: a client that names none gets an opaque token for userinfo.
        defaultResource: async (_koa, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_koa, resource) => {
          if (!resources.has(resource)) throw new errors.InvalidTarget();
          return {
            scope: scopes.filter((s) => s !== 'openid' && s !== 'offline_access').join(' '),
            audience: resource,
            accessTokenTTL: seconds(oauth.accessTokenTtlMs),
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg } },
          };
        },
      },
      pushedAuthorizationRequests: { enabled: false },
      userinfo: { enabled: true },
    } as Configuration['features'],
    // @latchkey/verify reads `roles` (an array) and `sid` of every access token: the user's roles
    // when the `roles` scope was granted (none otherwise), and the grant as the "session".
    extraTokenClaims: async (_koa, token) => {
      const t = token as unknown as { accountId?: string; scope?: string; grantId?: string; jti: string; clientId?: string };
      let roles: string[] = [];
      if (t.accountId && scopeSet(t.scope).has('roles')) roles = (await ctx.store.findUserById(t.accountId))?.roles ?? [];
      return { roles, sid: t.grantId ?? `client:${t.clientId ?? t.jti}` };
    },
    interactions: {
      policy: interactionPolicyOf(ctx),
      url: async (_koa, interaction) => `${mountPrefix}/oauth/interaction/${interaction.uid}`,
    },
    renderError: hooks.renderError,
    extraParams: [],
    discovery: {
      // RFC 9207: `iss` in every authorization response.
      authorization_response_iss_parameter_supported: true,
    },
  };
}

/**
 * Holds the oidc-provider instance and builds it again when Latchkey's active signing key
 * changed (the KeyRing reloads keys every KEY_RELOAD_INTERVAL and at once after a rotation).
 *
 * @example
 * const oauth = await OAuthProvider.create(ctx, '/identity');
 * const provider = await oauth.current(); // then provider.callback()(req, res)
 */
export class OAuthProvider {
  private provider: Provider | undefined;
  private builtFor = '';
  /** The keys of the provider's cookies (active signing key's first); the interaction forms' CSRF tokens use them too. */
  cookieKeys: Buffer[] = [];
  private building: Promise<Provider> | undefined;

  private constructor(
    private readonly ctx: LatchkeyContext,
    private readonly mountPrefix: string,
  ) {}

  /** Builds the first instance; refuses HS256 (a shared secret cannot sign tokens that others verify). */
  static async create(ctx: LatchkeyContext, mountPrefix: string): Promise<OAuthProvider> {
    if (ctx.config.tokens.jwtAlg === 'HS256') {
      throw new OAuthProviderConfigError(
        'OAUTH_PROVIDER=true needs an asymmetric JWT_ALG (RS256, ES256 or EdDSA): with HS256 the ID tokens would be signed with a secret the relying parties cannot have, and could not verify',
      );
    }
    const holder = new OAuthProvider(ctx, mountPrefix);
    await holder.current();
    return holder;
  }

  /** The provider for the active signing key (built again after a rotation). */
  async current(): Promise<Provider> {
    const kid = this.ctx.keys.signingKey.kid;
    if (this.provider && this.builtFor === kid) return this.provider;
    this.building ??= this.build(kid).finally(() => {
      this.building = undefined;
    });
    return this.building;
  }

  private async build(kid: string): Promise<Provider> {
    const now = this.ctx.clock();
    const records = (await this.ctx.store.listSigningKeys()).filter((k) => k.expiresAt === null || k.expiresAt > now);
    const active = records.find((k) => k.kid === kid);
    if (!active) throw new Error(`the active signing key ${kid} is not in the store`);
    // The active key signs (it comes first); the others are only there for the cookies' keys.
    const ordered = [active, ...records.filter((k) => k.kid !== kid && k.alg === active.alg)];
    const keys = ordered.map((record) => {
      const jwk = JSON.parse(openPrivateJwk(this.ctx.secrets, record)) as NodeJsonWebKey;
      return { kid: record.kid, jwk: { ...jwk, kid: record.kid, alg: record.alg, use: 'sig' } as NodeJsonWebKey };
    });
    // Only the active private key goes to oidc-provider; the older ones derive cookie keys only.
    const config = configuration(this.ctx, this.mountPrefix, keys);
    config.jwks = { keys: [keys[0]!.jwk as unknown as UnknownObject] } as Configuration['jwks'];
    const provider = new Provider(this.ctx.config.tokens.issuer, config);
    // The checks of the public key happen once here: a key oidc-provider cannot use stops start-up.
    createPublicKey({ key: keys[0]!.jwk, format: 'jwk' });
    // Behind the mount (mount.ts) the forwarded headers are the ones Fastify trusted (TRUST_PROXY).
    provider.proxy = true;
    patchProvider(this.ctx, provider);
    this.provider = provider;
    this.cookieKeys = cookieKeys(keys);
    this.builtFor = kid;
    return provider;
  }
}

/**
 * What oidc-provider's configuration cannot say:
 * - client secrets are compared as SHA-256 digests (clientSecretMatches);
 * - the provider Session keeps `latchkeySid`, the Latchkey session its sign-in created, taken
 *   from the interaction's result (`finishLogin` puts it there) when the login is applied.
 */
function patchProvider(ctx: LatchkeyContext, provider: Provider): void {
  const clientProto = provider.Client.prototype as unknown as { compareClientSecret(actual: string): boolean; clientSecret?: string };
  // `clientSecret` is the stored SHA-256: the presented secret is hashed and compared in constant time.
  clientProto.compareClientSecret = function compareClientSecret(this: { clientSecret?: string }, actual: string) {
    return clientSecretMatches(this.clientSecret ?? null, actual);
  };

  const Session = provider.Session as unknown as { IN_PAYLOAD: string[]; prototype: { loginAccount(details: unknown): void } };
  const inPayload = [...Session.IN_PAYLOAD, 'latchkeySid'];
  Object.defineProperty(Session, 'IN_PAYLOAD', { configurable: true, get: () => inPayload });
  const loginAccount = Session.prototype.loginAccount;
  Session.prototype.loginAccount = function (this: { latchkeySid?: string }, details: unknown) {
    loginAccount.call(this, details);
    const koa = Provider.ctx;
    const result = (koa?.oidc?.entities as { Interaction?: { result?: { latchkey?: { sessionId?: unknown } } } } | undefined)?.Interaction?.result;
    const sid = result?.latchkey?.sessionId;
    if (typeof sid === 'string') this.latchkeySid = sid;
  };

  // RFC 7592 registration reads and updates answer the client's metadata, where the secret is
  // the stored SHA-256: never shown (a new secret, `lks_...`, is shown once as usual).
  provider.use(async (koa, next) => {
    await next();
    await (koa.state as { latchkeyLogout?: Promise<unknown> }).latchkeyLogout;
    const route = (koa as KoaContextWithOIDC).oidc?.route;
    if ((route === 'client' || route === 'client_update') && koa.body !== null && typeof koa.body === 'object') {
      const body = koa.body as Record<string, unknown>;
      if (typeof body.client_secret === 'string' && /^[0-9a-f]{64}$/.test(body.client_secret)) {
        delete body.client_secret;
        delete body.client_secret_expires_at;
      }
    }
  });

  // RP-initiated logout ends the Latchkey session the provider's sign-in created, before the
  // answer goes out (the event cannot be awaited: its promise waits in the request's state).
  provider.on('end_session.success', (koa: KoaContextWithOIDC) => {
    const session = koa.oidc.session as unknown as { accountId?: string; latchkeySid?: string } | undefined;
    if (session?.accountId && session.latchkeySid) {
      (koa.state as { latchkeyLogout?: Promise<unknown> }).latchkeyLogout = ctx.store
        .revokeSession(session.accountId, session.latchkeySid, 'logout', ctx.clock())
        .catch((err: unknown) => ctx.log.warn({ err }, 'ending the Latchkey session of a provider logout failed'));
    }
  });
  provider.on('server_error', (_koa: KoaContextWithOIDC, err: Error) => ctx.log.error({ err }, 'oauth provider error'));
}

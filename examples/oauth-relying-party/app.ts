import { randomBytes } from 'node:crypto';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import * as oidc from 'openid-client';
import { latchkeyVerify } from '@latchkey/verify/fastify';
import { homeSignedIn, homeSignedOut, profile, signInFailed, type ProfileView } from './pages.js';

/**
 * The example's settings: what server.ts reads from the environment (README: "Configuration").
 */
export interface NotesAppOptions {
  /** Latchkey's ISSUER, e.g. "https://auth.example.com" (LATCHKEY_ISSUER). */
  issuer: string;
  /** This app's client at Latchkey (`latchkey clients create` printed both). */
  clientId: string;
  clientSecret: string;
  /** Where browsers reach this app, without a trailing slash (APP_URL); the redirect URI is APP_URL/callback. */
  appUrl: string;
  /**
   * The API this app calls, one of Latchkey's OAUTH_RESOURCES (RESOURCE): the access token is
   * asked for it (RFC 8707) and GET /api/notes accepts only tokens whose `aud` is it.
   */
  resource: string;
  /** Signs the session cookie; at least 32 characters (SESSION_SECRET). */
  sessionSecret: string;
  /** Shown on the button: "Sign in with <brand>" (LATCHKEY_BRAND, default "Latchkey"). */
  brand?: string;
  logLevel?: string;
  /** Milliseconds since the epoch; tests may pass their own. Default Date.now. */
  clock?: () => number;
}

/** What the app asks Latchkey for: an ID token, the profile, the email, the roles, and a refresh token. */
export const SCOPES = 'openid profile email roles offline_access';

const SESSION_COOKIE = 'notes_session';
const LOGIN_COOKIE = 'notes_login';
/** Set after a first sign-in in this browser: the consent (with offline_access) is then remembered at Latchkey. */
const RETURNING_COOKIE = 'notes_returning';
/** How long a sign-in may take between the button and the callback. */
const LOGIN_TTL_MS = 10 * 60_000;
/** How long a session of this app lasts, whatever its tokens do. */
const SESSION_TTL_MS = 12 * 3600_000;
/** An access token this close to its expiry is refreshed before use (clock skew, the API call's own time). */
const REFRESH_AHEAD_MS = 10_000;

/** A sign-in in progress: the checks the callback must see again (RFC 9700: state, nonce, PKCE). */
interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
  expiresAt: number;
}

/** A signed-in browser. Tokens stay here, on the server: the browser holds only the signed id. */
interface Session {
  subject: string;
  name: string | null;
  email: string | null;
  emailVerified: boolean | null;
  roles: readonly string[];
  idToken: string;
  /** The access token for `resource` (a JWT Latchkey signed for that audience). */
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken: string | null;
  /** One refresh at a time per session: two concurrent ones would spend the same refresh token, which Latchkey treats as theft. */
  refreshing: Promise<void> | null;
  expiresAt: number;
  /** How many times the access token was refreshed (the profile page shows it). */
  refreshes: number;
}

/** A refresh that Latchkey refused: the grant is gone (signed out everywhere, app revoked, user disabled). */
class SessionEnded extends Error {}

function loopback(url: URL): boolean {
  return url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
}

function stringClaim(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

function rolesClaim(value: unknown): readonly string[] {
  return Array.isArray(value) ? value.filter((r): r is string => typeof r === 'string') : [];
}

/**
 * The example relying party: a small "Notes" app whose users sign in with their Latchkey account
 * (OpenID Connect authorization code flow with PKCE, state and nonce; confidential client,
 * client_secret_basic), and whose own API route `GET /api/notes` accepts only access tokens that
 * Latchkey issued for it (RFC 8707 resource, verified offline by @latchkey/verify).
 *
 * @example
 * const app = await buildNotesApp({ issuer: 'http://localhost:3000', clientId, clientSecret,
 *   appUrl: 'http://127.0.0.1:4000', resource: 'http://127.0.0.1:4000/api', sessionSecret });
 * await app.listen({ host: '127.0.0.1', port: 4000 });
 */
export async function buildNotesApp(options: NotesAppOptions): Promise<FastifyInstance> {
  const now = options.clock ?? Date.now;
  const brand = options.brand ?? 'Latchkey';
  const appUrl = new URL(options.appUrl);
  const issuer = new URL(options.issuer);
  const redirectUri = new URL('/callback', appUrl).href;
  const home = new URL('/', appUrl).href;
  if (options.sessionSecret.length < 32) throw new Error('SESSION_SECRET must be at least 32 characters');
  // Plain http only on loopback (local development, the e2e test); anywhere else tokens would
  // cross the network in the clear.
  for (const [name, url] of [['LATCHKEY_ISSUER', issuer], ['APP_URL', appUrl]] as const) {
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback(url))) {
      throw new Error(`${name} must be https (plain http only for localhost / 127.0.0.1): ${url.href}`);
    }
  }

  const app = Fastify({
    logger: {
      level: options.logLevel ?? 'info',
      // The callback's query holds the authorization code: log the path only.
      serializers: { req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url.split('?')[0] }) },
    },
  });

  // Discovery once, at start: the endpoints, the JWKS, and the issuer's own name checked against
  // LATCHKEY_ISSUER. The client authenticates with HTTP Basic (client_secret_basic). The ID token's
  // signature is checked against Latchkey's keys (openid-client skips it by default for a token it
  // received straight from the token endpoint; this is cheap and also covers plain-http development).
  const execute = [oidc.enableNonRepudiationChecks];
  if (issuer.protocol === 'http:') execute.push(oidc.allowInsecureRequests);
  let config: oidc.Configuration;
  try {
    config = await oidc.discovery(issuer, options.clientId, undefined, oidc.ClientSecretBasic(options.clientSecret), { execute, timeout: 10 });
  } catch (err) {
    throw new Error(`OpenID discovery at ${issuer.href} failed (${(err as Error).message}): is Latchkey running with OAUTH_PROVIDER=true?`);
  }
  const metadata = config.serverMetadata();
  if (!metadata.jwks_uri) throw new Error(`${issuer.href} publishes no jwks_uri`);

  const sessions = new Map<string, Session>();
  const pendingLogins = new Map<string, PendingLogin>();
  const secure = appUrl.protocol === 'https:';
  const cookieOptions = { signed: true, httpOnly: true, sameSite: 'lax', path: '/', secure } as const;

  await app.register(cookie, { secret: options.sessionSecret });
  await app.register(formbody);

  app.addHook('onSend', async (_request, reply) => {
    // No script anywhere; the pages only need their own inline style.
    reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'");
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cache-control', 'no-store');
  });

  function signedCookie(request: FastifyRequest, name: string): string | null {
    const raw = request.cookies[name];
    if (raw === undefined) return null;
    const unsigned = request.unsignCookie(raw);
    return unsigned.valid ? unsigned.value : null;
  }

  function currentSession(request: FastifyRequest): { id: string; session: Session } | null {
    const id = signedCookie(request, SESSION_COOKIE);
    const session = id === null ? undefined : sessions.get(id);
    if (id === null || session === undefined) return null;
    if (session.expiresAt <= now()) {
      sessions.delete(id);
      return null;
    }
    return { id, session };
  }

  function html(reply: FastifyReply, body: string, status = 200): FastifyReply {
    return reply.code(status).type('text/html; charset=utf-8').send(body);
  }

  /** Keeps the token response's access token (and the rotated refresh token) in the session. */
  function keepTokens(session: Pick<Session, 'accessToken' | 'accessTokenExpiresAt' | 'refreshToken'>, tokens: oidc.TokenEndpointResponse): void {
    session.accessToken = tokens.access_token;
    session.accessTokenExpiresAt = now() + (tokens.expires_in ?? 60) * 1000;
    // Latchkey rotates the refresh token on every use: the old one is spent.
    if (tokens.refresh_token) session.refreshToken = tokens.refresh_token;
  }

  /** The session's access token, refreshed first when it is (about to be) expired. */
  async function accessToken(session: Session): Promise<string> {
    if (session.accessTokenExpiresAt - REFRESH_AHEAD_MS > now()) return session.accessToken;
    if (session.refreshToken === null) throw new SessionEnded('the access token expired and there is no refresh token');
    session.refreshing ??= (async () => {
      try {
        const tokens = await oidc.refreshTokenGrant(config, session.refreshToken!, { resource: options.resource });
        keepTokens(session, tokens);
        session.refreshes += 1;
        app.log.info({ refreshes: session.refreshes }, 'access token refreshed');
      } catch (err) {
        if (err instanceof oidc.ResponseBodyError && (err.error === 'invalid_grant' || err.error === 'invalid_client')) {
          throw new SessionEnded(`Latchkey refused the refresh: ${err.error}`);
        }
        throw err;
      }
    })().finally(() => {
      session.refreshing = null;
    });
    await session.refreshing;
    return session.accessToken;
  }

  /** The notes API, called as any other service would call it: with the bearer token. */
  async function loadNotes(session: Session): Promise<ProfileView['notes']> {
    const token = await accessToken(session);
    const res = await app.inject({ method: 'GET', url: '/api/notes', headers: { authorization: `Bearer ${token}` } });
    if (res.statusCode !== 200) {
      const body = res.json() as { detail?: string; title?: string };
      return { ok: false, status: res.statusCode, detail: body.detail ?? body.title ?? res.statusMessage };
    }
    const body = res.json() as { audience: string; notes: { id: string; text: string }[] };
    return { ok: true, items: body.notes, audience: body.audience };
  }

  // --- the pages ------------------------------------------------------------------------------

  app.get('/', async (request, reply) => {
    const current = currentSession(request);
    const ended = (request.query as { ended?: string }).ended;
    if (current === null) return html(reply, homeSignedOut(brand, ended === '1' ? 'Your session ended. Sign in again.' : undefined));
    return html(reply, homeSignedIn(current.session.name ?? current.session.email ?? current.session.subject));
  });

  // The button: a new sign-in (state, nonce, PKCE verifier kept server-side, bound to this browser
  // by a signed cookie), then off to Latchkey's authorization endpoint.
  app.get('/login', async (request, reply) => {
    const at = now();
    for (const [id, p] of pendingLogins) if (p.expiresAt <= at) pendingLogins.delete(id);
    const pending: PendingLogin = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
      expiresAt: at + LOGIN_TTL_MS,
    };
    const id = randomBytes(18).toString('base64url');
    pendingLogins.set(id, pending);
    reply.setCookie(LOGIN_COOKIE, id, { ...cookieOptions, maxAge: LOGIN_TTL_MS / 1000 });
    const parameters: Record<string, string> = {
      redirect_uri: redirectUri,
      scope: SCOPES,
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
      // The grant covers the API; the token request below asks for a token for it.
      resource: options.resource,
    };
    // `?prompt=none`: sign in again without any page if the Latchkey session is still there.
    const prompt = (request.query as { prompt?: string }).prompt;
    if (prompt === 'none' || prompt === 'login') parameters.prompt = prompt;
    // OpenID Connect grants offline_access (a refresh token) only with prompt=consent, or from a
    // consent given before: the first sign-in in a browser asks for the consent page explicitly;
    // later ones do not, so that the remembered consent spares the user the page.
    else if (signedCookie(request, RETURNING_COOKIE) === null) parameters.prompt = 'consent';
    return reply.redirect(oidc.buildAuthorizationUrl(config, parameters).href);
  });

  app.get('/callback', async (request, reply) => {
    const loginId = signedCookie(request, LOGIN_COOKIE);
    reply.clearCookie(LOGIN_COOKIE, { path: '/' });
    const pending = loginId === null ? undefined : pendingLogins.get(loginId);
    if (loginId !== null) pendingLogins.delete(loginId);
    if (pending === undefined || pending.expiresAt <= now()) {
      return html(reply, signInFailed(brand, 'This sign-in took too long or was started in another browser. Try again.'), 400);
    }
    const callbackUrl = new URL(request.url, appUrl);
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(
        config,
        callbackUrl,
        { expectedState: pending.state, expectedNonce: pending.nonce, pkceCodeVerifier: pending.codeVerifier, idTokenExpected: true },
        { resource: options.resource },
      );
    } catch (err) {
      if (err instanceof oidc.AuthorizationResponseError) {
        // The user said no, or a silent sign-in found no Latchkey session: back to the start.
        if (err.error === 'login_required' || err.error === 'consent_required' || err.error === 'interaction_required') return reply.redirect('/?ended=1');
        if (err.error === 'access_denied') return html(reply, homeSignedOut(brand, 'You did not allow Notes to use your account.'));
      }
      request.log.warn({ err: { name: (err as Error).name, code: (err as { code?: unknown }).code, error: (err as { error?: unknown }).error } }, 'sign-in refused');
      return html(reply, signInFailed(brand, 'Latchkey did not confirm this sign-in. Try again.'), 400);
    }
    const idToken = tokens.claims()!;
    const session: Session = {
      subject: idToken.sub,
      name: null,
      email: null,
      emailVerified: null,
      roles: [],
      idToken: tokens.id_token!,
      accessToken: '',
      accessTokenExpiresAt: 0,
      refreshToken: null,
      refreshing: null,
      expiresAt: now() + SESSION_TTL_MS,
      refreshes: 0,
    };
    keepTokens(session, tokens);
    // The profile claims. The access token above is the API's (its audience is RESOURCE), which
    // UserInfo does not accept; the provider then puts the granted claims in the ID token itself.
    // When it did not, UserInfo is asked with an access token bought with the refresh token,
    // without `resource` (so without an audience).
    let claims: Record<string, unknown> = { ...idToken };
    if (idToken.email === undefined && session.refreshToken !== null && metadata.userinfo_endpoint) {
      try {
        const forUserInfo = await oidc.refreshTokenGrant(config, session.refreshToken);
        if (forUserInfo.refresh_token) session.refreshToken = forUserInfo.refresh_token;
        claims = { ...claims, ...(await oidc.fetchUserInfo(config, forUserInfo.access_token, idToken.sub)) };
      } catch (err) {
        request.log.warn({ err: { name: (err as Error).name, code: (err as { code?: unknown }).code } }, 'userinfo unavailable; the ID token claims are shown');
      }
    }
    session.name = stringClaim(claims.name);
    session.email = stringClaim(claims.email);
    session.emailVerified = typeof claims.email_verified === 'boolean' ? claims.email_verified : null;
    session.roles = rolesClaim(claims.roles);
    const id = randomBytes(24).toString('base64url');
    sessions.set(id, session);
    reply.setCookie(SESSION_COOKIE, id, { ...cookieOptions, maxAge: SESSION_TTL_MS / 1000 });
    reply.setCookie(RETURNING_COOKIE, '1', { ...cookieOptions, maxAge: 365 * 86_400 });
    request.log.info({ subject: session.subject, refreshToken: session.refreshToken !== null }, 'signed in');
    return reply.redirect('/profile');
  });

  app.get('/profile', async (request, reply) => {
    const current = currentSession(request);
    if (current === null) return reply.redirect('/');
    const { session } = current;
    let notes: ProfileView['notes'];
    try {
      notes = await loadNotes(session);
    } catch (err) {
      if (!(err instanceof SessionEnded)) throw err;
      // Refresh refused (or none to use): this app's session ends with the grant. A sign-in with
      // prompt=none gets a new one without a page while the Latchkey session lasts.
      request.log.info({ reason: err.message }, 'session ended');
      sessions.delete(current.id);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.redirect(session.refreshToken === null ? '/login?prompt=none' : '/?ended=1');
    }
    return html(
      reply,
      profile({
        name: session.name,
        email: session.email,
        emailVerified: session.emailVerified,
        roles: session.roles,
        subject: session.subject,
        notes,
        token: { expiresAt: new Date(session.accessTokenExpiresAt), refreshes: session.refreshes, refreshable: session.refreshToken !== null },
      }),
    );
  });

  // Sign-out: this app's session, then Latchkey's own session through its end_session_endpoint
  // (RP-initiated logout), which comes back to APP_URL/. The refresh token is dropped with the
  // session, not revoked: Latchkey (oidc-provider) treats revoking a refresh token (RFC 7009) as
  // ending the whole grant, the remembered consent included, and the user would be asked to
  // consent again at the next sign-in. An app that wants exactly that ("disconnect") revokes it:
  //   await oidc.tokenRevocation(config, session.refreshToken, { token_type_hint: 'refresh_token' });
  app.post('/logout', async (request, reply) => {
    const current = currentSession(request);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    if (current === null) return reply.redirect('/', 303);
    sessions.delete(current.id);
    const { session } = current;
    if (!metadata.end_session_endpoint) return reply.redirect('/', 303);
    const endSession = oidc.buildEndSessionUrl(config, { id_token_hint: session.idToken, post_logout_redirect_uri: home });
    return reply.redirect(endSession.href, 303);
  });

  // --- the API --------------------------------------------------------------------------------

  // Its own scope: @latchkey/verify checks every request under /api offline, against Latchkey's
  // JWKS, with RESOURCE as the only accepted audience. A Latchkey session token (aud = Latchkey's
  // AUDIENCE) or a token issued for another API is refused with 401.
  const notesByUser = new Map<string, { id: string; text: string }[]>();
  await app.register(async (api) => {
    await api.register(latchkeyVerify, { issuer: metadata.issuer, audience: options.resource, jwksUrl: metadata.jwks_uri! });
    api.get('/api/notes', { config: { auth: true } }, async (request) => {
      const claims = request.auth!;
      let notes = notesByUser.get(claims.sub);
      if (notes === undefined) {
        // A first note per user, so the page has something to show.
        notes = [{ id: 'welcome', text: 'Welcome to Notes: this list came from GET /api/notes.' }];
        notesByUser.set(claims.sub, notes);
      }
      return { owner: claims.sub, audience: claims.aud, roles: claims.roles, notes };
    });
  });

  return app;
}

import { createCoordinator, type TabMessage } from './coordinator.js';
import { errorFromResponse, LatchkeyError, networkError } from './errors.js';
import { createTokenStore, sessionIdOf, type AccessToken } from './token-store.js';
import type {
  AccountDeletion,
  AccountDeletionResult,
  AuthChangeListener,
  AuthEvent,
  AuthState,
  ClientOptions,
  ConnectedApp,
  Credentials,
  EmailSignInRequest,
  EmailSignInVerification,
  FactorList,
  FactorProof,
  Identity,
  IdentityList,
  LatchkeyClient,
  LoginResult,
  MfaEnrollmentRequired,
  MfaFactorType,
  MfaRequired,
  MfaVerification,
  Passkey,
  PasswordChange,
  ProfileUpdate,
  ReauthenticationProof,
  Provider,
  ProviderRedirectOptions,
  RedirectResult,
  RegisterInput,
  Session,
  SignOutReason,
  TotpConfirmation,
  TotpEnrollment,
  TotpEnrollmentSignIn,
  User,
} from './types.js';
import { createPasskeyCeremonies } from './passkey-autofill.js';
import {
  browserNavigate,
  browserSessionStorage,
  cleanAddressBar,
  createPkcePair,
  currentPageUrl,
  redirectParams,
  type VerifierStorage,
} from './social.js';
import { browserWebAuthn, createCredential, getAssertion, signalUnknownCredential } from './webauthn.js';

const CSRF_COOKIE = 'lk_csrf';
/** Refresh this long before expiry at most (a quarter of the lifetime for short-lived tokens). */
const MAX_MARGIN_MS = 60_000;
/** Random extra lead so that many tabs and clients do not refresh at the same instant. */
const MAX_JITTER_MS = 10_000;
/**
 * A tab that had to wait for the refresh lock waits this long for the holder's broadcast (which
 * may arrive just after the lock) before refreshing itself. Only efficiency depends on it: the
 * refreshes are serialised either way, so a late broadcast costs one extra rotation, never reuse.
 */
const ADOPT_WAIT_MS = 250;
/** A timer refresh that failed for a transient reason (network, 5xx, 429) is retried after this. */
const RETRY_MS = 5_000;

interface TokenBody {
  access_token: string;
  expires_in: number;
  csrf_token?: string;
}

/** POST /auth/login's answer for an account with a second factor (docs/factors.md). */
interface MfaBody {
  mfa_required: true;
  mfa_token: string;
  factors: MfaFactorType[];
  expires_in: number;
}

/** POST /auth/login's answer for a user who must enrol a second factor first (MFA_REQUIRED_ROLES). */
interface MfaEnrollmentBody {
  mfa_enrollment_required: true;
  mfa_token: string;
  expires_in: number;
}

/** POST /auth/oauth/exchange's answer after a link (the other answers are /auth/login's). */
interface LinkedBody {
  linked: true;
  identity: Identity;
}

type WebAuthnOptions = Record<string, unknown>;

/** The body of a proof for the factor routes: the server's member names. */
function proofBody(proof: FactorProof | undefined): { code: string } | { recovery_code: string } | undefined {
  if (proof === undefined) return undefined;
  return 'code' in proof ? { code: proof.code } : { recovery_code: proof.recoveryCode };
}

const ANONYMOUS: AuthState = Object.freeze({ status: 'anonymous', user: null, reason: null });
const LOADING: AuthState = Object.freeze({ status: 'loading', user: null, reason: null });

function anonymous(reason: SignOutReason | null): AuthState {
  return reason === null ? ANONYMOUS : { status: 'anonymous', user: null, reason };
}

function signedIn(user: User): AuthState {
  return { status: 'authenticated', user, reason: null };
}

/** What a refused refresh's code says about the session's end, when the answer has no `reason`. */
const REASON_BY_CODE: Readonly<Record<string, SignOutReason>> = {
  INVALID_REFRESH_TOKEN: 'session_revoked',
  SESSION_EXPIRED: 'session_expired',
  REFRESH_TOKEN_REUSED: 'reuse_detected',
  ACCOUNT_DISABLED: 'account_disabled',
};

/** The server's `reason` member (why it ended the session, docs/errors.md) as a SignOutReason. */
const REASON_BY_SERVER_REASON: Readonly<Record<string, SignOutReason>> = {
  logout: 'logged_out',
  revoked_by_user: 'revoked_elsewhere',
  revoked_by_admin: 'revoked_by_admin',
  password_changed: 'password_changed',
  password_reset: 'password_reset',
  roles_changed: 'roles_changed',
  reuse_detected: 'reuse_detected',
  account_disabled: 'account_disabled',
  account_deleted: 'account_deleted',
  account_deletion_scheduled: 'account_deletion_scheduled',
  revoked: 'session_revoked',
};

/**
 * The {@link SignOutReason} of a refresh that found the session over: from the server's `reason`
 * member when the answer has one (a reason newer than this SDK is `session_ended`), else from
 * the code.
 *
 * @example
 * signOutReasonFor('INVALID_REFRESH_TOKEN', 'revoked_by_admin'); // 'revoked_by_admin'
 * signOutReasonFor('INVALID_REFRESH_TOKEN');                     // 'session_revoked'
 * signOutReasonFor('REFRESH_TOKEN_REUSED');                      // 'reuse_detected'
 * signOutReasonFor('SOMETHING_NEW');                             // 'session_ended'
 */
export function signOutReasonFor(code: string, reason?: string | null): SignOutReason {
  if (reason !== undefined && reason !== null) {
    return Object.prototype.hasOwnProperty.call(REASON_BY_SERVER_REASON, reason) ? REASON_BY_SERVER_REASON[reason]! : 'session_ended';
  }
  return Object.prototype.hasOwnProperty.call(REASON_BY_CODE, code) ? REASON_BY_CODE[code]! : 'session_ended';
}

function documentCookie(name: string): string | null {
  const doc = (globalThis as { document?: { cookie?: unknown } }).document;
  if (!doc || typeof doc.cookie !== 'string') return null;
  for (const part of doc.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

function pageLocation(): { href: string; origin: string } | null {
  const loc = (globalThis as { location?: { href?: unknown; origin?: unknown } }).location;
  return loc && typeof loc.href === 'string' && typeof loc.origin === 'string' ? { href: loc.href, origin: loc.origin } : null;
}

function marginOf(token: AccessToken): number {
  return Math.min(MAX_MARGIN_MS, token.lifetimeMs / 4);
}

function sameUser(a: User | null, b: User | null): boolean {
  return a === b || (a !== null && b !== null && JSON.stringify(a) === JSON.stringify(b));
}

function reportListenerError(error: unknown): void {
  const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
  if (report) report(error);
  else console.error(error);
}

/**
 * Creates the browser SDK. The access token lives only in this client's closure; the refresh
 * token only in Latchkey's HttpOnly cookie. Call {@link LatchkeyClient.restore} once at start-up
 * (the React `AuthProvider` does) to pick the session up again after a page load.
 *
 * @example
 * const auth = createClient({ baseUrl: '' }); // /auth/* proxied on the page's origin
 * await auth.restore();
 * auth.onAuthChange((state) => render(state.user));
 * await auth.login({ email: 'ada@example.com', password: 'correct horse battery staple' });
 * const orders = await auth.fetch('/api/orders').then((r) => r.json());
 */
export function createClient(options: ClientOptions): LatchkeyClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const fetchImpl: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const now = options.now ?? Date.now;
  const readCookie = options.readCookie ?? documentCookie;
  const autoRefresh = options.autoRefresh ?? true;
  const tokens = createTokenStore();
  const coordinator = createCoordinator(options.channelName ?? 'latchkey');
  const listeners = new Set<AuthChangeListener>();
  const externalChange = new Set<() => void>();

  const page = pageLocation();
  const trustedOrigins = new Set<string>();
  if (page) trustedOrigins.add(page.origin);
  if (/^https?:\/\//i.test(baseUrl)) trustedOrigins.add(new URL(baseUrl).origin);
  for (const origin of options.apiOrigins ?? []) trustedOrigins.add(new URL(origin).origin);
  const cookiesReadable =
    options.readCookie !== undefined ||
    (page !== null && (baseUrl === '' || baseUrl.startsWith('/') || new URL(baseUrl).origin === page.origin));

  let state: AuthState = LOADING;
  let csrfFromBody: string | null = null;
  /** Bumped by every sign-out and login: answers to older requests are dropped. */
  let epoch = 0;
  let refreshing: Promise<string | null> | null = null;
  let restoring: Promise<User | null> | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;
  /** Why the last session ended; restore() reports it when the page load finds the session over. */
  let lastEndReason: SignOutReason | null = null;
  /** Set while this client knows better than the server's code why a session may end (a password reset). */
  let endReasonOverride: SignOutReason | null = null;
  /** Verifications in flight by token: the token is single-use, so a second POST would fail. */
  const verifying = new Map<string, Promise<User>>();
  /** acceptInvite calls in flight, by token: a repeated call shares the request (the token is single-use). */
  const accepting = new Map<string, Promise<User>>();
  /** verifyEmailSignIn calls with a link's token in flight: a repeated call shares the request (single-use). */
  const emailSignIns = new Map<string, Promise<LoginResult>>();
  /** Passkey requests of this page: one at a time, a modal one takes over from the autofill. */
  const ceremonies = createPasskeyCeremonies({
    webauthn,
    options: () => publicOptions('/auth/passkeys/login/options'),
    signIn: passkeySignIn,
    signedIn: () => state.status === 'authenticated',
  });
  /**
   * handleRedirectCallback's runs by the redirect's code: a second call for the same redirect
   * (React StrictMode's double effect) shares the first instead of failing for want of the
   * verifier the first one took. Kept for the page's life: a handful of entries at most.
   */
  const callbacks = new Map<string, Promise<RedirectResult | null>>();
  /** One key per channel: clients of different apps on one origin keep their verifiers apart. */
  const verifierKey = `${options.channelName ?? 'latchkey'}:oauth-verifier`;

  // ---------------------------------------------------------------- state and events

  function setState(next: AuthState, event: AuthEvent): void {
    if (next.status === state.status && sameUser(next.user, state.user) && next.reason === state.reason) {
      if (event !== 'refreshed') return;
    } else {
      state = next === ANONYMOUS ? ANONYMOUS : Object.freeze({ ...next });
      // Signed in (here or in another tab): a passkey picked from the autofill now would start a second session.
      if (state.status === 'authenticated') ceremonies.stopAutofill();
    }
    for (const listener of [...listeners]) {
      try {
        listener(state, event);
      } catch (error) {
        reportListenerError(error);
      }
    }
  }

  function notifyExternalChange(): void {
    for (const wake of [...externalChange]) wake();
  }

  function signOutLocally(reason: SignOutReason | null): void {
    epoch += 1;
    setToken(null);
    csrfFromBody = null;
    lastEndReason = reason;
    notifyExternalChange();
    if (state.status === 'authenticated') setState(anonymous(reason), 'signed_out');
  }

  /** Signs this tab out and tells the others why. */
  function endSession(reason: SignOutReason): void {
    signOutLocally(reason);
    coordinator.broadcast({ type: 'signed_out', reason });
  }

  // ---------------------------------------------------------------- tokens and timers

  function csrf(): string | null {
    return readCookie(CSRF_COOKIE) ?? csrfFromBody;
  }

  /**
   * The CSRF token for a cookie request. When the page can read Latchkey's cookies (same origin,
   * or a readCookie option) a missing cookie means no session; otherwise (Latchkey on another
   * origin, after a reload) GET /auth/csrf returns it.
   */
  async function csrfForRefresh(): Promise<string | null> {
    const known = csrf();
    if (known || cookiesReadable) return known;
    try {
      const response = await fetchImpl(authUrl('/auth/csrf'), { credentials: 'include' });
      if (!response.ok) return null;
      const body = (await response.json()) as { csrf_token?: unknown };
      if (typeof body.csrf_token === 'string') csrfFromBody = body.csrf_token;
      return csrfFromBody;
    } catch (error) {
      throw networkError(error);
    }
  }

  function setToken(token: AccessToken | null): void {
    tokens.set(token);
    schedule(token === null ? null : Math.max(0, token.expiresAt - marginOf(token) - jitter(token) - now()));
  }

  function jitter(token: AccessToken): number {
    return Math.random() * Math.min(MAX_JITTER_MS, token.lifetimeMs / 10);
  }

  function schedule(delayMs: number | null): void {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (delayMs === null || !autoRefresh || closed) return;
    timer = setTimeout(onTimer, Math.min(delayMs, 2_147_483_647));
    // In Node (tests, SSR) a pending refresh must not keep the process alive.
    (timer as { unref?: () => void }).unref?.();
  }

  function onTimer(): void {
    timer = null;
    if (state.status !== 'authenticated') return;
    refresh().catch(() => {
      const token = tokens.get();
      if (token && token.expiresAt > now()) schedule(Math.min(RETRY_MS, (token.expiresAt - now()) / 2));
    });
  }

  function acceptTokens(body: TokenBody): AccessToken {
    if (typeof body.access_token !== 'string' || typeof body.expires_in !== 'number') {
      throw new LatchkeyError('UNEXPECTED_RESPONSE', 'The token response has no access_token.', 200);
    }
    const lifetimeMs = Math.max(1, body.expires_in) * 1000;
    const token: AccessToken = { value: body.access_token, expiresAt: now() + lifetimeMs, lifetimeMs };
    if (typeof body.csrf_token === 'string') csrfFromBody = body.csrf_token;
    setToken(token);
    return token;
  }

  function broadcastTokens(token: AccessToken, reason: 'login' | 'refresh'): void {
    coordinator.broadcast({
      type: 'tokens',
      reason,
      access_token: token.value,
      expires_at: token.expiresAt,
      lifetime_ms: token.lifetimeMs,
      user: state.user,
    });
  }

  /** Resolves when another tab's result arrives (or a sign-out), or after `ms`. */
  function waitForExternalChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        externalChange.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      externalChange.add(done);
    });
  }

  /**
   * Gets a new access token through the refresh cookie. Single flight inside this client; one
   * tab at a time across tabs (the cookie rotates, so a second concurrent use would be reuse).
   * A tab that waited while another refreshed adopts the broadcast result instead of
   * refreshing again. Resolves to null when there is no session.
   */
  function refresh(): Promise<string | null> {
    if (refreshing) return refreshing;
    const startGeneration = tokens.generation();
    const startEpoch = epoch;
    const run = new Promise<string | null>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        externalChange.delete(onExternal);
        fn();
      };
      const current = () => tokens.get()?.value ?? null;
      const onExternal = () => settle(() => resolve(current()));
      externalChange.add(onExternal);
      coordinator
        .exclusive(async (contended) => {
          if (settled || tokens.generation() !== startGeneration || epoch !== startEpoch) return;
          if (contended) {
            // Another tab held the lock, most likely refreshing: its broadcast is on the way.
            await waitForExternalChange(ADOPT_WAIT_MS);
            if (settled || tokens.generation() !== startGeneration || epoch !== startEpoch) return;
          }
          await refreshNow(startEpoch);
        })
        .then(
          () => settle(() => resolve(current())),
          (error: unknown) => settle(() => reject(error)),
        );
    });
    refreshing = run;
    const clear = () => {
      if (refreshing === run) refreshing = null;
    };
    run.then(clear, clear);
    return run;
  }

  /** The refresh request itself; runs under the cross-tab lock. */
  async function refreshNow(startEpoch: number): Promise<void> {
    const csrfToken = await csrfForRefresh();
    const wasAuthenticated = state.status === 'authenticated';
    if (epoch !== startEpoch) return;
    if (!csrfToken) {
      // No CSRF cookie means no refresh cookie either (they are set and cleared together).
      signOutLocally(wasAuthenticated ? (endReasonOverride ?? 'session_ended') : null);
      return;
    }
    let response: Response;
    try {
      response = await fetchImpl(authUrl('/auth/refresh'), {
        method: 'POST',
        credentials: 'include',
        headers: { 'content-type': 'application/json', 'x-auth-mode': 'cookie', 'x-csrf-token': csrfToken },
        body: '{}',
      });
    } catch (error) {
      throw networkError(error);
    }
    if (epoch !== startEpoch) return; // signed out while the request was in flight
    if (response.ok) {
      const token = acceptTokens((await response.json()) as TokenBody);
      broadcastTokens(token, 'refresh');
      if (state.status === 'authenticated') setState(state, 'refreshed');
      return;
    }
    const error = await errorFromResponse(response);
    if (response.status === 401 || response.status === 403) {
      // The session is over (revoked, expired, reused) for every tab: they share the cookie.
      const reason = endReasonOverride ?? signOutReasonFor(error.code, error.reason);
      signOutLocally(reason);
      if (wasAuthenticated) coordinator.broadcast({ type: 'signed_out', reason });
      return;
    }
    throw error;
  }

  /** A usable access token: refreshed first when missing or about to expire; null when signed out. */
  async function validToken(): Promise<string | null> {
    if (state.status === 'loading') await restore().catch(() => null);
    if (state.status !== 'authenticated') return null;
    const token = tokens.get();
    if (token && token.expiresAt - now() > marginOf(token)) return token.value;
    try {
      return await refresh();
    } catch (error) {
      // A transient failure while the old token is still valid: use it rather than fail.
      if (token && token.expiresAt > now() && tokens.get() === token) return token.value;
      throw error;
    }
  }

  // ---------------------------------------------------------------- requests

  function authUrl(path: string): string {
    return `${baseUrl}${path}`;
  }

  function toRequest(input: RequestInfo | URL, init?: RequestInit): Request {
    if (input instanceof Request) return new Request(input, init);
    const base = page?.href ?? (baseUrl || undefined);
    return new Request(new URL(String(input), base), init);
  }

  function send(request: Request, token: string | null): Promise<Response> {
    const attempt = request.clone();
    if (token === null || attempt.headers.has('authorization')) return fetchImpl(attempt);
    const headers = new Headers(attempt.headers);
    headers.set('authorization', `Bearer ${token}`);
    return fetchImpl(new Request(attempt, { headers }));
  }

  async function authorizedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = toRequest(input, init);
    if (!trustedOrigins.has(new URL(request.url).origin)) return fetchImpl(request);
    const token = await validToken();
    const first = await send(request, token);
    if (first.status !== 401 || token === null) return first;
    // Once: a token refreshed meanwhile (by this tab or another) or a fresh refresh, then one retry.
    const latest = tokens.get();
    let retryToken: string | null = latest && latest.value !== token ? latest.value : null;
    if (retryToken === null) retryToken = await refresh().catch(() => null);
    if (retryToken === null) return first;
    return send(request, retryToken);
  }

  async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await authorizedFetch(authUrl(path), {
        method,
        credentials: 'include',
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw error instanceof LatchkeyError ? error : networkError(error);
    }
    if (!response.ok) throw await errorFromResponse(response);
    // 202 and 204 answers have no body.
    const text = await response.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  async function publicRequest(path: string, init: RequestInit): Promise<Response> {
    let response: Response;
    try {
      response = await fetchImpl(authUrl(path), { credentials: 'include', ...init });
    } catch (error) {
      throw networkError(error);
    }
    if (!response.ok) throw await errorFromResponse(response);
    return response;
  }

  /** GET /auth/me with a given token; null when the token is refused. */
  async function fetchUser(token: string): Promise<User | null> {
    let response: Response;
    try {
      response = await send(toRequest(authUrl('/auth/me'), { credentials: 'include' }), token);
    } catch (error) {
      throw networkError(error);
    }
    if (response.status === 401) return null;
    if (!response.ok) throw await errorFromResponse(response);
    return ((await response.json()) as { user: User }).user;
  }

  // ---------------------------------------------------------------- other tabs

  const unsubscribe = coordinator.subscribe((message: TabMessage) => {
    if (closed) return;
    switch (message.type) {
      case 'tokens': {
        // A refresh of a session this tab has left (signed out) is not this tab's business.
        if (message.reason === 'refresh' && state.status === 'anonymous') return;
        if (message.reason === 'login') epoch += 1;
        setToken({ value: message.access_token, expiresAt: message.expires_at, lifetimeMs: message.lifetime_ms });
        notifyExternalChange();
        const user = message.user ?? state.user;
        if (user) setState(signedIn(user), state.status === 'authenticated' && message.reason === 'refresh' ? 'refreshed' : 'signed_in');
        else if (state.status === 'anonymous') {
          // A login elsewhere without the user attached: load it.
          void fetchUser(message.access_token).then((u) => {
            if (u) setState(signedIn(u), 'signed_in');
          }, () => undefined);
        }
        return;
      }
      case 'signed_out':
        signOutLocally(message.reason ?? null);
        return;
      case 'user':
        if (state.status === 'authenticated' && state.user?.id === message.user.id) {
          setState(signedIn(message.user), 'user_updated');
        }
        return;
      default:
        return;
    }
  });

  // A hidden tab's timers are throttled: catch up as soon as it is visible again.
  const doc = (globalThis as { document?: Document }).document;
  const onVisible = () => {
    if (doc?.visibilityState !== 'visible' || state.status !== 'authenticated') return;
    const token = tokens.get();
    if (!token || token.expiresAt - now() <= marginOf(token)) refresh().catch(() => undefined);
  };
  doc?.addEventListener?.('visibilitychange', onVisible);

  // ---------------------------------------------------------------- public API

  function restore(): Promise<User | null> {
    if (restoring) return restoring;
    if (state.status !== 'loading') return Promise.resolve(state.user);
    const run = (async () => {
      const existing = tokens.get();
      const token = existing && existing.expiresAt - now() > marginOf(existing) ? existing.value : await refresh();
      const user = token ? await fetchUser(token) : null;
      if (state.status === 'loading' || (user && !sameUser(user, state.user))) {
        setState(user ? signedIn(user) : anonymous(lastEndReason), 'restored');
      }
      return state.user;
    })();
    restoring = run;
    run.then(
      () => {
        restoring = null;
      },
      () => {
        restoring = null; // a transient failure: a later call tries again
      },
    );
    return run;
  }

  /**
   * POSTs a sign-in in cookie mode, under the refresh lock so that a refresh never runs half on
   * the old session's cookie and half on the new one. Resolves to the new session's access token,
   * or to the server's second-factor challenge (no session, no cookie: nothing changes here).
   */
  function signInRequest(
    path: string,
    body: unknown,
    keep?: (answer: Record<string, unknown>) => void,
  ): Promise<AccessToken | MfaRequired | MfaEnrollmentRequired> {
    return coordinator.exclusive(async () => signInAnswer((await postSignIn(path, body)) as TokenBody | MfaBody | MfaEnrollmentBody, keep));
  }

  async function postSignIn(path: string, body: unknown): Promise<unknown> {
    const response = await publicRequest(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-auth-mode': 'cookie' },
      body: JSON.stringify(body),
    });
    return response.json();
  }

  /**
   * A sign-in route's answer, read under the refresh lock: the new session's token, or the
   * second-factor challenge, or the enrolment a MFA_REQUIRED_ROLES user must make first.
   */
  function signInAnswer(
    answer: TokenBody | MfaBody | MfaEnrollmentBody,
    keep?: (answer: Record<string, unknown>) => void,
  ): AccessToken | MfaRequired | MfaEnrollmentRequired {
    if ('mfa_required' in answer && answer.mfa_required === true) {
      return { status: 'mfa_required', mfaToken: answer.mfa_token, factors: answer.factors, expiresIn: answer.expires_in };
    }
    if ('mfa_enrollment_required' in answer && answer.mfa_enrollment_required === true) {
      return { status: 'mfa_enrollment_required', mfaToken: answer.mfa_token, expiresIn: answer.expires_in };
    }
    // What an enrolment answers beside the tokens (recovery codes, the passkey), for its caller.
    keep?.(answer as unknown as Record<string, unknown>);
    epoch += 1; // answers to requests of the previous session no longer count
    return acceptTokens(answer as TokenBody);
  }

  /** A new session's token: load its user, sign in here and tell the other tabs. */
  async function completeSignIn(token: AccessToken): Promise<User> {
    const user = await fetchUser(token.value);
    if (!user) throw new LatchkeyError('INVALID_TOKEN', 'The new session was ended before it could be used.', 401);
    lastEndReason = null;
    setState(signedIn(user), 'signed_in');
    broadcastTokens(token, 'login');
    return user;
  }

  /** A sign-in route that answers tokens only (a passkey, the second factor). */
  async function signInWithTokens(path: string, body: unknown, keep?: (answer: Record<string, unknown>) => void): Promise<User> {
    const result = await signInRequest(path, body, keep);
    if ('status' in result) throw new LatchkeyError('UNEXPECTED_RESPONSE', 'The server asked for another factor.', 200);
    return completeSignIn(result);
  }

  /** A first-factor sign-in route: signed in (here and in every tab), or the second factor still to do. */
  async function signInWith(path: string, body: unknown): Promise<LoginResult> {
    const result = await signInRequest(path, body);
    if ('status' in result) return result;
    return { status: 'signed_in', user: await completeSignIn(result) };
  }

  function login(credentials: Credentials): Promise<LoginResult> {
    return signInWith('/auth/login', { email: credentials.email, password: credentials.password });
  }

  // ---------------------------------------------------------------- email sign-in (docs/email.md)

  function verifyEmailSignIn(verification: EmailSignInVerification): Promise<LoginResult> {
    if (!('token' in verification)) {
      return signInWith('/auth/email/sign-in/verify', { email: verification.email, code: verification.code });
    }
    const token = verification.token;
    const running = emailSignIns.get(token);
    if (running) return running;
    // A double click (or React's StrictMode) would otherwise spend the link, then see INVALID_SIGN_IN_CODE.
    const run = signInWith('/auth/email/sign-in/verify', { token });
    emailSignIns.set(token, run);
    const clear = () => {
      if (emailSignIns.get(token) === run) emailSignIns.delete(token);
    };
    run.then(clear, clear);
    return run;
  }

  function webauthn() {
    return options.credentials ?? browserWebAuthn();
  }

  /** POSTs to a route answering `{ options }` (WebAuthn options in their JSON form). */
  async function publicOptions(path: string, body?: unknown): Promise<WebAuthnOptions> {
    const response = await publicRequest(path, {
      method: 'POST',
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return ((await response.json()) as { options: WebAuthnOptions }).options;
  }

  async function verifyMfa(verification: MfaVerification): Promise<User> {
    const mfaToken = verification.mfaToken;
    let body: Record<string, unknown>;
    if ('code' in verification) body = { mfa_token: mfaToken, code: verification.code };
    else if ('recoveryCode' in verification) body = { mfa_token: mfaToken, recovery_code: verification.recoveryCode };
    else {
      // The browser's dialog may stay open a while: only the verification runs under the lock.
      const options = await publicOptions('/auth/mfa/passkey/options', { mfa_token: mfaToken });
      body = { mfa_token: mfaToken, passkey: await ceremonies.modal(() => getAssertion(webauthn(), options)) };
    }
    return signInWithTokens('/auth/mfa/verify', body);
  }

  async function startTotpEnrollmentToSignIn(mfaToken: string): Promise<TotpEnrollment> {
    const response = await publicRequest('/auth/mfa/enroll/totp', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mfa_token: mfaToken }),
    });
    return (await response.json()) as TotpEnrollment;
  }

  async function confirmTotpEnrollmentToSignIn(mfaToken: string, code: string): Promise<TotpEnrollmentSignIn> {
    let recoveryCodes: string[] = [];
    const user = await signInWithTokens('/auth/mfa/enroll/totp/confirm', { mfa_token: mfaToken, code }, (answer) => {
      recoveryCodes = Array.isArray(answer.recovery_codes) ? (answer.recovery_codes as string[]) : [];
    });
    return { user, recoveryCodes };
  }

  async function enrollPasskeyToSignIn(mfaToken: string, name?: string): Promise<{ user: User; passkey: Passkey }> {
    const options = await publicOptions('/auth/mfa/enroll/passkey/options', { mfa_token: mfaToken });
    // The browser's dialog may stay open a while: only the verification runs under the lock.
    const credential = await ceremonies.modal(() => createCredential(webauthn(), options));
    const body: Record<string, unknown> = { mfa_token: mfaToken, credential };
    if (name !== undefined && name.trim() !== '') body.name = name.trim();
    let passkey: Passkey | null = null;
    const user = await signInWithTokens('/auth/mfa/enroll/passkey', body, (answer) => {
      passkey = answer.passkey as Passkey;
    });
    return { user, passkey: passkey! };
  }

  /** Verifies a passkey sign-in's assertion (a dialog's or the autofill's) and signs in. */
  async function passkeySignIn(assertion: WebAuthnOptions, options: WebAuthnOptions): Promise<User> {
    try {
      return await signInWithTokens('/auth/passkeys/login/verify', { response: assertion });
    } catch (error) {
      // Deleted here (or never registered): have the device stop offering it.
      if (error instanceof LatchkeyError && error.code === 'PASSKEY_UNKNOWN') signalUnknownCredential(options.rpId, assertion.id);
      throw error;
    }
  }

  async function signInWithPasskey(): Promise<User> {
    return ceremonies.modal(async () => {
      const options = await publicOptions('/auth/passkeys/login/options');
      return passkeySignIn(await getAssertion(webauthn(), options), options);
    });
  }

  async function registerPasskey(name?: string): Promise<Passkey> {
    const { options } = await api<{ options: WebAuthnOptions }>('POST', '/auth/passkeys/register/options');
    const response = await ceremonies.modal(() => createCredential(webauthn(), options));
    const body: Record<string, unknown> = { response };
    if (name !== undefined && name.trim() !== '') body.name = name.trim();
    return (await api<{ passkey: Passkey }>('POST', '/auth/passkeys/register/verify', body)).passkey;
  }

  /**
   * POST /auth/reauthenticate in cookie mode (its CSRF header), under the refresh lock: the
   * answer rotates the refresh cookie, so no refresh of this or another tab may run half on the
   * old cookie. Its access token is then shared with the other tabs like a refresh's.
   */
  async function reauthenticateWith(body: Record<string, unknown>): Promise<void> {
    const access = await validToken();
    if (access === null) throw new LatchkeyError('UNAUTHORIZED', 'Not signed in.', 401);
    await coordinator.exclusive(async () => {
      const csrfToken = await csrfForRefresh();
      let response: Response;
      try {
        response = await fetchImpl(authUrl('/auth/reauthenticate'), {
          method: 'POST',
          credentials: 'include',
          headers: {
            authorization: `Bearer ${tokens.get()?.value ?? access}`,
            'content-type': 'application/json',
            'x-auth-mode': 'cookie',
            ...(csrfToken ? { 'x-csrf-token': csrfToken } : {}),
          },
          body: JSON.stringify(body),
        });
      } catch (error) {
        throw networkError(error);
      }
      if (!response.ok) throw await errorFromResponse(response);
      const token = acceptTokens((await response.json()) as TokenBody);
      broadcastTokens(token, 'refresh');
      if (state.status === 'authenticated') setState(state, 'refreshed');
    });
  }

  function reauthenticate(proof: ReauthenticationProof): Promise<void> {
    if ('password' in proof) return reauthenticateWith({ password: proof.password });
    return reauthenticateWith(proofBody(proof)!);
  }

  async function reauthenticateWithPasskey(): Promise<void> {
    const { options } = await api<{ options: WebAuthnOptions }>('POST', '/auth/reauthenticate/passkey/options');
    // The browser's dialog may stay open a while: only the verification runs under the lock.
    const assertion = await ceremonies.modal(() => getAssertion(webauthn(), options));
    await reauthenticateWith({ passkey: assertion });
  }

  // ---------------------------------------------------------------- the account itself (export, deletion)

  /** `latchkey-export-<id>.json` from the answer's Content-Disposition; a plain name when it has none. */
  function attachmentName(response: Response): string {
    const header = response.headers.get('content-disposition') ?? '';
    const name = /filename="([^"\\/]+)"/.exec(header)?.[1];
    return name ?? 'latchkey-export.json';
  }

  async function exportMyData(): Promise<File> {
    let response: Response;
    try {
      response = await authorizedFetch(authUrl('/auth/me/export'), { credentials: 'include' });
    } catch (error) {
      throw error instanceof LatchkeyError ? error : networkError(error);
    }
    if (!response.ok) throw await errorFromResponse(response);
    return new File([await response.arrayBuffer()], attachmentName(response), { type: 'application/json' });
  }

  /**
   * DELETE /auth/me under the refresh lock, as reauthenticateWith does: the deletion ends every
   * session, and a refresh of another tab sent meanwhile would be refused and sign it out with a
   * reason that is not the real one. Every tab hears the real one before the lock is let go.
   */
  async function deleteAccount(deletion: AccountDeletion = {}): Promise<AccountDeletionResult> {
    const access = await validToken();
    if (access === null) throw new LatchkeyError('UNAUTHORIZED', 'Not signed in.', 401);
    return coordinator.exclusive(async () => {
      let response: Response;
      try {
        response = await fetchImpl(authUrl('/auth/me'), {
          method: 'DELETE',
          credentials: 'include',
          headers: { authorization: `Bearer ${tokens.get()?.value ?? access}`, 'content-type': 'application/json' },
          body: JSON.stringify(deletion.currentPassword === undefined ? {} : { current_password: deletion.currentPassword }),
        });
      } catch (error) {
        throw networkError(error);
      }
      if (!response.ok) throw await errorFromResponse(response);
      const text = await response.text();
      const body = (text === '' ? {} : JSON.parse(text)) as { deletes_at?: unknown };
      const deletesAt = typeof body.deletes_at === 'string' ? body.deletes_at : null;
      endSession(deletesAt === null ? 'account_deleted' : 'account_deletion_scheduled');
      return { deletesAt };
    });
  }

  // ---------------------------------------------------------------- social sign-in (docs/social-login.md)

  function verifierStorage(): VerifierStorage {
    const storage = options.verifierStorage ?? browserSessionStorage();
    if (!storage) throw new LatchkeyError('INVALID_REQUEST', 'A social sign-in needs sessionStorage (or the verifierStorage option).', 0);
    return storage;
  }

  /** A fresh PKCE pair whose verifier waits in this tab's storage for the way back. */
  async function newVerifier(): Promise<string> {
    const storage = verifierStorage();
    const { verifier, challenge } = await createPkcePair();
    storage.setItem(verifierKey, verifier);
    return challenge;
  }

  /** The verifier of the flow this tab started, taken out: it serves one exchange at most. */
  function takeVerifier(): string | null {
    const storage = options.verifierStorage ?? browserSessionStorage();
    if (!storage) return null;
    const verifier = storage.getItem(verifierKey);
    storage.removeItem(verifierKey);
    return verifier;
  }

  function navigate(url: string): void {
    (options.navigate ?? browserNavigate)(url);
  }

  async function signInWithProvider(provider: string, redirect: ProviderRedirectOptions = {}): Promise<void> {
    const redirectTo = redirect.redirectTo ?? currentPageUrl();
    const challenge = await newVerifier();
    const query = new URLSearchParams({ redirect_to: redirectTo, code_challenge: challenge });
    navigate(`${authUrl(`/auth/oauth/${encodeURIComponent(provider)}/start`)}?${query}`);
  }

  async function linkProvider(provider: string, redirect: ProviderRedirectOptions = {}): Promise<void> {
    const redirectTo = redirect.redirectTo ?? currentPageUrl();
    const { verifier, challenge } = await createPkcePair();
    const storage = verifierStorage();
    const { url } = await api<{ url: string }>('POST', `/auth/identities/${encodeURIComponent(provider)}/link`, {
      redirect_to: redirectTo,
      code_challenge: challenge,
    });
    storage.setItem(verifierKey, verifier);
    // A path is on Latchkey (the same /start route, with a one-time link ticket).
    navigate(url.startsWith('/') && !url.startsWith('//') ? authUrl(url) : url);
  }

  /** POST /auth/oauth/exchange under the refresh lock: a session (as a login), a second-factor challenge, or a link. */
  function exchangeCode(
    code: string,
    verifier: string,
  ): Promise<AccessToken | MfaRequired | MfaEnrollmentRequired | { status: 'linked'; identity: Identity }> {
    return coordinator.exclusive(async () => {
      const answer = (await postSignIn('/auth/oauth/exchange', { code, code_verifier: verifier })) as TokenBody | MfaBody | MfaEnrollmentBody | LinkedBody;
      if ('linked' in answer && answer.linked === true) return { status: 'linked', identity: answer.identity };
      return signInAnswer(answer as TokenBody | MfaBody | MfaEnrollmentBody);
    });
  }

  function handleRedirectCallback(url?: string): Promise<RedirectResult | null> {
    const href = url ?? pageLocation()?.href;
    if (href === undefined) return Promise.resolve(null);
    const params = redirectParams(href);
    if (params.kind === 'none') return Promise.resolve(null);
    const key = `${params.kind}:${params.code}`;
    const running = callbacks.get(key);
    if (running) return running;
    // Before anything else: the code leaves the address bar (and the history entry).
    cleanAddressBar(href);
    const verifier = takeVerifier();
    const run = (async (): Promise<RedirectResult> => {
      if (params.kind === 'error') {
        throw new LatchkeyError(params.code, `The sign-in with the provider was refused (${params.code}).`, 0);
      }
      // No verifier: this tab started no sign-in, so the code is someone else's. Exchanging it
      // could sign this visitor in to an account of the sender's (login CSRF), so it is not sent.
      if (verifier === null) {
        throw new LatchkeyError('INVALID_OAUTH_STATE', 'This sign-in was not started in this tab, or it was finished already. Start it again.', 0);
      }
      const result = await exchangeCode(params.code, verifier);
      if ('status' in result) return result;
      return { status: 'signed_in', user: await completeSignIn(result) };
    })();
    callbacks.set(key, run);
    return run;
  }

  async function logout(): Promise<void> {
    const token = tokens.get()?.value ?? null;
    let failure: LatchkeyError | null = null;
    try {
      let response: Response | null = null;
      if (token) {
        response = await fetchImpl(authUrl('/auth/logout'), {
          method: 'POST',
          credentials: 'include',
          headers: { authorization: `Bearer ${token}` },
        });
      }
      const csrfToken = !response || response.status === 401 ? await csrfForRefresh() : null;
      if (csrfToken) {
        // No usable access token: end the session by its cookie instead.
        response = await fetchImpl(authUrl('/auth/logout'), {
          method: 'POST',
          credentials: 'include',
          headers: { 'x-csrf-token': csrfToken },
        });
      }
      if (response && !response.ok && response.status !== 401) failure = await errorFromResponse(response);
    } catch (error) {
      failure = networkError(error);
    }
    endSession('logged_out');
    if (failure) throw failure;
  }

  async function me(): Promise<User> {
    const { user } = await api<{ user: User }>('GET', '/auth/me');
    if (state.status === 'authenticated') setState(signedIn(user), 'user_updated');
    return user;
  }

  function verifyEmail(token: string): Promise<User> {
    const running = verifying.get(token);
    if (running) return running;
    const run = (async () => {
      // A page opened from the mail is often still restoring its session: settle that first, so
      // that the verified user below is not overwritten by a profile loaded before it.
      if (state.status === 'loading') await restore().catch(() => null);
      const response = await publicRequest('/auth/email/verify', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token }),
      });
      const { user } = (await response.json()) as { user: User };
      if (state.status === 'authenticated' && state.user?.id === user.id) {
        setState(signedIn(user), 'user_updated');
        coordinator.broadcast({ type: 'user', user });
        // The access token carries email_verified: a new one, so that APIs see the change now.
        await refresh().catch(() => null);
      }
      return user;
    })();
    verifying.set(token, run);
    const clear = () => {
      if (verifying.get(token) === run) verifying.delete(token);
    };
    run.then(clear, clear);
    return run;
  }

  async function resendVerification(): Promise<void> {
    try {
      await api<void>('POST', '/auth/email/verify-request');
    } catch (error) {
      if (error instanceof LatchkeyError && error.code === 'EMAIL_ALREADY_VERIFIED' && state.status === 'authenticated') {
        // Verified meanwhile (another browser, or the link opened elsewhere): show it.
        const user = await me().catch(() => null);
        if (user) coordinator.broadcast({ type: 'user', user });
      }
      throw error;
    }
  }

  async function resetPassword(token: string, newPassword: string): Promise<void> {
    if (state.status === 'loading') await restore().catch(() => null);
    await publicRequest('/auth/password/reset', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, new_password: newPassword }),
    });
    if (state.status !== 'authenticated') return;
    // The server ended every session of the reset account. Was this one among them? (The
    // reset account need not be the signed-in one: the link may be another person's.)
    endReasonOverride = 'password_reset';
    try {
      const access = await validToken().catch(() => null);
      if (state.status !== 'authenticated' || access === null) return; // a refresh found it over
      const user = await fetchUser(access).catch(() => undefined);
      if (user === null) endSession('password_reset');
    } finally {
      endReasonOverride = null;
    }
  }

  function acceptInvite(token: string, password: string): Promise<User> {
    const running = accepting.get(token);
    if (running) return running;
    const run = (async () => {
      const response = await publicRequest('/auth/invite/accept', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token, password }),
      });
      return ((await response.json()) as { user: User }).user;
    })();
    // A double click (or React's StrictMode) would otherwise spend the token, then see TOKEN_INVALID.
    accepting.set(token, run);
    const clear = () => {
      if (accepting.get(token) === run) accepting.delete(token);
    };
    run.then(clear, clear);
    return run;
  }

  return {
    getState: () => state,
    onAuthChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    restore,
    async register(input: RegisterInput) {
      const body: Record<string, string> = { email: input.email, password: input.password };
      if (input.name !== undefined && input.name !== '') body.name = input.name;
      if (input.locale !== undefined && input.locale !== '') body.locale = input.locale;
      const response = await publicRequest('/auth/register', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return ((await response.json()) as { user: User }).user;
    },
    login,
    async requestEmailSignIn(request: EmailSignInRequest) {
      const body: Record<string, string> = { email: request.email };
      if (request.redirectTo !== undefined) body.redirect_to = request.redirectTo;
      await publicRequest('/auth/email/sign-in', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    },
    verifyEmailSignIn,
    logout,
    async logoutAll() {
      try {
        await api<void>('POST', '/auth/logout-all');
      } catch (error) {
        if (!(error instanceof LatchkeyError && error.status === 401)) throw error;
      }
      endSession('logged_out');
    },
    me,
    async updateMe(update: ProfileUpdate) {
      const { user } = await api<{ user: User }>('PATCH', '/auth/me', update);
      setState(signedIn(user), 'user_updated');
      coordinator.broadcast({ type: 'user', user });
      return user;
    },
    exportMyData,
    deleteAccount,
    async changePassword(change: PasswordChange) {
      await api<void>('POST', '/auth/change-password', {
        current_password: change.currentPassword,
        new_password: change.newPassword,
        ...proofBody(change.proof),
      });
    },
    async sessions() {
      return (await api<{ sessions: Session[] }>('GET', '/auth/sessions')).sessions;
    },
    async revokeSession(id: string) {
      const token = tokens.get()?.value;
      await api<void>('DELETE', `/auth/sessions/${encodeURIComponent(id)}`);
      if (token && sessionIdOf(token) === id) endSession('logged_out');
    },
    verifyEmail,
    resendVerification,
    async requestPasswordReset(email: string) {
      await publicRequest('/auth/password/forgot', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email }),
      });
    },
    resetPassword,
    acceptInvite,
    verifyMfa,
    signInWithPasskey,
    startTotpEnrollmentToSignIn,
    confirmTotpEnrollmentToSignIn,
    enrollPasskeyToSignIn,
    signInWithPasskeyAutofill: (autofill?: { signal?: AbortSignal }) => ceremonies.autofill(autofill?.signal),
    listFactors: () => api<FactorList>('GET', '/auth/factors'),
    enrollTotp: () => api<TotpEnrollment>('POST', '/auth/factors/totp'),
    confirmTotp: (code: string) => api<TotpConfirmation>('POST', '/auth/factors/totp/confirm', { code }),
    async removeTotp(proof?: FactorProof) {
      await api<void>('DELETE', '/auth/factors/totp', proofBody(proof));
    },
    async regenerateRecoveryCodes(proof?: FactorProof) {
      return (await api<{ recovery_codes: string[] }>('POST', '/auth/factors/recovery-codes', proofBody(proof))).recovery_codes;
    },
    registerPasskey,
    async listPasskeys() {
      return (await api<{ passkeys: Passkey[] }>('GET', '/auth/passkeys')).passkeys;
    },
    async renamePasskey(id: string, name: string) {
      return (await api<{ passkey: Passkey }>('PATCH', `/auth/passkeys/${encodeURIComponent(id)}`, { name })).passkey;
    },
    async removePasskey(id: string, proof?: FactorProof) {
      await api<void>('DELETE', `/auth/passkeys/${encodeURIComponent(id)}`, proofBody(proof));
    },
    reauthenticate,
    reauthenticateWithPasskey,
    async listProviders() {
      const response = await publicRequest('/auth/oauth/providers', { method: 'GET' });
      return ((await response.json()) as { providers: Provider[] }).providers;
    },
    signInWithProvider,
    handleRedirectCallback,
    listIdentities: () => api<IdentityList>('GET', '/auth/identities'),
    linkProvider,
    async unlinkIdentity(id: string) {
      await api<void>('DELETE', `/auth/identities/${encodeURIComponent(id)}`);
    },
    async listConnectedApps() {
      return (await api<{ apps: ConnectedApp[] }>('GET', '/auth/connected-apps')).apps;
    },
    async revokeConnectedApp(clientId: string) {
      await api<void>('DELETE', `/auth/connected-apps/${encodeURIComponent(clientId)}`);
    },
    fetch: authorizedFetch,
    getAccessToken: validToken,
    close() {
      closed = true;
      ceremonies.stopAutofill();
      schedule(null);
      unsubscribe();
      coordinator.close();
      doc?.removeEventListener?.('visibilitychange', onVisible);
      listeners.clear();
    },
  };
}

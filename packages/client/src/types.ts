/** A Latchkey user, as the server returns it (never a password hash). */
export interface User {
  id: string;
  email: string;
  name: string | null;
  roles: string[];
  email_verified: boolean;
  disabled: boolean;
  created_at: string;
  updated_at: string;
  /**
   * The language of the user's mail (BCP 47, lower-case, such as `en` or `de`); null: none
   * chosen, and the server follows the browser's Accept-Language, else its DEFAULT_LOCALE.
   */
  locale: string | null;
}

/** One live session of the current user (GET /auth/sessions). */
export interface Session {
  id: string;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  user_agent: string | null;
  ip: string | null;
  /** True for the session this client is using. */
  current: boolean;
}

/**
 * Why the session ended, as far as the client can tell. The server says why a session it ended
 * is over (the `reason` member of its refusal); an older server only gives the code, and then
 * the less precise value in brackets applies.
 * - `logged_out`: `logout`, `logoutAll` or revoking the current session, in this tab or another,
 *   or a logout (everywhere) from another device;
 * - `session_expired`: the server answered SESSION_EXPIRED (idle timeout or absolute lifetime);
 * - `revoked_elsewhere`: the user ended this session from another of their devices (sessions
 *   page);
 * - `revoked_by_admin`: an administrator ended it;
 * - `password_changed`: the password was changed on another device (a change ends every other
 *   session of the account);
 * - `password_reset`: the password was reset (a reset ends every session of the account), in
 *   this browser with {@link LatchkeyClient.resetPassword} or from a mailed link elsewhere;
 * - `roles_changed`: an administrator changed the account's roles and ended its sessions;
 * - `account_disabled`: the account was disabled (ACCOUNT_DISABLED);
 * - `account_deleted`: the user deleted the account ({@link LatchkeyClient.deleteAccount}), in
 *   this tab or another;
 * - `account_deletion_scheduled`: the user asked for the account's deletion and the server keeps
 *   it for a grace period (ACCOUNT_DELETION_GRACE) with every session ended; signing in again
 *   before then cancels the deletion;
 * - `reuse_detected`: a spent refresh token was used again, which can mean it was copied, and
 *   the server ended the session (REFRESH_TOKEN_REUSED);
 * - `session_revoked`: the session was revoked and the server did not say why (INVALID_REFRESH_TOKEN
 *   from a server that does not send `reason`);
 * - `session_ended`: the session is gone for a reason the client cannot tell (its cookie
 *   vanished, or a code or reason this SDK does not know).
 */
export type SignOutReason =
  | 'logged_out'
  | 'session_expired'
  | 'revoked_elsewhere'
  | 'revoked_by_admin'
  | 'password_changed'
  | 'password_reset'
  | 'roles_changed'
  | 'account_disabled'
  | 'account_deleted'
  | 'account_deletion_scheduled'
  | 'reuse_detected'
  | 'session_revoked'
  | 'session_ended';

/**
 * Where the client stands: `loading` until the first {@link LatchkeyClient.restore} settles,
 * then `authenticated` (with a user) or `anonymous`.
 */
export interface AuthState {
  readonly status: 'loading' | 'authenticated' | 'anonymous';
  readonly user: User | null;
  /**
   * Why the last session ended, while `anonymous` after one did (also when a page load found the
   * session over); null otherwise, and again after the next sign-in.
   */
  readonly reason: SignOutReason | null;
}

/** Why the state changed. `refreshed` is emitted for every new access token, in every tab. */
export type AuthEvent = 'restored' | 'signed_in' | 'signed_out' | 'refreshed' | 'user_updated';

export type AuthChangeListener = (state: AuthState, event: AuthEvent) => void;

export interface ClientOptions {
  /**
   * Where Latchkey's `/auth/*` routes live: `''` or `location.origin` when they are proxied on
   * the page's own origin (recommended: the refresh cookie is then first-party), or an absolute
   * URL such as `https://auth.example.com`.
   */
  baseUrl: string;
  /** The fetch to use; default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /**
   * Origins (besides `baseUrl`'s and the page's) whose requests through {@link LatchkeyClient.fetch}
   * get the access token. Requests to any other origin are sent without it.
   */
  apiOrigins?: string[];
  /** Refresh ahead of expiry on a timer (default true). When false, refresh happens on demand only. */
  autoRefresh?: boolean;
  /** The BroadcastChannel / Web Lock name prefix; tabs sharing it share one session. Default `latchkey`. */
  channelName?: string;
  /**
   * Reads a cookie visible to scripts (only `lk_csrf` is ever read). Default: `document.cookie`.
   * Override outside browsers.
   */
  readCookie?: (name: string) => string | null;
  /** The clock, in epoch milliseconds; default `Date.now`. */
  now?: () => number;
  /**
   * The WebAuthn API the passkey methods use: default `navigator.credentials`. Override outside
   * browsers (tests), or to wrap the browser's (say, to add an `AbortSignal`).
   */
  credentials?: Pick<CredentialsContainer, 'create' | 'get'>;
  /**
   * Where a social sign-in keeps its PKCE verifier while the browser is away at the provider:
   * default `sessionStorage` (this tab only). Override outside browsers (tests).
   */
  verifierStorage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
  /** Navigates the page to a provider; default `location.assign`. Override outside browsers (tests). */
  navigate?: (url: string) => void;
}

/** The body of a login or register call. */
export interface Credentials {
  email: string;
  password: string;
}

export interface RegisterInput extends Credentials {
  name?: string;
  /** The language of the account's mail (a BCP 47 tag: `en`, `de`, ...); omitted: the browser's. */
  locale?: string;
}

export interface ProfileUpdate {
  name?: string | null;
  /** The language of the account's mail (a BCP 47 tag); null clears it (the browser's language then). */
  locale?: string | null;
}

/** {@link LatchkeyClient.requestEmailSignIn}: where to mail the sign-in link and code. */
export interface EmailSignInRequest {
  email: string;
  /**
   * Passed to the server as `redirect_to` (it must be on its REDIRECT_ALLOWED_URLS); the mailed
   * link still opens APP_URL/email-sign-in.
   */
  redirectTo?: string;
}

/**
 * {@link LatchkeyClient.verifyEmailSignIn}: the `token` of the mailed link, or the address and
 * the 6-digit code of the same mail. Either works once; using one spends both.
 */
export type EmailSignInVerification = { token: string } | { email: string; code: string };

/** {@link LatchkeyClient.deleteAccount}: the proof the server asks of an account without a second factor. */
export interface AccountDeletion {
  /**
   * The account's password. Not needed within the step-up window of a recent sign-in or
   * reauthentication; an account with a second factor proves itself with `reauthenticate`
   * instead (the server answers REAUTHENTICATION_REQUIRED).
   */
  currentPassword?: string;
}

/** What {@link LatchkeyClient.deleteAccount} resolves to. */
export interface AccountDeletionResult {
  /**
   * null: the account and everything of it are gone. An ISO time: the server keeps the account
   * until then (ACCOUNT_DELETION_GRACE) and signing in again before it cancels the deletion.
   * Every session has ended either way.
   */
  deletesAt: string | null;
}

export interface PasswordChange {
  currentPassword: string;
  newPassword: string;
  /**
   * For an account with a second factor whose session did not authenticate with it recently:
   * a code or recovery code, instead of calling `reauthenticate` first.
   */
  proof?: FactorProof;
}

/** What a password login's second step may be answered with (`factors` of {@link MfaRequired}). */
export type MfaFactorType = 'totp' | 'recovery_code' | 'passkey';

/**
 * `login()` of an account with a second factor: no session yet. Finish it within `expiresIn`
 * seconds with {@link LatchkeyClient.verifyMfa} (a code, a recovery code, or a passkey when
 * `factors` lists `passkey`), or start again from the password.
 */
export interface MfaRequired {
  status: 'mfa_required';
  /** Single use; spent by the verification that succeeds. Keep it in memory only. */
  mfaToken: string;
  factors: MfaFactorType[];
  /** Seconds the mfaToken stays usable (the server's MFA_CHALLENGE_TTL). */
  expiresIn: number;
}

/**
 * `login()` of a user whose role requires a second factor (the server's MFA_REQUIRED_ROLES) and
 * who has none yet: no session. Enrol one within `expiresIn` seconds, which signs in:
 * {@link LatchkeyClient.startTotpEnrollmentToSignIn} then
 * {@link LatchkeyClient.confirmTotpEnrollmentToSignIn}, or
 * {@link LatchkeyClient.enrollPasskeyToSignIn}.
 */
export interface MfaEnrollmentRequired {
  status: 'mfa_enrollment_required';
  /** Single use; spent by the enrolment that signs in. Keep it in memory only. */
  mfaToken: string;
  /** Seconds the mfaToken stays usable (the server's MFA_CHALLENGE_TTL). */
  expiresIn: number;
}

/** The end of an enrolment at sign-in with an authenticator: signed in, and the recovery codes to show once. */
export interface TotpEnrollmentSignIn {
  user: User;
  /** Shown this once: each works once in place of a code. */
  recoveryCodes: string[];
}

/** What `login()` resolves to: signed in (here and in every tab), a second factor to answer, or one to enrol. */
export type LoginResult = { status: 'signed_in'; user: User } | MfaRequired | MfaEnrollmentRequired;

/** The second step of a login: exactly one of a TOTP code, a recovery code, or a passkey. */
export type MfaVerification =
  | { mfaToken: string; code: string }
  | { mfaToken: string; recoveryCode: string }
  /** Asks the browser for one of the account's passkeys (navigator.credentials.get). */
  | { mfaToken: string; passkey: true };

/**
 * Proof for removing the authenticator, replacing the recovery codes or removing a passkey: a
 * current code or a recovery code. Not needed within 5 minutes of a sign-in with the second
 * factor (or a passkey that verified the user); otherwise the server answers
 * REAUTHENTICATION_REQUIRED.
 */
export type FactorProof = { code: string } | { recoveryCode: string };

/**
 * A proof for `reauthenticate`: the password (an account without a second factor), or a code or
 * recovery code of the authenticator (an account with one). A passkey: `reauthenticateWithPasskey()`.
 */
export type ReauthenticationProof = { password: string } | FactorProof;

/** A second factor of the account (GET /auth/factors). */
export interface Factor {
  id: string;
  type: 'totp';
  /** `pending` until its first code confirms it; only an active factor is asked for at login. */
  status: 'pending' | 'active';
  created_at: string;
  confirmed_at: string | null;
  last_used_at: string | null;
}

export interface FactorList {
  factors: Factor[];
  recovery_codes_left: number;
}

/** `enrollTotp()`: show `qr_code` (an `<img src>`) or `secret` to the user, then `confirmTotp(code)`. */
export interface TotpEnrollment {
  factor: Factor;
  /** Base32, for typing into an authenticator app by hand. */
  secret: string;
  otpauth_uri: string;
  /** `data:image/svg+xml;base64,...` of `otpauth_uri`. */
  qr_code: string;
}

/** `confirmTotp()`: the factor is active; the recovery codes are shown this once. */
export interface TotpConfirmation {
  factor: Factor;
  recovery_codes: string[];
}

/** A registered passkey (no key material is ever answered). */
export interface Passkey {
  id: string;
  name: string;
  /** `multiDevice`: a synced passkey (password manager, iCloud Keychain, ...); `singleDevice`: bound to its authenticator. */
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: boolean;
  transports: string[];
  aaguid: string;
  created_at: string;
  last_used_at: string | null;
}

/** A sign-in provider the server offers (`GET /auth/oauth/providers`): show "Sign in with {name}". */
export interface Provider {
  /** The id in the server's SOCIAL_PROVIDERS (`google`, `github`, ...): pass it to signInWithProvider. */
  id: string;
  /** The display name (SOCIAL_<ID>_NAME): Google, GitHub, Microsoft, ... */
  name: string;
}

/** An account at a provider linked to the user (GET /auth/identities); no token of the provider is ever answered. */
export interface Identity {
  id: string;
  provider: string;
  provider_name: string;
  /** The address the provider gave at the last sign-in; null when it gave none. */
  email: string | null;
  /** Whether the provider said it verified that address. */
  email_verified: boolean;
  created_at: string;
  last_used_at: string | null;
}

/** `listIdentities()`: the linked identities, and whether the account has a password (the other way in). */
export interface IdentityList {
  identities: Identity[];
  /** False for an account made by a social sign-in that never set a password (the reset flow sets one). */
  has_password: boolean;
}

/**
 * An app the user let sign them in through Latchkey (`GET /auth/connected-apps`): one entry per
 * app, its scopes the union of every consent the user gave it.
 */
export interface ConnectedApp {
  /** The app's OAuth client id: pass it to revokeConnectedApp. */
  client_id: string;
  name: string;
  /** The app's logo (https), as its administrator registered it; null when none. */
  logo_uri: string | null;
  /** The app's home page; null when none. */
  client_uri: string | null;
  /** What the app may read: `openid`, `profile`, `email`, `offline_access`, `roles`, or a custom scope. */
  scopes: string[];
  /** ISO 8601: when the user last consented to the app (its newest grant). */
  granted_at: string;
}

/** Options of {@link LatchkeyClient.signInWithProvider} and {@link LatchkeyClient.linkProvider}. */
export interface ProviderRedirectOptions {
  /**
   * Where Latchkey sends the browser back with `?code=` (or `?error=`): a URL on the server's
   * REDIRECT_ALLOWED_URLS. Default: this page's address without its fragment.
   */
  redirectTo?: string;
}

/**
 * What {@link LatchkeyClient.handleRedirectCallback} resolves to: signed in (as `login()`), a
 * second factor to answer (the same challenge as `login()`'s), or an identity linked to the
 * signed-in account; null when the URL is no redirect from Latchkey (no `code`, no `error`).
 */
export type RedirectResult = LoginResult | { status: 'linked'; identity: Identity };

/** A security event of the account (`GET /auth/events`): sign-ins, changes, refusals. */
export interface SecurityEvent {
  id: string;
  /** `login`, `password_changed`, `email_sign_in`, `account_exported`, ... (docs/sessions.md) */
  type: string;
  created_at: string;
  ip: string | null;
  user_agent: string | null;
  detail?: Record<string, unknown> | null;
}

/**
 * The contents of {@link LatchkeyClient.exportMyData}'s file (`GET /auth/me/export`). No hash,
 * secret, token or key material is ever in it.
 */
export interface AccountExport {
  exported_at: string;
  /** The profile, when the user last signed in, and whether the account has a password of its own. */
  user: User & { last_sign_in_at: string | null; has_password: boolean };
  /** As `sessions()` lists them. */
  sessions: Session[];
  identities: Identity[];
  factors: {
    /** `enabled` is false while an enrolment awaits its first code. */
    totp: { enabled: boolean; created_at: string; confirmed_at: string | null; last_used_at: string | null } | null;
    recovery_codes: { remaining: number } | null;
    /** As `listPasskeys()` lists them (no credential id or public key). */
    passkeys: Passkey[];
  };
  /** The account's security events, as `GET /auth/events` lists them. */
  security_events: SecurityEvent[];
}

/** The SDK. One per page; every tab's client with the same `channelName` shares the session. */
export interface LatchkeyClient {
  /** The current state; the same object until it changes (safe for `useSyncExternalStore`). */
  getState(): AuthState;
  /** Subscribes to state changes; returns the unsubscribe function. */
  onAuthChange(listener: AuthChangeListener): () => void;
  /**
   * Restores the session after a page load through the refresh cookie (once; later calls return
   * the same promise). Resolves to the user, or null when nobody is signed in.
   */
  restore(): Promise<User | null>;
  register(input: RegisterInput): Promise<User>;
  /**
   * Logs in (cookie mode). Resolves to `{ status: 'signed_in', user }` (the user is loaded and
   * every tab signed in), or, for an account with a second factor, to
   * `{ status: 'mfa_required', mfaToken, factors, expiresIn }`: nobody is signed in until
   * {@link LatchkeyClient.verifyMfa} succeeds. Rejects with INVALID_CREDENTIALS, RATE_LIMITED, ...
   *
   * @example
   * const result = await auth.login({ email, password });
   * if (result.status === 'mfa_required') showCodeStep(result);
   */
  login(credentials: Credentials): Promise<LoginResult>;
  /**
   * Mails a sign-in link and a 6-digit code to `email` (`POST /auth/email/sign-in`). Resolves the
   * same way whether or not an account has this address (the server does not say); a newer
   * request replaces the previous link and code. Finish with {@link LatchkeyClient.verifyEmailSignIn}.
   * Rejects with RATE_LIMITED (per client IP, `retryAfter` seconds) or VALIDATION_FAILED.
   *
   * @example
   * await auth.requestEmailSignIn({ email });
   * showCodeStep(); // "Check your mail": the link, or the code typed here
   */
  requestEmailSignIn(request: EmailSignInRequest): Promise<void>;
  /**
   * Signs in with the mailed link's `token` or with the address and its code
   * (`POST /auth/email/sign-in/verify`, cookie mode). Resolves as {@link LatchkeyClient.login}
   * does: signed in here and in every tab, or the second factor (`mfa_required`) or its enrolment
   * (`mfa_enrollment_required`) still to do. A wrong, expired or spent code or link rejects with
   * INVALID_SIGN_IN_CODE (after 5 wrong codes the code is dead: ask for a new mail). Calls with
   * one link's token while one is in flight share its request (the token is single-use).
   *
   * @example
   * const result = await auth.verifyEmailSignIn({ email, code });
   * if (result.status === 'mfa_required') showCodeStep(result);
   */
  verifyEmailSignIn(verification: EmailSignInVerification): Promise<LoginResult>;
  /**
   * Finishes a login with its second factor (`POST /auth/mfa/verify`, cookie mode): a TOTP
   * `code`, a `recoveryCode`, or `passkey: true` (the browser asks for one of the account's
   * passkeys). Signs in here and in every tab; resolves to the user. A wrong code rejects with
   * INVALID_MFA_CODE and the mfaToken stays usable (retype); MFA_TOKEN_INVALID means log in
   * again (expired, used, or a lockout engaged).
   */
  verifyMfa(verification: MfaVerification): Promise<User>;
  /**
   * Signs in with a passkey alone, no email typed (a discoverable credential): the browser offers
   * the passkeys it holds for this site. Signs in here and in every tab; resolves to the user.
   * Rejects with PASSKEY_CANCELLED (the user dismissed the browser's dialog), PASSKEY_UNKNOWN
   * (a passkey this server does not hold: the browser is told to forget it where it can),
   * PASSKEY_USER_VERIFICATION_REQUIRED, PASSKEYS_UNSUPPORTED, ...
   */
  signInWithPasskey(): Promise<User>;
  /**
   * The first step of the enrolment an `mfa_enrollment_required` login asks for: a new
   * authenticator secret and its QR code (`POST /auth/mfa/enroll/totp`); the mfaToken is not spent.
   *
   * @example
   * const result = await auth.login({ email, password });
   * if (result.status === 'mfa_enrollment_required') {
   *   const { qr_code } = await auth.startTotpEnrollmentToSignIn(result.mfaToken);
   *   // show qr_code, ask for the code the app shows, then:
   *   const { user, recoveryCodes } = await auth.confirmTotpEnrollmentToSignIn(result.mfaToken, code);
   * }
   */
  startTotpEnrollmentToSignIn(mfaToken: string): Promise<TotpEnrollment>;
  /**
   * Activates that authenticator with a code it shows and signs in (here and in every tab);
   * resolves with the user and the recovery codes, shown this once. A wrong code rejects with
   * INVALID_MFA_CODE and the mfaToken stays usable; MFA_TOKEN_INVALID means log in again.
   */
  confirmTotpEnrollmentToSignIn(mfaToken: string, code: string): Promise<TotpEnrollmentSignIn>;
  /**
   * Enrols a passkey for an `mfa_enrollment_required` login (the browser creates it) and signs
   * in; resolves with the user and the new passkey. Rejects as registerPasskey does.
   */
  enrollPasskeyToSignIn(mfaToken: string, name?: string): Promise<{ user: User; passkey: Passkey }>;
  /**
   * Passkey autofill (WebAuthn conditional mediation): offers the passkeys the browser holds for
   * this site in the autofill of a field marked `autocomplete="username webauthn"`, with no
   * dialog; picking one signs in (here and in every tab) and resolves to the user. Start it when
   * the sign-in form appears; the page stays usable meanwhile, and a password sign-in or
   * {@link LatchkeyClient.signInWithPasskey} takes over (the request is stopped first: a browser
   * holds one passkey request per page).
   *
   * Resolves to null, without an error, when it ends without a sign-in: `signal` aborted (the
   * form went away), a session started another way, the browser has no passkey autofill
   * (`PublicKeyCredential.isConditionalMediationAvailable()`), the server refused the options
   * (RATE_LIMITED: each request costs one call of the server's `passkey_options` rate-limit bucket), or the browser
   * ended the request itself. It rejects only for a passkey that was picked and then refused,
   * with the errors of {@link LatchkeyClient.signInWithPasskey} (PASSKEY_UNKNOWN, ...): show those.
   * While pending it starts a new request before the server's challenge expires (5 minutes).
   *
   * @example
   * // <input name="email" autocomplete="username webauthn">
   * const stop = new AbortController();
   * auth.signInWithPasskeyAutofill({ signal: stop.signal }).then((user) => user && goHome(), showError);
   * // when the form goes away: stop.abort();
   */
  signInWithPasskeyAutofill(options?: { signal?: AbortSignal }): Promise<User | null>;
  /** The account's second factors and how many recovery codes are left. */
  listFactors(): Promise<FactorList>;
  /**
   * Starts enrolling an authenticator app: a new secret and its QR code. The factor is pending
   * (login unaffected) until {@link LatchkeyClient.confirmTotp}. Calling it again replaces a
   * pending enrolment; FACTOR_ALREADY_ENROLLED while one is active.
   */
  enrollTotp(): Promise<TotpEnrollment>;
  /** Activates the pending authenticator with a code it shows; resolves with the ten recovery codes, shown this once. */
  confirmTotp(code: string): Promise<TotpConfirmation>;
  /** Removes the authenticator (and the recovery codes); an active one needs a proof unless the sign-in was recent. */
  removeTotp(proof?: FactorProof): Promise<void>;
  /** Replaces the recovery codes (the old set stops working); resolves with the new ones, shown this once. */
  regenerateRecoveryCodes(proof?: FactorProof): Promise<string[]>;
  /**
   * Registers a passkey for the signed-in user: the server's creation options go to
   * `navigator.credentials.create()`, its answer back to the server. Rejects with
   * PASSKEY_CANCELLED (dismissed), PASSKEY_ALREADY_REGISTERED (this authenticator already holds
   * one of the account's passkeys), PASSKEYS_UNSUPPORTED, VALIDATION_FAILED (the name), ...
   */
  registerPasskey(name?: string): Promise<Passkey>;
  listPasskeys(): Promise<Passkey[]>;
  renamePasskey(id: string, name: string): Promise<Passkey>;
  /** Removes a passkey; needs a proof unless the sign-in (with a passkey or the second factor) was recent. */
  removePasskey(id: string, proof?: FactorProof): Promise<void>;
  /**
   * Confirms it is the user again (step-up, docs/factors.md): the session's authentication
   * becomes recent, so actions refused with ReauthenticationRequiredError pass when retried. The
   * new access token is shared with the other tabs like a refresh's.
   */
  reauthenticate(proof: ReauthenticationProof): Promise<void>;
  /** `reauthenticate` with one of the user's passkeys (the browser's passkey dialog). */
  reauthenticateWithPasskey(): Promise<void>;
  /** The providers the server offers for "Sign in with ..." (`GET /auth/oauth/providers`); empty when none is configured. */
  listProviders(): Promise<Provider[]>;
  /**
   * Starts a sign-in with a provider: makes a PKCE pair, keeps the verifier in this tab's
   * sessionStorage, and navigates the page to Latchkey's `/auth/oauth/{provider}/start`, which
   * sends the browser on to the provider. The page unloads; the browser comes back to
   * `redirectTo`, where {@link LatchkeyClient.handleRedirectCallback} finishes.
   *
   * @example
   * <button onClick={() => auth.signInWithProvider('google')}>Sign in with Google</button>
   */
  signInWithProvider(provider: string, options?: ProviderRedirectOptions): Promise<void>;
  /**
   * Finishes a social sign-in or link on the page Latchkey redirected back to. With `?code=`
   * (and the verifier this tab kept), exchanges the code (`POST /auth/oauth/exchange`, cookie
   * mode) and resolves to `{ status: 'signed_in', user }` (every tab signed in),
   * `{ status: 'mfa_required', ... }` (answer it with verifyMfa, as after `login()`), or
   * `{ status: 'linked', identity }`. With `?error=`, rejects with a LatchkeyError of that code
   * (ACCOUNT_EXISTS_LINK_REQUIRED, EMAIL_NOT_VERIFIED_BY_PROVIDER, IDENTITY_ALREADY_LINKED,
   * PROVIDER_ERROR, ...; status 0: it came in the address, not in a response). Resolves to null
   * when the URL has neither. Either way the parameters leave the address bar first
   * (history.replaceState). A code this tab did not ask for (no verifier: another tab, another
   * browser, or a link someone sent) is refused with INVALID_OAUTH_STATE and never exchanged,
   * so nobody can sign a visitor in to an account of theirs. Calls with the same code share one
   * exchange (React StrictMode runs effects twice).
   *
   * @example
   * const result = await auth.handleRedirectCallback();
   * if (result?.status === 'mfa_required') showCodeStep(result);
   */
  handleRedirectCallback(url?: string): Promise<RedirectResult | null>;
  /** The signed-in user's linked identities and whether the account has a password. */
  listIdentities(): Promise<IdentityList>;
  /**
   * Links another provider's account to the signed-in user: asks Latchkey for a link URL
   * (`POST /auth/identities/{provider}/link`), then navigates there as signInWithProvider does.
   * Back on `redirectTo`, handleRedirectCallback resolves to `{ status: 'linked', identity }`,
   * or rejects with IDENTITY_ALREADY_LINKED (that account is linked to another user).
   */
  linkProvider(provider: string, options?: ProviderRedirectOptions): Promise<void>;
  /**
   * Unlinks an identity. Rejects with LAST_SIGN_IN_METHOD when it is the only way left to sign in
   * (no password, no passkey, no other identity): set a password first (the reset flow).
   */
  unlinkIdentity(id: string): Promise<void>;
  /**
   * The apps the signed-in user let sign them in through Latchkey (its OAuth provider), one
   * entry per app.
   *
   * @example
   * const apps = await auth.listConnectedApps();
   * apps.map((app) => `${app.name}: ${app.scopes.join(', ')}`);
   */
  listConnectedApps(): Promise<ConnectedApp[]>;
  /**
   * Removes an app's access: every consent the user gave it and every token it holds from them
   * are revoked (`DELETE /auth/connected-apps/{client_id}`); its next sign-in asks for consent
   * again. Rejects with OAUTH_GRANT_NOT_FOUND when the app has no access (already removed).
   *
   * @example
   * await auth.revokeConnectedApp(app.client_id);
   */
  revokeConnectedApp(clientId: string): Promise<void>;
  /** Ends this session on the server and signs every tab out. Local sign-out happens even if the server cannot be reached. */
  logout(): Promise<void>;
  /** Ends every session of the user (all devices) and signs every tab out. */
  logoutAll(): Promise<void>;
  me(): Promise<User>;
  updateMe(update: ProfileUpdate): Promise<User>;
  /**
   * Everything the server holds about the signed-in user (`GET /auth/me/export`): profile,
   * sessions, linked identities, second factors without their secrets, security events. Resolves
   * to a JSON `File` named as the server names it (`latchkey-export-<id>.json`): offer it as a
   * download, or read it with `JSON.parse(await file.text())` ({@link AccountExport}).
   *
   * @example
   * const file = await auth.exportMyData();
   * const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(file), download: file.name });
   * a.click();
   */
  exportMyData(): Promise<File>;
  /**
   * Deletes the signed-in user's account (`DELETE /auth/me`). An account without a second factor
   * sends its `currentPassword`; one with a factor (or any account outside the step-up window)
   * is refused with ReauthenticationRequiredError: `reauthenticate`, then call again. Resolves
   * with `deletesAt: null` when the account is gone, or the ISO time the server deletes it (a
   * grace period, ACCOUNT_DELETION_GRACE, during which signing in cancels it). Either way every
   * session has ended and every tab signs out, with reason `account_deleted` or
   * `account_deletion_scheduled`. Rejects with INVALID_CREDENTIALS (a wrong password; nothing is
   * deleted) or LAST_ADMIN (the last administrator).
   *
   * @example
   * try { await auth.deleteAccount({ currentPassword }); }
   * catch (e) { if (e instanceof ReauthenticationRequiredError) await confirmItsYou(e.methods); }
   */
  deleteAccount(deletion?: AccountDeletion): Promise<AccountDeletionResult>;
  /** Changes the password; the server ends every other session, this one stays. */
  changePassword(change: PasswordChange): Promise<void>;
  sessions(): Promise<Session[]>;
  /** Revokes one session; revoking the current one signs every tab out. */
  revokeSession(id: string): Promise<void>;
  /**
   * Confirms an email address with the `token` of the mailed link (`POST /auth/email/verify`;
   * no session needed). Resolves to the user, now `email_verified: true`. When this client is
   * signed in as that user, its state (and every tab's) is updated and the access token
   * refreshed so that it carries `email_verified: true` too. Calls with the same token while one
   * is in flight share its request (the token is single-use). A used, expired or superseded
   * link rejects with `TOKEN_INVALID`.
   */
  verifyEmail(token: string): Promise<User>;
  /**
   * Mails a new verification link to the signed-in user (`POST /auth/email/verify-request`).
   * Rejects with `RATE_LIMITED` (see `retryAfter`) within a minute of the last link,
   * `EMAIL_ALREADY_VERIFIED` (and the state's user is reloaded) when there is nothing to verify,
   * `UNAUTHORIZED` when signed out: a signed-out user gets a new link by trying to log in while
   * the server requires verified addresses (the refused login mails one).
   */
  resendVerification(): Promise<void>;
  /**
   * Asks for a password-reset mail (`POST /auth/password/forgot`). Resolves whether or not an
   * account has this address (the server does not say). Rejects with `RATE_LIMITED` after 3
   * requests for one address within 15 minutes, `VALIDATION_FAILED` for a malformed address.
   */
  requestPasswordReset(email: string): Promise<void>;
  /**
   * Sets a new password with the `token` of the mailed link (`POST /auth/password/reset`). The
   * server ends every session of the account: when this client's session was one of them, every
   * tab signs out with reason `password_reset`. Rejects with `VALIDATION_FAILED` (field
   * `new_password`; the link stays usable) or `TOKEN_INVALID`.
   */
  resetPassword(token: string, newPassword: string): Promise<void>;
  /**
   * Accepts an admin's invitation with the `token` of the mailed link (`POST
   * /auth/invite/accept`; no session needed): sets the account's first password and marks its
   * address verified. It signs nothing in: log in next with the new password (the resolved user
   * carries the email to prefill). Calls with the same token while one is in flight share its
   * request. Rejects with `VALIDATION_FAILED` (field `password`; the link stays usable) or
   * `TOKEN_INVALID` (used, expired, superseded by a newer invitation, or not an invitation link).
   *
   * @example
   * const user = await auth.acceptInvite(token, password);
   * await auth.login({ email: user.email, password });
   */
  acceptInvite(token: string, password: string): Promise<User>;
  /**
   * `fetch` with the access token: refreshes first when the token is missing or about to
   * expire, and once more (then retries once) when the response is 401.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** A valid access token (refreshing if needed), or null when signed out. */
  getAccessToken(): Promise<string | null>;
  /** Stops timers and closes the cross-tab channel. */
  close(): void;
}

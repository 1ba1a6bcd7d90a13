import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import { LatchkeyError } from './errors.js';
import type { AuthState, ConnectedApp, LatchkeyClient, Provider, User } from './types.js';

const ClientContext = createContext<LatchkeyClient | null>(null);

export interface AuthProviderProps {
  client: LatchkeyClient;
  children?: ReactNode;
}

/**
 * Makes the client available to {@link useAuth}, {@link useUser} and {@link RequireAuth}, and
 * restores the session (through the refresh cookie) when it mounts.
 *
 * @example
 * const auth = createClient({ baseUrl: '' });
 * createRoot(el).render(<AuthProvider client={auth}><App /></AuthProvider>);
 */
export function AuthProvider({ client, children }: AuthProviderProps): ReactNode {
  useEffect(() => {
    client.restore().catch(() => undefined);
  }, [client]);
  return <ClientContext.Provider value={client}>{children}</ClientContext.Provider>;
}

/**
 * The client given to the nearest {@link AuthProvider}.
 *
 * @example
 * const client = useLatchkeyClient();
 * const sessions = await client.sessions();
 */
export function useLatchkeyClient(): LatchkeyClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useAuth/useUser need an <AuthProvider client={...}> above them.');
  return client;
}

export interface UseAuthResult extends AuthState {
  client: LatchkeyClient;
  login: LatchkeyClient['login'];
  logout: LatchkeyClient['logout'];
  register: LatchkeyClient['register'];
  verifyEmail: LatchkeyClient['verifyEmail'];
  resendVerification: LatchkeyClient['resendVerification'];
  requestPasswordReset: LatchkeyClient['requestPasswordReset'];
  resetPassword: LatchkeyClient['resetPassword'];
  acceptInvite: LatchkeyClient['acceptInvite'];
  /** Email sign-in: the mailed link and code; verifying answers as `login` does (the second factor may follow). */
  requestEmailSignIn: LatchkeyClient['requestEmailSignIn'];
  verifyEmailSignIn: LatchkeyClient['verifyEmailSignIn'];
  /** The profile: name and mail language. */
  updateMe: LatchkeyClient['updateMe'];
  /** The account itself: everything held about the user as a file, and deleting it (step-up may be asked). */
  exportMyData: LatchkeyClient['exportMyData'];
  deleteAccount: LatchkeyClient['deleteAccount'];
  /** The second step of a login that answered `mfa_required`. */
  verifyMfa: LatchkeyClient['verifyMfa'];
  signInWithPasskey: LatchkeyClient['signInWithPasskey'];
  /** The enrolment of a login that answered `mfa_enrollment_required` (MFA_REQUIRED_ROLES); each signs in when it completes. */
  startTotpEnrollmentToSignIn: LatchkeyClient['startTotpEnrollmentToSignIn'];
  confirmTotpEnrollmentToSignIn: LatchkeyClient['confirmTotpEnrollmentToSignIn'];
  enrollPasskeyToSignIn: LatchkeyClient['enrollPasskeyToSignIn'];
  /** Passkey autofill; in a component, {@link usePasskeyAutofill} starts and stops it for you. */
  signInWithPasskeyAutofill: LatchkeyClient['signInWithPasskeyAutofill'];
  // A Security page: the authenticator app, recovery codes, passkeys.
  listFactors: LatchkeyClient['listFactors'];
  enrollTotp: LatchkeyClient['enrollTotp'];
  confirmTotp: LatchkeyClient['confirmTotp'];
  removeTotp: LatchkeyClient['removeTotp'];
  regenerateRecoveryCodes: LatchkeyClient['regenerateRecoveryCodes'];
  registerPasskey: LatchkeyClient['registerPasskey'];
  listPasskeys: LatchkeyClient['listPasskeys'];
  renamePasskey: LatchkeyClient['renamePasskey'];
  removePasskey: LatchkeyClient['removePasskey'];
  /** Step-up: confirm it is the user after a ReauthenticationRequiredError, then retry the action. */
  reauthenticate: LatchkeyClient['reauthenticate'];
  reauthenticateWithPasskey: LatchkeyClient['reauthenticateWithPasskey'];
  // Social sign-in and linked identities (docs/client.md, "Sign in with a provider").
  listProviders: LatchkeyClient['listProviders'];
  signInWithProvider: LatchkeyClient['signInWithProvider'];
  handleRedirectCallback: LatchkeyClient['handleRedirectCallback'];
  listIdentities: LatchkeyClient['listIdentities'];
  linkProvider: LatchkeyClient['linkProvider'];
  unlinkIdentity: LatchkeyClient['unlinkIdentity'];
}

/**
 * The auth state (re-renders on sign-in, sign-out and profile changes, in any tab) plus the
 * client's main actions. `reason` says why the last session ended, for the sign-in page.
 *
 * @example
 * const { status, user, reason, logout } = useAuth();
 * const { login, verifyMfa, signInWithPasskey } = useAuth(); // login may answer { status: 'mfa_required', mfaToken, ... }
 * if (status === 'authenticated') return <button onClick={() => logout()}>Log out {user.email}</button>;
 * if (reason === 'session_expired') return <p>Your session expired. Please sign in again.</p>;
 */
export function useAuth(): UseAuthResult {
  const client = useLatchkeyClient();
  const state = useSyncExternalStore(
    (onChange) => client.onAuthChange(() => onChange()),
    client.getState,
    client.getState,
  );
  return {
    ...state,
    client,
    login: client.login,
    logout: client.logout,
    register: client.register,
    verifyEmail: client.verifyEmail,
    resendVerification: client.resendVerification,
    requestPasswordReset: client.requestPasswordReset,
    resetPassword: client.resetPassword,
    acceptInvite: client.acceptInvite,
    requestEmailSignIn: client.requestEmailSignIn,
    verifyEmailSignIn: client.verifyEmailSignIn,
    updateMe: client.updateMe,
    exportMyData: client.exportMyData,
    deleteAccount: client.deleteAccount,
    verifyMfa: client.verifyMfa,
    signInWithPasskey: client.signInWithPasskey,
    startTotpEnrollmentToSignIn: client.startTotpEnrollmentToSignIn,
    confirmTotpEnrollmentToSignIn: client.confirmTotpEnrollmentToSignIn,
    enrollPasskeyToSignIn: client.enrollPasskeyToSignIn,
    signInWithPasskeyAutofill: client.signInWithPasskeyAutofill,
    listFactors: client.listFactors,
    enrollTotp: client.enrollTotp,
    confirmTotp: client.confirmTotp,
    removeTotp: client.removeTotp,
    regenerateRecoveryCodes: client.regenerateRecoveryCodes,
    registerPasskey: client.registerPasskey,
    listPasskeys: client.listPasskeys,
    renamePasskey: client.renamePasskey,
    removePasskey: client.removePasskey,
    reauthenticate: client.reauthenticate,
    reauthenticateWithPasskey: client.reauthenticateWithPasskey,
    listProviders: client.listProviders,
    signInWithProvider: client.signInWithProvider,
    handleRedirectCallback: client.handleRedirectCallback,
    listIdentities: client.listIdentities,
    linkProvider: client.linkProvider,
    unlinkIdentity: client.unlinkIdentity,
  };
}

export interface PasskeyAutofillOptions {
  /** Called when a passkey picked from the autofill has signed in (say, to navigate). */
  onSignedIn?: (user: User) => void;
  /** False pauses the autofill (say, while a second-factor step replaces the form). Default true. */
  enabled?: boolean;
}

/**
 * Passkey autofill for a sign-in form: while the component is mounted (and `enabled`), the
 * browser offers the user's passkeys in the autofill of the field marked
 * `autocomplete="username webauthn"`; picking one signs in. Stopped when the component unmounts,
 * and whenever a password sign-in or a passkey button takes over
 * ({@link LatchkeyClient.signInWithPasskeyAutofill}). Resolves nothing and shows nothing where the
 * browser has no passkey autofill. The result's `error` is the refusal of a picked passkey
 * (PASSKEY_UNKNOWN, ...), to show like any sign-in error; the autofill then stays off until the
 * component mounts again (the passkey button still works).
 *
 * @example
 * const autofill = usePasskeyAutofill({ onSignedIn: () => navigate('/') });
 * <input name="email" type="email" autoComplete="username webauthn" />
 * {autofill.error ? <p role="alert">{autofill.error.message}</p> : null}
 */
export function usePasskeyAutofill(options: PasskeyAutofillOptions = {}): { error: LatchkeyError | null } {
  const client = useLatchkeyClient();
  const enabled = options.enabled ?? true;
  const onSignedIn = useRef(options.onSignedIn);
  useEffect(() => {
    onSignedIn.current = options.onSignedIn;
  });
  const [error, setError] = useState<LatchkeyError | null>(null);
  useEffect(() => {
    if (!enabled) return;
    const stop = new AbortController();
    client.signInWithPasskeyAutofill({ signal: stop.signal }).then(
      (user) => {
        if (user !== null && !stop.signal.aborted) onSignedIn.current?.(user);
      },
      (failure: unknown) => {
        if (stop.signal.aborted) return;
        setError(failure instanceof LatchkeyError ? failure : new LatchkeyError('UNEXPECTED_RESPONSE', String(failure), 0));
      },
    );
    return () => stop.abort();
  }, [client, enabled]);
  return { error };
}

export interface UseProvidersResult {
  /** The server's providers; null while loading (and after a failure). */
  providers: Provider[] | null;
  /** Why the list could not be loaded (a LatchkeyError), or null. */
  error: unknown;
}

/**
 * The providers the server offers for "Sign in with ...", loaded once per client.
 *
 * @example
 * const { providers } = useProviders();
 * return providers?.map((p) => <button key={p.id} onClick={() => void signInWithProvider(p.id)}>Sign in with {p.name}</button>);
 */
export function useProviders(): UseProvidersResult {
  const client = useLatchkeyClient();
  const [result, setResult] = useState<UseProvidersResult>({ providers: null, error: null });
  useEffect(() => {
    let live = true;
    client.listProviders().then(
      (providers) => live && setResult({ providers, error: null }),
      (error: unknown) => live && setResult({ providers: null, error }),
    );
    return () => {
      live = false;
    };
  }, [client]);
  return result;
}

export interface UseConnectedAppsResult {
  /** The apps the user let sign them in through Latchkey; null while the first load runs (and after it failed). */
  apps: ConnectedApp[] | null;
  /** True while a load (the first, or a reload) runs. */
  loading: boolean;
  /** Why the last load failed (a LatchkeyError), or null. */
  error: unknown;
  /**
   * Removes an app's access (revokeConnectedApp), then drops it from `apps`. An app that had no
   * access left (OAUTH_GRANT_NOT_FOUND: removed in another tab, or by an administrator) counts as
   * removed: dropped, and the promise resolves. Any other failure rejects (a LatchkeyError) and
   * leaves the list as it was.
   */
  revoke(clientId: string): Promise<void>;
  /** Loads the list again. */
  reload(): Promise<void>;
}

/**
 * The signed-in user's connected apps (apps signed in through Latchkey as an OAuth provider),
 * loaded when the component mounts, with removal.
 *
 * @example
 * const { apps, revoke } = useConnectedApps();
 * return apps?.map((app) => <li key={app.client_id}>{app.name} <button onClick={() => void revoke(app.client_id)}>Remove access</button></li>);
 */
export function useConnectedApps(): UseConnectedAppsResult {
  const client = useLatchkeyClient();
  const [apps, setApps] = useState<ConnectedApp[] | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  // A load answered after a newer one started (or after unmount) must not overwrite it.
  const latest = useRef(0);
  const reload = useCallback(async () => {
    const run = ++latest.current;
    setLoading(true);
    try {
      const list = await client.listConnectedApps();
      if (run !== latest.current) return;
      setApps(list);
      setError(null);
    } catch (failure) {
      if (run !== latest.current) return;
      setApps(null);
      setError(failure);
    } finally {
      if (run === latest.current) setLoading(false);
    }
  }, [client]);
  useEffect(() => {
    void reload();
    return () => {
      latest.current += 1;
    };
  }, [reload]);
  const revoke = useCallback(
    async (clientId: string) => {
      try {
        await client.revokeConnectedApp(clientId);
      } catch (failure) {
        // Already removed: what the caller asked for is true, only the list was stale.
        if (!(failure instanceof LatchkeyError && failure.code === 'OAUTH_GRANT_NOT_FOUND')) throw failure;
      }
      setApps((list) => list?.filter((app) => app.client_id !== clientId) ?? null);
    },
    [client],
  );
  return { apps, loading, error, revoke, reload };
}

/**
 * Seconds left before a call refused with a `Retry-After` (429 RATE_LIMITED, 503) may be tried
 * again, counting down once a second from the server's value; 0 for any other error or none.
 * The countdown starts when the hook first sees the error object.
 *
 * @example
 * const wait = useRetryAfter(error);
 * <button disabled={wait > 0}>{wait > 0 ? `Try again in ${wait} s` : 'Sign in'}</button>
 */
export function useRetryAfter(error: unknown): number {
  const seconds = error instanceof LatchkeyError ? error.retryAfter : null;
  // Keyed on the error object: each refusal starts its own countdown.
  const span = useMemo(() => {
    if (seconds === null || seconds <= 0) return null;
    const start = Date.now();
    return { start, end: start + seconds * 1000 };
  }, [error, seconds]);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (span === null) return;
    setNow(Date.now());
    const timer = setInterval(() => {
      const t = Date.now();
      setNow(t);
      if (t >= span.end) clearInterval(timer);
    }, 250);
    return () => clearInterval(timer);
  }, [span]);
  if (span === null) return 0;
  return Math.max(0, Math.ceil((span.end - Math.max(now, span.start)) / 1000));
}

/**
 * The signed-in user, or null.
 *
 * @example
 * const user = useUser();
 * return <p>Hello {user?.name ?? 'stranger'}</p>;
 */
export function useUser(): User | null {
  return useAuth().user;
}

export interface RequireAuthProps {
  children?: ReactNode;
  /** Shown to signed-out visitors (a login form, or a redirect element). */
  fallback?: ReactNode;
  /** Shown while the session is being restored after a page load. */
  loading?: ReactNode;
}

/**
 * Renders its children only for a signed-in user.
 *
 * @example
 * <RequireAuth fallback={<LoginPage />} loading={<p>Loading…</p>}><Profile /></RequireAuth>
 */
export function RequireAuth({ children, fallback = null, loading = null }: RequireAuthProps): ReactNode {
  const { status } = useAuth();
  if (status === 'loading') return loading;
  if (status === 'anonymous') return fallback;
  return children;
}

import { createContext, useContext, useEffect, useSyncExternalStore, type ReactNode } from 'react';
import type { AuthState, LatchkeyClient, User } from './types.js';

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
}

/**
 * The auth state (re-renders on sign-in, sign-out and profile changes, in any tab) plus the
 * client's main actions.
 *
 * @example
 * const { status, user, logout } = useAuth();
 * if (status === 'authenticated') return <button onClick={() => logout()}>Log out {user.email}</button>;
 */
export function useAuth(): UseAuthResult {
  const client = useLatchkeyClient();
  const state = useSyncExternalStore(
    (onChange) => client.onAuthChange(() => onChange()),
    client.getState,
    client.getState,
  );
  return { ...state, client, login: client.login, logout: client.logout, register: client.register };
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

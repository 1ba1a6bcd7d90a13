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
 * Where the client stands: `loading` until the first {@link LatchkeyClient.restore} settles,
 * then `authenticated` (with a user) or `anonymous`.
 */
export interface AuthState {
  readonly status: 'loading' | 'authenticated' | 'anonymous';
  readonly user: User | null;
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
}

/** The body of a login or register call. */
export interface Credentials {
  email: string;
  password: string;
}

export interface RegisterInput extends Credentials {
  name?: string;
}

export interface ProfileUpdate {
  name?: string | null;
}

export interface PasswordChange {
  currentPassword: string;
  newPassword: string;
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
  /** Logs in (cookie mode), loads the user and tells the other tabs. */
  login(credentials: Credentials): Promise<User>;
  /** Ends this session on the server and signs every tab out. Local sign-out happens even if the server cannot be reached. */
  logout(): Promise<void>;
  /** Ends every session of the user (all devices) and signs every tab out. */
  logoutAll(): Promise<void>;
  me(): Promise<User>;
  updateMe(update: ProfileUpdate): Promise<User>;
  /** Changes the password; the server ends every other session, this one stays. */
  changePassword(change: PasswordChange): Promise<void>;
  sessions(): Promise<Session[]>;
  /** Revokes one session; revoking the current one signs every tab out. */
  revokeSession(id: string): Promise<void>;
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

import { errorFromResponse, LatchkeyError, type Factor, type Identity, type IdentityList, type LatchkeyClient, type Passkey, type Session, type User } from '@latchkey/client';

// Latchkey's /admin/users routes, called through the SDK's authenticated fetch (bearer token
// attached, refreshed when needed). Every failure becomes a LatchkeyError carrying the server's
// problem+json `code` and `detail`, so the pages can show the server's own words.

/** A session of some user, as an admin sees it (no `current` flag: it is not the admin's). */
export type AdminSession = Omit<Session, 'current'>;

/** A user as the admin API shows it: the public user plus what only an admin sees. */
export interface AdminUser extends User {
  /** When the user last signed in (ISO); null if never. */
  last_sign_in_at: string | null;
  /** Invited and not accepted yet: the account has no password, nobody can sign in to it. */
  invite_pending: boolean;
}

export interface SecurityEvent {
  id: string;
  type: string;
  created_at: string;
  ip: string | null;
  user_agent: string | null;
  detail?: Record<string, unknown> | null;
}

export interface UserDetail {
  user: AdminUser;
  sessions: AdminSession[];
  events: SecurityEvent[];
}

/** A user's second factors as an admin sees them (GET /admin/users/{id}/factors): never a secret or a key. */
export interface UserFactors {
  /** The authenticator app (TOTP), pending or active; empty when none. */
  factors: Factor[];
  recovery_codes_left: number;
  passkeys: Passkey[];
  /** A role of the user is in the server's MFA_REQUIRED_ROLES. */
  mfa_required: boolean;
}

/** What DELETE /admin/users/{id}/factors removed. */
export interface FactorsRemoved {
  totp: number;
  recovery_codes: number;
  passkeys: number;
}
/** A provider account linked to a user (GET /admin/users/{id}/identities; the same shape as the user's own list). */
export type AdminIdentity = Identity;
export type AdminIdentityList = IdentityList;

export type TriState = 'any' | 'true' | 'false';

/** What the user table is filtered by. Empty strings and `any` mean "no filter". */
export interface UserFilter {
  search: string;
  disabled: TriState;
  verified: TriState;
  role: string;
}

export const EMPTY_FILTER: UserFilter = Object.freeze({ search: '', disabled: 'any', verified: 'any', role: '' });

/** The orders of the user table (GET /admin/users `sort` and `order`). */
export interface UserSort {
  sort: 'created_at' | 'last_sign_in_at';
  order: 'asc' | 'desc';
}

export const DEFAULT_SORT: UserSort = Object.freeze({ sort: 'created_at', order: 'asc' });

export interface UserPage {
  users: AdminUser[];
  next_cursor: string | null;
  /** Users matching the filters; null on later pages (listUsers counts on the first page only). */
  total: number | null;
}

export interface CreateUserInput {
  email: string;
  password: string;
  name?: string;
  roles?: string[];
  email_verified?: boolean;
}

export interface InviteInput {
  email: string;
  name?: string;
  roles?: string[];
}

export interface UserPatch {
  /** A new address is unverified unless `email_verified: true` comes with it; links mailed to the old one stop working. */
  email?: string;
  name?: string | null;
  roles?: string[];
  disabled?: boolean;
  email_verified?: boolean;
}

/** The server's rule for a role name (features/admin/service.ts ROLE_PATTERN). */
export const ROLE_PATTERN = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;

export const PAGE_SIZE = 50;

/**
 * What the console asks Latchkey's /admin/users routes. One object per page load, made by
 * {@link adminApi} and given to the pages through `AdminApiProvider`; a new admin action is one
 * more method here and one more entry in the user page's list of actions.
 */
export interface AdminApi {
  /**
   * One page of the user table (`PAGE_SIZE` rows) in `sort` order; a cursor belongs to its sort.
   * Only a first page (no cursor) asks for the total: counting every match is the costly part of
   * a large table's page, and the total does not change by turning pages.
   */
  listUsers(filter: UserFilter, sort: UserSort, cursor: string | null, signal?: AbortSignal): Promise<UserPage>;
  /** A user with their live sessions and recent security events (newest first). */
  getUser(id: string, signal?: AbortSignal): Promise<UserDetail>;
  createUser(input: CreateUserInput): Promise<AdminUser>;
  /**
   * Invites a user by email: the account without a password and a mailed link to choose one.
   * An address whose invitation is still pending gets a new link (`created: false`).
   */
  inviteUser(input: InviteInput): Promise<{ user: AdminUser; created: boolean }>;
  /** Disabling a user or changing their roles ends their sessions at once (server rule). */
  updateUser(id: string, patch: UserPatch): Promise<AdminUser>;
  /** Mails the user a password-reset link (at most 3 per address per 15 minutes). */
  sendPasswordReset(id: string): Promise<void>;
  deleteUser(id: string): Promise<void>;
  /** Ends every session of the user; resolves to how many were live. */
  revokeAllSessions(id: string): Promise<number>;
  revokeSession(id: string, sessionId: string): Promise<void>;
  /** The user's authenticator, recovery codes left and passkeys. */
  getFactors(id: string, signal?: AbortSignal): Promise<UserFactors>;
  /** Removes the user's second factors (all, or only `totp` / `passkeys`); the user is mailed. */
  resetFactors(id: string, type?: 'all' | 'totp' | 'passkeys'): Promise<FactorsRemoved>;
  /** The user's linked provider accounts (social sign-in) and whether the account has a password. */
  listIdentities(id: string, signal?: AbortSignal): Promise<AdminIdentityList>;
  /** Unlinks one; LAST_SIGN_IN_METHOD when it is the user's only way in (no password, passkey or other identity). */
  unlinkIdentity(id: string, identityId: string): Promise<void>;
}

/**
 * The admin API of the Latchkey at `base` (its mount prefix: `''` standalone, `/identity` when
 * embedded under that prefix), called through the SDK's authenticated fetch.
 *
 * @example
 * const api = adminApi(client, '');
 * const first = await api.listUsers({ ...EMPTY_FILTER, search: 'ada' }, DEFAULT_SORT, null);
 * const second = first.next_cursor ? await api.listUsers(filter, DEFAULT_SORT, first.next_cursor) : null;
 */
export function adminApi(client: LatchkeyClient, base: string): AdminApi {
  async function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return (await send<T>(method, path, body, signal)).body;
  }
  async function send<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<{ status: number; body: T }> {
    let response: Response;
    try {
      response = await client.fetch(`${base}${path}`, {
        method,
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (error instanceof LatchkeyError || (error instanceof DOMException && error.name === 'AbortError')) throw error;
      throw new LatchkeyError('NETWORK_ERROR', 'The server could not be reached.', 0);
    }
    if (!response.ok) throw await errorFromResponse(response);
    const hasBody = response.status !== 204 && response.status !== 202;
    return { status: response.status, body: (hasBody ? await response.json() : undefined) as T };
  }
  const userPath = (id: string) => `/admin/users/${encodeURIComponent(id)}`;

  return {
    listUsers(filter, sort, cursor, signal) {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE), sort: sort.sort, order: sort.order });
      if (cursor) {
        query.set('cursor', cursor);
        query.set('count', 'false');
      }
      if (filter.search.trim()) query.set('search', filter.search.trim());
      if (filter.disabled !== 'any') query.set('disabled', filter.disabled);
      if (filter.verified !== 'any') query.set('verified', filter.verified);
      if (filter.role.trim()) query.set('role', filter.role.trim().toLowerCase());
      return call<UserPage>('GET', `/admin/users?${query}`, undefined, signal);
    },
    getUser: (id, signal) => call<UserDetail>('GET', userPath(id), undefined, signal),
    createUser: async (input) => (await call<{ user: AdminUser }>('POST', '/admin/users', input)).user,
    async inviteUser(input) {
      const { status, body } = await send<{ user: AdminUser }>('POST', '/admin/users/invite', input);
      return { user: body.user, created: status === 201 };
    },
    updateUser: async (id, patch) => (await call<{ user: AdminUser }>('PATCH', userPath(id), patch)).user,
    sendPasswordReset: (id) => call<void>('POST', `${userPath(id)}/password-reset`),
    deleteUser: (id) => call<void>('DELETE', userPath(id)),
    revokeAllSessions: async (id) => (await call<{ revoked: number }>('POST', `${userPath(id)}/revoke-sessions`)).revoked,
    revokeSession: (id, sessionId) => call<void>('DELETE', `${userPath(id)}/sessions/${encodeURIComponent(sessionId)}`),
    getFactors: (id, signal) => call<UserFactors>('GET', `${userPath(id)}/factors`, undefined, signal),
    resetFactors: async (id, type = 'all') =>
      (await call<{ removed: FactorsRemoved }>('DELETE', `${userPath(id)}/factors${type === 'all' ? '' : `?type=${type}`}`)).removed,
    listIdentities: (id, signal) => call<AdminIdentityList>('GET', `${userPath(id)}/identities`, undefined, signal),
    unlinkIdentity: (id, identityId) => call<void>('DELETE', `${userPath(id)}/identities/${encodeURIComponent(identityId)}`),
  };
}

/** "admin, editor" or "admin editor" -> ['admin', 'editor'] (lower-cased, de-duplicated). */
export function parseRoles(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).map((r) => r.trim().toLowerCase()).filter(Boolean))];
}

/** The roles that break the server's pattern, for a message before the request. */
export function invalidRoles(roles: string[]): string[] {
  return roles.filter((r) => !ROLE_PATTERN.test(r));
}

import { errorFromResponse, LatchkeyError, type LatchkeyClient, type Session, type User } from '@latchkey/client';

// Latchkey's /admin/users routes, called through the SDK's authenticated fetch (bearer token
// attached, refreshed when needed). Every failure becomes a LatchkeyError carrying the server's
// problem+json `code` and `detail`, so the pages can show the server's own words.

/** A session of some user, as an admin sees it (no `current` flag: it is not the admin's). */
export type AdminSession = Omit<Session, 'current'>;

export interface SecurityEvent {
  id: string;
  type: string;
  created_at: string;
  ip: string | null;
  user_agent: string | null;
  detail?: Record<string, unknown> | null;
}

export interface UserDetail {
  user: User;
  sessions: AdminSession[];
  events: SecurityEvent[];
}

export type TriState = 'any' | 'true' | 'false';

/** What the user table is filtered by. Empty strings and `any` mean "no filter". */
export interface UserFilter {
  search: string;
  disabled: TriState;
  verified: TriState;
  role: string;
}

export const EMPTY_FILTER: UserFilter = Object.freeze({ search: '', disabled: 'any', verified: 'any', role: '' });

export interface UserPage {
  users: User[];
  next_cursor: string | null;
}

export interface CreateUserInput {
  email: string;
  password: string;
  name?: string;
  roles?: string[];
  email_verified?: boolean;
}

export interface UserPatch {
  name?: string | null;
  roles?: string[];
  disabled?: boolean;
  email_verified?: boolean;
}

/** The server's rule for a role name (features/admin/service.ts ROLE_PATTERN). */
export const ROLE_PATTERN = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;

export const PAGE_SIZE = 50;

async function call<T>(
  client: LatchkeyClient,
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<T> {
  let response: Response;
  try {
    response = await client.fetch(path, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    if (error instanceof LatchkeyError || (error instanceof DOMException && error.name === 'AbortError')) throw error;
    throw new LatchkeyError('NETWORK_ERROR', 'The server could not be reached.', 0);
  }
  if (!response.ok) throw await errorFromResponse(response);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

const userPath = (id: string) => `/admin/users/${encodeURIComponent(id)}`;

/**
 * One page of the user table (oldest first, `PAGE_SIZE` rows).
 *
 * @example
 * const first = await listUsers(client, { ...EMPTY_FILTER, search: 'ada' }, null);
 * const second = first.next_cursor ? await listUsers(client, filter, first.next_cursor) : null;
 */
export function listUsers(client: LatchkeyClient, filter: UserFilter, cursor: string | null, signal?: AbortSignal): Promise<UserPage> {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (cursor) query.set('cursor', cursor);
  if (filter.search.trim()) query.set('search', filter.search.trim());
  if (filter.disabled !== 'any') query.set('disabled', filter.disabled);
  if (filter.verified !== 'any') query.set('verified', filter.verified);
  if (filter.role.trim()) query.set('role', filter.role.trim().toLowerCase());
  return call<UserPage>(client, 'GET', `/admin/users?${query}`, undefined, signal);
}

/** A user with their live sessions and recent security events (newest first). */
export function getUser(client: LatchkeyClient, id: string, signal?: AbortSignal): Promise<UserDetail> {
  return call<UserDetail>(client, 'GET', userPath(id), undefined, signal);
}

export async function createUser(client: LatchkeyClient, input: CreateUserInput): Promise<User> {
  return (await call<{ user: User }>(client, 'POST', '/admin/users', input)).user;
}

/** Disabling a user or changing their roles ends their sessions at once (server rule). */
export async function updateUser(client: LatchkeyClient, id: string, patch: UserPatch): Promise<User> {
  return (await call<{ user: User }>(client, 'PATCH', userPath(id), patch)).user;
}

export function deleteUser(client: LatchkeyClient, id: string): Promise<void> {
  return call<void>(client, 'DELETE', userPath(id));
}

/** Ends every session of the user; resolves to how many were live. */
export async function revokeAllSessions(client: LatchkeyClient, id: string): Promise<number> {
  return (await call<{ revoked: number }>(client, 'POST', `${userPath(id)}/revoke-sessions`)).revoked;
}

export function revokeSession(client: LatchkeyClient, id: string, sessionId: string): Promise<void> {
  return call<void>(client, 'DELETE', `${userPath(id)}/sessions/${encodeURIComponent(sessionId)}`);
}

/** "admin, editor" or "admin editor" -> ['admin', 'editor'] (lower-cased, de-duplicated). */
export function parseRoles(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).map((r) => r.trim().toLowerCase()).filter(Boolean))];
}

/** The roles that break the server's pattern, for a message before the request. */
export function invalidRoles(roles: string[]): string[] {
  return roles.filter((r) => !ROLE_PATTERN.test(r));
}

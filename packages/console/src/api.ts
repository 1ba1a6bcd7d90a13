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

/** One entry of the audit log (GET /admin/audit): who did what to whom, when, from where. */
export interface AuditEntry {
  id: string;
  at: string;
  actor: { type: 'user' | 'admin' | 'system' | 'cli'; id: string | null; email: string | null };
  action: string;
  target: { type: string | null; id: string | null };
  /** `{field: {from, to}}` or facts of the action; never a secret. */
  changes: Record<string, unknown> | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
}

/** What the audit log is filtered by; empty strings mean "no filter". Dates are `YYYY-MM-DD` (since: from that day on; until: up to that day, inclusive). */
export interface AuditFilter {
  actor: string;
  action: string;
  target: string;
  since: string;
  until: string;
}

export const EMPTY_AUDIT_FILTER: AuditFilter = Object.freeze({ actor: '', action: '', target: '', since: '', until: '' });

export interface AuditPage {
  entries: AuditEntry[];
  next_cursor: string | null;
}

/** The query string of an audit filter (GET /admin/audit and its export). `until` is inclusive of its day. */
export function auditQuery(filter: AuditFilter): URLSearchParams {
  const query = new URLSearchParams();
  for (const key of ['actor', 'action', 'target'] as const) if (filter[key].trim()) query.set(key, filter[key].trim());
  if (filter.since) query.set('since', `${filter.since}T00:00:00Z`);
  if (filter.until) {
    const next = new Date(`${filter.until}T00:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    if (!Number.isNaN(next.getTime())) query.set('until', next.toISOString());
  }
  return query;
}

/** A webhook endpoint (GET /admin/webhooks); its secret is never shown again after creation or rotation. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  event_types: string[];
  description: string | null;
  enabled: boolean;
  /** Why the server disabled it (a day of failures), else null. */
  disabled_reason: string | null;
  failing_since: string | null;
  created_at: string;
  updated_at: string;
}

export interface WebhookDelivery {
  id: string;
  event_id: string;
  event_type: string;
  status: 'pending' | 'succeeded' | 'failed' | 'exhausted';
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  latency_ms: number | null;
  created_at: string;
  next_attempt_at: string | null;
  delivered_at: string | null;
}

export interface WebhookInput {
  url: string;
  event_types: string[];
  description?: string;
  enabled?: boolean;
}

export interface WebhookPatch {
  url?: string;
  event_types?: string[];
  description?: string;
  enabled?: boolean;
}

/** An app registered to sign its users in through Latchkey (GET /admin/oauth/clients); its secret is never shown again after creation or rotation. */
export interface OAuthClient {
  client_id: string;
  name: string;
  type: 'public' | 'confidential';
  /** `none` (public: PKCE), `client_secret_basic`, `client_secret_post`, `private_key_jwt`. */
  token_endpoint_auth_method: string;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  scopes: string[];
  /** Skips the consent page. */
  first_party: boolean;
  logo_uri: string | null;
  client_uri: string | null;
  jwks_uri: string | null;
  has_jwks: boolean;
  /** Registered by the app itself (RFC 7591 dynamic registration). */
  dynamic: boolean;
  created_at: string;
  updated_at: string;
  secret_rotated_at: string | null;
}

/** What POST /admin/oauth/clients takes; PATCH takes any part of it. */
export interface OAuthClientInput {
  name: string;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
  grant_types?: string[];
  token_endpoint_auth_method?: string;
  scopes?: string[];
  first_party?: boolean;
  logo_uri?: string | null;
  client_uri?: string | null;
  jwks_uri?: string | null;
}

/** A user's consent to a client (GET /admin/oauth/clients/{id}/grants). */
export interface OAuthGrant {
  id: string;
  /** The email is null when the account is gone (its grants go with it) or has none. */
  user: { id: string; email: string | null };
  scopes: string[];
  created_at: string;
  expires_at: string | null;
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
  /** One page of the audit log, newest first (PAGE_SIZE entries); a cursor belongs to its filters. */
  listAudit(filter: AuditFilter, cursor: string | null, signal?: AbortSignal): Promise<AuditPage>;
  /**
   * The export of the entries matching `filter` (JSON lines) as a file: fetched with the admin's
   * token (a plain link would carry none), handed to the browser as a download.
   */
  exportAudit(filter: AuditFilter): Promise<{ blob: Blob; filename: string }>;
  /** The event types an endpoint can subscribe to. */
  webhookEventTypes(signal?: AbortSignal): Promise<string[]>;
  listWebhooks(signal?: AbortSignal): Promise<WebhookEndpoint[]>;
  getWebhook(id: string, signal?: AbortSignal): Promise<WebhookEndpoint>;
  /** Creates an endpoint; the secret comes back this once. */
  createWebhook(input: WebhookInput): Promise<{ endpoint: WebhookEndpoint; secret: string }>;
  /** Enabling clears the disabled reason and the failure clock (server rule). */
  updateWebhook(id: string, patch: WebhookPatch): Promise<WebhookEndpoint>;
  deleteWebhook(id: string): Promise<void>;
  /** A new secret; the old one keeps signing beside it until `previous_expires_at`. */
  rotateWebhookSecret(id: string, overlap?: string): Promise<{ secret: string; previous_expires_at: string }>;
  listDeliveries(id: string, status: string, cursor: string | null, signal?: AbortSignal): Promise<{ deliveries: WebhookDelivery[]; next_cursor: string | null }>;
  redeliver(id: string, deliveryId: string): Promise<WebhookDelivery>;
  /** Sends a `webhook.test` event to this endpoint. */
  sendTestWebhook(id: string): Promise<WebhookDelivery>;
  /** One page of the OAuth clients (PAGE_SIZE), oldest first. */
  listOAuthClients(cursor: string | null, signal?: AbortSignal): Promise<{ clients: OAuthClient[]; next_cursor: string | null }>;
  getOAuthClient(id: string, signal?: AbortSignal): Promise<OAuthClient>;
  /** Registers a client; `client_secret` comes back this once, for the secret methods only. */
  createOAuthClient(input: OAuthClientInput): Promise<{ client: OAuthClient; client_secret?: string }>;
  updateOAuthClient(id: string, patch: Partial<OAuthClientInput>): Promise<OAuthClient>;
  /** Its grants and tokens go with it. */
  deleteOAuthClient(id: string): Promise<void>;
  /** A new secret, shown this once; the old one stops working at once. */
  rotateOAuthClientSecret(id: string): Promise<{ client: OAuthClient; client_secret: string }>;
  listOAuthGrants(id: string, cursor: string | null, signal?: AbortSignal): Promise<{ grants: OAuthGrant[]; next_cursor: string | null }>;
  /** Revokes one user's consent and every token issued from it. */
  revokeOAuthGrant(id: string, grantId: string): Promise<void>;
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
    // 202 has a body on the webhook routes (the delivery), none on the others.
    const hasBody = response.status !== 204 && (response.status !== 202 || (response.headers.get('content-type') ?? '').includes('json'));
    return { status: response.status, body: (hasBody ? await response.json() : undefined) as T };
  }
  const userPath = (id: string) => `/admin/users/${encodeURIComponent(id)}`;
  const hookPath = (id: string) => `/admin/webhooks/${encodeURIComponent(id)}`;
  const oauthPath = (id: string) => `/admin/oauth/clients/${encodeURIComponent(id)}`;
  const paged = (cursor: string | null) => {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursor) query.set('cursor', cursor);
    return query;
  };

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
    listAudit(filter, cursor, signal) {
      const query = auditQuery(filter);
      query.set('limit', String(PAGE_SIZE));
      if (cursor) query.set('cursor', cursor);
      return call<AuditPage>('GET', `/admin/audit?${query}`, undefined, signal);
    },
    async exportAudit(filter) {
      let response: Response;
      try {
        response = await client.fetch(`${base}/admin/audit/export?${auditQuery(filter)}`);
      } catch (error) {
        if (error instanceof LatchkeyError) throw error;
        throw new LatchkeyError('NETWORK_ERROR', 'The server could not be reached.', 0);
      }
      if (!response.ok) throw await errorFromResponse(response);
      const disposition = response.headers.get('content-disposition') ?? '';
      const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? 'latchkey-audit.jsonl';
      return { blob: await response.blob(), filename };
    },
    webhookEventTypes: async (signal) => (await call<{ event_types: string[] }>('GET', '/admin/webhooks/event-types', undefined, signal)).event_types,
    listWebhooks: async (signal) => (await call<{ endpoints: WebhookEndpoint[] }>('GET', '/admin/webhooks', undefined, signal)).endpoints,
    getWebhook: async (id, signal) => (await call<{ endpoint: WebhookEndpoint }>('GET', hookPath(id), undefined, signal)).endpoint,
    createWebhook: (input) => call<{ endpoint: WebhookEndpoint; secret: string }>('POST', '/admin/webhooks', input),
    updateWebhook: async (id, patch) => (await call<{ endpoint: WebhookEndpoint }>('PATCH', hookPath(id), patch)).endpoint,
    deleteWebhook: (id) => call<void>('DELETE', hookPath(id)),
    rotateWebhookSecret: (id, overlap) => call<{ secret: string; previous_expires_at: string }>('POST', `${hookPath(id)}/rotate-secret`, overlap ? { overlap } : {}),
    listDeliveries(id, status, cursor, signal) {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (status) query.set('status', status);
      if (cursor) query.set('cursor', cursor);
      return call<{ deliveries: WebhookDelivery[]; next_cursor: string | null }>('GET', `${hookPath(id)}/deliveries?${query}`, undefined, signal);
    },
    redeliver: async (id, deliveryId) =>
      (await call<{ delivery: WebhookDelivery }>('POST', `${hookPath(id)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`)).delivery,
    sendTestWebhook: async (id) => (await call<{ delivery: WebhookDelivery }>('POST', `${hookPath(id)}/test`)).delivery,
    listOAuthClients: (cursor, signal) => call<{ clients: OAuthClient[]; next_cursor: string | null }>('GET', `/admin/oauth/clients?${paged(cursor)}`, undefined, signal),
    getOAuthClient: async (id, signal) => (await call<{ client: OAuthClient }>('GET', oauthPath(id), undefined, signal)).client,
    createOAuthClient: (input) => call<{ client: OAuthClient; client_secret?: string }>('POST', '/admin/oauth/clients', input),
    updateOAuthClient: async (id, patch) => (await call<{ client: OAuthClient }>('PATCH', oauthPath(id), patch)).client,
    deleteOAuthClient: (id) => call<void>('DELETE', oauthPath(id)),
    rotateOAuthClientSecret: (id) => call<{ client: OAuthClient; client_secret: string }>('POST', `${oauthPath(id)}/rotate-secret`),
    listOAuthGrants: (id, cursor, signal) =>
      call<{ grants: OAuthGrant[]; next_cursor: string | null }>('GET', `${oauthPath(id)}/grants?${paged(cursor)}`, undefined, signal),
    revokeOAuthGrant: (id, grantId) => call<void>('DELETE', `${oauthPath(id)}/grants/${encodeURIComponent(grantId)}`),
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

/**
 * The OAuth provider concern of the storage contract (issue 22, features/oauth-provider,
 * docs/oauth-provider.md). Two parts over the tables of migration 14:
 *
 * - `OAuthClientStore`: the apps registered to sign their users in through Latchkey
 *   (oauth_clients). A client's secret is kept only as its SHA-256; the metadata oidc-provider
 *   reads (redirect URIs, grant types, scopes, auth method, keys) is one JSON document.
 * - `OAuthPayloadStore`: oidc-provider's own storage (its Adapter interface, one row per
 *   (model, id)), plus the grant listings for users and admins.
 *
 * Deleting a user or a client deletes its payload rows (foreign keys, ON DELETE CASCADE).
 */

/** oidc-provider's metadata of a client, as stored (snake_case, the names of RFC 7591). */
export interface OAuthClientMetadata {
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  /** Subset of authorization_code, refresh_token, client_credentials. */
  grant_types: string[];
  /** `none` (public, PKCE), `client_secret_basic`, `client_secret_post`, `private_key_jwt`. */
  token_endpoint_auth_method: string;
  /** The scopes the client may ask for (space-separated, as RFC 7591 has it). */
  scope: string;
  /** For private_key_jwt: the client's public keys, inline or by URL (one of the two). */
  jwks?: { keys: Record<string, unknown>[] };
  jwks_uri?: string;
  logo_uri?: string;
  client_uri?: string;
  /** Anything else oidc-provider accepts (RFC 7591 registration may send more). */
  [member: string]: unknown;
}

export interface OAuthClientRecord {
  /** The client_id. */
  id: string;
  name: string;
  /** SHA-256 (hex) of the secret; null for public and private_key_jwt clients. */
  secretHash: string | null;
  metadata: OAuthClientMetadata;
  /** First-party clients skip the consent page. */
  firstParty: boolean;
  /** Registered through RFC 7591 dynamic registration (OAUTH_DYNAMIC_REGISTRATION). */
  dynamic: boolean;
  createdAt: number;
  updatedAt: number;
  secretRotatedAt: number | null;
}

export interface OAuthClientPage {
  clients: OAuthClientRecord[];
  nextCursor: string | null;
}

export interface OAuthClientStore {
  /** False, and nothing stored, when the id is taken. */
  createOAuthClient(client: OAuthClientRecord): Promise<boolean>;
  findOAuthClient(id: string): Promise<OAuthClientRecord | null>;
  /** Ordered by (created_at, id); `cursor` is a previous page's nextCursor. */
  listOAuthClients(query: { limit: number; cursor?: string | null }): Promise<OAuthClientPage>;
  /** Replaces name, metadata, firstParty and updatedAt; null when there is no such client. */
  updateOAuthClient(
    id: string,
    change: { name: string; metadata: OAuthClientMetadata; firstParty: boolean },
    now: number,
  ): Promise<OAuthClientRecord | null>;
  /** Sets the secret hash (null: none) and secretRotatedAt; false when there is no such client. */
  setOAuthClientSecret(id: string, secretHash: string | null, now: number): Promise<boolean>;
  /** Deletes the client and (cascade) every payload row of it: grants, codes, tokens. */
  deleteOAuthClient(id: string): Promise<boolean>;
}

/** One oidc-provider model instance (its Adapter's unit). */
export interface OAuthPayloadRecord {
  /** oidc-provider's model name: Session, AccessToken, AuthorizationCode, RefreshToken, ClientCredentials, Interaction, Grant, ... */
  model: string;
  id: string;
  /** The payload exactly as oidc-provider handed it over. */
  payload: Record<string, unknown>;
  /** Lifted from the payload, for the Adapter's lookups and the listings. */
  grantId: string | null;
  userCode: string | null;
  uid: string | null;
  accountId: string | null;
  clientId: string | null;
  /** Epoch ms; null: no expiry. */
  expiresAt: number | null;
  /** Epoch ms when consumed (codes, rotated refresh tokens); null: not consumed. */
  consumedAt: number | null;
}

/** A user's consent to a client, as the listings show it. */
export interface OAuthGrantRecord {
  /** The Grant's id (oidc-provider's grantId). */
  id: string;
  accountId: string;
  clientId: string;
  /** The scopes granted (OIDC scopes and every resource's scopes, deduplicated). */
  scopes: string[];
  createdAt: number;
  expiresAt: number | null;
}

export interface OAuthPayloadStore {
  /** Inserts or replaces the row (model, id). */
  upsertOAuthPayload(record: OAuthPayloadRecord): Promise<void>;
  /** The row, or null when absent or expired at `now`. */
  findOAuthPayload(model: string, id: string, now: number): Promise<OAuthPayloadRecord | null>;
  findOAuthPayloadByUid(model: string, uid: string, now: number): Promise<OAuthPayloadRecord | null>;
  findOAuthPayloadByUserCode(model: string, userCode: string, now: number): Promise<OAuthPayloadRecord | null>;
  /**
   * Marks it consumed at `now` (oidc-provider then refuses it, and revokes its grant on reuse).
   * True for the one call that consumed it: of concurrent calls exactly one wins; false when it
   * was consumed already or is absent (a code or refresh token is spent once, even under races).
   */
  consumeOAuthPayload(model: string, id: string, now: number): Promise<boolean>;
  destroyOAuthPayload(model: string, id: string): Promise<void>;
  /** Deletes every row (of any model) carrying this grant id: what revoking a grant means. */
  revokeOAuthGrant(grantId: string): Promise<number>;
  /** The Grant rows of a user (its connected apps), newest first. */
  listOAuthGrantsForUser(accountId: string, now: number): Promise<OAuthGrantRecord[]>;
  /** The Grant rows given to a client, newest first, paged by (created, id). */
  listOAuthGrantsForClient(
    clientId: string,
    query: { limit: number; cursor?: string | null },
    now: number,
  ): Promise<{ grants: OAuthGrantRecord[]; nextCursor: string | null }>;
  /** Deletes rows expired before `now`, at most `limit`; returns how many. */
  purgeExpiredOAuthPayloads(now: number, limit: number): Promise<number>;
}

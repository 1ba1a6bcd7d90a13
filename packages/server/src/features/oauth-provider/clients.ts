/**
 * The OAuth clients (issue 22, docs/oauth-provider.md "Registering clients"): the apps that sign
 * their users in through Latchkey. One service for the admin API, the CLI and (o2) dynamic
 * registration: the validation rules, the secret (generated here, shown once, kept as its
 * SHA-256), the public shape, and the metadata oidc-provider's Client model is built from.
 */
import { createHash, createPublicKey, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../clock.js';
import { OAUTH_BUILTIN_SCOPES, type OAuthConfig } from '../../config.js';
import type { FieldError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { failure, invalid, success, type Outcome } from '../../outcome.js';
import { decodeOAuthClientCursor } from '../../store/oauth-client-rows.js';
import type { OAuthClientMetadata, OAuthClientRecord, OAuthClientStore } from '../../store/types.js';

export const CLIENT_GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
/** Not client_secret_jwt: it needs the plain secret at rest, and Latchkey keeps only its hash. */
export const CLIENT_AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
export type ClientGrantType = (typeof CLIENT_GRANT_TYPES)[number];
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

export const MAX_REDIRECT_URIS = 20;
export const MAX_CLIENT_KEYS = 10;
export const CLIENT_NAME_MAX = 100;
export const CLIENT_URL_MAX = 2048;
export const DEFAULT_GRANT_TYPES: readonly ClientGrantType[] = ['authorization_code', 'refresh_token'];
export const DEFAULT_AUTH_METHOD: ClientAuthMethod = 'client_secret_basic';
export const DEFAULT_SCOPES: readonly string[] = ['openid', 'profile', 'email'];
/** Every client secret starts with this, so a leaked one is recognisable (secret scanners, logs). */
export const CLIENT_SECRET_PREFIX = 'lks_';

/** The hosts a plain-http redirect URI may name (RFC 8252 §7.3 loopback, and `localhost` for development). */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Schemes that run or embed content instead of reaching an app: never a redirect target. */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'vbscript:', 'data:', 'blob:', 'file:', 'about:', 'ftp:', 'ws:', 'wss:']);
/** RFC 8252 §7.1: a private-use scheme is a reverse domain name (`com.example.app`). */
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/;
/** The private members of a JWK: a client's key set must hold public keys only. */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

export interface ClientServiceDeps {
  store: OAuthClientStore;
  clock: Clock;
  /** OAUTH_SCOPES: the custom scopes a client may be allowed besides the built-in ones. */
  config: { oauth: Pick<OAuthConfig, 'scopes'> };
}

/** The fields of a client as the admin API and the CLI give them (snake_case, RFC 7591 names). */
export interface ClientInput {
  name: string;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
  grant_types?: string[];
  token_endpoint_auth_method?: string;
  scopes?: string[];
  first_party?: boolean;
  logo_uri?: string | null;
  client_uri?: string | null;
  jwks?: { keys: Record<string, unknown>[] } | null;
  jwks_uri?: string | null;
}

/** A PATCH: any of the fields; null removes an optional one (logo_uri, client_uri, jwks, jwks_uri). */
export type ClientPatch = Partial<ClientInput>;

/** A client as the admin API shows it: never the secret nor its hash. */
export interface PublicClient {
  client_id: string;
  name: string;
  type: 'public' | 'confidential';
  token_endpoint_auth_method: string;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  scopes: string[];
  first_party: boolean;
  logo_uri: string | null;
  client_uri: string | null;
  jwks_uri: string | null;
  has_jwks: boolean;
  dynamic: boolean;
  created_at: string;
  updated_at: string;
  secret_rotated_at: string | null;
}

/** A client with the secret made for it now (null: its method uses none), shown to the caller once. */
export interface ClientWithSecret {
  client: OAuthClientRecord;
  secret: string | null;
}

const NOT_FOUND = 'No such OAuth client.';
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** True when the method authenticates with a secret Latchkey generated (client_secret_basic, client_secret_post). */
export function usesSecret(method: string): boolean {
  return method === 'client_secret_basic' || method === 'client_secret_post';
}

/**
 * A new client secret: 32 random bytes, base64url, prefixed `lks_`.
 *
 * @example
 * newClientSecret(); // 'lks_4x2...'
 */
export function newClientSecret(): string {
  return CLIENT_SECRET_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * SHA-256 (hex) of a client secret, the only form it is kept in. A generated 256-bit secret needs
 * no slow hash: nobody can guess its way to a preimage, and the lookup stays cheap on every
 * token request.
 *
 * @example
 * hashClientSecret('lks_abc'); // '5f0e...' (64 hex digits)
 */
export function hashClientSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * Whether `given` is the secret whose hash is stored: compares the hashes in constant time (the
 * time taken says nothing about how much of it matched). False without a stored hash. oidc-provider's
 * `Client.prototype.compareClientSecret` calls this (o2's provider.ts).
 *
 * @example
 * clientSecretMatches(record.secretHash, 'lks_...'); // true or false
 */
export function clientSecretMatches(storedHash: string | null, given: string): boolean {
  if (storedHash === null || typeof given !== 'string') return false;
  const expected = Buffer.from(storedHash, 'hex');
  const actual = Buffer.from(hashClientSecret(given), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** The scopes a client may be given: the built-in ones and OAUTH_SCOPES. */
export function allowedScopes(config: { oauth: Pick<OAuthConfig, 'scopes'> }): string[] {
  return [...OAUTH_BUILTIN_SCOPES, ...config.oauth.scopes];
}

/**
 * The public shape of a client.
 *
 * @example
 * reply.send({ client: publicClient(record) });
 */
export function publicClient(c: OAuthClientRecord): PublicClient {
  const m = c.metadata;
  return {
    client_id: c.id,
    name: c.name,
    type: m.token_endpoint_auth_method === 'none' ? 'public' : 'confidential',
    token_endpoint_auth_method: m.token_endpoint_auth_method,
    redirect_uris: [...m.redirect_uris],
    post_logout_redirect_uris: [...(m.post_logout_redirect_uris ?? [])],
    grant_types: [...m.grant_types],
    scopes: m.scope.split(' ').filter(Boolean),
    first_party: c.firstParty,
    logo_uri: m.logo_uri ?? null,
    client_uri: m.client_uri ?? null,
    jwks_uri: m.jwks_uri ?? null,
    has_jwks: m.jwks !== undefined,
    dynamic: c.dynamic,
    created_at: iso(c.createdAt)!,
    updated_at: iso(c.updatedAt)!,
    // Only while there is a secret: after a move to a method without one, the time means nothing.
    secret_rotated_at: c.secretHash === null ? null : iso(c.secretRotatedAt),
  };
}

/** The host name of an absolute URI ('' when it is not one). */
function hostOf(uri: string): string {
  try {
    return new URL(uri).hostname;
  } catch {
    return '';
  }
}

/** True when a redirect URI uses a private-use scheme (a native app's), i.e. neither https nor http. */
function isPrivateUse(uri: string): boolean {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
  return scheme !== undefined && scheme !== 'https' && scheme !== 'http';
}

/**
 * The metadata oidc-provider's Client model is built from (its `findClient`/adapter returns it).
 * `client_secret` holds the stored hash for secret methods: oidc-provider's schema demands one for
 * them, and Latchkey's compareClientSecret (clientSecretMatches) compares hashes, so the plain
 * secret is never needed. A client with a private-use redirect URI is `native` (oidc-provider
 * refuses such schemes for `web` clients); response types are `code` only when the client may
 * use the authorization code grant (a client_credentials-only client has no redirect URIs).
 *
 * @example
 * const metadata = toProviderMetadata(await ctx.store.findOAuthClient(id));
 */
export function toProviderMetadata(c: OAuthClientRecord): Record<string, unknown> & { client_id: string } {
  const { client_secret: _ignored, ...extra } = c.metadata;
  const m = c.metadata;
  const metadata: Record<string, unknown> & { client_id: string } = {
    // Members RFC 7591 registration may have stored (contacts, software_id, ...), then ours over them.
    ...extra,
    client_id: c.id,
    client_name: c.name,
    redirect_uris: [...m.redirect_uris],
    post_logout_redirect_uris: [...(m.post_logout_redirect_uris ?? [])],
    grant_types: [...m.grant_types],
    response_types: m.grant_types.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: m.token_endpoint_auth_method,
    scope: m.scope,
    application_type: [...m.redirect_uris, ...(m.post_logout_redirect_uris ?? [])].some(isPrivateUse) ? 'native' : 'web',
  };
  delete metadata.jwks;
  delete metadata.jwks_uri;
  delete metadata.logo_uri;
  delete metadata.client_uri;
  if (m.jwks !== undefined) metadata.jwks = m.jwks;
  if (m.jwks_uri !== undefined) metadata.jwks_uri = m.jwks_uri;
  if (m.logo_uri !== undefined) metadata.logo_uri = m.logo_uri;
  if (m.client_uri !== undefined) metadata.client_uri = m.client_uri;
  if (usesSecret(m.token_endpoint_auth_method) && c.secretHash !== null) metadata.client_secret = c.secretHash;
  return metadata;
}

// ---- validation -------------------------------------------------------------------------------

/** Why `uri` is refused as a redirect URI of this client, or null. `publicClient`: private-use schemes allowed. */
function redirectUriRefusal(uri: string, label: string, publicClient: boolean): string | null {
  // The URL parser would drop surrounding spaces, but the match at /oauth/authorize is on the string as stored.
  if (/[\s\u0000-\u001f\u007f]/.test(uri)) return `${label} must not contain spaces or control characters.`;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `${label} must be an absolute URI: "${uri}" is not one.`;
  }
  if (uri.includes('#')) return `${label} must not have a fragment (#).`;
  const scheme = url.protocol.toLowerCase();
  if (scheme === 'https:' || scheme === 'http:') {
    if (url.username !== '' || url.password !== '') return `${label} must not carry credentials.`;
    if (scheme === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
      return `${label} must use https (http only for http://localhost, http://127.0.0.1 or http://[::1]).`;
    }
    return null;
  }
  if (FORBIDDEN_SCHEMES.has(scheme)) return `${label} must not use the ${scheme.slice(0, -1)} scheme.`;
  if (!publicClient) return `${label}: a custom scheme (${scheme}) is only for public clients (token_endpoint_auth_method "none"), such as mobile and desktop apps.`;
  if (!PRIVATE_USE_SCHEME.test(scheme)) {
    return `${label}: a custom scheme must be a reverse domain name such as com.example.app (RFC 8252), not "${scheme.slice(0, -1)}".`;
  }
  return null;
}

/** Why `uri` is refused as a web page of the client (logo, home page, jwks_uri), or null. */
function webUrlRefusal(uri: string, label: string, httpsOnly: boolean): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `${label} must be an absolute URL.`;
  }
  if (uri.includes('#')) return `${label} must not have a fragment (#).`;
  if (url.username !== '' || url.password !== '') return `${label} must not carry credentials.`;
  if (url.protocol === 'https:') return null;
  if (!httpsOnly && url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return null;
  return httpsOnly ? `${label} must be an https URL.` : `${label} must be an https URL (http only on localhost).`;
}

function checkUris(uris: readonly string[], field: string, publicClient: boolean, errors: FieldError[]): string[] {
  if (uris.length > MAX_REDIRECT_URIS) errors.push({ field, message: `${field} may hold at most ${MAX_REDIRECT_URIS} URIs.` });
  for (const [i, uri] of uris.entries()) {
    const refusal = redirectUriRefusal(uri, `${field}[${i}]`, publicClient);
    if (refusal) errors.push({ field: `${field}[${i}]`, message: refusal });
  }
  return [...new Set(uris)];
}

/** Why a client's key set is refused, or null: 1..10 public keys node:crypto can read. */
function jwksRefusal(jwks: unknown): string | null {
  const keys = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) return 'jwks must be {"keys": [...]} with at least one key.';
  if (keys.length > MAX_CLIENT_KEYS) return `jwks may hold at most ${MAX_CLIENT_KEYS} keys.`;
  for (const [i, key] of keys.entries()) {
    if (typeof key !== 'object' || key === null || Array.isArray(key)) return `jwks.keys[${i}] must be a JWK object.`;
    const jwk = key as Record<string, unknown>;
    const secretMember = PRIVATE_JWK_MEMBERS.find((m) => jwk[m] !== undefined);
    if (jwk.kty === 'oct' || secretMember) return `jwks.keys[${i}] must be a public key (it has the private member "${secretMember ?? 'k'}").`;
    try {
      createPublicKey({ key: jwk, format: 'jwk' });
    } catch {
      return `jwks.keys[${i}] is not a public key this server can read (RSA, EC or OKP).`;
    }
  }
  return null;
}

/** The validated fields of a client, ready for the store. */
interface CheckedClient {
  name: string;
  metadata: OAuthClientMetadata;
  firstParty: boolean;
}

/**
 * Checks a whole client (a new one, or an existing one with a PATCH applied) against the rules
 * of docs/oauth-provider.md; every refusal is a field error of one VALIDATION_FAILED.
 */
function checkClient(input: ClientInput, scopesAllowed: readonly string[]): Outcome<CheckedClient> {
  const errors: FieldError[] = [];
  const name = input.name.trim();
  if (name === '' || /[\u0000-\u001f\u007f]/.test(name)) errors.push({ field: 'name', message: 'name must be a non-empty line of text.' });
  else if (name.length > CLIENT_NAME_MAX) errors.push({ field: 'name', message: `name must be at most ${CLIENT_NAME_MAX} characters.` });

  const method = input.token_endpoint_auth_method ?? DEFAULT_AUTH_METHOD;
  if (!(CLIENT_AUTH_METHODS as readonly string[]).includes(method)) {
    errors.push({ field: 'token_endpoint_auth_method', message: `token_endpoint_auth_method must be one of ${CLIENT_AUTH_METHODS.join(', ')}.` });
  }
  const isPublic = method === 'none';

  const grantTypes = [...new Set(input.grant_types ?? DEFAULT_GRANT_TYPES)];
  if (grantTypes.length === 0) errors.push({ field: 'grant_types', message: 'grant_types must name at least one grant type.' });
  for (const [i, g] of grantTypes.entries()) {
    if (!(CLIENT_GRANT_TYPES as readonly string[]).includes(g)) {
      errors.push({ field: `grant_types[${i}]`, message: `grant_types[${i}] must be one of ${CLIENT_GRANT_TYPES.join(', ')}.` });
    }
  }
  const codeFlow = grantTypes.includes('authorization_code');
  if (grantTypes.includes('refresh_token') && !codeFlow) {
    errors.push({ field: 'grant_types', message: 'grant_types: refresh_token needs authorization_code (a refresh token comes from a sign-in).' });
  }
  if (grantTypes.includes('client_credentials') && isPublic) {
    errors.push({ field: 'grant_types', message: 'grant_types: client_credentials is only for confidential clients (a public client has no credentials).' });
  }

  const redirectUris = checkUris(input.redirect_uris, 'redirect_uris', isPublic, errors);
  if (codeFlow && redirectUris.length === 0) {
    errors.push({ field: 'redirect_uris', message: 'redirect_uris must hold at least one URI for the authorization_code grant.' });
  }
  const postLogout = checkUris(input.post_logout_redirect_uris ?? [], 'post_logout_redirect_uris', isPublic, errors);
  // A client with a private-use scheme is a native app to oidc-provider, which then refuses
  // https URIs on a loopback host (RFC 8252 §7.2: claimed https URIs name a real domain).
  if ([...redirectUris, ...postLogout].some(isPrivateUse)) {
    for (const [field, uris] of [['redirect_uris', redirectUris], ['post_logout_redirect_uris', postLogout]] as const) {
      for (const [i, uri] of uris.entries()) {
        if (/^https:/i.test(uri) && LOOPBACK_HOSTS.has(hostOf(uri))) {
          errors.push({ field: `${field}[${i}]`, message: `${field}[${i}]: a client with a custom-scheme redirect URI (a native app) must use http, not https, on localhost.` });
        }
      }
    }
  }

  const scopes = [...new Set(input.scopes ?? DEFAULT_SCOPES)];
  for (const [i, s] of scopes.entries()) {
    if (!scopesAllowed.includes(s)) {
      errors.push({ field: `scopes[${i}]`, message: `scopes[${i}]: "${s}" is not a scope of this server (${scopesAllowed.join(', ')}; OAUTH_SCOPES adds more).` });
    }
  }

  const jwks = input.jwks ?? null;
  const jwksUri = input.jwks_uri ?? null;
  if (method === 'private_key_jwt') {
    if ((jwks === null) === (jwksUri === null)) {
      errors.push({ field: 'jwks', message: 'private_key_jwt needs exactly one of jwks (the public keys) and jwks_uri (an https URL serving them).' });
    }
  } else if (jwks !== null || jwksUri !== null) {
    errors.push({ field: jwks !== null ? 'jwks' : 'jwks_uri', message: `${jwks !== null ? 'jwks' : 'jwks_uri'} is only for token_endpoint_auth_method "private_key_jwt".` });
  }
  if (jwks !== null) {
    const refusal = jwksRefusal(jwks);
    if (refusal) errors.push({ field: 'jwks', message: refusal });
  }
  const uriFields: Array<[string, string | null, boolean]> = [
    ['jwks_uri', jwksUri, true],
    ['logo_uri', input.logo_uri ?? null, false],
    ['client_uri', input.client_uri ?? null, false],
  ];
  for (const [field, value, httpsOnly] of uriFields) {
    if (value === null) continue;
    const refusal = value.length > CLIENT_URL_MAX ? `${field} must be at most ${CLIENT_URL_MAX} characters.` : webUrlRefusal(value, field, httpsOnly);
    if (refusal) errors.push({ field, message: refusal });
  }

  if (errors.length > 0) return invalid(...errors);
  const metadata: OAuthClientMetadata = {
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogout,
    grant_types: grantTypes,
    token_endpoint_auth_method: method,
    scope: scopes.join(' '),
  };
  if (jwks !== null) metadata.jwks = { keys: jwks.keys };
  if (jwksUri !== null) metadata.jwks_uri = jwksUri;
  if (input.logo_uri) metadata.logo_uri = input.logo_uri;
  if (input.client_uri) metadata.client_uri = input.client_uri;
  return success({ name, metadata, firstParty: input.first_party ?? false });
}

/**
 * RFC 7591 dynamic registration (oidc-provider's payload) under the admin API's rules: the same
 * redirect URI, grant and scope checks, the same default scopes. The metadata to store, or the
 * field errors.
 *
 * @example
 * const checked = checkRegistration(payload, allowedScopes(config));
 */
export function checkRegistration(payload: Record<string, unknown>, scopesAllowed: readonly string[]): Outcome<{ name: string; metadata: OAuthClientMetadata }> {
  const list = (value: unknown): string[] | undefined => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined);
  const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
  const input: ClientInput = {
    name: text(payload.client_name) ?? 'Unnamed app',
    redirect_uris: list(payload.redirect_uris) ?? [],
    post_logout_redirect_uris: list(payload.post_logout_redirect_uris) ?? [],
    grant_types: list(payload.grant_types),
    token_endpoint_auth_method: text(payload.token_endpoint_auth_method) ?? undefined,
    scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : undefined,
    first_party: false,
    logo_uri: text(payload.logo_uri),
    client_uri: text(payload.client_uri),
    jwks: (payload.jwks as ClientInput['jwks']) ?? null,
    jwks_uri: text(payload.jwks_uri),
  };
  const checked = checkClient(input, scopesAllowed);
  if (!checked.ok) return checked;
  // Members RFC 7591 allows beyond ours (contacts, software_id, ...) stay, ours over them.
  const { client_id: _id, client_secret: _secret, client_name: _name, client_id_issued_at: _issued, client_secret_expires_at: _expires, registration_access_token: _rat, registration_client_uri: _uri, ...rest } =
    payload;
  return success({ name: checked.value.name, metadata: { ...rest, ...checked.value.metadata } as OAuthClientMetadata });
}

/** The fields of a stored client, as ClientInput (what a PATCH is applied to). */
function inputOf(c: OAuthClientRecord): ClientInput {
  const m = c.metadata;
  return {
    name: c.name,
    redirect_uris: m.redirect_uris,
    post_logout_redirect_uris: m.post_logout_redirect_uris ?? [],
    grant_types: m.grant_types,
    token_endpoint_auth_method: m.token_endpoint_auth_method,
    scopes: m.scope.split(' ').filter(Boolean),
    first_party: c.firstParty,
    logo_uri: m.logo_uri ?? null,
    client_uri: m.client_uri ?? null,
    jwks: m.jwks ?? null,
    jwks_uri: m.jwks_uri ?? null,
  };
}

// ---- operations -------------------------------------------------------------------------------

/**
 * Registers a client. For client_secret_basic and client_secret_post a secret is made and
 * returned here (and by rotateClientSecret), never again: only its hash is stored.
 *
 * @example
 * const created = unwrap(await createClient(ctx, { name: 'CRM', redirect_uris: ['https://crm.example/cb'] }));
 * created.secret; // 'lks_...' (null for public and private_key_jwt clients)
 */
export async function createClient(deps: ClientServiceDeps, input: ClientInput, options: { dynamic?: boolean } = {}): Promise<Outcome<ClientWithSecret>> {
  const checked = checkClient(input, allowedScopes(deps.config));
  if (!checked.ok) return checked;
  const now = deps.clock();
  const secret = usesSecret(checked.value.metadata.token_endpoint_auth_method) ? newClientSecret() : null;
  const record: OAuthClientRecord = {
    id: newId(),
    name: checked.value.name,
    secretHash: secret === null ? null : hashClientSecret(secret),
    metadata: checked.value.metadata,
    firstParty: checked.value.firstParty,
    dynamic: options.dynamic ?? false,
    createdAt: now,
    updatedAt: now,
    secretRotatedAt: secret === null ? null : now,
  };
  // A random UUID is not taken; should it ever be, this is the same refusal as any store failure.
  if (!(await deps.store.createOAuthClient(record))) throw new Error('client id collision');
  return success({ client: record, secret });
}

/**
 * @example
 * const client = unwrap(await getClient(ctx, id));
 */
export async function getClient(deps: Pick<ClientServiceDeps, 'store'>, id: string): Promise<Outcome<OAuthClientRecord>> {
  const client = await deps.store.findOAuthClient(id);
  return client ? success(client) : failure('OAUTH_CLIENT_NOT_FOUND', NOT_FOUND);
}

/**
 * A page of clients, oldest first. A cursor this server did not make is VALIDATION_FAILED.
 *
 * @example
 * const page = unwrap(await listClients(ctx, { limit: 50, cursor: null }));
 */
export async function listClients(
  deps: Pick<ClientServiceDeps, 'store'>,
  query: { limit: number; cursor: string | null },
): Promise<Outcome<{ clients: OAuthClientRecord[]; nextCursor: string | null }>> {
  if (query.cursor !== null && !decodeOAuthClientCursor(query.cursor)) {
    return invalid({ field: 'cursor', message: 'cursor must be the next_cursor of a previous page; start again without it.' });
  }
  return success(await deps.store.listOAuthClients(query));
}

/**
 * Applies a PATCH and checks the whole client again. Moving to a secret method from one without a
 * secret makes a secret (returned once, as at creation); moving away from one drops the hash. A
 * method other than private_key_jwt drops the stored keys unless the PATCH sends some (refused).
 *
 * @example
 * const { client } = unwrap(await updateClient(ctx, id, { redirect_uris: ['https://crm.example/cb2'] }));
 */
export async function updateClient(deps: ClientServiceDeps, id: string, patch: ClientPatch): Promise<Outcome<ClientWithSecret & { before: OAuthClientRecord }>> {
  const before = await deps.store.findOAuthClient(id);
  if (!before) return failure('OAUTH_CLIENT_NOT_FOUND', NOT_FOUND);
  const merged: ClientInput = { ...inputOf(before) };
  for (const [key, value] of Object.entries(patch) as Array<[keyof ClientInput, unknown]>) {
    if (value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value;
  }
  if (merged.token_endpoint_auth_method !== 'private_key_jwt') {
    if (patch.jwks === undefined) merged.jwks = null;
    if (patch.jwks_uri === undefined) merged.jwks_uri = null;
  }
  const checked = checkClient(merged, allowedScopes(deps.config));
  if (!checked.ok) return checked;
  const now = deps.clock();
  const hadSecret = before.secretHash !== null;
  const wantsSecret = usesSecret(checked.value.metadata.token_endpoint_auth_method);
  let secret: string | null = null;
  // The secret first when one is added: a client is never stored with a secret method and no secret.
  if (wantsSecret && !hadSecret) {
    secret = newClientSecret();
    if (!(await deps.store.setOAuthClientSecret(id, hashClientSecret(secret), now))) return failure('OAUTH_CLIENT_NOT_FOUND', NOT_FOUND);
  }
  const client = await deps.store.updateOAuthClient(id, checked.value, now);
  if (!client) return failure('OAUTH_CLIENT_NOT_FOUND', NOT_FOUND);
  if (!wantsSecret && hadSecret) {
    await deps.store.setOAuthClientSecret(id, null, now);
    return success({ client: { ...client, secretHash: null, secretRotatedAt: now }, secret: null, before });
  }
  return success({ client, secret, before });
}

/**
 * A new secret for a client_secret_basic/post client; the old one stops working at once.
 * OAUTH_CLIENT_HAS_NO_SECRET (409) for public and private_key_jwt clients.
 *
 * @example
 * const { secret } = unwrap(await rotateClientSecret(ctx, id));
 */
export async function rotateClientSecret(deps: Pick<ClientServiceDeps, 'store' | 'clock'>, id: string): Promise<Outcome<{ client: OAuthClientRecord; secret: string }>> {
  const client = await deps.store.findOAuthClient(id);
  if (!client) return failure('OAUTH_CLIENT_NOT_FOUND', NOT_FOUND);
  if (!usesSecret(client.metadata.token_endpoint_auth_method)) {
    return failure(
      'OAUTH_CLIENT_HAS_NO_SECRET',
      `This client authenticates with "${client.metadata.token_endpoint_auth_method}": it has no secret to rotate.`,
    );
  }
  const now = deps.clock();
  const secret = newClientSecret();
  const secretHash = hashClientSecret(secret);
  if (!(await deps.store.setOAuthClientSecret(id, secretHash, now))) return failure('OAUTH_CLIENT_NOT_FOUND', NOT_FOUND);
  return success({ client: { ...client, secretHash, secretRotatedAt: now, updatedAt: now }, secret });
}

/**
 * Deletes a client; its grants, codes and tokens go with it (the store's cascade).
 *
 * @example
 * unwrap(await deleteClient(ctx, id));
 */
export async function deleteClient(deps: Pick<ClientServiceDeps, 'store'>, id: string): Promise<Outcome<OAuthClientRecord>> {
  const client = await deps.store.findOAuthClient(id);
  if (!client || !(await deps.store.deleteOAuthClient(id))) return failure('OAUTH_CLIENT_NOT_FOUND', NOT_FOUND);
  return success(client);
}

/**
 * OAuth clients and grants over HTTP (issue 22, docs/oauth-provider.md "Registering clients"):
 * the admin API with its validation rules and refusals, the secret shown once (never in a later
 * answer, the audit log or the logs) and kept as its SHA-256, rotation, deletion with the grants
 * and tokens, an admin's view of a client's grants, and a user's connected apps. Runs on SQLite
 * and PostgreSQL (the projects of vitest.config.ts).
 */
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientSecretMatches, toProviderMetadata } from '../../../src/features/oauth-provider/clients.js';
import type { OAuthPayloadRecord } from '../../../src/store/types.js';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { expectProblem } from '../../support/sessions.js';

const PASSWORD = 'correct horse battery staple';
let t: TestApp;
let admin: { email: string; access: string; userId: string };
let member: { email: string; access: string; userId: string };

interface PublicClient {
  client_id: string;
  name: string;
  type: string;
  token_endpoint_auth_method: string;
  redirect_uris: string[];
  grant_types: string[];
  scopes: string[];
  has_jwks: boolean;
  jwks_uri: string | null;
  secret_rotated_at: string | null;
  [key: string]: unknown;
}

interface Entry {
  actor: { type: string; id: string | null; email: string | null };
  action: string;
  target: { type: string | null; id: string | null };
  changes: Record<string, unknown> | null;
}

beforeAll(async () => {
  t = await createTestApp({ OAUTH_SCOPES: 'orders:read orders:write' });
  const email = `oauth-admin-${randomUUID().slice(0, 8)}@example.com`;
  const u = await registerAndLogin(t.app, email, PASSWORD);
  await t.app.latchkey.store.updateUser(u.userId, { roles: ['admin'] }, Date.now());
  const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
  admin = { email, access: (login.json() as { access_token: string }).access_token, userId: u.userId };
  const m = await registerAndLogin(t.app);
  member = { email: m.email, access: m.access, userId: m.userId };
});
afterAll(() => t?.close());

function asAdmin(opts: InjectOptions) {
  return t.app.inject({ ...opts, headers: { ...bearer(admin.access), ...(opts.headers ?? {}) } });
}

async function create(body: Record<string, unknown>): Promise<{ client: PublicClient; client_secret?: string }> {
  const res = await asAdmin({ method: 'POST', url: '/admin/oauth/clients', payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { client: PublicClient; client_secret?: string };
}

/** The field errors of a 422 VALIDATION_FAILED answer to creating `body`. */
async function refusedFields(body: Record<string, unknown>): Promise<Array<{ field: string; message: string }>> {
  const res = await asAdmin({ method: 'POST', url: '/admin/oauth/clients', payload: body });
  expectProblem(res, 422, 'VALIDATION_FAILED');
  return (res.json() as { errors: Array<{ field: string; message: string }> }).errors;
}

async function auditOf(target: string): Promise<Entry[]> {
  const res = await asAdmin({ method: 'GET', url: `/admin/audit?target=${encodeURIComponent(target)}` });
  expect(res.statusCode).toBe(200);
  return (res.json() as { entries: Entry[] }).entries.reverse();
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A Grant of `userId` to `clientId` and the rows oidc-provider writes from it (code, access and refresh token). */
async function grantWithTokens(userId: string, clientId: string, scope: string, iat = Date.now()): Promise<{ grantId: string; rows: OAuthPayloadRecord[] }> {
  const grantId = randomUUID();
  const row = (model: string, id: string, payload: Record<string, unknown>): OAuthPayloadRecord => ({
    model,
    id,
    payload: { jti: id, kind: model, accountId: userId, clientId, iat: Math.floor(iat / 1000), exp: Math.floor(iat / 1000) + 86_400, ...payload },
    grantId,
    userCode: null,
    uid: null,
    accountId: userId,
    clientId,
    expiresAt: iat + 86_400_000,
    consumedAt: null,
  });
  const rows = [
    row('Grant', grantId, { openid: { scope } }),
    row('AuthorizationCode', randomUUID(), { grantId, scope }),
    row('AccessToken', randomUUID(), { grantId, scope }),
    row('RefreshToken', randomUUID(), { grantId, scope }),
  ];
  for (const r of rows) await t.app.latchkey.store.upsertOAuthPayload(r);
  return { grantId, rows };
}

async function rowsLeft(rows: OAuthPayloadRecord[]): Promise<string[]> {
  const left: string[] = [];
  for (const r of rows) if (await t.app.latchkey.store.findOAuthPayload(r.model, r.id, Date.now())) left.push(r.model);
  return left;
}

describe('registering OAuth clients', () => {
  it('creates a confidential client with the defaults; the secret is in that answer only, and only its SHA-256 is stored', async () => {
    const res = await asAdmin({ method: 'POST', url: '/admin/oauth/clients', payload: { name: 'Acme CRM', redirect_uris: ['https://crm.example/callback'] } });
    expect(res.statusCode, res.body).toBe(201);
    const { client, client_secret: secret } = res.json() as { client: PublicClient; client_secret: string };
    expect(secret).toMatch(/^lks_[A-Za-z0-9_-]{43}$/);
    expect(client).toMatchObject({
      name: 'Acme CRM',
      type: 'confidential',
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: ['https://crm.example/callback'],
      post_logout_redirect_uris: [],
      grant_types: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'profile', 'email'],
      first_party: false,
      logo_uri: null,
      client_uri: null,
      jwks_uri: null,
      has_jwks: false,
      dynamic: false,
    });
    expect(client.secret_rotated_at).toBe(client.created_at);

    const stored = (await t.app.latchkey.store.findOAuthClient(client.client_id))!;
    expect(stored.secretHash).toBe(sha256(secret));
    expect(clientSecretMatches(stored.secretHash, secret)).toBe(true);
    expect(clientSecretMatches(stored.secretHash, `${secret}x`)).toBe(false);
    // What oidc-provider is given: the hash where its schema wants a secret (compared by hash).
    expect(toProviderMetadata(stored)).toMatchObject({
      client_id: client.client_id,
      client_name: 'Acme CRM',
      client_secret: sha256(secret),
      response_types: ['code'],
      application_type: 'web',
      scope: 'openid profile email',
    });

    // Never again: not in GET, the list, the audit log, nor any log line; nor is the hash.
    const again = await asAdmin({ method: 'GET', url: `/admin/oauth/clients/${client.client_id}` });
    expect(again.statusCode).toBe(200);
    const listed = await asAdmin({ method: 'GET', url: '/admin/oauth/clients?limit=200' });
    const audit = await auditOf(client.client_id);
    expect(audit.map((e) => e.action)).toEqual(['admin.oauth_client.created']);
    expect(audit[0]!.changes).toMatchObject({ name: { from: null, to: 'Acme CRM' }, secret: { set: true } });
    for (const text of [again.body, listed.body, JSON.stringify(audit), t.logs.join('')]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(secret.slice(4));
      expect(text).not.toContain(stored.secretHash!);
    }
    expect(listed.json().clients.map((c: PublicClient) => c.client_id)).toContain(client.client_id);
  });

  it('creates a public client (PKCE, no secret) with loopback and private-use redirect URIs', async () => {
    const res = await asAdmin({
      method: 'POST',
      url: '/admin/oauth/clients',
      payload: {
        name: 'Acme mobile',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['com.acme.app:/oauth/callback', 'http://127.0.0.1:8765/cb', 'http://[::1]:8765/cb', 'http://localhost/cb'],
        scopes: ['openid', 'offline_access', 'orders:read'],
        first_party: true,
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).not.toHaveProperty('client_secret');
    const client = res.json().client as PublicClient;
    expect(client).toMatchObject({ type: 'public', token_endpoint_auth_method: 'none', scopes: ['openid', 'offline_access', 'orders:read'], first_party: true, secret_rotated_at: null });
    const stored = (await t.app.latchkey.store.findOAuthClient(client.client_id))!;
    expect(stored.secretHash).toBeNull();
    const metadata = toProviderMetadata(stored);
    expect(metadata.application_type).toBe('native');
    expect(metadata).not.toHaveProperty('client_secret');
  });

  it('refuses each bad redirect URI with 422 naming the field, and stores nothing', async () => {
    const before = (await asAdmin({ method: 'GET', url: '/admin/oauth/clients?limit=200' })).json().clients.length as number;
    const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
      ['relative', { redirect_uris: ['/callback'] }, 'redirect_uris[0]', /absolute URI/],
      ['no scheme', { redirect_uris: ['crm.example/callback'] }, 'redirect_uris[0]', /absolute URI/],
      ['fragment', { redirect_uris: ['https://crm.example/cb#frag'] }, 'redirect_uris[0]', /fragment/],
      ['surrounding space', { redirect_uris: [' https://crm.example/cb'] }, 'redirect_uris[0]', /spaces/],
      ['empty fragment', { redirect_uris: ['https://crm.example/cb#'] }, 'redirect_uris[0]', /fragment/],
      ['http on a public host', { redirect_uris: ['https://ok.example/cb', 'http://crm.example/cb'] }, 'redirect_uris[1]', /must use https/],
      ['http on a private address', { redirect_uris: ['http://10.0.0.7/cb'] }, 'redirect_uris[0]', /must use https/],
      ['http on a look-alike of localhost', { redirect_uris: ['http://localhost.evil.example/cb'] }, 'redirect_uris[0]', /must use https/],
      ['credentials', { redirect_uris: ['https://user:pw@crm.example/cb'] }, 'redirect_uris[0]', /credentials/],
      ['custom scheme, confidential', { redirect_uris: ['com.acme.app:/cb'] }, 'redirect_uris[0]', /only for public clients/],
      ['custom scheme without a domain', { token_endpoint_auth_method: 'none', redirect_uris: ['myapp://cb'] }, 'redirect_uris[0]', /reverse domain/],
      ['javascript', { token_endpoint_auth_method: 'none', redirect_uris: ['javascript:alert(1)'] }, 'redirect_uris[0]', /javascript scheme/],
      ['data', { token_endpoint_auth_method: 'none', redirect_uris: ['data:text/html,hi'] }, 'redirect_uris[0]', /data scheme/],
      ['none for the code flow', { redirect_uris: [] }, 'redirect_uris', /at least one/],
      ['native app with https on localhost', { token_endpoint_auth_method: 'none', redirect_uris: ['com.acme.app:/cb', 'https://localhost/cb'] }, 'redirect_uris[1]', /native app/],
      ['post-logout http', { redirect_uris: ['https://crm.example/cb'], post_logout_redirect_uris: ['http://crm.example/bye'] }, 'post_logout_redirect_uris[0]', /must use https/],
    ];
    for (const [label, body, field, message] of cases) {
      const errors = await refusedFields({ name: 'Bad', ...body });
      const hit = errors.find((e) => e.field === field);
      expect(hit, `${label}: ${JSON.stringify(errors)}`).toBeDefined();
      expect(hit!.message, label).toMatch(message);
    }
    // More than 20: refused by the schema.
    const many = Array.from({ length: 21 }, (_, i) => `https://crm.example/cb/${i}`);
    expect((await refusedFields({ name: 'Many', redirect_uris: many })).map((e) => e.field).join()).toMatch(/redirect_uris/);
    expect((await asAdmin({ method: 'GET', url: '/admin/oauth/clients?limit=200' })).json().clients).toHaveLength(before);
  });

  it('refuses an unknown scope, client_credentials on a public client, client_secret_jwt, and refresh_token alone', async () => {
    expect(await refusedFields({ name: 'S', redirect_uris: ['https://a.example/cb'], scopes: ['openid', 'admin:everything'] })).toEqual([
      { field: 'scopes[1]', message: expect.stringMatching(/"admin:everything" is not a scope of this server .*orders:read/) as string },
    ]);
    expect(
      await refusedFields({ name: 'S', token_endpoint_auth_method: 'none', redirect_uris: ['https://a.example/cb'], grant_types: ['authorization_code', 'client_credentials'] }),
    ).toEqual([{ field: 'grant_types', message: expect.stringMatching(/client_credentials is only for confidential clients/) as string }]);
    const jwt = await refusedFields({ name: 'S', redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'client_secret_jwt' });
    expect(jwt[0]!.field).toBe('token_endpoint_auth_method');
    expect((await refusedFields({ name: 'S', redirect_uris: [], grant_types: ['refresh_token'] }))[0]!.message).toMatch(/refresh_token needs authorization_code/);
    expect((await refusedFields({ name: '   ', redirect_uris: ['https://a.example/cb'] }))[0]!.field).toBe('name');
    expect((await refusedFields({ name: 'S', redirect_uris: ['https://a.example/cb'], logo_uri: 'http://cdn.example/logo.png' }))[0]!.field).toBe('logo_uri');
  });

  it('a machine client: client_credentials alone, no redirect URI, no response type', async () => {
    const { client, client_secret: secret } = await create({ name: 'Billing job', redirect_uris: [], grant_types: ['client_credentials'], scopes: ['orders:write'] });
    expect(secret).toMatch(/^lks_/);
    expect(client).toMatchObject({ grant_types: ['client_credentials'], redirect_uris: [], scopes: ['orders:write'] });
    expect(toProviderMetadata((await t.app.latchkey.store.findOAuthClient(client.client_id))!)).toMatchObject({ response_types: [], grant_types: ['client_credentials'] });
  });

  it('private_key_jwt needs exactly one of jwks and jwks_uri (https, public keys only); it has no secret', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' };
    const priv = privateKey.export({ format: 'jwk' });
    const base = { name: 'Signed', redirect_uris: ['https://signed.example/cb'], token_endpoint_auth_method: 'private_key_jwt' };
    expect((await refusedFields(base))[0]).toMatchObject({ field: 'jwks', message: expect.stringMatching(/exactly one of jwks/) as string });
    expect((await refusedFields({ ...base, jwks: { keys: [pub] }, jwks_uri: 'https://signed.example/jwks' }))[0]!.field).toBe('jwks');
    expect((await refusedFields({ ...base, jwks: { keys: [priv] } }))[0]!.message).toMatch(/must be a public key/);
    expect((await refusedFields({ ...base, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }))[0]!.message).toMatch(/must be a public key/);
    expect((await refusedFields({ ...base, jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'nope', y: 'nope' }] } }))[0]!.message).toMatch(/not a public key/);
    expect((await refusedFields({ ...base, jwks_uri: 'http://signed.example/jwks' }))[0]).toMatchObject({ field: 'jwks_uri' });
    expect((await refusedFields({ name: 'Keys', redirect_uris: ['https://a.example/cb'], jwks: { keys: [pub] } }))[0]!.message).toMatch(/only for token_endpoint_auth_method "private_key_jwt"/);

    const inline = await create({ ...base, jwks: { keys: [pub] } });
    expect(inline.client_secret).toBeUndefined();
    expect(inline.client).toMatchObject({ type: 'confidential', has_jwks: true, jwks_uri: null });
    expect(toProviderMetadata((await t.app.latchkey.store.findOAuthClient(inline.client.client_id))!)).toMatchObject({ jwks: { keys: [pub] } });
    const byUrl = await create({ ...base, jwks_uri: 'https://signed.example/.well-known/jwks.json' });
    expect(byUrl.client).toMatchObject({ has_jwks: false, jwks_uri: 'https://signed.example/.well-known/jwks.json' });
    const rotate = await asAdmin({ method: 'POST', url: `/admin/oauth/clients/${byUrl.client.client_id}/rotate-secret` });
    expectProblem(rotate, 409, 'OAUTH_CLIENT_HAS_NO_SECRET');
  });

  it('rotating a secret: a new one, shown once; the old one no longer matches', async () => {
    const { client, client_secret: first } = await create({ name: 'Rotating', redirect_uris: ['https://rot.example/cb'] });
    const res = await asAdmin({ method: 'POST', url: `/admin/oauth/clients/${client.client_id}/rotate-secret` });
    expect(res.statusCode, res.body).toBe(200);
    const second = res.json().client_secret as string;
    expect(second).toMatch(/^lks_/);
    expect(second).not.toBe(first);
    const stored = (await t.app.latchkey.store.findOAuthClient(client.client_id))!;
    expect(stored.secretHash).toBe(sha256(second));
    expect(clientSecretMatches(stored.secretHash, first!)).toBe(false);
    expect(clientSecretMatches(stored.secretHash, second)).toBe(true);
    const audit = await auditOf(client.client_id);
    expect(audit.map((e) => e.action)).toEqual(['admin.oauth_client.created', 'admin.oauth_client.secret_rotated']);
    expect(audit[1]!.changes).toEqual({ secret: { rotated: true } });
    for (const s of [first!, second, stored.secretHash!]) expect(JSON.stringify(audit) + t.logs.join('')).not.toContain(s);

    const pub = await create({ name: 'Public', token_endpoint_auth_method: 'none', redirect_uris: ['https://pub.example/cb'] });
    expectProblem(await asAdmin({ method: 'POST', url: `/admin/oauth/clients/${pub.client.client_id}/rotate-secret` }), 409, 'OAUTH_CLIENT_HAS_NO_SECRET');
  });

  it('PATCH changes fields, checks the whole client again, and gives or drops a secret with the method', async () => {
    const { client } = await create({ name: 'Patchy', token_endpoint_auth_method: 'none', redirect_uris: ['https://patch.example/cb'] });
    const url = `/admin/oauth/clients/${client.client_id}`;
    const renamed = await asAdmin({ method: 'PATCH', url, payload: { name: 'Patched', redirect_uris: ['https://patch.example/cb2'], logo_uri: 'https://patch.example/logo.png' } });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(renamed.json()).not.toHaveProperty('client_secret');
    expect(renamed.json().client).toMatchObject({ name: 'Patched', redirect_uris: ['https://patch.example/cb2'], logo_uri: 'https://patch.example/logo.png', type: 'public' });
    // Still public: client_credentials is refused, and nothing changed.
    expectProblem(await asAdmin({ method: 'PATCH', url, payload: { grant_types: ['client_credentials'] } }), 422, 'VALIDATION_FAILED');
    expect((await asAdmin({ method: 'GET', url })).json().client.grant_types).toEqual(['authorization_code', 'refresh_token']);

    const toSecret = await asAdmin({ method: 'PATCH', url, payload: { token_endpoint_auth_method: 'client_secret_post' } });
    expect(toSecret.statusCode, toSecret.body).toBe(200);
    const secret = toSecret.json().client_secret as string;
    expect(secret).toMatch(/^lks_/);
    expect(toSecret.json().client).toMatchObject({ type: 'confidential', token_endpoint_auth_method: 'client_secret_post' });
    expect((await t.app.latchkey.store.findOAuthClient(client.client_id))!.secretHash).toBe(sha256(secret));
    // Another secret method keeps the secret (none is made, none shown).
    const basic = await asAdmin({ method: 'PATCH', url, payload: { token_endpoint_auth_method: 'client_secret_basic' } });
    expect(basic.json()).not.toHaveProperty('client_secret');
    expect((await t.app.latchkey.store.findOAuthClient(client.client_id))!.secretHash).toBe(sha256(secret));

    const back = await asAdmin({ method: 'PATCH', url, payload: { token_endpoint_auth_method: 'none', logo_uri: null } });
    expect(back.statusCode, back.body).toBe(200);
    expect(back.json().client).toMatchObject({ type: 'public', logo_uri: null, secret_rotated_at: null });
    expect((await t.app.latchkey.store.findOAuthClient(client.client_id))!.secretHash).toBeNull();

    const audit = await auditOf(client.client_id);
    expect(audit.map((e) => e.action)).toEqual(['admin.oauth_client.created', ...Array(4).fill('admin.oauth_client.updated')]);
    expect(audit[1]!.changes).toEqual({
      name: { from: 'Patchy', to: 'Patched' },
      redirect_uris: { from: ['https://patch.example/cb'], to: ['https://patch.example/cb2'] },
      logo_uri: { from: null, to: 'https://patch.example/logo.png' },
    });
    expect(audit[2]!.changes).toMatchObject({ secret: { set: true }, token_endpoint_auth_method: { from: 'none', to: 'client_secret_post' } });
    expect(audit[4]!.changes).toMatchObject({ secret: { removed: true } });
    expect(JSON.stringify(audit)).not.toContain(secret);
  });

  it('pages the list with a cursor; a cursor it did not make is 422', async () => {
    for (let i = 0; i < 3; i++) await create({ name: `Paged ${i}`, redirect_uris: ['https://paged.example/cb'] });
    const all = (await asAdmin({ method: 'GET', url: '/admin/oauth/clients?limit=200' })).json().clients.map((c: PublicClient) => c.client_id) as string[];
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await asAdmin({ method: 'GET', url: `/admin/oauth/clients?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}` });
      expect(res.statusCode).toBe(200);
      const page = res.json() as { clients: PublicClient[]; next_cursor: string | null };
      expect(page.clients.length).toBeLessThanOrEqual(2);
      seen.push(...page.clients.map((c) => c.client_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all);
    expectProblem(await asAdmin({ method: 'GET', url: '/admin/oauth/clients?cursor=garbage' }), 422, 'VALIDATION_FAILED');
  });

  it('404 OAUTH_CLIENT_NOT_FOUND for an unknown client on every route; a refusal writes no audit entry', async () => {
    const id = randomUUID();
    const calls: InjectOptions[] = [
      { method: 'GET', url: `/admin/oauth/clients/${id}` },
      { method: 'PATCH', url: `/admin/oauth/clients/${id}`, payload: { name: 'x' } },
      { method: 'DELETE', url: `/admin/oauth/clients/${id}` },
      { method: 'POST', url: `/admin/oauth/clients/${id}/rotate-secret` },
      { method: 'GET', url: `/admin/oauth/clients/${id}/grants` },
      { method: 'DELETE', url: `/admin/oauth/clients/${id}/grants/${randomUUID()}` },
    ];
    for (const call of calls) expectProblem(await asAdmin(call), 404, 'OAUTH_CLIENT_NOT_FOUND');
    expect(await auditOf(id)).toEqual([]);
  });

  it('401 without a token and 403 for a user without the admin role, on every admin route', async () => {
    const { client } = await create({ name: 'Guarded', redirect_uris: ['https://guard.example/cb'] });
    const id = client.client_id;
    const calls: InjectOptions[] = [
      { method: 'GET', url: '/admin/oauth/clients' },
      { method: 'POST', url: '/admin/oauth/clients', payload: { name: 'Mine', redirect_uris: ['https://mine.example/cb'] } },
      { method: 'GET', url: `/admin/oauth/clients/${id}` },
      { method: 'PATCH', url: `/admin/oauth/clients/${id}`, payload: { name: 'Mine now' } },
      { method: 'DELETE', url: `/admin/oauth/clients/${id}` },
      { method: 'POST', url: `/admin/oauth/clients/${id}/rotate-secret` },
      { method: 'GET', url: `/admin/oauth/clients/${id}/grants` },
      { method: 'DELETE', url: `/admin/oauth/clients/${id}/grants/${randomUUID()}` },
    ];
    for (const call of calls) {
      expectProblem(await t.app.inject(call), 401, 'UNAUTHORIZED');
      expectProblem(await t.app.inject({ ...call, headers: bearer(member.access) }), 403, 'FORBIDDEN');
    }
    expect((await asAdmin({ method: 'GET', url: `/admin/oauth/clients/${id}` })).json().client).toMatchObject({ name: 'Guarded' });
    expect((await auditOf(id)).map((e) => e.action)).toEqual(['admin.oauth_client.created']);
  });
});

describe('grants of OAuth clients', () => {
  it('deleting a client deletes its grants, codes and tokens, and leaves other clients’ alone', async () => {
    const { client } = await create({ name: 'Doomed', redirect_uris: ['https://doomed.example/cb'] });
    const { client: other } = await create({ name: 'Kept', redirect_uris: ['https://kept.example/cb'] });
    const doomed = await grantWithTokens(member.userId, client.client_id, 'openid email');
    const kept = await grantWithTokens(member.userId, other.client_id, 'openid');
    const res = await asAdmin({ method: 'DELETE', url: `/admin/oauth/clients/${client.client_id}` });
    expect(res.statusCode).toBe(204);
    expect(await rowsLeft(doomed.rows)).toEqual([]);
    expect(await rowsLeft(kept.rows)).toEqual(['Grant', 'AuthorizationCode', 'AccessToken', 'RefreshToken']);
    expectProblem(await asAdmin({ method: 'GET', url: `/admin/oauth/clients/${client.client_id}` }), 404, 'OAUTH_CLIENT_NOT_FOUND');
    const audit = await auditOf(client.client_id);
    expect(audit.map((e) => e.action)).toEqual(['admin.oauth_client.created', 'admin.oauth_client.deleted']);
    expect(audit[1]!.changes).toMatchObject({ name: { from: 'Doomed', to: null } });
  });

  it('an admin lists a client’s grants with the users, pages them, and revokes one with its tokens', async () => {
    const { client } = await create({ name: 'Granted', redirect_uris: ['https://granted.example/cb'] });
    const { client: other } = await create({ name: 'Other', redirect_uris: ['https://other.example/cb'] });
    const second = await registerAndLogin(t.app);
    const t0 = Date.now();
    const a = await grantWithTokens(member.userId, client.client_id, 'openid profile', t0 - 2000);
    const b = await grantWithTokens(second.userId, client.client_id, 'openid email', t0 - 1000);
    const foreign = await grantWithTokens(member.userId, other.client_id, 'openid', t0);
    const url = `/admin/oauth/clients/${client.client_id}/grants`;

    const first = await asAdmin({ method: 'GET', url: `${url}?limit=1` });
    expect(first.statusCode, first.body).toBe(200);
    const page1 = first.json() as { grants: Array<{ id: string; user: { id: string; email: string }; scopes: string[] }>; next_cursor: string };
    expect(page1.grants).toEqual([
      { id: b.grantId, user: { id: second.userId, email: second.email }, scopes: ['openid', 'email'], created_at: expect.any(String), expires_at: expect.any(String) },
    ]);
    const page2 = (await asAdmin({ method: 'GET', url: `${url}?limit=1&cursor=${encodeURIComponent(page1.next_cursor)}` })).json();
    expect(page2.grants.map((g: { id: string }) => g.id)).toEqual([a.grantId]);
    expect(page2.grants[0].user).toEqual({ id: member.userId, email: member.email });
    expectProblem(await asAdmin({ method: 'GET', url: `${url}?cursor=garbage` }), 422, 'VALIDATION_FAILED');

    // Another client's grant is not this client's to revoke.
    expectProblem(await asAdmin({ method: 'DELETE', url: `${url}/${foreign.grantId}` }), 404, 'OAUTH_GRANT_NOT_FOUND');
    expectProblem(await asAdmin({ method: 'DELETE', url: `${url}/${randomUUID()}` }), 404, 'OAUTH_GRANT_NOT_FOUND');
    expect(await rowsLeft(foreign.rows)).toHaveLength(4);

    expect((await asAdmin({ method: 'DELETE', url: `${url}/${a.grantId}` })).statusCode).toBe(204);
    expect(await rowsLeft(a.rows)).toEqual([]);
    expect(await rowsLeft(b.rows)).toHaveLength(4);
    expect((await asAdmin({ method: 'GET', url })).json().grants.map((g: { id: string }) => g.id)).toEqual([b.grantId]);
    expectProblem(await asAdmin({ method: 'DELETE', url: `${url}/${a.grantId}` }), 404, 'OAUTH_GRANT_NOT_FOUND');
    const audit = await auditOf(a.grantId);
    expect(audit).toMatchObject([
      { action: 'admin.oauth_grant.revoked', actor: { type: 'admin', id: admin.userId }, target: { type: 'oauth_grant', id: a.grantId }, changes: { client_id: client.client_id, user_id: member.userId } },
    ]);
  });

  it('a user sees their connected apps and revokes one: every grant to it and every token from them', async () => {
    const user = await registerAndLogin(t.app);
    const outsider = await registerAndLogin(t.app);
    const { client } = await create({ name: 'Photos', redirect_uris: ['https://photos.example/cb'], logo_uri: 'https://photos.example/logo.png', client_uri: 'https://photos.example' });
    const { client: other } = await create({ name: 'Notes', redirect_uris: ['https://notes.example/cb'] });
    const t0 = Date.now();
    const g1 = await grantWithTokens(user.userId, client.client_id, 'openid profile', t0 - 3000);
    const g2 = await grantWithTokens(user.userId, client.client_id, 'openid email offline_access', t0 - 2000);
    const g3 = await grantWithTokens(user.userId, other.client_id, 'openid', t0 - 1000);
    const theirs = await grantWithTokens(outsider.userId, client.client_id, 'openid', t0);

    expectProblem(await t.app.inject({ method: 'GET', url: '/auth/connected-apps' }), 401, 'UNAUTHORIZED');
    const listed = await t.app.inject({ method: 'GET', url: '/auth/connected-apps', headers: bearer(user.access) });
    expect(listed.statusCode, listed.body).toBe(200);
    expect(listed.json().apps).toEqual([
      { client_id: other.client_id, name: 'Notes', logo_uri: null, client_uri: null, scopes: ['openid'], granted_at: new Date(Math.floor((t0 - 1000) / 1000) * 1000).toISOString() },
      {
        client_id: client.client_id,
        name: 'Photos',
        logo_uri: 'https://photos.example/logo.png',
        client_uri: 'https://photos.example',
        scopes: ['openid', 'email', 'offline_access', 'profile'],
        granted_at: new Date(Math.floor((t0 - 2000) / 1000) * 1000).toISOString(),
      },
    ]);

    // Someone else cannot revoke this user's grants (they have none of their own to Notes).
    expectProblem(await t.app.inject({ method: 'DELETE', url: `/auth/connected-apps/${other.client_id}`, headers: bearer(outsider.access) }), 404, 'OAUTH_GRANT_NOT_FOUND');
    expect(await rowsLeft(g3.rows)).toHaveLength(4);

    const revoked = await t.app.inject({ method: 'DELETE', url: `/auth/connected-apps/${client.client_id}`, headers: bearer(user.access) });
    expect(revoked.statusCode, revoked.body).toBe(204);
    expect(await rowsLeft([...g1.rows, ...g2.rows])).toEqual([]);
    expect(await rowsLeft(g3.rows)).toHaveLength(4);
    expect(await rowsLeft(theirs.rows)).toHaveLength(4);
    expect((await t.app.inject({ method: 'GET', url: '/auth/connected-apps', headers: bearer(user.access) })).json().apps.map((a: { name: string }) => a.name)).toEqual(['Notes']);
    expectProblem(await t.app.inject({ method: 'DELETE', url: `/auth/connected-apps/${client.client_id}`, headers: bearer(user.access) }), 404, 'OAUTH_GRANT_NOT_FOUND');

    const audit = (await auditOf(client.client_id)).filter((e) => e.action.startsWith('user.'));
    expect(audit).toEqual([
      {
        ...audit[0],
        actor: { type: 'user', id: user.userId, email: user.email },
        action: 'user.oauth_grant.revoked',
        target: { type: 'oauth_client', id: client.client_id },
        changes: { grant_ids: expect.arrayContaining([g1.grantId, g2.grantId]) as string[], grants_revoked: 2 },
      },
    ]);
  });
});

describe('STEP_UP_ADMIN', () => {
  it('a change to a client needs a recent authentication; reading does not', async () => {
    const s = await createTestApp({ STEP_UP_ADMIN: 'true', STEP_UP_MAX_AGE: '5m' }, { clock: true });
    try {
      const email = `step-${randomUUID().slice(0, 8)}@example.com`;
      const u = await registerAndLogin(s.app, email, PASSWORD);
      await s.app.latchkey.store.updateUser(u.userId, { roles: ['admin'] }, s.clock!());
      const login = await s.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
      const h = bearer((login.json() as { access_token: string }).access_token);
      s.clock!.advance(6 * 60_000);
      const refused = await s.app.inject({ method: 'POST', url: '/admin/oauth/clients', headers: h, payload: { name: 'Late', redirect_uris: ['https://late.example/cb'] } });
      expectProblem(refused, 403, 'REAUTHENTICATION_REQUIRED');
      expect((await s.app.inject({ method: 'GET', url: '/admin/oauth/clients', headers: h })).json()).toEqual({ clients: [], next_cursor: null });
    } finally {
      await s.close();
    }
  });
});

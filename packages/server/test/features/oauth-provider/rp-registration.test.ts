/**
 * RFC 7591 dynamic registration as an MCP client uses it (OAUTH_DYNAMIC_REGISTRATION=true):
 * register with openid-client, then sign a user in with the new client; off (the default): no
 * endpoint, nothing registered. And OAUTH_PROVIDER off: none of /oauth/* exists. Both stores.
 */
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from '../../support/helpers.js';
import { CALLBACK, codeFlow, discover, expectNothingLeaked, ISSUER, newUser, post, startRp, type Rp } from './rp-kit.js';
import { createTestApp, type TestApp } from '../../support/helpers.js';

let on: Rp;
let off: Rp;
let noProvider: TestApp;

beforeAll(async () => {
  on = await startRp({ OAUTH_DYNAMIC_REGISTRATION: 'true' });
  off = await startRp();
  noProvider = await createTestApp({ ISSUER });
});

afterAll(async () => {
  await on?.close();
  await off?.close();
  await noProvider?.close();
});

async function clientCount(rp: Rp): Promise<number> {
  const res = await rp.app.inject({ method: 'GET', url: '/admin/oauth/clients?limit=100', headers: bearer(rp.adminToken) });
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { clients: unknown[] }).clients.length;
}

describe('dynamic registration on', () => {
  it('discovery names the endpoint; a client registers (a secret it is shown once), then signs a user in with it', async () => {
    const doc = (await on.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' })).json() as Record<string, unknown>;
    expect(doc.registration_endpoint).toBe(`${ISSUER}/oauth/register`);

    const config = await oidc.dynamicClientRegistration(
      new URL(ISSUER),
      { redirect_uris: [CALLBACK], client_name: 'An MCP client', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] },
      undefined,
      { execute: [oidc.allowInsecureRequests], [oidc.customFetch]: on.fetch },
    );
    const meta = config.clientMetadata();
    expect(meta.client_id).toBeTruthy();
    expect(typeof meta.client_secret).toBe('string');
    on.seen.add(meta.client_secret as string);
    if (typeof meta.registration_access_token === 'string') on.seen.add(meta.registration_access_token);

    // The admin API lists it, marked dynamic, and never shows the secret again.
    const admin = await on.app.inject({ method: 'GET', url: `/admin/oauth/clients/${meta.client_id}`, headers: bearer(on.adminToken) });
    expect(admin.statusCode, admin.body).toBe(200);
    expect(admin.json().client).toMatchObject({ client_id: meta.client_id, dynamic: true, redirect_uris: [CALLBACK] });
    expect(admin.body).not.toContain(meta.client_secret as string);

    const user = await newUser(on);
    const { tokens } = await codeFlow(on, config, user);
    expect(tokens.claims()!.sub).toBe(user.userId);
  });

  it('a public client registers with token_endpoint_auth_method none and uses PKCE', async () => {
    const config = await oidc.dynamicClientRegistration(
      new URL(ISSUER),
      { redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none' },
      oidc.None(),
      { execute: [oidc.allowInsecureRequests], [oidc.customFetch]: on.fetch },
    );
    expect(config.clientMetadata().client_secret).toBeUndefined();
    const user = await newUser(on);
    const { tokens } = await codeFlow(on, await discover(on, config.clientMetadata().client_id, oidc.None()), user);
    expect(tokens.claims()!.sub).toBe(user.userId);
  });

  it('refuses what the admin API refuses: a redirect URI with a fragment, http off localhost, client_secret_jwt; nothing stored', async () => {
    const before = await clientCount(on);
    for (const body of [
      { redirect_uris: [`${CALLBACK}#frag`] },
      { redirect_uris: ['http://rp.example/callback'] },
      { redirect_uris: [CALLBACK], token_endpoint_auth_method: 'client_secret_jwt' },
      { redirect_uris: [] },
    ]) {
      const res = await on.app.inject({ method: 'POST', url: '/oauth/register', headers: { 'content-type': 'application/json' }, payload: body });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error, JSON.stringify(body)).toMatch(/^invalid_(redirect_uri|client_metadata)$/);
    }
    expect(await clientCount(on)).toBe(before);
  });
});

describe('dynamic registration off (the default)', () => {
  it('no endpoint in discovery; POST /oauth/register is 404 and registers nothing', async () => {
    const doc = (await off.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' })).json() as Record<string, unknown>;
    expect(doc.registration_endpoint).toBeUndefined();
    const before = await clientCount(off);
    const res = await post(off, '/oauth/register', {});
    const json = await off.app.inject({ method: 'POST', url: '/oauth/register', headers: { 'content-type': 'application/json' }, payload: { redirect_uris: [CALLBACK] } });
    expect(res.status).toBe(404);
    expect(json.statusCode).toBe(404);
    expect(await clientCount(off)).toBe(before);
  });
});

describe('OAUTH_PROVIDER off (the default)', () => {
  it('none of the /oauth/* routes exist, and discovery names none of them', async () => {
    for (const [method, url] of [
      ['GET', '/oauth/authorize?client_id=x&response_type=code'],
      ['POST', '/oauth/token'],
      ['GET', '/oauth/userinfo'],
      ['POST', '/oauth/revoke'],
      ['POST', '/oauth/introspect'],
      ['GET', '/oauth/logout'],
      ['POST', '/oauth/register'],
      ['GET', '/oauth/interaction/abc'],
      ['GET', '/.well-known/oauth-authorization-server'],
    ] as const) {
      const res = await noProvider.app.inject({ method, url });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
    }
    const doc = await noProvider.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
    expect(doc.statusCode).toBe(200);
    const body = doc.json() as Record<string, unknown>;
    expect(body.issuer).toBe(ISSUER);
    expect(body.authorization_endpoint).toBeUndefined();
    // Not user sign-up either: an RFC 7591 client (an MCP client) would POST its metadata there.
    expect(body.registration_endpoint).toBeUndefined();
    expect(JSON.stringify(body)).not.toContain('/oauth/');
  });
});

describe('the server log', () => {
  it('holds none of the tokens, codes or secrets of this suite', () => {
    expectNothingLeaked(on);
  });
});

import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../server/test/support/helpers.js';
import { seedOAuthClient, seedOAuthGrant } from '../../server/test/support/oauth-seed.js';
import { createClient, type LatchkeyClient } from '../src/index.js';
import { cookieJarBrowser } from './cookie-jar.js';
import { newChannel, newEmail, PASSWORD, rejection } from './support.js';

// listConnectedApps and revokeConnectedApp against a real Latchkey (SQLite file, HTTP on
// 127.0.0.1). The apps and the users' consents are real rows written through the store:
// clients with createOAuthClient, consents with upsertOAuthPayload as oidc-provider's Grant
// model writes them (test/support/oauth-seed.ts), so the server lists and revokes exactly what
// a consent on the provider's page leaves behind.

let server: TestApp;
let baseUrl: string;
const open: LatchkeyClient[] = [];

beforeAll(async () => {
  server = await createTestApp({ COOKIE_SECURE: 'false', LOG_LEVEL: 'silent' });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await server.close();
});

afterEach(() => {
  for (const client of open.splice(0)) client.close();
});

/** A signed-in client of a new user; returns it with the user's id. */
async function signedIn(): Promise<{ client: LatchkeyClient; userId: string }> {
  const browser = cookieJarBrowser();
  const client = createClient({ baseUrl, fetch: browser.fetch, readCookie: browser.readCookie, channelName: newChannel() });
  open.push(client);
  const email = newEmail();
  const user = await client.register({ email, password: PASSWORD });
  await client.login({ email, password: PASSWORD });
  return { client, userId: user.id };
}

describe('connected apps', () => {
  it('lists one entry per app with the union of its grants, and nothing of other users', async () => {
    const { store } = server.app.latchkey;
    const { client, userId } = await signedIn();
    expect(await client.listConnectedApps()).toEqual([]);

    const notes = await seedOAuthClient(store, { name: 'Notes', logoUri: 'https://notes.example/logo.png', clientUri: 'https://notes.example' });
    const plain = await seedOAuthClient(store, { name: 'Plain' });
    const first = Date.UTC(2026, 5, 1);
    await seedOAuthGrant(store, { userId, clientId: notes, scope: 'openid profile', at: first });
    await seedOAuthGrant(store, { userId, clientId: notes, scope: 'openid email', at: first + 3600_000 });
    await seedOAuthGrant(store, { userId, clientId: plain, scope: 'openid', at: first });
    const other = await signedIn();
    await seedOAuthGrant(store, { userId: other.userId, clientId: plain, scope: 'openid email' });

    const apps = await client.listConnectedApps();
    expect(apps).toHaveLength(2);
    const byId = new Map(apps.map((a) => [a.client_id, a]));
    expect(byId.get(notes)).toMatchObject({ client_id: notes, name: 'Notes', logo_uri: 'https://notes.example/logo.png', client_uri: 'https://notes.example' });
    expect([...byId.get(notes)!.scopes].sort()).toEqual(['email', 'openid', 'profile']);
    // The newest consent's time: when the user last said yes to the app.
    expect(new Date(byId.get(notes)!.granted_at).getTime()).toBe(first + 3600_000);
    expect(byId.get(plain)).toMatchObject({ name: 'Plain', logo_uri: null, client_uri: null, scopes: ['openid'] });
    expect((await other.client.listConnectedApps()).map((a) => a.client_id)).toEqual([plain]);
  });

  it('revokeConnectedApp removes every grant of the app and the tokens from them, and only those; a second time is OAUTH_GRANT_NOT_FOUND', async () => {
    const { store, clock } = server.app.latchkey;
    const { client, userId } = await signedIn();
    const other = await signedIn();
    const app = await seedOAuthClient(store, { name: 'Calendar' });
    const kept = await seedOAuthClient(store, { name: 'Kept' });
    const a = await seedOAuthGrant(store, { userId, clientId: app, scope: 'openid profile', withToken: true });
    const b = await seedOAuthGrant(store, { userId, clientId: app, scope: 'openid email', withToken: true });
    const keptGrant = await seedOAuthGrant(store, { userId, clientId: kept, scope: 'openid', withToken: true });
    const othersGrant = await seedOAuthGrant(store, { userId: other.userId, clientId: app, scope: 'openid', withToken: true });

    await client.revokeConnectedApp(app);

    expect((await client.listConnectedApps()).map((x) => x.client_id)).toEqual([kept]);
    for (const { grantId, tokenId } of [a, b]) {
      expect(await store.findOAuthPayload('Grant', grantId, clock())).toBeNull();
      expect(await store.findOAuthPayload('AccessToken', tokenId!, clock())).toBeNull();
    }
    for (const { grantId, tokenId } of [keptGrant, othersGrant]) {
      expect(await store.findOAuthPayload('Grant', grantId, clock())).not.toBeNull();
      expect(await store.findOAuthPayload('AccessToken', tokenId!, clock())).not.toBeNull();
    }
    expect((await other.client.listConnectedApps()).map((x) => x.client_id)).toEqual([app]);

    const again = await rejection(client.revokeConnectedApp(app));
    expect(again).toMatchObject({ code: 'OAUTH_GRANT_NOT_FOUND', status: 404 });
  });

  it('a client id with URL characters reaches the route encoded (404 OAUTH_GRANT_NOT_FOUND, no other route), and a signed-out client is refused', async () => {
    const { client } = await signedIn();
    for (const id of ['a/b', '../../admin/users', 'x?y=1#z', 'é']) {
      expect(await rejection(client.revokeConnectedApp(id))).toMatchObject({ code: 'OAUTH_GRANT_NOT_FOUND', status: 404 });
    }
    await client.logout();
    expect(await rejection(client.listConnectedApps())).toMatchObject({ status: 401 });
    expect(await rejection(client.revokeConnectedApp('anything'))).toMatchObject({ status: 401 });
  });
});

/**
 * Every client the admin API accepts is one oidc-provider accepts: the metadata
 * toProviderMetadata builds (the Client model's input) passes oidc-provider's own client schema,
 * for each kind of client (web, native with a private-use scheme and loopback URIs, machine
 * client without redirect URIs, private_key_jwt with inline keys or a jwks_uri). A mismatch would
 * let an admin register a client that then fails at every sign-in with invalid_client.
 */
import { generateKeyPairSync } from 'node:crypto';
import Provider, { type Adapter, type AdapterPayload } from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, toProviderMetadata, type ClientInput } from '../../../src/features/oauth-provider/clients.js';
import { createTestApp, type TestApp } from '../../support/helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ OAUTH_SCOPES: 'orders:read' });
});
afterAll(() => t?.close());

/** oidc-provider configured as Latchkey's provider configures it in what concerns clients. */
function providerOver(): Provider {
  const adapter = (model: string): Adapter => ({
    async find(id: string) {
      if (model !== 'Client') return undefined;
      const record = await t.app.latchkey.store.findOAuthClient(id);
      return record ? (toProviderMetadata(record) as AdapterPayload) : undefined;
    },
    async upsert() {},
    async findByUid() {
      return undefined;
    },
    async findByUserCode() {
      return undefined;
    },
    async consume() {},
    async destroy() {},
    async revokeByGrantId() {},
  });
  return new Provider('http://latchkey.test', {
    adapter,
    scopes: ['openid', 'profile', 'email', 'offline_access', 'roles', 'orders:read'],
    responseTypes: ['code'],
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    features: { clientCredentials: { enabled: true }, rpInitiatedLogout: { enabled: true }, devInteractions: { enabled: false } },
  });
}

describe('toProviderMetadata', () => {
  it('gives oidc-provider a valid client for every kind the admin API accepts', async () => {
    const pub = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), kid: 'k1' };
    const kinds: Record<string, ClientInput> = {
      web: { name: 'Web', redirect_uris: ['https://web.example/cb', 'http://localhost:3000/cb'], post_logout_redirect_uris: ['https://web.example/bye'], logo_uri: 'https://web.example/logo.png' },
      post: { name: 'Post', redirect_uris: ['https://web.example/cb'], token_endpoint_auth_method: 'client_secret_post', grant_types: ['authorization_code', 'refresh_token', 'client_credentials'] },
      native: {
        name: 'Native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['com.example.app:/oauth/cb', 'http://127.0.0.1/cb', 'http://[::1]:8080/cb', 'http://localhost/cb'],
        post_logout_redirect_uris: ['com.example.app:/bye'],
        scopes: ['openid', 'offline_access', 'orders:read'],
      },
      spa: { name: 'SPA', token_endpoint_auth_method: 'none', redirect_uris: ['https://spa.example/cb'] },
      machine: { name: 'Machine', redirect_uris: [], grant_types: ['client_credentials'], scopes: ['orders:read'] },
      inlineKeys: { name: 'Keys', redirect_uris: ['https://keys.example/cb'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [pub] } },
      keysByUrl: { name: 'Keys URL', redirect_uris: ['https://keys.example/cb'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://keys.example/jwks.json' },
    };
    const provider = providerOver();
    for (const [kind, input] of Object.entries(kinds)) {
      const created = await createClient(t.app.latchkey, input);
      expect(created.ok, `${kind}: ${JSON.stringify(created)}`).toBe(true);
      if (!created.ok) continue;
      const client = await provider.Client.find(created.value.client.id).catch((err: Error & { error_description?: string }) => {
        throw new Error(`${kind}: oidc-provider refused the metadata: ${err.error_description ?? err.message}`);
      });
      expect(client?.clientId, kind).toBe(created.value.client.id);
      expect(client?.redirectUris, kind).toEqual(input.redirect_uris);
    }
  });
});

import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedOAuthClient, seedOAuthGrant } from '../../server/test/support/oauth-seed.js';
import { inFreshProfile, REPO_ROOT, startConsole, type ConsoleHarness } from './harness.js';

// The console's OAuth client pages (issue 22) in Debian's Chromium against a real Latchkey (real
// SQLite file, the admin API of features/oauth-provider): an admin registers a confidential
// client (a refused redirect URI first, its error under its field), sees the secret once (gone
// after a reload), edits the redirect URIs, rotates the secret, sees the users' grants and
// revokes one, and deletes the client; each step is checked in the store and the audit log.
// One user's grant is a real consent (OAUTH_PROVIDER on): openid-client signs in through the
// provider's pages with the client id and the rotated secret the console showed
// (server/test/support/oauth-consent.ts), so the secret shown is proven to work; after the
// revoke its tokens are refused. Another user's grant is written through the real store
// (upsertOAuthPayload) as oidc-provider's Grant model writes it (server/test/support/oauth-seed.ts).

const PASSWORD = 'admin passphrase for the oauth clients e2e test';
const RESULTS = join(REPO_ROOT, 'test-results', 'console');

/** What server/test/support/oauth-consent.ts exports (loaded at run time: see beforeAll). */
interface ConsentSupport {
  consentThroughProvider(
    t: ConsoleHarness['server'],
    user: { email: string; password: string },
    opts: { scope: string; client: { id: string; secret: string; redirectUri: string } },
  ): Promise<{ clientId: string; userinfoStatus(): Promise<number>; refresh(): Promise<string> }>;
}

let h: ConsoleHarness;
let adminEmail: string;
let support: ConsentSupport;

async function createUser(email: string, roles: string[]): Promise<string> {
  const { store, hasher, clock } = h.server.app.latchkey;
  const id = randomUUID();
  await store.createUser({ id, email, name: null, passwordHash: await hasher.hash(PASSWORD), roles, emailVerified: true, createdAt: clock() });
  return id;
}

beforeAll(async () => {
  h = await startConsole({ OAUTH_PROVIDER: 'true', JWT_ALG: 'ES256' });
  // Loaded at run time: the server's test support is typed for the server's lib (no DOM), and a
  // static import would typecheck it under this project's (DOM) lib, where the Response oauth.ts
  // builds from a Buffer is refused.
  support = (await import(fileURLToPath(new URL('../../server/test/support/oauth-consent.ts', import.meta.url)))) as ConsentSupport;
  adminEmail = `admin-${randomUUID().slice(0, 8)}@example.com`;
  await createUser(adminEmail, ['admin']);
});

afterAll(async () => {
  await h?.close();
});

async function signIn(page: Page, email: string): Promise<void> {
  await page.goto(h.url);
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('OAuth clients in the console', () => {
  it('registers a confidential client (secret once), edits it, rotates the secret, revokes a grant and deletes it', async () => {
    const { store, clock } = h.server.app.latchkey;
    const name = `Partner portal ${randomUUID().slice(0, 6)}`;
    let clientId = '';
    let secret = '';
    await inFreshProfile(
      h,
      'console oauth clients',
      async (context) => {
        const page = await context.newPage();
        await page.setViewportSize({ width: 1300, height: 900 });
        await signIn(page, adminEmail);
        await page.getByTestId('signed-in-as').filter({ hasText: adminEmail }).waitFor();
        await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'OAuth clients' }).click();
        await page.getByRole('heading', { name: 'OAuth clients' }).waitFor();
        await page.getByText('No OAuth clients yet').waitFor();

        // A redirect URI the server refuses (plain http on a public host): the message is under that field.
        await page.getByRole('link', { name: 'New client' }).click();
        const form = page.getByRole('form', { name: 'New OAuth client' });
        await form.getByLabel('Name', { exact: true }).fill(name);
        await form.getByLabel('Redirect URIs', { exact: true }).fill('http://partner.example.com/callback');
        await form.getByRole('button', { name: 'Register client' }).click();
        const uriError = form.locator('#oauth-redirect-uris-note.field-error');
        await uriError.waitFor();
        expect(await form.getByLabel('Redirect URIs', { exact: true }).getAttribute('aria-invalid')).toBe('true');
        expect(await store.listOAuthClients({ limit: 10 })).toMatchObject({ clients: [] });

        await form.getByLabel('Redirect URIs', { exact: true }).fill('https://partner.example.com/callback');
        await form.getByRole('checkbox', { name: 'offline_access' }).check();
        await form.getByLabel('Client URI').fill('https://partner.example.com');
        await form.getByRole('button', { name: 'Register client' }).click();

        // The client's page: the secret once, with Copy, and the warning.
        await page.getByRole('heading', { name }).waitFor();
        await page.getByRole('status').filter({ hasText: `Registered ${name}.` }).waitFor();
        const shown = page.getByTestId('oauth-client-secret');
        secret = (await shown.textContent())!.trim();
        expect(secret).toMatch(/^lks_[A-Za-z0-9_-]{43}$/);
        await page.getByText('copy it now: it is not shown again').waitFor();
        await page.getByRole('button', { name: 'Copy' }).click();
        await page.getByRole('button', { name: 'Copied' }).waitFor();
        expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
        clientId = (await page.getByTestId('oauth-client-id').textContent())!.trim();
        const stored = await store.findOAuthClient(clientId);
        expect(stored).toMatchObject({ name, secretHash: sha256(secret) });
        expect(stored!.metadata).toMatchObject({ redirect_uris: ['https://partner.example.com/callback'], token_endpoint_auth_method: 'client_secret_basic', client_uri: 'https://partner.example.com' });
        expect(stored!.metadata.scope.split(' ').sort()).toEqual(['email', 'offline_access', 'openid', 'profile']);
        mkdirSync(RESULTS, { recursive: true });
        await page.screenshot({ path: join(RESULTS, 'oauth-client-created.png'), fullPage: true });

        // A reload shows the client, never the secret again.
        await page.reload();
        await page.getByRole('heading', { name }).waitFor();
        await page.getByTestId('oauth-client-id').waitFor();
        expect(await shown.count()).toBe(0);
        expect(await page.content()).not.toContain(secret);

        // Edit the redirect URIs: a second one.
        const settings = page.getByRole('form', { name: 'Client settings' });
        await settings.getByLabel('Redirect URIs', { exact: true }).fill('https://partner.example.com/callback\nhttp://localhost:5173/callback');
        await settings.getByRole('button', { name: 'Save' }).click();
        await page.getByRole('status').filter({ hasText: 'Client saved.' }).waitFor();
        expect((await store.findOAuthClient(clientId))!.metadata.redirect_uris).toEqual(['https://partner.example.com/callback', 'http://localhost:5173/callback']);
        // A refused edit: the message under the field, nothing stored.
        await settings.getByLabel('Redirect URIs', { exact: true }).fill('https://partner.example.com/callback#fragment');
        await settings.getByRole('button', { name: 'Save' }).click();
        await settings.locator('#oauth-redirect-uris-note.field-error').waitFor();
        expect((await store.findOAuthClient(clientId))!.metadata.redirect_uris).toHaveLength(2);

        // Rotate, confirmed: a new secret, shown once; the stored hash is the new one's.
        await page.getByRole('button', { name: 'Rotate secret…' }).click();
        await page.getByRole('alertdialog', { name: 'Rotate secret' }).getByText('The current one stops working at once').waitFor();
        await page.getByRole('button', { name: 'Rotate secret', exact: true }).click();
        await shown.waitFor();
        const rotated = (await shown.textContent())!.trim();
        expect(rotated).toMatch(/^lks_/);
        expect(rotated).not.toBe(secret);
        expect((await store.findOAuthClient(clientId))!.secretHash).toBe(sha256(rotated));
        await page.getByRole('button', { name: 'I have saved it' }).click();
        await shown.waitFor({ state: 'detached' });
        secret = rotated;
      },
      { permissions: ['clipboard-read', 'clipboard-write'] },
    );

    // Two users' consents, then the grants on the client's page: revoke one.
    const ada = `ada-${randomUUID().slice(0, 6)}@example.com`;
    const bob = `bob-${randomUUID().slice(0, 6)}@example.com`;
    const adaId = await createUser(ada, []);
    const adaApp = await support.consentThroughProvider(h.server, { email: ada, password: PASSWORD }, {
      scope: 'openid profile email',
      client: { id: clientId, secret, redirectUri: 'https://partner.example.com/callback' },
    });
    expect(await adaApp.userinfoStatus()).toBe(200);
    const [adaGrant] = (await store.listOAuthGrantsForUser(adaId, clock())).map((g) => ({ grantId: g.id }));
    const bobGrant = await seedOAuthGrant(store, { userId: await createUser(bob, []), clientId, scope: 'openid', withToken: true });
    await inFreshProfile(h, 'console oauth grants', async (context) => {
      const page = await context.newPage();
      await page.setViewportSize({ width: 1300, height: 900 });
      await signIn(page, adminEmail);
      await page.getByTestId('signed-in-as').waitFor();
      await page.goto(`${h.url}#/oauth-clients/${encodeURIComponent(clientId)}`);
      const grants = page.getByRole('table', { name: 'Grants' });
      await grants.getByRole('link', { name: ada }).waitFor();
      await grants.getByRole('link', { name: bob }).waitFor();
      await grants.locator(`tr[data-grant-id="${adaGrant!.grantId}"]`).getByText('openid profile email').waitFor();
      await page.screenshot({ path: join(RESULTS, 'oauth-client-grants.png'), fullPage: true });
      await grants.locator(`tr[data-grant-id="${adaGrant!.grantId}"]`).getByRole('button', { name: 'Revoke' }).click();
      await page.getByRole('status').filter({ hasText: `Revoked ${ada}’s grant.` }).waitFor();
      await grants.getByRole('link', { name: ada }).waitFor({ state: 'detached' });
      expect(await store.findOAuthPayload('Grant', adaGrant!.grantId, clock())).toBeNull();
      expect(await adaApp.userinfoStatus()).toBe(401);
      expect(await store.findOAuthPayload('Grant', bobGrant.grantId, clock())).not.toBeNull();

      // Delete, confirmed: back on the list; the client and the rest of its grants are gone.
      await page.getByRole('button', { name: 'Delete…' }).click();
      await page.getByRole('button', { name: 'Delete client' }).click();
      await page.getByRole('heading', { name: 'OAuth clients' }).waitFor();
      await page.getByRole('status').filter({ hasText: `Deleted the client ${name}.` }).waitFor();
      await page.getByText('No OAuth clients yet').waitFor();
    });

    expect(await store.findOAuthClient(clientId)).toBeNull();
    expect(await store.findOAuthPayload('Grant', bobGrant.grantId, clock())).toBeNull();
    expect(await store.findOAuthPayload('AccessToken', bobGrant.tokenId!, clock())).toBeNull();
    expect(h.problems).toEqual([]);
    const audit = await store.listAudit({ actor: null, action: 'admin.oauth_*', target: null, since: null, until: null, before: null, limit: 50 });
    expect(audit.map((r) => r.action).reverse()).toEqual([
      'admin.oauth_client.created',
      'admin.oauth_client.updated',
      'admin.oauth_client.secret_rotated',
      'admin.oauth_grant.revoked',
      'admin.oauth_client.deleted',
    ]);
    expect(JSON.stringify(audit)).not.toContain(secret);
  });

  it('registers a public client: PKCE, no secret to show or rotate; client credentials are not offered', async () => {
    const { store } = h.server.app.latchkey;
    const name = `Mobile app ${randomUUID().slice(0, 6)}`;
    await inFreshProfile(h, 'console oauth public client', async (context) => {
      const page = await context.newPage();
      await signIn(page, adminEmail);
      await page.getByTestId('signed-in-as').waitFor();
      await page.goto(`${h.url}#/oauth-clients/new`);
      const form = page.getByRole('form', { name: 'New OAuth client' });
      await form.getByLabel('Name', { exact: true }).fill(name);
      await form.getByLabel('Redirect URIs', { exact: true }).fill('com.example.mobile:/callback');
      await form.getByRole('radio', { name: /^Public/ }).check();
      expect(await form.getByLabel('Authentication method').count()).toBe(0);
      expect(await form.getByRole('checkbox', { name: /Client credentials/ }).count()).toBe(0);
      await form.getByRole('button', { name: 'Register client' }).click();
      await page.getByRole('heading', { name }).waitFor();
      await page.getByText('Public · PKCE').waitFor();
      expect(await page.getByTestId('oauth-client-secret').count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Rotate secret…' }).count()).toBe(0);
      const clientId = (await page.getByTestId('oauth-client-id').textContent())!.trim();
      expect(await store.findOAuthClient(clientId)).toMatchObject({ secretHash: null, metadata: { token_endpoint_auth_method: 'none', redirect_uris: ['com.example.mobile:/callback'] } });
      await page.getByRole('button', { name: 'Delete…' }).click();
      await page.getByRole('button', { name: 'Delete client' }).click();
      await page.getByRole('status').filter({ hasText: `Deleted the client ${name}.` }).waitFor();
    });
  });

  it('pages through the clients, PAGE_SIZE at a time', async () => {
    const { store } = h.server.app.latchkey;
    const start = Date.now() - 3600_000;
    const ids: string[] = [];
    for (let i = 0; i < 51; i += 1) ids.push(await seedOAuthClient(store, { name: `Seeded ${String(i).padStart(2, '0')}`, now: start + i }));
    await inFreshProfile(h, 'console oauth paging', async (context) => {
      const page = await context.newPage();
      await signIn(page, adminEmail);
      await page.getByTestId('signed-in-as').waitFor();
      await page.goto(`${h.url}#/oauth-clients`);
      const rows = page.getByRole('table', { name: 'OAuth clients' }).locator('tbody tr');
      await rows.nth(49).waitFor();
      expect(await rows.count()).toBe(50);
      expect(await page.getByTestId('oauth-clients-page-info').textContent()).toContain('Page 1');
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByTestId('oauth-clients-page-info').filter({ hasText: 'Page 2' }).waitFor();
      await rows.first().getByRole('link', { name: 'Seeded 50' }).waitFor();
      expect(await rows.count()).toBe(1);
      expect(await page.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
      await page.getByRole('button', { name: 'Previous' }).click();
      await rows.first().getByRole('link', { name: 'Seeded 00' }).waitFor();
    });
    for (const id of ids) await store.deleteOAuthClient(id);
  });

  it('a non-admin never reaches the pages, and the API refuses them', async () => {
    const email = `nina-${randomUUID().slice(0, 6)}@example.com`;
    await createUser(email, []);
    const since = Date.now();
    await inFreshProfile(h, 'console oauth non-admin', async (context) => {
      const login = await context.request.post(`${h.origin}/auth/login`, { headers: { 'x-auth-mode': 'cookie', origin: h.origin }, data: { email, password: PASSWORD } });
      expect(login.status()).toBe(200);
      const { access_token: token } = (await login.json()) as { access_token: string };
      const page = await context.newPage();
      await page.goto(`${h.url}#/oauth-clients/new`);
      await page.getByRole('heading', { name: 'Not an admin account' }).waitFor();
      expect(await page.getByRole('heading', { name: 'New OAuth client' }).count()).toBe(0);
      expect(h.calls.filter((c) => c.path.startsWith('/admin/') && c.startedAt >= since)).toEqual([]);
      for (const [method, path] of [
        ['GET', '/admin/oauth/clients'],
        ['POST', '/admin/oauth/clients'],
      ] as const) {
        const answer = await context.request.fetch(`${h.origin}${path}`, { method, headers: { authorization: `Bearer ${token}` }, data: method === 'POST' ? { name: 'x', redirect_uris: ['https://x.example/cb'] } : undefined });
        expect(answer.status()).toBe(403);
        expect(((await answer.json()) as { code: string }).code).toBe('FORBIDDEN');
      }
    });
    expect(await h.server.app.latchkey.store.listOAuthClients({ limit: 10 })).toMatchObject({ clients: [] });
  });
});

import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedOAuthClient, seedOAuthGrant } from '../../../packages/server/test/support/oauth-seed.js';
import { inFreshProfile, screenshotPath, startDemo, type DemoHarness } from './harness.js';

// Issue 22 in Debian's Chromium (playwright-core): "Connected apps" on the demo's profile page,
// through the built demo and a real Latchkey (real SQLite file, OAUTH_PROVIDER on) behind one
// same-origin proxy. One app, Notes, gets its access the real way: openid-client as the relying
// party, the provider's sign-in and consent pages answered over HTTP, the code exchanged for an
// access and a refresh token (server/test/support/oauth-consent.ts over o2's oauth.ts). The
// other, Calendar, is a consent written through the store's upsertOAuthPayload, shaped as
// oidc-provider's Grant model writes it (server/test/support/oauth-seed.ts). The user sees both
// and removes them; Notes' tokens stop working at once.

const PASSWORD = 'correct horse battery staple';

/** What server/test/support/oauth-consent.ts exports (see the import below for why it is not imported). */
interface ConsentSupport {
  consentThroughProvider(
    t: DemoHarness['server'],
    user: { email: string; password: string },
    opts: { name: string; scope: string },
  ): Promise<{ clientId: string; userinfoStatus(): Promise<number>; refresh(): Promise<string> }>;
}

let demo: DemoHarness;
let support: ConsentSupport;

beforeAll(async () => {
  demo = await startDemo({ OAUTH_PROVIDER: 'true', JWT_ALG: 'ES256' });
  // Loaded at run time: the server's test support is typed for the server's lib (no DOM), and a
  // static import would typecheck it under this project's (DOM) lib, where the Response it builds
  // from a Buffer in oauth.ts is refused.
  const path = fileURLToPath(new URL('../../../packages/server/test/support/oauth-consent.ts', import.meta.url));
  support = (await import(path)) as ConsentSupport;
});

afterAll(async () => {
  await demo?.close();
});

describe('connected apps on the profile page', () => {
  it('a signed-in user sees the apps they granted (scopes in plain words) and removes one after confirming', async () => {
    const { store, clock } = demo.server.app.latchkey;
    const email = `apps-${Math.random().toString(36).slice(2)}@example.com`;
    const registered = await demo.server.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } });
    expect(registered.statusCode).toBe(201);
    const userId = (registered.json() as { user: { id: string } }).user.id;

    const notesApp = await support.consentThroughProvider(demo.server, { email, password: PASSWORD }, { name: 'Notes', scope: 'openid profile email offline_access' });
    const notes = notesApp.clientId;
    expect(await notesApp.userinfoStatus()).toBe(200);
    // Its logo (from the demo's own origin: the test reaches no other host) and home page.
    const record = (await store.findOAuthClient(notes))!;
    await store.updateOAuthClient(notes, { name: 'Notes', firstParty: false, metadata: { ...record.metadata, logo_uri: `${demo.url}/logo.png`, client_uri: 'https://notes.example/' } }, clock());
    const [notesGrant] = await store.listOAuthGrantsForUser(userId, clock());
    expect(notesGrant).toMatchObject({ clientId: notes });
    const calendar = await seedOAuthClient(store, { name: 'Calendar' });
    const calendarGrant = await seedOAuthGrant(store, { userId, clientId: calendar, scope: 'openid offline_access', at: notesGrant!.createdAt - 3600_000, withToken: true });

    await inFreshProfile(demo.browser, 'demo connected apps', async (context) => {
      const page = await context.newPage();
      await page.goto(`${demo.url}/#/login`);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByTestId('signed-in-as').filter({ hasText: email }).waitFor();
      await page.goto(`${demo.url}/#/profile`);

      const list = page.getByRole('list', { name: 'Connected apps' });
      const notesRow = list.locator(`li[data-client-id="${notes}"]`);
      const calendarRow = list.locator(`li[data-client-id="${calendar}"]`);
      await notesRow.waitFor();
      await calendarRow.waitFor();
      // Name linked to the app's page, its logo, what it may see in words, and since when.
      expect(await notesRow.getByRole('link', { name: 'Notes' }).getAttribute('href')).toBe('https://notes.example/');
      expect(await notesRow.locator('img.app-logo').getAttribute('src')).toBe(`${demo.url}/logo.png`);
      const notesScopes = notesRow.getByRole('list', { name: 'What Notes can do' });
      expect(await notesScopes.getByRole('listitem').allTextContents()).toEqual([
        'Know who you are when you sign in',
        'See your name and language',
        'See your email address',
        'Keep access while you are not using it',
      ]);
      await notesRow.getByText('access granted').waitFor();
      await calendarRow.getByText('Keep access while you are not using it').waitFor();
      expect(await calendarRow.getByRole('link').count()).toBe(0);
      await page.screenshot({ path: screenshotPath('connected-apps'), fullPage: true });

      // Remove access: the first click only asks; Cancel keeps everything.
      await notesRow.getByRole('button', { name: 'Remove Notes’s access…' }).click();
      const dialog = notesRow.getByRole('alertdialog', { name: 'Remove Notes’s access' });
      await dialog.getByText('it asks for your permission again').waitFor();
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'detached' });
      expect(await store.findOAuthPayload('Grant', notesGrant!.id, clock())).not.toBeNull();

      await notesRow.getByRole('button', { name: 'Remove Notes’s access…' }).click();
      await dialog.getByRole('button', { name: 'Remove access' }).click();
      await page.getByRole('status').filter({ hasText: 'Notes no longer has access to your account.' }).waitFor();
      await notesRow.waitFor({ state: 'detached' });
      expect(await store.findOAuthPayload('Grant', notesGrant!.id, clock())).toBeNull();
      // Notes' tokens from that consent are dead: userinfo refuses the access token, the token
      // endpoint the refresh token.
      expect(await notesApp.userinfoStatus()).toBe(401);
      expect(await notesApp.refresh()).toBe('invalid_grant');
      expect(await store.findOAuthPayload('Grant', calendarGrant.grantId, clock())).not.toBeNull();

      // After a reload the server's list says the same.
      await page.reload();
      await calendarRow.waitFor();
      expect(await list.locator('li[data-client-id]').count()).toBe(1);

      // The last one: the empty state.
      await calendarRow.getByRole('button', { name: 'Remove Calendar’s access…' }).click();
      await calendarRow.getByRole('button', { name: 'Remove access' }).click();
      await page.getByText('No apps have access to your account.').waitFor();
      expect(await store.findOAuthPayload('AccessToken', calendarGrant.tokenId!, clock())).toBeNull();
    });

    const revokes = demo.exchanges.filter((x) => x.method === 'DELETE' && x.path.startsWith('/auth/connected-apps/'));
    expect(revokes.map((x) => [x.path, x.status])).toEqual([
      [`/auth/connected-apps/${notes}`, 204],
      [`/auth/connected-apps/${calendar}`, 204],
    ]);
  });
});

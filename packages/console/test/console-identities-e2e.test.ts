import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEDERATED_ONLY_HASH } from '../../server/src/passwords/no-password.js';
import { inFreshProfile, REPO_ROOT, startConsole, type ConsoleHarness } from './harness.js';

// A user's connected accounts (social sign-in) on the console's user page, in Debian's Chromium
// against a real Latchkey (real SQLite file) that serves the console. The identity is made in the
// store, as a sign-in with the provider would have linked it (the sign-in itself is driven through
// a real provider in apps/demo/test/social.test.ts); the provider is configured but never
// contacted (its discovery is fetched at the first sign-in only).

const ADMIN_PASSWORD = 'admin passphrase for the e2e test';
const RESULTS = join(REPO_ROOT, 'test-results', 'console');

let h: ConsoleHarness;
let adminEmail: string;

beforeAll(async () => {
  h = await startConsole({
    SOCIAL_PROVIDERS: 'testidp',
    SOCIAL_TESTIDP_CLIENT_ID: 'console-e2e',
    SOCIAL_TESTIDP_CLIENT_SECRET: 'console-e2e-secret',
    SOCIAL_TESTIDP_ISSUER: 'http://127.0.0.1:9',
    SOCIAL_TESTIDP_NAME: 'Test IdP',
  });
  const { store, hasher, clock } = h.server.app.latchkey;
  adminEmail = `admin-${randomUUID().slice(0, 8)}@example.com`;
  await store.createUser({
    id: randomUUID(),
    email: adminEmail,
    name: 'Ada Admin',
    passwordHash: await hasher.hash(ADMIN_PASSWORD),
    roles: ['admin'],
    emailVerified: true,
    createdAt: clock(),
  });
});

afterAll(async () => {
  await h?.close();
});

describe('connected accounts in the console', () => {
  it('lists the linked provider account of a user made by a social sign-in (no password) and unlinks it, though it is the last way in', async () => {
    const { store, clock } = h.server.app.latchkey;
    const userId = randomUUID();
    const email = `linked-${randomUUID().slice(0, 8)}@example.com`;
    await store.createUser({
      id: userId,
      email,
      name: 'Linked User',
      // As a social sign-in makes the account: no password until its owner sets one by the reset flow.
      passwordHash: FEDERATED_ONLY_HASH,
      roles: [],
      emailVerified: true,
      createdAt: clock(),
    });
    const identityId = randomUUID();
    expect(
      await store.createIdentity({
        id: identityId,
        userId,
        provider: 'testidp',
        subject: `subject-${randomUUID()}`,
        email: `${email.split('@')[0]}@idp.example`,
        emailVerified: true,
        createdAt: clock(),
      }),
    ).toBe(true);

    await inFreshProfile(h, 'console unlink identity', async (context) => {
      const page = await context.newPage();
      await page.setViewportSize({ width: 1200, height: 900 });
      await page.goto(h.url);
      await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
      await page.getByLabel('Email', { exact: true }).fill(adminEmail);
      await page.getByLabel('Password').fill(ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByTestId('signed-in-as').filter({ hasText: adminEmail }).waitFor();

      await page.goto(`${h.url}#/users/${userId}`);
      await page.getByRole('heading', { name: email }).waitFor();
      await page.getByRole('heading', { name: 'Connected accounts (1)' }).waitFor();
      await page.getByText('Password: not set (signs in through a connected account)').waitFor();
      await page.getByTestId('no-password').waitFor();
      const table = page.getByRole('table', { name: 'Connected accounts' });
      await table.getByRole('cell', { name: 'Test IdP', exact: true }).waitFor();
      mkdirSync(RESULTS, { recursive: true });
      await page.screenshot({ path: join(RESULTS, 'user-connected-accounts.png'), fullPage: true });

      // An admin may remove the last way in (the user can still set a password through a reset link).
      await table.getByRole('button', { name: /^Unlink Test IdP/ }).click();
      await page.getByRole('status').filter({ hasText: 'Test IdP account unlinked.' }).waitFor();
      await page.getByRole('heading', { name: 'Connected accounts (0)' }).waitFor();
      await page.getByTestId('no-identities').waitFor();
    });

    expect(await store.listIdentities(userId)).toEqual([]);
    expect(h.problems).toEqual([]);
    expect(h.calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toContain(`DELETE /admin/users/${userId}/identities/${identityId} 204`);
  });
});

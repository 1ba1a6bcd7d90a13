import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../../packages/server/src/lib/ids.js';
import type { NewUser } from '../../../packages/server/src/store/types.js';
import { inFreshProfile, REPO_ROOT, startDemo, type DemoHarness } from './harness.js';

// The admin pages of the demo app (client route /#/admin), built by Vite, in Debian's Chromium
// through playwright-core, against a real Latchkey (real SQLite file) whose /auth and /admin
// routes are proxied on the app's origin. The first admin is made by the real CLI
// (`latchkey users create-admin`), and 10,000 other users are imported first so that the table
// works at the size the issue asks for.

const PASSWORD = 'correct horse battery staple';
const ADMIN_PASSWORD = 'admin passphrase for the e2e test';
const SEEDED = 10_000;
const RESULTS = join(REPO_ROOT, 'test-results', 'admin');

let demo: DemoHarness;
let adminEmail: string;
const timings: Record<string, number> = {};

const tag = () => Math.random().toString(36).slice(2, 8);
const rows = (page: Page) => page.locator('.users-table tbody tr');

function shot(page: Page, name: string): Promise<Buffer> {
  mkdirSync(RESULTS, { recursive: true });
  return page.screenshot({ path: join(RESULTS, `${name}.png`), fullPage: true });
}

/** 10,000 users in batches through the store's import (one argon2 hash shared: seeding, not a login test). */
async function seedUsers(count: number): Promise<void> {
  const { store, hasher } = demo.server.app.latchkey;
  const hash = await hasher.hash(PASSWORD);
  const start = Date.now() - 400 * 24 * 3600 * 1000;
  for (let offset = 0; offset < count; offset += 1000) {
    const batch: NewUser[] = [];
    for (let i = offset; i < Math.min(count, offset + 1000); i += 1) {
      const n = String(i).padStart(5, '0');
      batch.push({
        id: newId(),
        email: `seed-${n}@example.com`,
        name: `Seed User ${n}`,
        passwordHash: hash,
        roles: i % 50 === 0 ? ['editor'] : [],
        emailVerified: i % 3 !== 0,
        disabled: i % 97 === 0,
        createdAt: start + i * 60_000,
      });
    }
    const result = await store.importUsers(batch, 'skip');
    expect(result.inserted).toBe(batch.length);
  }
}

/** The documented way to make the first admin: the CLI, against the running server's database. */
async function createAdminWithCli(email: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(REPO_ROOT, 'packages', 'server', 'bin', 'latchkey.js'), 'users', 'create-admin', '--email', email, '--name', 'Ada Admin'],
    {
      cwd: demo.server.dir,
      timeout: 60_000,
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: demo.server.config.databaseUrl,
        LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD,
        LOG_LEVEL: 'silent',
      },
    },
  );
  return stdout;
}

async function registerUser(email: string, name: string): Promise<void> {
  const res = await demo.server.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD, name } });
  expect(res.statusCode, res.body).toBe(201);
}

async function signInPage(page: Page): Promise<void> {
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
}

async function login(page: Page, email: string, password: string): Promise<void> {
  await page.goto(`${demo.url}/#/login`);
  await signInPage(page);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('signed-in-as').filter({ hasText: email }).waitFor();
}

/** Types into the debounced search box and waits for the table to show exactly `expected` rows. */
async function search(page: Page, text: string): Promise<void> {
  await page.getByRole('searchbox', { name: 'Search' }).fill(text);
  await page.locator('.users-table tbody:not(.stale)').waitFor({ state: 'attached' });
  await page.waitForFunction(
    (t) => {
      const body = document.querySelector('.users-table tbody');
      const links = Array.from(document.querySelectorAll('.users-table tbody .cell-email a')).map((a) => a.textContent ?? '');
      return body !== null && !body.classList.contains('stale') && links.every((l) => l.includes(t.toLowerCase()));
    },
    text,
  );
}

beforeAll(async () => {
  demo = await startDemo({});
  await seedUsers(SEEDED);
  adminEmail = `admin-${tag()}@example.com`;
  expect(await createAdminWithCli(adminEmail)).toContain(`admin ${adminEmail} created`);
});

afterAll(async () => {
  if (Object.keys(timings).length > 0) {
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'timing.json'), `${JSON.stringify({ users: SEEDED + 1, ...timings }, null, 2)}\n`);
    console.log(`admin pages with ${SEEDED} seeded users (ms):`, timings);
  }
  await demo?.close();
});

describe('admin pages in Chromium', () => {
  it('an admin searches a user, opens them and disables them; the user’s open session is logged out', async () => {
    const userEmail = `pat-${tag()}@example.com`;
    await registerUser(userEmail, 'Pat Plain');

    await inFreshProfile(demo.browser, 'admin disables user (user)', async (userContext) => {
      // Context B: the plain user, signed in through the UI, on their profile.
      const userPage = await userContext.newPage();
      await login(userPage, userEmail, PASSWORD);
      await userPage.getByRole('heading', { name: 'Profile', exact: true }).waitFor();
      // A plain user gets no Admin link, and the admin route refuses them.
      expect(await userPage.getByRole('link', { name: 'Admin', exact: true }).count()).toBe(0);
      await userPage.goto(`${demo.url}/#/admin`);
      await userPage.getByRole('alert').filter({ hasText: 'These pages need the admin role' }).waitFor();
      await userPage.goto(`${demo.url}/#/profile`);
      await userPage.getByRole('heading', { name: 'Profile', exact: true }).waitFor();

      await inFreshProfile(demo.browser, 'admin disables user (admin)', async (adminContext) => {
        // Context A: the admin, signed in through the UI.
        const admin = await adminContext.newPage();
        await admin.setViewportSize({ width: 1280, height: 900 });
        await login(admin, adminEmail, ADMIN_PASSWORD);

        const t0 = performance.now();
        await admin.getByRole('link', { name: 'Admin', exact: true }).click();
        await rows(admin).nth(49).waitFor();
        timings.firstPageAfterNavigation = Math.round(performance.now() - t0);
        expect(await rows(admin).count()).toBe(50);
        expect(await admin.getByTestId('page-info').textContent()).toContain('Page 1 · rows 1–50');
        await shot(admin, '1-users');

        const t1 = performance.now();
        await search(admin, userEmail.split('@')[0]!);
        await admin.getByRole('link', { name: userEmail, exact: true }).waitFor();
        timings.searchOneUser = Math.round(performance.now() - t1);
        const searches = demo.exchanges.filter((e) => e.path === '/admin/users' && e.startedAt >= t1 && e.status === 200);
        expect(searches.length).toBeGreaterThan(0);
        const lastSearch = searches[searches.length - 1]!;
        timings.searchRequestThroughProxy = Math.round(lastSearch.endedAt - lastSearch.startedAt);
        expect(await rows(admin).count()).toBe(1);
        await shot(admin, '2-search');

        await admin.getByRole('link', { name: userEmail, exact: true }).click();
        await admin.getByRole('heading', { name: userEmail, exact: true }).waitFor();
        await admin.getByRole('heading', { name: 'Sessions (1)' }).waitFor();
        const sessionRows = admin.getByRole('table', { name: 'Sessions' }).locator('tbody tr');
        expect(await sessionRows.count()).toBe(1);
        expect(await admin.getByRole('table', { name: 'Recent events' }).textContent()).toContain('login_succeeded');
        await shot(admin, '3-user-detail');

        await admin.getByRole('button', { name: 'Disable account' }).click();
        await admin.getByRole('status').filter({ hasText: 'Account disabled; 1 session ended.' }).waitFor();
        await admin.getByTestId('no-sessions').waitFor();
        await admin.getByRole('button', { name: 'Enable account' }).waitFor();
        expect(await admin.locator('.user-head .badge-danger').textContent()).toBe('disabled');
        expect(await admin.getByRole('table', { name: 'Recent events' }).textContent()).toContain('admin_user_updated');
        await shot(admin, '4-user-disabled');

        // Context B's next API call (opening its session list) finds the session ended: signed out.
        await userPage.getByRole('link', { name: 'Sessions', exact: true }).click();
        await signInPage(userPage);
        expect(await userPage.getByTestId('signed-in-as').count()).toBe(0);
        await userPage.reload();
        await signInPage(userPage);
        // And a new login is refused with the server's message.
        await userPage.getByLabel('Email').fill(userEmail);
        await userPage.getByLabel('Password').fill(PASSWORD);
        await userPage.getByRole('button', { name: 'Sign in' }).click();
        await userPage.getByRole('alert').filter({ hasText: 'This account has been disabled.' }).waitFor();
        await shot(userPage, '5-disabled-user-login');

        // Back in the table, the Disabled filter lists the user.
        await admin.getByRole('link', { name: '← All users' }).click();
        await admin.getByRole('link', { name: userEmail, exact: true }).waitFor();
        await admin.getByLabel('Status').selectOption('true');
        await admin.locator('.users-table tbody:not(.stale)').waitFor();
        await admin.getByRole('link', { name: userEmail, exact: true }).waitFor();
        expect(await rows(admin).locator('.badge-danger').count()).toBe(await rows(admin).count());
      });
    });
  });

  it('paging through 10,000 users, filters, create, verify, roles, revoke, last-admin error, delete with confirmation', async () => {
    await inFreshProfile(demo.browser, 'admin pages', async (context) => {
      const page = await context.newPage();
      await page.setViewportSize({ width: 1280, height: 900 });
      await login(page, adminEmail, ADMIN_PASSWORD);

      // A cold load of the table (app, session restore through the cookie, first page).
      const fresh = await context.newPage();
      const t0 = performance.now();
      await fresh.goto(`${demo.url}/#/admin`);
      await rows(fresh).nth(49).waitFor();
      timings.firstPageColdLoad = Math.round(performance.now() - t0);
      const serverList = demo.exchanges.filter((e) => e.path === '/admin/users' && e.method === 'GET' && e.startedAt >= t0);
      expect(serverList.map((e) => e.status)).toContain(200);
      timings.listRequestThroughProxy = Math.round(serverList[0]!.endedAt - serverList[0]!.startedAt);
      await fresh.close();

      await page.getByRole('link', { name: 'Admin', exact: true }).click();
      await rows(page).nth(49).waitFor();
      const firstOfPage1 = await rows(page).first().locator('.cell-email a').textContent();
      expect(firstOfPage1).toBe('seed-00000@example.com');
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByTestId('page-info').filter({ hasText: 'Page 2 · rows 51–100' }).waitFor();
      expect(await rows(page).first().locator('.cell-email a').textContent()).toBe('seed-00050@example.com');
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByTestId('page-info').filter({ hasText: 'Page 3 · rows 101–150' }).waitFor();
      expect(await rows(page).first().locator('.cell-email a').textContent()).toBe('seed-00100@example.com');
      await page.getByRole('button', { name: 'Previous' }).click();
      await page.getByTestId('page-info').filter({ hasText: 'Page 2 · rows 51–100' }).waitFor();
      expect(await rows(page).first().locator('.cell-email a').textContent()).toBe('seed-00050@example.com');
      await page.getByRole('button', { name: 'Previous' }).click();
      await page.getByTestId('page-info').filter({ hasText: 'Page 1 · rows 1–50' }).waitFor();
      expect(await page.getByRole('button', { name: 'Previous' }).isDisabled()).toBe(true);

      // Filters: role editor (every 50th seeded user) and not verified.
      await page.getByLabel('Role').fill('editor');
      await page.getByLabel('Email', { exact: true }).selectOption('false');
      await page.waitForFunction(() => {
        const body = document.querySelector('.users-table tbody');
        const first = document.querySelector('.users-table tbody .cell-email a')?.textContent;
        const trs = Array.from(document.querySelectorAll('.users-table tbody tr'));
        const allEditors = trs.every((tr) => tr.querySelector('.chip')?.textContent === 'editor');
        return body && !body.classList.contains('stale') && first === 'seed-00000@example.com' && trs.length === 50 && allEditors;
      });
      // Seeded editors are i % 50 == 0 (200 of them); not verified is i % 3 == 0: i % 150 == 0, 67 users.
      expect(await rows(page).count()).toBe(50);
      expect(await rows(page).locator('.chip', { hasText: 'editor' }).count()).toBe(50);
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByTestId('page-info').filter({ hasText: 'Page 2 · rows 51–67' }).waitFor();
      expect(await rows(page).locator('.chip', { hasText: 'editor' }).count()).toBe(17);
      expect(await page.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
      expect(await rows(page).last().locator('.cell-email a').textContent()).toBe('seed-09900@example.com');
      await shot(page, '6-filters');
      await page.getByRole('button', { name: 'Clear' }).click();
      await page.getByTestId('page-info').filter({ hasText: 'Page 1 · rows 1–50' }).waitFor();

      // Create a user; a second try with the same email shows the server's problem detail.
      const email = `casey-${tag()}@example.com`;
      await page.getByRole('link', { name: 'New user' }).click();
      await page.getByRole('heading', { name: 'New user' }).waitFor();
      await page.getByLabel('Email', { exact: true }).fill(email);
      await page.getByLabel('Name').fill('Casey Created');
      await page.getByLabel('Password').fill('short');
      await page.getByLabel('Roles').fill('editor');
      await page.getByRole('button', { name: 'Create user' }).click();
      await page.getByRole('alert').filter({ hasText: 'password must be at least 8 characters' }).waitFor();
      await shot(page, '7-create-error');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Create user' }).click();
      await page.getByRole('heading', { name: email, exact: true }).waitFor();
      await page.getByRole('status').filter({ hasText: `Created ${email}.` }).waitFor();
      expect(await page.locator('.facts .chip').allTextContents()).toEqual(['editor']);
      await page.goto(`${demo.url}/#/admin/new`);
      await page.getByLabel('Email', { exact: true }).fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Create user' }).click();
      await page.getByRole('alert').filter({ hasText: 'An account with this email already exists.' }).waitFor();

      // The new user signs in elsewhere; the admin verifies them, grants admin, revokes the session.
      await inFreshProfile(demo.browser, 'created user signs in', async (other) => {
        const theirs = await other.newPage();
        await login(theirs, email, PASSWORD);
      });
      await page.getByRole('link', { name: '← All users' }).click();
      await search(page, email);
      await page.getByRole('link', { name: email, exact: true }).click();
      await page.getByRole('heading', { name: 'Sessions (1)' }).waitFor();
      await page.getByRole('button', { name: 'Mark verified' }).click();
      await page.getByRole('status').filter({ hasText: 'Email marked as verified.' }).waitFor();
      expect(await page.locator('.user-head').textContent()).toContain('verified');
      await page.getByRole('button', { name: /^Revoke session / }).click();
      await page.getByRole('status').filter({ hasText: 'Session revoked.' }).waitFor();
      await page.getByTestId('no-sessions').waitFor();

      // Last-admin rule: the only admin cannot disable themselves; the 409's detail is shown.
      await page.getByRole('link', { name: '← All users' }).click();
      await search(page, adminEmail);
      await page.getByRole('link', { name: adminEmail, exact: true }).click();
      await page.getByRole('heading', { name: adminEmail, exact: true }).waitFor();
      await page.getByRole('button', { name: 'Disable account' }).click();
      await page.getByRole('alert').filter({ hasText: 'This is the last enabled admin; make another admin first.' }).waitFor();
      await shot(page, '8-last-admin');

      // Roles: make the created user an admin too (checkbox toggle), then the save ends nothing (no sessions).
      await page.getByRole('link', { name: '← All users' }).click();
      await search(page, email);
      await page.getByRole('link', { name: email, exact: true }).click();
      await page.getByRole('heading', { name: email, exact: true }).waitFor();
      await page.getByLabel('Admin (may use these pages)').check();
      expect(await page.getByLabel('Roles').inputValue()).toBe('editor, admin');
      await page.getByRole('button', { name: 'Save and end sessions' }).click();
      await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
      expect(await page.locator('.facts .chip').allTextContents()).toEqual(['editor', 'admin']);

      // Delete: the first click only asks; Cancel keeps the user; confirming deletes.
      await page.getByRole('button', { name: 'Delete user…' }).click();
      await page.getByRole('alertdialog').waitFor();
      await shot(page, '9-delete-confirm');
      await page.getByRole('button', { name: 'Cancel' }).click();
      await page.getByRole('alertdialog').waitFor({ state: 'detached' });
      const stillThere = await demo.server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
      expect(stillThere.statusCode).toBe(200);
      await page.getByRole('button', { name: 'Delete user…' }).click();
      await page.getByRole('button', { name: 'Delete permanently' }).click();
      await page.getByRole('status').filter({ hasText: `Deleted ${email}.` }).waitFor();
      await page.getByRole('heading', { name: 'Users' }).waitFor();
      await search(page, email);
      await page.getByText('No users match these filters.').waitFor();
      const gone = await demo.server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
      expect(gone.json().code).toBe('INVALID_CREDENTIALS');
    });
  });
});

import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/src/config.js';
import { latchkey } from '../../server/src/plugin.js';
import { newId } from '../../server/src/lib/ids.js';
import type { NewUser } from '../../server/src/store/types.js';
import { tempDir } from '../../server/test/support/helpers.js';
import { inFreshProfile, REPO_ROOT, startConsole, type ConsoleHarness } from './harness.js';

// The admin console as the server serves it (/console/, from packages/server/console: the build
// `npm pack` ships), in Debian's Chromium through playwright-core, against a real Latchkey (real
// SQLite file) on the same origin. The first admin is made by the real CLI (`latchkey users
// create-admin`), and 10,000 other users are imported first so that the table works at the size
// the issue asks for. Every context is watched: a CSP violation or page error anywhere fails the run.

const PASSWORD = 'correct horse battery staple';
const ADMIN_PASSWORD = 'admin passphrase for the e2e test';
const SEEDED = 10_000;
const RESULTS = join(REPO_ROOT, 'test-results', 'console');

let h: ConsoleHarness;
let adminEmail: string;
const timings: Record<string, number> = {};

const tag = () => Math.random().toString(36).slice(2, 8);
const rows = (page: Page) => page.locator('.users-table tbody tr');

/** A screenshot to test-results/console/; `fullPage: false` takes what the screen shows (a phone's 50 cards are very long). */
function shot(page: Page, name: string, fullPage = true): Promise<Buffer> {
  mkdirSync(RESULTS, { recursive: true });
  return page.screenshot({ path: join(RESULTS, `${name}.png`), fullPage });
}

/** 10,000 users in batches through the store's import (one argon2 hash shared: seeding, not a login test). */
async function seedUsers(count: number): Promise<void> {
  const { store, hasher } = h.server.app.latchkey;
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
      cwd: h.server.dir,
      timeout: 60_000,
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: h.server.config.store.databaseUrl,
        LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD,
        LOG_LEVEL: 'silent',
      },
    },
  );
  return stdout;
}

async function registerUser(email: string, name: string): Promise<string> {
  const res = await h.server.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD, name } });
  expect(res.statusCode, res.body).toBe(201);
  return (res.json() as { user: { id: string } }).user.id;
}

/** A login outside the browser (bearer mode): the user has a live session somewhere else. */
async function apiLogin(email: string, password = PASSWORD): Promise<{ access: string; refresh: string }> {
  const res = await h.server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json() as { access_token: string; refresh_token: string };
  return { access: body.access_token, refresh: body.refresh_token };
}

async function liveSessions(userId: string): Promise<number> {
  return (await h.server.app.latchkey.store.listSessions(userId, Date.now())).length;
}

async function signInPage(page: Page): Promise<void> {
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
}

/** Fills and sends the console's sign-in form (at `base`, the console's URL). */
async function signIn(page: Page, email: string, password: string, base = h.url): Promise<void> {
  await page.goto(base);
  await signInPage(page);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function signInAsAdmin(page: Page, base = h.url): Promise<void> {
  await signIn(page, adminEmail, ADMIN_PASSWORD, base);
  await page.getByTestId('signed-in-as').filter({ hasText: adminEmail }).waitFor();
}

/** Types into the debounced search box and waits until the table shows only matching rows. */
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

/**
 * What sticks out of a phone's screen: the document's own width, and every visible element whose
 * box ends past the viewport's edges, unless an ancestor inside the viewport cuts it off or
 * scrolls it on its own (overflow other than visible: a `.table-scroll`, a visually hidden header).
 */
async function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; innerWidth: number; offenders: string[] }> {
  return page.evaluate(() => {
    const contained = (el: Element): boolean => {
      for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
        const box = up.getBoundingClientRect();
        if (getComputedStyle(up).overflowX !== 'visible' && box.left >= -0.5 && box.right <= 390.5) return true;
      }
      return false;
    };
    const offenders: string[] = [];
    for (const el of Array.from(document.body.querySelectorAll('*'))) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue;
      if ((box.right > 390.5 || box.left < -0.5) && !contained(el)) {
        offenders.push(`${el.tagName.toLowerCase()}.${el.className} [${Math.round(box.left)}..${Math.round(box.right)}]`);
      }
    }
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, offenders };
  });
}

async function expectNoHorizontalOverflow(page: Page, where: string): Promise<void> {
  const o = await horizontalOverflow(page);
  expect(o.offenders, `${where}: elements past the right edge`).toEqual([]);
  // A phone widens its layout viewport (zooms out) to fit content wider than the screen.
  expect(o.innerWidth, `${where}: the layout viewport grew`).toBe(390);
  expect(o.scrollWidth, `${where}: the page scrolls sideways`).toBeLessThanOrEqual(o.innerWidth);
}

beforeAll(async () => {
  h = await startConsole();
  await seedUsers(SEEDED);
  adminEmail = `admin-${tag()}@example.com`;
  expect(await createAdminWithCli(adminEmail)).toContain(`admin ${adminEmail} created`);
});

afterEach(() => {
  // The CSP must never have to refuse anything the console itself does.
  expect(h.problems).toEqual([]);
});

afterAll(async () => {
  if (Object.keys(timings).length > 0) {
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'timing.json'), `${JSON.stringify({ users: SEEDED + 1, ...timings }, null, 2)}\n`);
    console.log(`admin console with ${SEEDED} seeded users (ms):`, timings);
  }
  await h?.close();
});

describe('the admin console in Chromium, served by the server at /console/', () => {
  it('an admin signs in, searches a user, opens them and disables them; the user’s session ends', async () => {
    const userEmail = `pat-${tag()}@example.com`;
    const userId = await registerUser(userEmail, 'Pat Plain');
    const patSession = await apiLogin(userEmail);

    await inFreshProfile(h, 'admin disables user', async (context) => {
      const admin = await context.newPage();
      await admin.setViewportSize({ width: 1280, height: 900 });
      const t0 = Date.now();
      await signInAsAdmin(admin);
      await rows(admin).nth(49).waitFor();
      timings.firstPageAfterSignIn = Date.now() - t0;
      expect(await rows(admin).count()).toBe(50);
      expect(await admin.getByTestId('page-info').textContent()).toContain('Page 1 · rows 1–50');
      // Signed in in cookie mode: the refresh token is only in the HttpOnly cookie, at /auth.
      const cookies = await context.cookies();
      expect(cookies.find((c) => c.name === 'lk_refresh')).toMatchObject({ httpOnly: true, secure: true, path: '/auth' });
      expect(cookies.find((c) => c.name === 'lk_csrf')).toMatchObject({ httpOnly: false, secure: true, path: '/' });
      await shot(admin, '1-users');

      const t1 = Date.now();
      await search(admin, userEmail.split('@')[0]!);
      await admin.getByRole('link', { name: userEmail, exact: true }).waitFor();
      timings.searchOneUser = Date.now() - t1;
      const searches = h.calls.filter((c) => c.path === '/admin/users' && c.startedAt >= t1 && c.status === 200);
      expect(searches.length).toBeGreaterThan(0);
      timings.searchRequest = searches[searches.length - 1]!.ms;
      expect(await rows(admin).count()).toBe(1);
      await shot(admin, '2-search');

      await admin.getByRole('link', { name: userEmail, exact: true }).click();
      await admin.getByRole('heading', { name: userEmail, exact: true }).waitFor();
      await admin.getByRole('heading', { name: 'Sessions (1)' }).waitFor();
      expect(await admin.getByRole('table', { name: 'Sessions' }).locator('tbody tr').count()).toBe(1);
      expect(await admin.getByRole('table', { name: 'Recent events' }).textContent()).toContain('login_succeeded');
      await shot(admin, '3-user-detail');

      await admin.getByRole('button', { name: 'Disable account' }).click();
      await admin.getByRole('status').filter({ hasText: 'Account disabled; 1 session ended.' }).waitFor();
      await admin.getByTestId('no-sessions').waitFor();
      await admin.getByRole('button', { name: 'Enable account' }).waitFor();
      expect(await admin.locator('.user-head .badge-danger').textContent()).toBe('disabled');
      expect(await admin.getByRole('table', { name: 'Recent events' }).textContent()).toContain('admin_user_updated');
      await shot(admin, '4-user-disabled');

      // The user's session elsewhere is over: its access token and its refresh token are refused,
      // and a new login is refused with the server's code.
      expect(await liveSessions(userId)).toBe(0);
      const me = await h.server.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${patSession.access}` } });
      expect(me.statusCode).toBe(401);
      const refresh = await h.server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: patSession.refresh } });
      // A disabled account's refresh says so (403 ACCOUNT_DISABLED), the access token why it ended.
      expect(refresh.statusCode).toBe(403);
      expect(refresh.json().code).toBe('ACCOUNT_DISABLED');
      expect(me.json().reason).toBe('account_disabled');
      const again = await h.server.app.inject({ method: 'POST', url: '/auth/login', payload: { email: userEmail, password: PASSWORD } });
      expect(again.json().code).toBe('ACCOUNT_DISABLED');

      // Back in the table, the Disabled filter lists the user.
      await admin.getByRole('link', { name: '← All users' }).click();
      await admin.getByRole('link', { name: userEmail, exact: true }).waitFor();
      await admin.getByLabel('Status').selectOption('true');
      await admin.locator('.users-table tbody:not(.stale)').waitFor();
      await admin.getByRole('link', { name: userEmail, exact: true }).waitFor();
      expect(await rows(admin).locator('.badge-danger').count()).toBe(await rows(admin).count());
    });
  });

  it('paging through 10,000 users, filters, create, verify, roles, revoke, last-admin error, delete with confirmation', async () => {
    await inFreshProfile(h, 'console pages', async (context) => {
      const page = await context.newPage();
      await page.setViewportSize({ width: 1280, height: 900 });
      await signInAsAdmin(page);
      await rows(page).nth(49).waitFor();

      // A cold load of the table (the console, session restore through the cookie, first page).
      const fresh = await context.newPage();
      const t0 = Date.now();
      await fresh.goto(`${h.url}#/users`);
      await rows(fresh).nth(49).waitFor();
      timings.firstPageColdLoad = Date.now() - t0;
      const list = h.calls.filter((c) => c.path === '/admin/users' && c.method === 'GET' && c.startedAt >= t0);
      expect(list.map((c) => c.status)).toContain(200);
      timings.listRequest = list[0]!.ms;
      const restore = h.calls.find((c) => c.path === '/auth/refresh' && c.startedAt >= t0);
      if (restore) timings.coldLoadRefreshRequest = restore.ms;
      // From navigation to the console's first call: the page, its script and React starting.
      timings.coldLoadFirstApiCallAfter = Math.round(Math.min(...h.calls.filter((c) => c.startedAt >= t0).map((c) => c.startedAt)) - t0);
      await fresh.close();

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
      await page.getByLabel('Password', { exact: true }).fill('short');
      await page.getByLabel('Roles').fill('editor');
      await page.getByRole('button', { name: 'Create user' }).click();
      await page.getByRole('alert').filter({ hasText: 'Password must be at least 8 characters.' }).waitFor();
      await shot(page, '7-create-error');
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Create user' }).click();
      await page.getByRole('heading', { name: email, exact: true }).waitFor();
      await page.getByRole('status').filter({ hasText: `Created ${email}.` }).waitFor();
      expect(await page.locator('.facts .chip').allTextContents()).toEqual(['editor']);
      await page.goto(`${h.url}#/new`);
      await page.getByLabel('Email', { exact: true }).fill(email);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Create user' }).click();
      await page.getByRole('alert').filter({ hasText: 'An account with this email already exists.' }).waitFor();

      // The new user signs in elsewhere; the admin verifies them and revokes that session.
      await apiLogin(email);
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

      // Roles: make the created user an admin too (checkbox toggle); the save ends nothing (no sessions).
      await page.getByRole('link', { name: '← All users' }).click();
      await search(page, email);
      await page.getByRole('link', { name: email, exact: true }).click();
      await page.getByRole('heading', { name: email, exact: true }).waitFor();
      await page.getByLabel('Admin (may use this console)').check();
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
      const stillThere = await h.server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
      expect(stillThere.statusCode).toBe(200);
      await page.getByRole('button', { name: 'Delete user…' }).click();
      await page.getByRole('button', { name: 'Delete permanently' }).click();
      await page.getByRole('status').filter({ hasText: `Deleted ${email}.` }).waitFor();
      await page.getByRole('heading', { name: 'Users' }).waitFor();
      await search(page, email);
      await page.getByText('No users match these filters.').waitFor();
      const gone = await h.server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
      expect(gone.json().code).toBe('INVALID_CREDENTIALS');

      // Sign out: back to the sign-in form, and a reload stays there (the session is over).
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('status').filter({ hasText: 'You have signed out.' }).waitFor();
      await page.reload();
      await signInPage(page);
    });
  });

  it('refuses an account without the admin role: it is told so and signed out of the console', async () => {
    const since = Date.now();
    const email = `nina-${tag()}@example.com`;
    const userId = await registerUser(email, 'Nina Normal');
    await inFreshProfile(h, 'non-admin refused', async (context) => {
      const page = await context.newPage();
      await signIn(page, email, PASSWORD);
      await page.getByRole('alert').filter({ hasText: `${email} is not an admin account, so it cannot use the console.` }).waitFor();
      await shot(page, '10-not-admin');
      // Still the sign-in form, no admin page, and the session the login made is over on the server.
      await signInPage(page);
      expect(await page.getByTestId('signed-in-as').count()).toBe(0);
      expect(await page.locator('.users-table').count()).toBe(0);
      await expect.poll(() => liveSessions(userId)).toBe(0);
      expect(h.calls.some((c) => c.path === '/auth/logout' && c.status === 204)).toBe(true);
      expect((await context.cookies()).find((c) => c.name === 'lk_refresh')).toBeUndefined();
      // A reload finds no session either.
      await page.reload();
      await signInPage(page);
      expect(await page.getByRole('alert').count()).toBe(0);

      // Not one admin route answered this account with data.
      expect(h.calls.filter((c) => c.path.startsWith('/admin/') && c.startedAt >= since && c.status === 200)).toEqual([]);
    });

    // A session the console did not make (a cookie-mode login by another page of this origin) is
    // not ended behind the user's back: the console says what it is and offers to sign out.
    await inFreshProfile(h, 'non-admin restored', async (context) => {
      const login = await context.request.post(`${h.origin}/auth/login`, {
        headers: { 'x-auth-mode': 'cookie', origin: h.origin },
        data: { email, password: PASSWORD },
      });
      expect(login.status()).toBe(200);
      const page = await context.newPage();
      await page.goto(h.url);
      await page.getByRole('heading', { name: 'Not an admin account' }).waitFor();
      await page.getByRole('alert').filter({ hasText: `You are signed in as ${email}, which is not an admin account.` }).waitFor();
      expect(await page.locator('.users-table').count()).toBe(0);
      await page.getByRole('button', { name: 'Sign out and use another account' }).click();
      await signInPage(page);
      await expect.poll(() => liveSessions(userId)).toBe(0);
    });
  });

  it('works on a phone (390 x 844): the user table becomes cards and nothing sticks out sideways', async () => {
    const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
    await inFreshProfile(
      h,
      'phone',
      async (context) => {
        const page = await context.newPage();
        await page.goto(h.url);
        await signInPage(page);
        await expectNoHorizontalOverflow(page, 'sign-in');
        await shot(page, 'phone-1-sign-in', false);

        await signInAsAdmin(page);
        await rows(page).nth(49).waitFor();
        await expectNoHorizontalOverflow(page, 'users');
        await page.getByTestId('user-count').filter({ hasText: 'users' }).waitFor();
        // Each user is a card: a block as wide as the table, with the email as its title and the
        // other cells labelled by their column's name.
        const card = rows(page).first();
        expect(await card.evaluate((tr) => getComputedStyle(tr).display)).toBe('block');
        const cardBox = (await card.boundingBox())!;
        expect(cardBox.x).toBeGreaterThanOrEqual(0);
        expect(cardBox.x + cardBox.width).toBeLessThanOrEqual(390);
        const link = (await card.locator('.cell-email a').boundingBox())!;
        expect(link.x + link.width).toBeLessThanOrEqual(390);
        const labels = await card.locator('td').evaluateAll((tds) => tds.map((td) => getComputedStyle(td, '::before').content));
        expect(labels).toEqual(['none', '"Name"', '"Roles"', '"Verified"', '"Status"', '"Created"', '"Last sign-in"']);
        await shot(page, 'phone-2-users', false);

        // A filter and the pager still fit.
        await page.getByLabel('Role').fill('editor');
        await page.waitForFunction(() => document.querySelectorAll('.users-table tbody:not(.stale) tr .chip').length > 0);
        await expectNoHorizontalOverflow(page, 'users, filtered');
        await page.getByRole('button', { name: 'Clear' }).click();

        // The admin's own page: sessions and events tables scroll inside the card, the page does not.
        await search(page, adminEmail);
        await page.getByRole('link', { name: adminEmail, exact: true }).click();
        await page.getByRole('heading', { name: 'Recent events' }).waitFor();
        await page.getByRole('table', { name: 'Sessions' }).waitFor();
        await page.getByRole('button', { name: 'Send password-reset link' }).waitFor();
        await page.getByLabel('Email', { exact: true }).fill('a-rather-long-address-for-a-phone-screen@example.com');
        await page.getByRole('button', { name: 'Change email' }).waitFor();
        await expectNoHorizontalOverflow(page, 'user page');
        await shot(page, 'phone-3-user', false);

        await page.goto(`${h.url}#/new`);
        await page.getByRole('heading', { name: 'New user' }).waitFor();
        await expectNoHorizontalOverflow(page, 'new user');
        await shot(page, 'phone-4-new-user', false);
        await page.getByLabel(/Invite by email/).check();
        await page.getByRole('button', { name: 'Send invitation' }).waitFor();
        await expectNoHorizontalOverflow(page, 'new user, invite mode');
      },
      phone,
    );
  });

  it('runs under its CSP without one violation, and the CSP does refuse what it should', async () => {
    await inFreshProfile(h, 'csp', async (context) => {
      const page = await context.newPage();
      const response = await page.goto(h.url);
      expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
      await signInAsAdmin(page);
      await rows(page).nth(49).waitFor();
      // Every page of the console has been opened by the tests above in watched contexts (the
      // afterEach hook checks none reported a problem). Here: proof that the watch sees one.
      const ran = await page.evaluate(() => {
        const probe = document.createElement('div');
        probe.setAttribute('style', 'color: red'); // an inline style attribute: style-src 'self' refuses it
        document.body.append(probe);
        const inline = document.createElement('script');
        try {
          inline.text = 'window.__inlineRan = true'; // Trusted Types: a plain string is refused
        } catch {
          // refused: expected
        }
        document.body.append(inline);
        return (window as unknown as { __inlineRan?: boolean }).__inlineRan === true;
      });
      expect(ran).toBe(false);
      await expect.poll(() => h.problems.filter((p) => p.kind === 'csp-violation').map((p) => p.text.split(' ')[0])).toEqual(
        expect.arrayContaining(['style-src-attr', 'require-trusted-types-for']),
      );
      h.problems.length = 0; // these were the probe's, on purpose

      // Framing is refused (frame-ancestors 'none', X-Frame-Options: DENY): another page that
      // embeds the console gets an error page in the frame, not the console.
      const framer = await context.newPage();
      await framer.setContent(`<iframe src="${h.url}" width="600" height="400"></iframe>`);
      await expect.poll(() => framer.frames().length).toBe(2);
      const frame = framer.frames()[1]!;
      await frame.waitForLoadState().catch(() => undefined);
      expect(await frame.locator('h1', { hasText: 'Sign in' }).count()).toBe(0);
      h.problems.length = 0; // the refused frame is reported as a CSP console message
    });
  });
});

describe('the console of an embedded Latchkey, under the host’s prefix', () => {
  it('finds its API below the prefix it is served at (/identity/console/ calls /identity/auth and /identity/admin)', async () => {
    const dir = tempDir();
    const config = loadConfig({
      DATABASE_URL: `sqlite:${join(dir.dir, 'host.db')}`,
      LOG_LEVEL: 'silent',
      MAIL_OUTBOX_DIR: join(dir.dir, 'outbox'),
      RATE_LIMIT_ENABLED: 'false',
    });
    const host = Fastify();
    await host.register(latchkey, { config, prefix: '/identity', console: true });
    host.get('/', async () => ({ shop: 'open' }));
    await host.listen({ host: '127.0.0.1', port: 0 });
    const origin = `http://127.0.0.1:${(host.server.address() as AddressInfo).port}`;
    try {
      const email = `host-admin-${tag()}@example.com`;
      const reg = await host.inject({ method: 'POST', url: '/identity/auth/register', payload: { email, password: ADMIN_PASSWORD } });
      await host.latchkey.store.updateUser(reg.json().user.id, { roles: ['admin'] }, Date.now());
      await inFreshProfile(h, 'embedded', async (context) => {
        const page = await context.newPage();
        await page.goto(`${origin}/identity/console`); // redirected to /identity/console/
        await signInPage(page);
        expect(new URL(page.url()).pathname).toBe('/identity/console/');
        await page.getByLabel('Email', { exact: true }).fill(email);
        await page.getByLabel('Password').fill(ADMIN_PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('link', { name: email, exact: true }).waitFor();
        expect((await context.cookies()).find((c) => c.name === 'lk_refresh')?.path).toBe('/identity/auth');
        const paths = h.calls.filter((c) => c.path.includes('/identity/')).map((c) => c.path);
        expect(paths).toEqual(expect.arrayContaining(['/identity/auth/login', '/identity/admin/users']));
        // A reload restores the session through the cookie at /identity/auth.
        await page.reload();
        await page.getByRole('link', { name: email, exact: true }).waitFor();
      });
    } finally {
      await host.close();
      dir.cleanup();
    }
  });
});

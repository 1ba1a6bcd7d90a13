import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type DemoHarness } from '../../../apps/demo/test/harness.js';
import { waitFor } from '../../server/test/support/email.js';
import { checkBuiltConsole, inFreshProfile, REPO_ROOT, type ConsoleHarness } from './harness.js';

// The operator features of the console in Chromium, end to end: the console the server serves
// (/console/) and the demo app (its mailed-link pages) on one real Latchkey (real SQLite file) that
// sends real mail over SMTP to an smtp-server on 127.0.0.1 (apps/demo/test/harness.ts). An admin
// invites a user from the console; the invitation mail's link opens the demo's accept page in
// another browser profile, where the user chooses a password and signs in. Then a reset link sent
// from the console, an email change, sorting by last sign-in and the total count.

const PASSWORD = 'correct horse battery staple';
const ADMIN_PASSWORD = 'admin passphrase for the e2e test';
const RESULTS = join(REPO_ROOT, 'test-results', 'console');
const MINUTE = 60_000;

let demo: DemoHarness;
let h: ConsoleHarness;
let adminEmail: string;

const tag = () => randomUUID().slice(0, 8);
const rows = (page: Page) => page.locator('.users-table tbody tr');

function shot(page: Page, name: string): Promise<Buffer> {
  mkdirSync(RESULTS, { recursive: true });
  return page.screenshot({ path: join(RESULTS, `${name}.png`), fullPage: true });
}

/** The link of the nth mail (1-based) to `email` that links to `path`, once it has arrived. */
function mailedLink(email: string, path: 'accept-invite' | 'reset-password', nth = 1): Promise<string> {
  const pattern = new RegExp(`(https?://\\S+/${path}\\?token=[A-Za-z0-9_-]+)`);
  return waitFor(`mail ${nth} to ${email} with /${path}`, () =>
    demo
      .mail!.received.filter((m) => m.envelopeTo.includes(email))
      .map((m) => pattern.exec(m.parsed.text ?? '')?.[1])
      .filter((l): l is string => l !== undefined)[nth - 1],
  );
}

/** Users of role `role` made in the store: created a minute apart, signed in at `signIns[i]` minutes after T (null: never). */
async function seed(role: string, signIns: Array<number | null>, t: number): Promise<Array<{ id: string; email: string; at: number }>> {
  const { store, hasher } = demo.server.app.latchkey;
  const hash = await hasher.hash(PASSWORD);
  const seeded: Array<{ id: string; email: string; at: number }> = [];
  for (const [i, at] of signIns.entries()) {
    const id = randomUUID();
    const email = `${role}-${String(i).padStart(2, '0')}@example.com`;
    await store.createUser({ id, email, name: null, passwordHash: hash, roles: [role], emailVerified: true, createdAt: t + i * MINUTE });
    if (at !== null) {
      await store.createSession({
        id: randomUUID(),
        userId: id,
        createdAt: t + at * MINUTE,
        expiresAt: t + 1e10,
        idleExpiresAt: t + 1e10,
        userAgent: null,
        ip: null,
        refreshTokenHash: randomUUID(),
        authTime: t + at * MINUTE,
        amr: ['pwd'],
      });
    }
    seeded.push({ id, email, at: at === null ? -1 : at });
  }
  return seeded;
}

async function signInToConsole(page: Page): Promise<void> {
  await page.goto(h.url);
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
  await page.getByLabel('Email', { exact: true }).fill(adminEmail);
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('signed-in-as').filter({ hasText: adminEmail }).waitFor();
}

/** Waits for the table to settle (no stale rows) and returns the emails it shows. */
async function shownEmails(page: Page): Promise<string[]> {
  await page.locator('.users-table tbody:not(.stale)').waitFor({ state: 'attached' });
  await page.waitForFunction(() => !document.querySelector('.users-table')?.closest('[aria-busy="true"]'));
  return rows(page).locator('.cell-email a').allTextContents();
}

beforeAll(async () => {
  checkBuiltConsole();
  demo = await startDemo({ LOG_LEVEL: 'silent' }, { mail: true });
  const origin = `http://127.0.0.1:${(demo.server.app.server.address() as AddressInfo).port}`;
  h = { origin, url: `${origin}/console/`, browser: demo.browser, server: demo.server, calls: [], problems: [], close: () => demo.close() };
  adminEmail = `admin-${tag()}@example.com`;
  const reg = await demo.server.app.inject({ method: 'POST', url: '/auth/register', payload: { email: adminEmail, password: ADMIN_PASSWORD } });
  expect(reg.statusCode).toBe(201);
  await demo.server.app.latchkey.store.updateUser(reg.json().user.id, { roles: ['admin'] }, Date.now());
});

afterEach(() => {
  // The console must never run into its CSP.
  expect(h.problems).toEqual([]);
});

afterAll(async () => {
  await demo?.close();
});

describe('the console’s operator features, with real mail and the demo app’s pages', () => {
  it('invite -> mail -> the demo’s accept page -> sign in; then a reset link and an email change from the console', async () => {
    const invitee = `ivy-${tag()}@example.com`;
    await inFreshProfile(h, 'operator invite', async (context) => {
      const admin = await context.newPage();
      await admin.setViewportSize({ width: 1280, height: 900 });
      await signInToConsole(admin);

      // Invite from the create form.
      await admin.getByRole('link', { name: 'New user' }).click();
      await admin.getByRole('heading', { name: 'New user' }).waitFor();
      await admin.getByLabel(/Invite by email/).check();
      expect(await admin.getByLabel('Password', { exact: true }).count()).toBe(0);
      await admin.getByLabel('Email', { exact: true }).fill(invitee);
      await admin.getByLabel('Name').fill('Ivy Invited');
      await admin.getByRole('button', { name: 'Send invitation' }).click();
      await admin.getByRole('heading', { name: invitee, exact: true }).waitFor();
      await admin.getByRole('status').filter({ hasText: `Invited ${invitee}: a link to choose a password is on its way.` }).waitFor();
      expect(await admin.locator('.user-head').textContent()).toContain('invitation pending');
      expect(await admin.getByTestId('last-sign-in').textContent()).toBe('never');
      await admin.getByRole('button', { name: 'Resend invitation' }).waitFor();
      await shot(admin, 'op-1-invited');

      // The invited user: the mailed link opens the demo's accept page in their own browser.
      const link = await mailedLink(invitee, 'accept-invite');
      expect(link.startsWith(`${demo.url}/accept-invite?token=`)).toBe(true);
      await inFreshProfile(h, 'operator invitee', async (userContext) => {
        const page = await userContext.newPage();
        await page.goto(link);
        await page.getByRole('heading', { name: 'Accept your invitation' }).waitFor();
        // The token left the address bar at once.
        expect(page.url()).toBe(`${demo.url}/#/accept-invite`);
        await page.getByLabel('Password', { exact: true }).fill('short');
        await page.getByLabel('Confirm password').fill('short');
        await page.getByRole('button', { name: 'Set password' }).click();
        await page.locator('.field-error').filter({ hasText: 'at least 8 characters' }).waitFor();
        await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
        await page.getByLabel('Confirm password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Set password' }).click();
        await page.getByRole('heading', { name: 'Your account is ready' }).waitFor();
        await shot(page, 'op-2-accepted');
        await page.getByRole('button', { name: 'Sign in now' }).click();
        await page.getByTestId('signed-in-as').filter({ hasText: invitee }).waitFor();
      });

      // Back in the console: accepted, verified, signed in.
      await admin.reload();
      await admin.getByRole('heading', { name: invitee, exact: true }).waitFor();
      await admin.getByRole('button', { name: 'Send password-reset link' }).waitFor();
      expect(await admin.locator('.user-head').textContent()).not.toContain('invitation pending');
      expect(await admin.locator('.user-head').textContent()).toContain('verified');
      expect(await admin.getByTestId('last-sign-in').textContent()).not.toBe('never');
      expect(await admin.getByRole('table', { name: 'Recent events' }).textContent()).toContain('invite_accepted');

      // Send a reset link; the user follows it in the demo.
      await admin.getByRole('button', { name: 'Send password-reset link' }).click();
      await admin.getByRole('status').filter({ hasText: `A password-reset link was mailed to ${invitee}.` }).waitFor();
      expect(await admin.getByRole('table', { name: 'Recent events' }).textContent()).toContain('admin_password_reset_sent');
      const resetLink = await mailedLink(invitee, 'reset-password');
      const newPassword = 'a new passphrase from the reset link';
      await inFreshProfile(h, 'operator reset', async (userContext) => {
        const page = await userContext.newPage();
        await page.goto(resetLink);
        await page.getByLabel('New password', { exact: true }).fill(newPassword);
        await page.getByLabel('Confirm new password').fill(newPassword);
        await page.getByRole('button', { name: 'Set new password' }).click();
        await page.getByRole('heading', { name: 'Password changed' }).waitFor();
      });
      const login = await demo.server.app.inject({ method: 'POST', url: '/auth/login', payload: { email: invitee, password: newPassword } });
      expect(login.statusCode).toBe(200);

      // Change the email: unverified now, and the user signs in with the new address.
      const moved = `ivy-moved-${tag()}@example.com`;
      await admin.getByLabel('Email', { exact: true }).fill(moved.toUpperCase());
      await admin.getByRole('button', { name: 'Change email' }).click();
      await admin.getByRole('status').filter({ hasText: `Email changed to ${moved}; it is not verified yet.` }).waitFor();
      await admin.getByRole('heading', { name: moved, exact: true }).waitFor();
      expect(await admin.locator('.user-head').textContent()).toContain('not verified');
      expect(await admin.getByRole('table', { name: 'Recent events' }).textContent()).toContain(`previous email: ${invitee}`);
      await shot(admin, 'op-3-email-changed');
      // Taken: the server's 409 detail is shown.
      await admin.getByLabel('Email', { exact: true }).fill(adminEmail);
      await admin.getByRole('button', { name: 'Change email' }).click();
      await admin.getByRole('alert').filter({ hasText: 'Another account already has this email address.' }).waitFor();
      const movedLogin = await demo.server.app.inject({ method: 'POST', url: '/auth/login', payload: { email: moved, password: newPassword } });
      expect(movedLogin.statusCode).toBe(200);
      expect((await demo.server.app.inject({ method: 'POST', url: '/auth/login', payload: { email: invitee, password: newPassword } })).json().code).toBe(
        'INVALID_CREDENTIALS',
      );
    });
  });

  it('sorts by last sign-in across pages, and shows the total of the filters', async () => {
    // 75 users of one role (two pages of 50): sign-ins at 75 distinct minutes in a shuffled
    // order, except every 5th user, who never signed in.
    const role = `sorted${tag()}`;
    const t = Date.now() - 1000 * MINUTE;
    const signIns = Array.from({ length: 75 }, (_, i) => (i % 5 === 0 ? null : (i * 37) % 75));
    const seeded = await seed(role, signIns, t);
    // The server's order: most recent first, never last, ties (the never-signed-in) by id, descending too.
    const byRecent = [...seeded].sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1)).map((u) => u.email);
    const allUsers = (await demo.server.app.latchkey.store.listUsers({ limit: 1 })).total;

    await inFreshProfile(h, 'operator sort', async (context) => {
      const page = await context.newPage();
      await page.setViewportSize({ width: 1280, height: 900 });
      await signInToConsole(page);
      await page.getByTestId('user-count').filter({ hasText: `${allUsers} users` }).waitFor();

      await page.getByLabel('Role').fill(role);
      await page.getByTestId('user-count').filter({ hasText: '75 users match' }).waitFor();
      await page.getByTestId('page-info').filter({ hasText: 'Page 1 · rows 1–50 of 75' }).waitFor();

      await page.getByLabel('Sort').selectOption({ label: 'Last sign-in, most recent first' });
      await page.waitForFunction((first) => document.querySelector('.users-table tbody:not(.stale) .cell-email a')?.textContent === first, byRecent[0]);
      expect(await shownEmails(page)).toEqual(byRecent.slice(0, 50));
      const lastSignIns = await rows(page).locator('td[data-label="Last sign-in"]').allTextContents();
      expect(lastSignIns.filter((s) => s === 'never')).toEqual([]);
      await shot(page, 'op-4-sorted');

      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByTestId('page-info').filter({ hasText: 'Page 2 · rows 51–75 of 75' }).waitFor();
      expect(await shownEmails(page)).toEqual(byRecent.slice(50));
      // Never signed in: at the end, shown as such.
      expect((await rows(page).locator('td[data-label="Last sign-in"]').allTextContents()).slice(-15)).toEqual(Array(15).fill('never'));

      // The other direction starts again at page 1 (a cursor belongs to its sort): never first.
      await page.getByLabel('Sort').selectOption({ label: 'Last sign-in, longest ago first' });
      await page.getByTestId('page-info').filter({ hasText: 'Page 1 · rows 1–50 of 75' }).waitFor();
      await page.waitForFunction((first) => document.querySelector('.users-table tbody:not(.stale) .cell-email a')?.textContent === first, [...byRecent].reverse()[0]);
      expect(await shownEmails(page)).toEqual([...byRecent].reverse().slice(0, 50));
      expect(h.calls.filter((c) => c.path === '/admin/users' && c.status !== 200)).toEqual([]);
    });
  });
});

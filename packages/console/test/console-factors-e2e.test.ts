import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../server/src/features/factors/totp.js';
import { SoftwareAuthenticator, type CreationOptions } from '../../server/test/support/webauthn-authenticator.js';
import { inFreshProfile, REPO_ROOT, startConsole, type ConsoleHarness } from './harness.js';

// The console's own sign-in with a second factor, and the admin's view and reset of a user's
// factors, in Debian's Chromium against a real Latchkey started with MFA_REQUIRED_ROLES=admin:
// the admin has no factor, so the console must walk them through enrolment (QR code, first code,
// recovery codes shown once) to get in at all; the next sign-in asks for a code (a wrong one is
// refused, a recovery code works). Then a user's authenticator and passkey are shown on their
// page and removed by "Reset second factors" behind a confirmation.

const PASSWORD = 'correct horse battery staple';
const ORIGIN = 'http://latchkey.test'; // ISSUER of the test app: passkeys registered outside the browser use it

let h: ConsoleHarness;

function shot(page: Page, name: string): Promise<Buffer> {
  const dir = join(REPO_ROOT, 'test-results', 'console');
  mkdirSync(dir, { recursive: true });
  return page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  h = await startConsole({ MFA_REQUIRED_ROLES: 'admin' });
});

afterAll(async () => {
  await h?.close();
});

async function registerUser(email: string, roles: string[] = []): Promise<string> {
  const res = await h.server.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } });
  expect(res.statusCode, res.body).toBe(201);
  const id = (res.json() as { user: { id: string } }).user.id;
  if (roles.length > 0) await h.server.app.latchkey.store.updateUser(id, { roles }, Date.now());
  return id;
}

async function fillSignIn(page: Page, email: string): Promise<void> {
  await page.goto(h.url);
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('console: second factors', () => {
  it('an admin without a factor enrols at sign-in (QR, code, recovery codes once); the next sign-in asks for a code; the admin resets a user’s factors', async () => {
    const adminEmail = `admin-${Date.now()}@example.com`;
    const adminId = await registerUser(adminEmail, ['admin']);

    // A user with an authenticator and a passkey, enrolled outside the browser.
    const userEmail = `user-${Date.now()}@example.com`;
    const userId = await registerUser(userEmail);
    const login = await h.server.app.inject({ method: 'POST', url: '/auth/login', payload: { email: userEmail, password: PASSWORD } });
    const auth = { authorization: `Bearer ${(login.json() as { access_token: string }).access_token}` };
    const started = await h.server.app.inject({ method: 'POST', url: '/auth/factors/totp', headers: auth });
    const userSecret = (started.json() as { secret: string }).secret;
    const confirmed = await h.server.app.inject({ method: 'POST', url: '/auth/factors/totp/confirm', headers: auth, payload: { code: totpCode(userSecret, Date.now()) } });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    const opts = await h.server.app.inject({ method: 'POST', url: '/auth/passkeys/register/options', headers: auth });
    const credential = new SoftwareAuthenticator({ origin: ORIGIN }).create((opts.json() as { options: CreationOptions }).options);
    const registered = await h.server.app.inject({ method: 'POST', url: '/auth/passkeys/register/verify', headers: auth, payload: { response: credential, name: 'Phone' } });
    expect(registered.statusCode, registered.body).toBe(201);

    let secret = '';
    let recoveryCodes: string[] = [];
    await inFreshProfile(h, 'enrol-at-sign-in', async (context) => {
      const page = await context.newPage();
      await fillSignIn(page, adminEmail);
      await page.getByRole('heading', { name: 'Set up a second factor' }).waitFor();
      await expect(page.getByAltText('QR code for your authenticator app').getAttribute('src')).resolves.toMatch(/^data:image\/svg\+xml;base64,/);
      secret = (await page.getByTestId('totp-secret').textContent())!.trim();
      await shot(page, 'sign-in-enrolment');
      // Nobody is signed in yet: no console, no session.
      expect(await page.getByTestId('signed-in-as').count()).toBe(0);
      expect(await h.server.app.latchkey.store.listSessions(adminId, Date.now())).toHaveLength(0);

      await page.getByLabel('Code').fill(totpCode(secret, Date.now()));
      await page.getByRole('button', { name: 'Confirm and sign in' }).click();
      await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
      recoveryCodes = (await page.getByTestId('recovery-codes').locator('li').allTextContents()).map((c) => c.trim());
      expect(recoveryCodes).toHaveLength(10);
      await page.getByRole('button', { name: /I have saved them/ }).click();
      await page.getByTestId('signed-in-as').filter({ hasText: adminEmail }).waitFor();
      // Shown once: a reload restores the session straight into the console.
      await page.reload();
      await page.getByTestId('signed-in-as').filter({ hasText: adminEmail }).waitFor();
      expect(await page.getByTestId('recovery-codes').count()).toBe(0);
    });

    await inFreshProfile(h, 'code-step', async (context) => {
      const page = await context.newPage();
      await fillSignIn(page, adminEmail);
      await page.getByRole('heading', { name: 'Second factor' }).waitFor();
      await page.getByLabel('Code').fill('000000' === totpCode(secret, Date.now()) ? '111111' : '000000');
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByRole('alert').filter({ hasText: 'That code is wrong' }).waitFor();
      await page.getByRole('button', { name: 'Use a recovery code' }).click();
      await page.getByLabel('Recovery code').fill(recoveryCodes[0]!);
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByTestId('signed-in-as').filter({ hasText: adminEmail }).waitFor();
    });

    await inFreshProfile(h, 'reset-factors', async (context) => {
      const page = await context.newPage();
      await fillSignIn(page, adminEmail);
      await page.getByRole('heading', { name: 'Second factor' }).waitFor();
      // The code of the next step: the one of this step was spent by the enrolment if it is still current.
      await page.getByLabel('Code').fill(totpCode(secret, Date.now() + 30_000));
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByTestId('signed-in-as').filter({ hasText: adminEmail }).waitFor();

      await page.goto(`${h.url}#/users/${userId}`);
      await page.getByRole('heading', { name: userEmail }).waitFor();
      await expect(page.getByTestId('factor-totp').textContent()).resolves.toMatch(/^yes/);
      await expect(page.getByTestId('factor-recovery-codes').textContent()).resolves.toBe('10');
      await expect(page.getByTestId('factor-passkeys').textContent()).resolves.toContain('Phone');

      await page.getByRole('button', { name: 'Reset second factors…' }).click();
      await shot(page, 'user-factors-reset-confirm');
      await page.getByRole('alertdialog').getByRole('button', { name: 'Cancel' }).click();
      expect(await page.getByRole('alertdialog').count()).toBe(0);
      await page.getByRole('button', { name: 'Reset second factors…' }).click();
      await page.getByRole('alertdialog').getByRole('button', { name: 'Reset second factors' }).click();
      await page.getByText(/Second factors reset: removed the authenticator app, 10 recovery codes, 1 passkey/).waitFor();
      await expect(page.getByTestId('factor-totp').textContent()).resolves.toBe('no');
      await expect(page.getByTestId('factor-recovery-codes').textContent()).resolves.toBe('0');
      await expect(page.getByTestId('factor-passkeys').textContent()).resolves.toBe('none');
      await page.getByRole('cell', { name: 'factors_reset_by_admin' }).first().waitFor();
    });

    const events = await h.server.app.latchkey.store.listEvents(userId, 20);
    expect(events.find((e) => e.type === 'factors_reset_by_admin')?.detail).toMatchObject({ admin_id: adminId, totp: 1, passkeys: 1 });
    // The user signs in with the password alone now (no role requires a factor).
    const after = await h.server.app.inject({ method: 'POST', url: '/auth/login', payload: { email: userEmail, password: PASSWORD } });
    expect((after.json() as { access_token?: string }).access_token).toBeTypeOf('string');
    expect(h.problems).toEqual([]);
  });
});

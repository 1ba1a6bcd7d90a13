import { Secret, TOTP } from 'otpauth';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inFreshProfile, realTimeClockAhead, screenshotPath, startDemo, type DemoHarness } from './harness.js';
import { autofillPending, recordWebAuthnRequests, virtualAuthenticator } from './webauthn.js';

// The enrolment a role requires (MFA_REQUIRED_ROLES=ops) through the built demo, in Debian's
// Chromium against a real Latchkey (SQLite file) with /auth on the page's origin: a user of the
// role signs in with the password and is walked through adding an authenticator (QR code, first
// code, recovery codes shown once) or a passkey (a CDP virtual authenticator) before any session;
// the next sign-in asks for the second factor.

const PASSWORD = 'correct horse battery staple';
const clock = realTimeClockAhead();

let demo: DemoHarness;

beforeAll(async () => {
  demo = await startDemo({ RATE_LIMIT_LOGIN: '1000/1m', RATE_LIMIT_PASSKEY_OPTIONS: '1000/1m', MFA_REQUIRED_ROLES: 'ops' }, { passkeys: true, clock });
});

afterAll(async () => {
  await demo?.close();
});

/** A registered user holding the `ops` role (given in the store, as an admin would); nobody signed in. */
async function opsUser(): Promise<{ email: string; id: string }> {
  const email = `ops-${Math.random().toString(36).slice(2)}@example.com`;
  const res = await demo.server.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } });
  expect(res.statusCode, res.body).toBe(201);
  const id = (res.json() as { user: { id: string } }).user.id;
  await demo.server.app.latchkey.store.updateUser(id, { roles: ['ops'] }, clock());
  return { email, id };
}

function codeFor(secret: string, steps = 0): string {
  return new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: clock() + steps * 30_000 });
}

async function signIn(page: Page, email: string): Promise<void> {
  await page.goto(`${demo.url}/#/login`);
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

async function sessions(userId: string): Promise<number> {
  return (await demo.server.app.latchkey.store.listSessions(userId, clock())).length;
}

describe('a role that requires a second factor, in Chromium', () => {
  it('walks the user through the authenticator enrolment before any session; the recovery codes are shown once; the next sign-in asks for a code', async () => {
    const user = await opsUser();
    await inFreshProfile(demo.browser, 'enrol authenticator at sign-in', async (context) => {
      const page = await context.newPage();
      await signIn(page, user.email);
      await page.getByRole('heading', { name: 'Set up two-step verification' }).waitFor();
      const qr = page.getByAltText('QR code for your authenticator app');
      // The QR code is an image the browser decoded (not a broken one).
      await expect.poll(() => qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
      expect(await page.getByTestId('signed-in-as').count()).toBe(0);
      expect(await sessions(user.id)).toBe(0);
      await page.screenshot({ path: screenshotPath('enrol-at-sign-in'), fullPage: true });

      const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
      await page.getByLabel('Authentication code').fill(codeFor(secret, 3)); // outside the ±1 window
      await page.getByRole('button', { name: 'Confirm and sign in' }).click();
      await page.getByRole('alert').waitFor();
      expect(await sessions(user.id)).toBe(0);
      await page.getByLabel('Authentication code').fill(codeFor(secret));
      await page.getByRole('button', { name: 'Confirm and sign in' }).click();
      await page.getByTestId('signed-in-as').filter({ hasText: user.email }).waitFor();

      // The Security page shows the recovery codes of the enrolment, once.
      await page.getByRole('heading', { name: 'Security', exact: true }).waitFor();
      const codes = page.getByTestId('recovery-codes').locator('li');
      await codes.first().waitFor();
      expect(await codes.count()).toBe(10);
      await page.getByRole('button', { name: 'I have saved them' }).click();
      expect(await page.getByTestId('recovery-codes').count()).toBe(0);
      await page.reload();
      await page.getByTestId('signed-in-as').filter({ hasText: user.email }).waitFor();
      expect(await page.getByTestId('recovery-codes').count()).toBe(0);

      await page.getByRole('button', { name: 'Log out' }).click();
      await signIn(page, user.email);
      await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
      await page.getByLabel('Authentication code').fill(codeFor(secret, 1));
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByTestId('signed-in-as').filter({ hasText: user.email }).waitFor();
    });
  });

  it('or with a passkey: created at sign-in, it signs in, and later signs in alone', async () => {
    const user = await opsUser();
    await inFreshProfile(demo.browser, 'enrol passkey at sign-in', async (context) => {
      await recordWebAuthnRequests(context);
      const page = await context.newPage();
      const { presence } = await virtualAuthenticator(context, page);
      await signIn(page, user.email);
      await page.getByRole('heading', { name: 'Set up two-step verification' }).waitFor();
      await page.getByRole('button', { name: 'Use a passkey instead' }).click();
      await page.getByTestId('signed-in-as').filter({ hasText: user.email }).waitFor();
      expect(await demo.server.app.latchkey.store.listPasskeys(user.id)).toHaveLength(1);

      // The sign-in page's passkey autofill must wait on a user that does not pick (presence off):
      // else the virtual authenticator answers it at once and signs in before the button's turn.
      await presence(false);
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
      await autofillPending(page);
      await presence(true);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await page.getByTestId('signed-in-as').filter({ hasText: user.email }).waitFor();
    });
  });
});

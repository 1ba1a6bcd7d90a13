import { Secret, TOTP } from 'otpauth';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inFreshProfile, realTimeClockAhead, screenshotPath, startDemo, type DemoHarness } from './harness.js';
import { autofillPending, recordWebAuthnRequests, until, virtualAuthenticator, webauthnRequests } from './webauthn.js';

// Passkeys and the authenticator app through the built demo, in Debian's Chromium driven by
// playwright-core, against a real Latchkey (SQLite file) with /auth on the page's origin.
// Passkeys: a CDP virtual authenticator (a platform authenticator holding discoverable
// credentials and verifying the user) stands in for the device; everything else is the
// browser's own WebAuthn. The page is http://localhost:<port> and the RP ID localhost.
// TOTP: the code is computed here, with the otpauth library, for the server's clock, which follows
// real time and is stepped ahead past the time limits (a code challenge's 5 minutes, the 10 minutes
// of STEP_UP_MAX_AGE after which a sensitive change asks "Confirm it's you").

const PASSWORD = 'correct horse battery staple';
const STEP = 30_000;
const clock = realTimeClockAhead();

let demo: DemoHarness;

beforeAll(async () => {
  demo = await startDemo({ RATE_LIMIT_LOGIN: '1000/1m', RATE_LIMIT_PASSKEY_OPTIONS: '1000/1m' }, { passkeys: true, clock });
});

afterAll(async () => {
  await demo?.close();
});

function newEmail(): string {
  return `factors-${Math.random().toString(36).slice(2)}@example.com`;
}

async function signedInAs(page: Page, email: string): Promise<void> {
  await page.getByTestId('signed-in-as').filter({ hasText: email }).waitFor();
}

async function signInPage(page: Page): Promise<void> {
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
}

async function register(page: Page, email: string): Promise<void> {
  await page.goto(`${demo.url}/#/register`);
  await page.getByLabel('Name').fill('Grace Hopper');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await signedInAs(page, email);
}

async function logOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Log out' }).click();
  await signInPage(page);
}

async function openSecurity(page: Page): Promise<void> {
  await page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Security' }).click();
  await page.getByRole('heading', { name: 'Security', exact: true }).waitFor();
  await page.getByRole('heading', { name: 'Passkeys' }).waitFor();
}

/** The code an authenticator app shows at the server's clock, `steps` steps away. */
function codeFor(secret: string, steps = 0): string {
  return new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({
    timestamp: demo.server.app.latchkey.clock() + steps * STEP,
  });
}

function exchangesSince(mark: number) {
  return demo.exchanges.filter((e) => e.startedAt >= mark);
}

describe('second factors in Chromium', () => {
  it('registers a passkey on the Security page, renames it, then signs in with it without typing an email; a removed passkey is refused', async () => {
    await inFreshProfile(demo.browser, 'passkey sign-in', async (context) => {
      await recordWebAuthnRequests(context);
      const page = await context.newPage();
      await page.setViewportSize({ width: 1000, height: 800 });
      const { cdp, authenticatorId, presence } = await virtualAuthenticator(context, page);
      const email = newEmail();
      await register(page, email);
      // This Chromium has the WebAuthn JSON helpers: the SDK uses them here (the fallback is the last test's).
      expect(
        await page.evaluate(
          () => typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function' && typeof PublicKeyCredential.prototype.toJSON === 'function',
        ),
      ).toBe(true);
      await openSecurity(page);
      await page.getByText('No passkeys yet.').waitFor();

      await page.getByLabel('Passkey name (optional)').fill('Test laptop');
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await page.getByText('Passkey “Test laptop” added.').waitFor();
      const list = page.getByRole('list', { name: 'Passkeys' });
      await list.getByText('Test laptop').waitFor();
      // The authenticator holds one discoverable credential for localhost, for this account.
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      expect(credentials).toHaveLength(1);
      expect(credentials[0]).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });
      await page.screenshot({ path: screenshotPath('security-passkey'), fullPage: true });

      await page.getByRole('button', { name: 'Rename Test laptop' }).click();
      await page.getByLabel('New name').fill('Desk');
      await page.getByRole('button', { name: 'Save' }).click();
      await list.getByText('Desk').waitFor();
      expect(await list.getByText('Test laptop').count()).toBe(0);
      // Eleven minutes after the sign-in, removing asks to confirm first; cancelled, nothing changes.
      clock.advance(11 * 60_000);
      await page.getByRole('button', { name: 'Remove Desk' }).click();
      await page.getByRole('dialog', { name: "Confirm it's you" }).waitFor();
      await page.getByRole('button', { name: 'Cancel' }).click();
      expect(await page.getByRole('dialog').count()).toBe(0);
      expect(await list.getByText('Desk').count()).toBe(1);

      // The sign-in page's autofill request waits at the authenticator, as for a user who picks nothing.
      await presence(false);
      await logOut(page);
      await page.screenshot({ path: screenshotPath('sign-in-with-passkey') });
      await autofillPending(page);
      const mark = performance.now();
      await presence(true);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await signedInAs(page, email);
      await page.getByRole('heading', { name: 'Profile', exact: true }).waitFor();
      expect(await page.getByLabel('Email').count()).toBe(0);
      const calls = exchangesSince(mark).map((e) => `${e.method} ${e.path} ${e.status}`);
      expect(calls).toContain('POST /auth/passkeys/login/options 200');
      expect(calls).toContain('POST /auth/passkeys/login/verify 200');
      expect(calls.filter((c) => c.startsWith('POST /auth/login'))).toEqual([]);
      // A reload keeps the session (the refresh cookie of the passkey sign-in).
      await page.reload();
      await signedInAs(page, email);

      // Signed in with a user-verifying passkey just now: removal needs no code.
      await openSecurity(page);
      await page.getByRole('button', { name: 'Remove Desk' }).click();
      await page.getByText('No passkeys yet.').waitFor();
      await presence(false);
      await logOut(page);
      // The sign-in page's autofill request must be waiting before presence is back: one sent after
      // it would be answered at once with the removed passkey (PASSKEY_UNKNOWN), and the SDK's
      // signalUnknownCredential would have the authenticator drop it before the button's turn.
      await autofillPending(page);
      await presence(true);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await page.getByRole('alert').filter({ hasText: 'This passkey is not registered here' }).waitFor();
      expect(await page.getByTestId('signed-in-as').count()).toBe(0);
    });
  });

  it('enrols the authenticator app (QR code, recovery codes shown once), then signs in with password + code; a wrong code shows the server’s message; a recovery code works', async () => {
    await inFreshProfile(demo.browser, 'totp sign-in', async (context) => {
      const page = await context.newPage();
      await page.setViewportSize({ width: 1000, height: 800 });
      const email = newEmail();
      await register(page, email);
      await openSecurity(page);

      await page.getByRole('button', { name: 'Set up authenticator app' }).click();
      const qr = page.getByRole('img', { name: 'QR code for your authenticator app' });
      await qr.waitFor();
      expect(await qr.getAttribute('src')).toMatch(/^data:image\/svg\+xml;base64,/);
      // The image really renders (a decodable SVG of the right size), not a broken icon.
      expect(await qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
      const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      await page.screenshot({ path: screenshotPath('security-totp-enrol'), fullPage: true });

      await page.getByLabel('Code from the app').fill(codeFor(secret));
      await page.getByRole('button', { name: 'Turn on' }).click();
      const codes = page.getByTestId('recovery-codes').locator('li');
      await codes.first().waitFor();
      expect(await codes.count()).toBe(10);
      const recoveryCode = (await codes.nth(3).textContent())!.trim();
      await page.getByTestId('recovery-codes-left').filter({ hasText: '10 of 10 recovery codes left.' }).waitFor();
      await page.screenshot({ path: screenshotPath('security-recovery-codes'), fullPage: true });
      await page.getByRole('button', { name: 'I have saved them' }).click();
      expect(await page.getByTestId('recovery-codes').count()).toBe(0);

      await logOut(page);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
      // The password alone started no session.
      expect(await page.getByTestId('signed-in-as').count()).toBe(0);
      await page.screenshot({ path: screenshotPath('sign-in-code-step'), fullPage: true });

      // Not the code of any accepted step: the server's message is shown, the step stays.
      const accepted = new Set([codeFor(secret, -1), codeFor(secret), codeFor(secret, 1)]);
      const wrong = ['000000', '111111', '222222', '333333'].find((c) => !accepted.has(c))!;
      await page.getByLabel('Authentication code').fill(wrong);
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByRole('alert').filter({ hasText: 'The code is wrong, expired or already used.' }).waitFor();
      expect(await page.getByTestId('signed-in-as').count()).toBe(0);

      // The current step's code confirmed the factor and is spent: the next step's is accepted.
      await page.getByLabel('Authentication code').fill(codeFor(secret, 1));
      await page.getByRole('button', { name: 'Verify' }).click();
      await signedInAs(page, email);

      // A recovery code in place of the app; then one fewer is left.
      await logOut(page);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('button', { name: 'Use a recovery code' }).click();
      await page.getByLabel('Recovery code').fill(recoveryCode);
      await page.getByRole('button', { name: 'Verify' }).click();
      await signedInAs(page, email);
      await openSecurity(page);
      await page.getByTestId('recovery-codes-left').filter({ hasText: '9 of 10 recovery codes left.' }).waitFor();

      // Eleven minutes later (STEP_UP_MAX_AGE is 10) the sign-in is no longer fresh: new codes need a code first.
      clock.advance(11 * 60_000);
      await page.getByRole('button', { name: 'Generate new recovery codes' }).click();
      await page.getByRole('dialog', { name: "Confirm it's you" }).waitFor();
      expect(await page.getByTestId('recovery-codes').count()).toBe(0);
      await page.getByLabel('Code or recovery code').fill(codeFor(secret));
      await page.getByRole('button', { name: 'Confirm', exact: true }).click();
      await page.getByTestId('recovery-codes').locator('li').first().waitFor();
      expect(await page.getByTestId('recovery-codes').locator('li').count()).toBe(10);
      expect(await page.getByTestId('recovery-codes').textContent()).not.toContain(recoveryCode);
      await page.getByRole('button', { name: 'I have saved them' }).click();
      await page.getByTestId('recovery-codes-left').filter({ hasText: '10 of 10 recovery codes left.' }).waitFor();

      // Change password eleven minutes later: with a second factor the current password is not enough.
      clock.advance(11 * 60_000);
      const NEW_PASSWORD = 'a brand new passphrase';
      await page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Password' }).click();
      await page.getByLabel('Current password').fill(PASSWORD);
      await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
      await page.getByLabel('Confirm new password').fill(NEW_PASSWORD);
      await page.getByRole('button', { name: 'Change password' }).click();
      const dialog = page.getByRole('dialog', { name: "Confirm it's you" });
      await dialog.waitFor();
      expect(await dialog.getByLabel('Password').count()).toBe(0);
      await dialog.getByLabel('Code or recovery code').fill(codeFor(secret));
      await dialog.getByRole('button', { name: 'Confirm', exact: true }).click();
      await page.getByText('Password changed. Your other sessions have been signed out.').waitFor();

      // A code step left open past MFA_CHALLENGE_TTL (5 minutes) goes back to the password.
      await logOut(page);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(NEW_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
      clock.advance(6 * 60_000);
      await page.getByLabel('Authentication code').fill(codeFor(secret));
      await page.getByRole('button', { name: 'Verify' }).click();
      await signInPage(page);
      await page.getByText('That sign-in expired. Enter your email and password again.').waitFor();
      expect(await page.getByTestId('signed-in-as').count()).toBe(0);
    });
  });

  it('an old sign-in removing its passkey is asked "Confirm it\'s you": a wrong password is refused, the right one confirms and the removal goes through', async () => {
    await inFreshProfile(demo.browser, 'step-up', async (context) => {
      const page = await context.newPage();
      await page.setViewportSize({ width: 1000, height: 800 });
      await virtualAuthenticator(context, page);
      const email = newEmail();
      await register(page, email);
      await openSecurity(page);
      await page.getByLabel('Passkey name (optional)').fill('Old phone');
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      const list = page.getByRole('list', { name: 'Passkeys' });
      await list.getByText('Old phone').waitFor();

      // The sign-in is now older than STEP_UP_MAX_AGE (10 minutes).
      clock.advance(11 * 60_000);
      const mark = performance.now();
      await page.getByRole('button', { name: 'Remove Old phone' }).click();
      const dialog = page.getByRole('dialog', { name: "Confirm it's you" });
      await dialog.waitFor();
      // This account has no authenticator app: its password, or its passkey.
      expect(await dialog.getByLabel('Password').count()).toBe(1);
      expect(await dialog.getByRole('button', { name: 'Use a passkey' }).count()).toBe(1);
      await page.screenshot({ path: screenshotPath('confirm-its-you'), fullPage: true });

      await dialog.getByLabel('Password').fill('not my password');
      await dialog.getByRole('button', { name: 'Confirm', exact: true }).click();
      await dialog.getByRole('alert').filter({ hasText: 'That password is not correct.' }).waitFor();
      expect(await list.getByText('Old phone').count()).toBe(1);

      await dialog.getByLabel('Password').fill(PASSWORD);
      await dialog.getByRole('button', { name: 'Confirm', exact: true }).click();
      await page.getByText('No passkeys yet.').waitFor();
      expect(await page.getByRole('dialog').count()).toBe(0);
      const calls = exchangesSince(mark).map((e) => `${e.method} ${e.path.replace(/passkeys\/[^/]+$/, 'passkeys/:id')} ${e.status}`);
      expect(calls.filter((c) => !c.startsWith('GET '))).toEqual([
        'DELETE /auth/passkeys/:id 403',
        'POST /auth/reauthenticate 400',
        'POST /auth/reauthenticate 200',
        'DELETE /auth/passkeys/:id 204',
      ]);
      // Still signed in, through a reload too (the reauthentication rotated the refresh cookie).
      await page.reload();
      await signedInAs(page, email);
    });
  });

  it('without the browser’s JSON helpers (older browsers) the SDK’s own conversion registers and uses a passkey; a passkey answers the code step of a password login', async () => {
    await inFreshProfile(demo.browser, 'passkey fallback and second factor', async (context) => {
      // As in a browser before WebAuthn's JSON helpers (Chrome < 129, Safari < 18.4...).
      await context.addInitScript(() => {
        const pkc = PublicKeyCredential as unknown as Record<string, unknown> & { prototype: Record<string, unknown> };
        delete pkc.parseCreationOptionsFromJSON;
        delete pkc.parseRequestOptionsFromJSON;
        delete pkc.prototype.toJSON;
      });
      const page = await context.newPage();
      const { presence } = await virtualAuthenticator(context, page);
      const email = newEmail();
      await register(page, email);
      expect(
        await page.evaluate(() => {
          const pkc = PublicKeyCredential as unknown as Record<string, unknown> & { prototype: Record<string, unknown> };
          return 'parseCreationOptionsFromJSON' in pkc || 'parseRequestOptionsFromJSON' in pkc || 'toJSON' in pkc.prototype;
        }),
      ).toBe(false);
      await openSecurity(page);

      await page.getByRole('button', { name: 'Set up authenticator app' }).click();
      const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
      await page.getByLabel('Code from the app').fill(codeFor(secret));
      await page.getByRole('button', { name: 'Turn on' }).click();
      await page.getByRole('button', { name: 'I have saved them' }).click();
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await page.getByRole('list', { name: 'Passkeys' }).getByText('Passkey').waitFor();

      // Nothing picked from the autofill: the password and the code step.
      await presence(false);
      await logOut(page);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
      const mark = performance.now();
      await presence(true);
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      await signedInAs(page, email);
      const calls = exchangesSince(mark).map((e) => `${e.method} ${e.path} ${e.status}`);
      expect(calls).toContain('POST /auth/mfa/passkey/options 200');
      expect(calls).toContain('POST /auth/mfa/verify 200');

      // A user-verifying passkey alone satisfies the account's second factor: here the one the
      // sign-in page's autofill request gets at once from the authenticator, through the SDK's own conversion.
      const out = performance.now();
      await page.getByRole('button', { name: 'Log out' }).click();
      await until('the autofill sign-in', () => exchangesSince(out).some((e) => e.path === '/auth/passkeys/login/verify' && e.status === 200));
      await signedInAs(page, email);
      expect(exchangesSince(out).filter((e) => e.path === '/auth/login')).toEqual([]);
    });
  });

  it('passkey autofill: the email field offers passkeys (a conditional request from page load); a password sign-in and the passkey button take over without an error; a passkey the autofill gets signs in', async () => {
    await inFreshProfile(demo.browser, 'passkey autofill', async (context) => {
      await recordWebAuthnRequests(context);
      const page = await context.newPage();
      const { presence } = await virtualAuthenticator(context, page);
      const email = newEmail();
      await register(page, email);
      expect(await page.evaluate(() => PublicKeyCredential.isConditionalMediationAvailable())).toBe(true);
      await openSecurity(page);
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await page.getByRole('list', { name: 'Passkeys' }).getByText('Passkey').waitFor();

      // Nobody picks: the sign-in page's conditional request stays pending, the page is usable.
      await presence(false);
      await logOut(page);
      expect(await page.getByLabel('Email').getAttribute('autocomplete')).toBe('username webauthn');
      await until('the conditional request', async () => (await webauthnRequests(page)).some((r) => r.mediation === 'conditional' && r.outcome === 'pending'));
      expect(await webauthnRequests(page)).toEqual([{ mediation: 'conditional', outcome: 'pending' }]);
      await page.screenshot({ path: screenshotPath('sign-in-passkey-autofill-pending') });

      // A password sign-in takes over: the request is aborted, no error is shown.
      let mark = performance.now();
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await signedInAs(page, email);
      expect(await page.getByRole('alert').count()).toBe(0);
      await until('the aborted request', async () => (await webauthnRequests(page)).every((r) => r.outcome !== 'pending'));
      expect(await webauthnRequests(page)).toEqual([{ mediation: 'conditional', outcome: 'AbortError' }]);
      expect(exchangesSince(mark).map((e) => `${e.method} ${e.path} ${e.status}`)).toContain('POST /auth/login 200');
      expect(exchangesSince(mark).filter((e) => e.path === '/auth/passkeys/login/verify')).toEqual([]);

      // The passkey button takes over from a pending autofill request (a browser holds one per page).
      await logOut(page);
      await until('the next conditional request', async () => (await webauthnRequests(page)).filter((r) => r.outcome === 'pending').length === 1);
      await presence(true);
      mark = performance.now();
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await signedInAs(page, email);
      expect(await page.getByRole('alert').count()).toBe(0);
      expect((await webauthnRequests(page)).slice(1)).toEqual([
        { mediation: 'conditional', outcome: 'AbortError' },
        { mediation: 'optional', outcome: 'resolved' },
      ]);
      expect(exchangesSince(mark).map((e) => `${e.method} ${e.path} ${e.status}`)).toContain('POST /auth/passkeys/login/verify 200');

      // The authenticator answers the autofill's request (Chrome's automation picks the passkey
      // itself, where a user would pick it from the email field's list): signed in, no click.
      mark = performance.now();
      await page.getByRole('button', { name: 'Log out' }).click();
      await until('the autofill sign-in', () => exchangesSince(mark).some((e) => e.path === '/auth/passkeys/login/verify' && e.status === 200));
      await signedInAs(page, email);
      await page.getByRole('heading', { name: 'Profile', exact: true }).waitFor();
      const calls = exchangesSince(mark).map((e) => `${e.method} ${e.path} ${e.status}`);
      expect(calls.filter((c) => c.includes('/login'))).toEqual(['POST /auth/passkeys/login/options 200', 'POST /auth/passkeys/login/verify 200']);
      expect((await webauthnRequests(page)).at(-1)).toEqual({ mediation: 'conditional', outcome: 'resolved' });
      // A reload keeps the session the autofill started.
      await page.reload();
      await signedInAs(page, email);
    });
  });
});

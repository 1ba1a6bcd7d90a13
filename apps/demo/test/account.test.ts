import { readFileSync } from 'node:fs';
import { Secret, TOTP } from 'otpauth';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeDueAccounts } from '../../../packages/server/src/features/users/account-deletion.js';
import { waitFor } from '../../../packages/server/test/support/email.js';
import { inFreshProfile, realTimeClockAhead, screenshotPath, startDemo, type DemoHarness } from './harness.js';

// Issue 23 in Debian's Chromium (playwright-core): email sign-in, the mail language, "Download my
// data" and "Delete my account", through the built demo and a real Latchkey (real SQLite file)
// behind one same-origin proxy, with real mail: Latchkey's nodemailer sends over SMTP to an
// smtp-server on 127.0.0.1, and each link and code is read from the message that arrived.
// TOTP codes are computed with otpauth for the server's clock (real time, stepped ahead).

const PASSWORD = 'correct horse battery staple';
const DAY = 24 * 3600_000;

let demo: DemoHarness;
let grace: DemoHarness;

beforeAll(async () => {
  demo = await startDemo({ RATE_LIMIT_LOGIN: '1000/1m', RATE_LIMIT_MAIL: '1000/1m' }, { mail: true, clock: realTimeClockAhead() });
  grace = await startDemo({ RATE_LIMIT_LOGIN: '1000/1m', ACCOUNT_DELETION_GRACE: '7d' }, { mail: true, clock: realTimeClockAhead() });
});

afterAll(async () => {
  await demo?.close();
  await grace?.close();
});

function newEmail(): string {
  return `account-${Math.random().toString(36).slice(2)}@example.com`;
}

async function signedInAs(page: Page, email: string): Promise<void> {
  await page.getByTestId('signed-in-as').filter({ hasText: email }).waitFor();
}

async function signInPage(page: Page): Promise<void> {
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
}

async function register(harness: DemoHarness, page: Page, email: string, language?: 'English' | 'Deutsch'): Promise<void> {
  await page.goto(`${harness.url}/#/register`);
  await page.getByLabel('Name').fill('Ada Lovelace');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  if (language) await page.getByLabel('Mail language').selectOption({ label: language });
  await page.getByRole('button', { name: 'Create account' }).click();
  await signedInAs(page, email);
}

async function passwordSignIn(harness: DemoHarness, page: Page, email: string): Promise<void> {
  await page.goto(`${harness.url}/#/login`);
  await signInPage(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** A registered account (through the server), signed in nowhere. */
async function account(harness: DemoHarness): Promise<string> {
  const email = newEmail();
  const created = await harness.server.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } });
  expect(created.statusCode).toBe(201);
  return email;
}

/** The link and the code of the `nth` sign-in mail (1-based) that reached `email`. */
async function signInMail(harness: DemoHarness, email: string, nth = 1): Promise<{ link: string; code: string }> {
  const mail = await waitFor(`sign-in mail ${nth} to ${email}`, () => {
    const mails = harness.mail!.received.filter((m) => m.envelopeTo.includes(email) && (m.parsed.text ?? '').includes('/email-sign-in?token='));
    return mails[nth - 1];
  });
  const text = mail.parsed.text ?? '';
  const link = /(https?:\/\/\S+\/email-sign-in\?token=[A-Za-z0-9_-]+)/.exec(text)![1]!;
  const code = /(?<![\d\w=-])(\d{6})(?!\d)/.exec(text.replace(/https?:\/\/\S+/g, ''))![1]!;
  return { link, code };
}

/** "Email me a sign-in link" on the sign-in page, up to "Check your mail". */
async function askForMail(harness: DemoHarness, page: Page, email: string): Promise<void> {
  await page.goto(`${harness.url}/#/login`);
  await signInPage(page);
  await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
  await page.getByRole('heading', { name: 'Sign in by email' }).waitFor();
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
  await page.getByRole('heading', { name: 'Check your mail' }).waitFor();
}

/** Enrols TOTP for `email` through the API (the Security page's own flow is factors.test.ts's). */
async function enrolTotp(harness: DemoHarness, email: string): Promise<string> {
  const { app } = harness.server;
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
  const authorization = `Bearer ${login.json().access_token}`;
  const enrolment = await app.inject({ method: 'POST', url: '/auth/factors/totp', headers: { authorization } });
  const secret = enrolment.json().secret as string;
  const confirmed = await app.inject({ method: 'POST', url: '/auth/factors/totp/confirm', headers: { authorization }, payload: { code: codeFor(harness, secret) } });
  expect(confirmed.statusCode).toBe(200);
  // The next code step: the one just used is spent.
  harness.server.clock!.advance(30_000);
  return secret;
}

function codeFor(harness: DemoHarness, secret: string): string {
  return new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: harness.server.app.latchkey.clock() });
}

describe('email sign-in', () => {
  it('"Email me a sign-in link": the link opened in another browser signs in there (after a click); the code of the same mail is then spent', async () => {
    const email = await account(demo);
    await inFreshProfile(demo.browser, 'email sign-in link', async (context) => {
      const page = await context.newPage();
      await askForMail(demo, page, email);
      await page.screenshot({ path: screenshotPath('20-email-sign-in-check-mail') });
      const { link, code } = await signInMail(demo, email);
      expect(link).toMatch(new RegExp(`^${demo.url}/email-sign-in\\?token=`));

      // Another browser (a mail app's): no device binding. The page asks for a click first.
      await inFreshProfile(demo.browser, 'email sign-in link, other browser', async (other) => {
        const tab = await other.newPage();
        await tab.goto(link);
        await tab.getByRole('heading', { name: 'Sign in by email' }).waitFor();
        expect(tab.url()).toBe(`${demo.url}/#/email-sign-in`); // the token left the address bar
        await tab.screenshot({ path: screenshotPath('21-email-sign-in-link') });
        await tab.getByRole('button', { name: 'Sign in', exact: true }).click();
        await signedInAs(tab, email);
        await tab.getByRole('heading', { name: 'Profile', exact: true }).waitFor();
        // The same link again: spent.
        await tab.goto(link);
        await tab.getByRole('button', { name: 'Sign in', exact: true }).click();
        await tab.getByRole('alert').filter({ hasText: 'This sign-in link is invalid, already used, expired' }).waitFor();
      });

      await page.getByLabel('Sign-in code').fill(code);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('alert').filter({ hasText: 'That sign-in code or link is not valid' }).waitFor();
      expect(await page.getByTestId('signed-in-as').count()).toBe(0);
    });
  });

  it('by the code: a wrong one is refused, the right one signs in, and another tab follows', async () => {
    const email = await account(demo);
    await inFreshProfile(demo.browser, 'email sign-in code', async (context) => {
      const page = await context.newPage();
      const other = await context.newPage();
      await other.goto(`${demo.url}/#/profile`);
      await signInPage(other);
      await askForMail(demo, page, email);
      const { code } = await signInMail(demo, email);
      await page.getByLabel('Sign-in code').fill(code === '000000' ? '000001' : '000000');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('alert').filter({ hasText: 'That sign-in code or link is not valid' }).waitFor();
      await page.getByLabel('Sign-in code').fill(code);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await signedInAs(page, email);
      await signedInAs(other, email);
    });
  });

  it('an account with a second factor: the link leads to the code step of the sign-in page, then in', async () => {
    const email = await account(demo);
    const secret = await enrolTotp(demo, email);
    await inFreshProfile(demo.browser, 'email sign-in with a second factor', async (context) => {
      const page = await context.newPage();
      await askForMail(demo, page, email);
      const { link } = await signInMail(demo, email);
      await page.goto(link);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
      expect(await page.getByTestId('signed-in-as').count()).toBe(0);
      await page.getByLabel('Authentication code').fill(codeFor(demo, secret));
      await page.getByRole('button', { name: 'Verify' }).click();
      await signedInAs(page, email);
    });
  });
});

describe('the mail language', () => {
  it('Deutsch chosen on register: the verification mail is German; the profile shows the choice and changes it', async () => {
    await inFreshProfile(demo.browser, 'mail language', async (context) => {
      const page = await context.newPage();
      const email = newEmail();
      await register(demo, page, email, 'Deutsch');
      const mail = await waitFor(`verification mail to ${email}`, () =>
        demo.mail!.received.find((m) => m.envelopeTo.includes(email) && (m.parsed.text ?? '').includes('/verify-email?token=')),
      );
      expect(mail.parsed.subject ?? '').toMatch(/E-Mail|bestätigen/i);
      const stored = await demo.server.app.latchkey.store.findUserByEmail(email);
      expect(stored).toMatchObject({ locale: 'de' });

      const language = page.getByLabel('Mail language');
      expect(await language.inputValue()).toBe('de');
      await language.selectOption({ label: 'English' });
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByRole('status').filter({ hasText: 'Profile saved.' }).waitFor();
      await page.reload();
      await signedInAs(page, email);
      expect(await page.getByLabel('Mail language').inputValue()).toBe('en');
    });
  });
});

describe('your data', () => {
  it('"Download my data" saves the JSON export: the profile and the sessions, no password hash', async () => {
    await inFreshProfile(demo.browser, 'download my data', async (context) => {
      const page = await context.newPage();
      const email = newEmail();
      await register(demo, page, email);
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download my data' }).click()]);
      const stored = (await demo.server.app.latchkey.store.findUserByEmail(email))!;
      expect(download.suggestedFilename()).toBe(`latchkey-export-${stored.id}.json`);
      const text = readFileSync((await download.path())!, 'utf8');
      const data = JSON.parse(text) as { user: { email: string }; sessions: unknown[] };
      expect(data.user.email).toBe(email);
      expect(data.sessions.length).toBeGreaterThanOrEqual(1);
      expect(text).not.toContain(stored.passwordHash);
    });
  });

  it('"Delete my account": a wrong password keeps it; the right one deletes it, both tabs are signed out, and it cannot sign in again', async () => {
    await inFreshProfile(demo.browser, 'delete my account', async (context) => {
      const page = await context.newPage();
      const email = newEmail();
      await register(demo, page, email);
      const other = await context.newPage();
      await other.goto(`${demo.url}/#/profile`);
      await signedInAs(other, email);

      await page.getByRole('button', { name: 'Delete my account' }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete your account?' });
      await dialog.getByLabel('Your password').fill('not the password');
      await dialog.getByRole('button', { name: 'Delete my account permanently' }).click();
      await dialog.getByRole('alert').filter({ hasText: 'That password is not correct.' }).waitFor();
      expect(await demo.server.app.latchkey.store.findUserByEmail(email)).not.toBeNull();
      await page.screenshot({ path: screenshotPath('22-delete-account') });

      await dialog.getByLabel('Your password').fill(PASSWORD);
      await dialog.getByRole('button', { name: 'Delete my account permanently' }).click();
      await signInPage(page);
      await page.getByText('Your account has been deleted').waitFor();
      await signInPage(other);
      await other.getByText('Your account has been deleted').waitFor();
      expect(await demo.server.app.latchkey.store.findUserByEmail(email)).toBeNull();

      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('alert').filter({ hasText: 'That email and password do not match.' }).waitFor();
      // A reload finds no session either.
      await page.reload();
      await signInPage(page);
    });
  });

  it('an account with a second factor: "Confirm it\'s you" (a code) comes first, then the deletion goes through', async () => {
    const email = await account(demo);
    const secret = await enrolTotp(demo, email);
    await inFreshProfile(demo.browser, 'delete with a second factor', async (context) => {
      const page = await context.newPage();
      await passwordSignIn(demo, page, email);
      await page.getByLabel('Authentication code').fill(codeFor(demo, secret));
      await page.getByRole('button', { name: 'Verify' }).click();
      await signedInAs(page, email);
      demo.server.clock!.advance(11 * 60_000); // past the step-up window of that sign-in
      demo.server.clock!.advance(30_000);

      await page.getByRole('button', { name: 'Delete my account' }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete your account?' });
      await dialog.getByLabel('Your password').fill(PASSWORD);
      await dialog.getByRole('button', { name: 'Delete my account permanently' }).click();
      const confirm = page.getByRole('dialog', { name: "Confirm it's you" });
      await confirm.getByLabel('Code or recovery code').fill(codeFor(demo, secret));
      await confirm.getByRole('button', { name: 'Confirm' }).click();
      await signInPage(page);
      await page.getByText('Your account has been deleted').waitFor();
      expect(await demo.server.app.latchkey.store.findUserByEmail(email)).toBeNull();
    });
  });

  it('with ACCOUNT_DELETION_GRACE: the sign-in page says when; signing in again cancels the deletion', async () => {
    await inFreshProfile(grace.browser, 'scheduled deletion', async (context) => {
      const page = await context.newPage();
      const email = newEmail();
      await register(grace, page, email);
      await page.getByRole('button', { name: 'Delete my account' }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete your account?' });
      await dialog.getByLabel('Your password').fill(PASSWORD);
      await dialog.getByRole('button', { name: 'Delete my account permanently' }).click();
      await signInPage(page);
      await page.getByText('Your account is scheduled for deletion').filter({ hasText: 'It will be deleted on' }).waitFor();
      await page.screenshot({ path: screenshotPath('23-deletion-scheduled') });
      expect((await grace.server.app.latchkey.store.findUserByEmail(email))?.deletionDueAt).toBeGreaterThan(grace.server.app.latchkey.clock() + 6 * DAY);

      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await signedInAs(page, email);
      expect((await grace.server.app.latchkey.store.findUserByEmail(email))?.deletionDueAt).toBeNull();
      // Past the due time the housekeeping purge leaves the account alone.
      grace.server.clock!.advance(8 * DAY);
      await purgeDueAccounts(grace.server.app.latchkey);
      expect(await grace.server.app.latchkey.store.findUserByEmail(email)).not.toBeNull();
    });
  });
});

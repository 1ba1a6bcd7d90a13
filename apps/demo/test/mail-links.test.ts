import type { BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../packages/server/test/support/email.js';
import { inFreshProfile, realTimeClockAhead, screenshotPath, startDemo, type DemoHarness } from './harness.js';

// The mailed links followed in Debian's Chromium (playwright-core): the built demo and a real
// Latchkey (real SQLite file) behind one same-origin proxy, APP_URL pointing at it, and real mail:
// Latchkey's nodemailer sends over SMTP to an smtp-server on 127.0.0.1, and each link is taken
// from the message that arrived and opened in the browser as a user would.
// The rate limits are on (high enough for the tests' own traffic) and the login backoff engages
// after 3 failures for 60 s, so that 429s come from the server's real rules.

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a brand new passphrase';

const RATE_LIMITS = {
  RATE_LIMIT_ENABLED: 'true',
  RATE_LIMIT_LOGIN: '1000/1m',
  RATE_LIMIT_PASSKEY_OPTIONS: '1000/1m',
  RATE_LIMIT_REGISTER: '1000/1m',
  RATE_LIMIT_REFRESH: '1000/1m',
  RATE_LIMIT_MAIL: '1000/1m',
  RATE_LIMIT_DEFAULT: '10000/1m',
  LOGIN_BACKOFF_THRESHOLD: '3',
  LOGIN_BACKOFF_BASE: '60s',
};

let demo: DemoHarness;
let strict: DemoHarness;

beforeAll(async () => {
  demo = await startDemo(RATE_LIMITS, { mail: true, clock: realTimeClockAhead() });
  strict = await startDemo({ ...RATE_LIMITS, REQUIRE_VERIFIED_EMAIL: 'true' }, { mail: true });
});

afterAll(async () => {
  await demo?.close();
  await strict?.close();
});

function newEmail(): string {
  return `links-${Math.random().toString(36).slice(2)}@example.com`;
}

type LinkPath = 'verify-email' | 'reset-password';

function linksTo(harness: DemoHarness, email: string, path: LinkPath): string[] {
  const pattern = new RegExp(`(https?://\\S+/${path}\\?token=[A-Za-z0-9_-]+)`);
  return harness
    .mail!.received.filter((m) => m.envelopeTo.includes(email))
    .map((m) => pattern.exec(m.parsed.text ?? '')?.[1])
    .filter((link): link is string => link !== undefined);
}

/** The link of the `nth` mail (1-based) to `email` with a link to `path`, once it has arrived. */
function mailedLink(harness: DemoHarness, email: string, path: LinkPath, nth = 1): Promise<string> {
  return waitFor(`mail ${nth} to ${email}`, () => linksTo(harness, email, path)[nth - 1]);
}

/** The newest such link once every mail in flight has been delivered: the one that works. */
async function newestLink(harness: DemoHarness, email: string, path: LinkPath): Promise<string> {
  await mailedLink(harness, email, path);
  await harness.server.app.latchkey.mail.idle();
  return linksTo(harness, email, path).at(-1)!;
}

function tokenOf(link: string): string {
  return new URL(link).searchParams.get('token')!;
}

/** Every Referer a page sends, and every request URL other than the page's own navigations. */
function watchRequests(page: Page): { referers: string[]; urls: string[]; settled(): Promise<unknown> } {
  const referers: string[] = [];
  const urls: string[] = [];
  const pending: Array<Promise<unknown>> = [];
  page.on('request', (request) => {
    if (!request.isNavigationRequest()) urls.push(request.url());
    pending.push(
      request.allHeaders().then((headers) => {
        if (headers.referer) referers.push(headers.referer);
      }),
    );
  });
  return { referers, urls, settled: () => Promise.all(pending) };
}

async function signedInAs(page: Page, email: string): Promise<void> {
  await page.getByTestId('signed-in-as').filter({ hasText: email }).waitFor();
}

async function signInPage(page: Page): Promise<void> {
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
}

async function register(harness: DemoHarness, page: Page, email: string): Promise<void> {
  await page.goto(`${harness.url}/#/register`);
  await page.getByLabel('Name').fill('Ada Lovelace');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
}

async function submitSignIn(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

async function login(harness: DemoHarness, page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.goto(`${harness.url}/#/login`);
  await signInPage(page);
  await submitSignIn(page, email, password);
  await signedInAs(page, email);
}

/** The profile's badge for the address: "verified" or "not verified". */
async function badge(page: Page, text: 'verified' | 'not verified'): Promise<void> {
  await page.locator('.facts .badge').filter({ hasText: new RegExp(`^${text}$`) }).waitFor();
}

async function openInNewTab(context: BrowserContext, link: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(link);
  return page;
}

/** An admin of `harness`'s server, for its /admin API (the admin console is tested in packages/console). */
async function adminToken(harness: DemoHarness): Promise<string> {
  const { app } = harness.server;
  const email = newEmail();
  const created = await app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } });
  await app.latchkey.store.updateUser(created.json().user.id, { roles: ['admin'] }, Date.now());
  return (await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } })).json().access_token;
}

async function userId(harness: DemoHarness, email: string): Promise<string> {
  return (await harness.server.app.latchkey.store.findUserByEmail(email))!.id;
}

describe('verification link', () => {
  it('register, then the mailed link (new tab) confirms the address: both tabs show it; the token leaves the address bar and never travels as a Referer', async () => {
    await inFreshProfile(demo.browser, 'verification link', async (context) => {
      const page = await context.newPage();
      const email = newEmail();
      await register(demo, page, email);
      await signedInAs(page, email);
      await badge(page, 'not verified');

      const link = await mailedLink(demo, email, 'verify-email');
      const token = tokenOf(link);
      expect(link).toBe(`${demo.url}/verify-email?token=${token}`);
      const tab = await context.newPage();
      const requests = watchRequests(tab);
      await tab.goto(link);
      await tab.getByRole('heading', { name: 'Confirm your email address' }).waitFor();
      expect(tab.url()).toBe(`${demo.url}/#/verify-email`);
      await tab.getByText(`Confirm that ${email} is your address.`).waitFor();
      await tab.screenshot({ path: screenshotPath('7-verify-email') });
      await tab.getByRole('button', { name: 'Confirm email address' }).click();
      await tab.getByRole('status').filter({ hasText: `Your email address ${email} is verified.` }).waitFor();
      await badge(page, 'verified'); // the first tab, without a reload

      await tab.getByRole('link', { name: 'Go to your profile' }).click();
      await tab.getByRole('heading', { name: 'Profile', exact: true }).waitFor();
      await badge(tab, 'verified');
      await tab.goBack();
      expect(tab.url()).toBe(`${demo.url}/#/verify-email`);
      await requests.settled();
      expect(requests.referers).toEqual([]);
      expect(requests.urls.filter((u) => u.includes(token))).toEqual([]);
      expect(await tab.evaluate(() => document.querySelector('meta[name="referrer"]')?.getAttribute('content'))).toBe('no-referrer');
    });
  });

  it('a superseded link says so and offers a new one, whose 429 shows the retry time; the newest link works', async () => {
    await inFreshProfile(demo.browser, 'superseded verification link', async (context) => {
      const page = await context.newPage();
      const email = newEmail();
      await register(demo, page, email);
      await signedInAs(page, email);
      const first = await mailedLink(demo, email, 'verify-email', 1);

      // The registration mail counts toward the once-a-minute limit: right after it, the wait.
      await page.getByRole('button', { name: 'Send a new link' }).click();
      const early = page.getByRole('alert').filter({ hasText: 'A link was sent less than a minute ago. Try again in' });
      await early.waitFor();
      expect(await page.getByRole('button', { name: 'Send a new link' }).isDisabled()).toBe(true);
      // A minute later (on the server's clock), a new page: the new link goes.
      demo.server.clock!.advance(61_000);
      await page.reload();
      await page.getByRole('button', { name: 'Send a new link' }).click();
      await page.getByRole('status').filter({ hasText: `A new link is on its way to ${email}.` }).waitFor();
      const second = await mailedLink(demo, email, 'verify-email', 2);

      const tab = await openInNewTab(context, first);
      await tab.getByRole('button', { name: 'Confirm email address' }).click();
      await tab.getByRole('alert').filter({ hasText: 'This verification link is invalid, already used or expired.' }).waitFor();
      await tab.getByRole('button', { name: 'Send a new link' }).click();
      const limited = tab.getByRole('alert').filter({ hasText: 'A link was sent less than a minute ago.' });
      await limited.waitFor();
      const seconds = Number(/Try again in (\d+) seconds?\./.exec(await limited.innerText())?.[1]);
      expect(seconds).toBeGreaterThan(0);
      expect(seconds).toBeLessThanOrEqual(60);
      expect(await tab.getByRole('button', { name: 'Send a new link' }).isDisabled()).toBe(true);
      await tab.screenshot({ path: screenshotPath('8-verify-email-used') });

      await tab.goto(second);
      await tab.getByRole('button', { name: 'Confirm email address' }).click();
      await tab.getByRole('status').filter({ hasText: `Your email address ${email} is verified.` }).waitFor();
      await badge(page, 'verified');
      // The same link once more: used; the way forward for a verified user is the profile.
      await tab.goto(second);
      await tab.getByRole('button', { name: 'Confirm email address' }).click();
      await tab.getByRole('alert').filter({ hasText: 'This verification link is invalid, already used or expired.' }).waitFor();
      await tab.getByText(`Your address ${email} is already verified.`).waitFor();
    });
  });
});

describe('password reset link', () => {
  it('forgot password -> mail -> link -> new password: every tab is signed out and says why; the new password works, the old does not; the used link offers a new one', async () => {
    await inFreshProfile(demo.browser, 'password reset link', async (context) => {
      const page = await context.newPage();
      const email = newEmail();
      await register(demo, page, email);
      await signedInAs(page, email);
      await page.getByRole('link', { name: 'Sessions' }).click();
      await page.getByRole('heading', { name: 'Sessions' }).waitFor();

      // Another tab of the same browser: the page that "Forgot password?" leads to.
      const tab = await context.newPage();
      await tab.goto(`${demo.url}/#/forgot-password`);
      await tab.getByRole('heading', { name: 'Reset your password' }).waitFor();
      await tab.getByLabel('Email').fill(email);
      await tab.getByRole('button', { name: 'Send reset link' }).click();
      await tab.getByRole('status').filter({ hasText: `If an account exists for ${email}, a link to reset its password is on its way.` }).waitFor();
      await tab.screenshot({ path: screenshotPath('9-forgot-password') });

      const link = await mailedLink(demo, email, 'reset-password');
      expect(link).toBe(`${demo.url}/reset-password?token=${tokenOf(link)}`);
      const requests = watchRequests(tab);
      await tab.goto(link);
      await tab.getByRole('heading', { name: 'Choose a new password' }).waitFor();
      expect(tab.url()).toBe(`${demo.url}/#/reset-password`);
      // A password the server refuses keeps the link usable.
      await tab.getByLabel('New password', { exact: true }).fill('short');
      await tab.getByLabel('Confirm new password').fill('short');
      await tab.getByRole('button', { name: 'Set new password' }).click();
      await tab.locator('#field-new_password-error').waitFor();
      await tab.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
      await tab.getByLabel('Confirm new password').fill(NEW_PASSWORD);
      await tab.screenshot({ path: screenshotPath('10-reset-password') });
      await tab.getByRole('button', { name: 'Set new password' }).click();
      await tab.getByRole('status').filter({ hasText: 'Your password has been changed' }).waitFor();
      await requests.settled();
      expect(requests.referers).toEqual([]);

      // The other tab was signed in: it is signed out, and says why.
      await signInPage(page);
      await page.getByRole('status').filter({ hasText: 'Your password was changed and every session was signed out.' }).waitFor();

      await tab.getByRole('link', { name: 'Sign in' }).click();
      await signInPage(tab);
      await submitSignIn(tab, email, PASSWORD);
      await tab.getByRole('alert').filter({ hasText: 'That email and password do not match.' }).waitFor();
      await tab.getByLabel('Password').fill(NEW_PASSWORD);
      await tab.getByRole('button', { name: 'Sign in', exact: true }).click();
      await signedInAs(tab, email);
      await badge(tab, 'verified'); // a reset proves the address too

      await tab.goto(link);
      await tab.getByLabel('New password', { exact: true }).fill('yet another passphrase');
      await tab.getByLabel('Confirm new password').fill('yet another passphrase');
      await tab.getByRole('button', { name: 'Set new password' }).click();
      await tab.getByRole('alert').filter({ hasText: 'This password-reset link is invalid, already used or expired.' }).waitFor();
      await tab.getByRole('link', { name: 'Request a new link' }).click();
      await tab.getByRole('heading', { name: 'Reset your password' }).waitFor();
    });
  });

  it('a reloaded reset page has no token left and says how to get a new one', async () => {
    await inFreshProfile(demo.browser, 'reset page reloaded', async (context) => {
      const page = await context.newPage();
      await page.goto(`${demo.url}/reset-password?token=${'x'.repeat(43)}`);
      await page.getByLabel('New password', { exact: true }).waitFor();
      await page.reload();
      await page.getByRole('alert').filter({ hasText: 'This page has no reset link.' }).waitFor();
      await page.getByRole('link', { name: 'Request a new link' }).waitFor();
    });
  });

  it('Forgot password? on the sign-in page; the 4th request for one address within 15 minutes: the retry time the server gave', async () => {
    await inFreshProfile(demo.browser, 'reset rate limit', async (context) => {
      const page = await context.newPage();
      await page.goto(`${demo.url}/#/login`);
      await page.getByRole('link', { name: 'Forgot password?' }).click();
      await page.getByRole('heading', { name: 'Reset your password' }).waitFor();
      await page.getByLabel('Email').fill(newEmail());
      for (let i = 0; i < 3; i += 1) {
        await page.getByRole('button', { name: 'Send reset link' }).click();
        await page.getByRole('status').filter({ hasText: 'a link to reset its password is on its way' }).waitFor();
      }
      await page.getByRole('button', { name: 'Send reset link' }).click();
      const limited = page.getByRole('alert').filter({ hasText: 'Too many reset requests for this address.' });
      await limited.waitFor();
      const minutes = Number(/Try again in (\d+) minutes\./.exec(await limited.innerText())?.[1]);
      expect(minutes).toBeGreaterThan(1);
      expect(minutes).toBeLessThanOrEqual(15);
      expect(await page.getByRole('button', { name: 'Send reset link' }).isDisabled()).toBe(true);
    });
  });
});

/** The seconds of "Try again in N seconds." in `alert`, once it says so. */
async function secondsShown(alert: Locator): Promise<number> {
  const text = await alert.innerText();
  const seconds = /Try again in (\d+) seconds?\./.exec(text)?.[1];
  expect(seconds, text).toBeDefined();
  return Number(seconds);
}

/** Waits until `alert` shows fewer seconds than `than`: the wait counts down on the page. */
async function countsDownFrom(alert: Locator, than: number): Promise<void> {
  await expect
    .poll(async () => Number(/Try again in (\d+) seconds?\./.exec(await alert.innerText())?.[1] ?? Infinity), { timeout: 10_000, interval: 200 })
    .toBeLessThan(than);
}

const LIMITED = 'Too many sign-in attempts. Try again in';

describe('sign-in refusals and ended sessions', () => {
  it('login backoff: the failure that engages it shows the server’s wait at once, counting down; the same sentence on every attempt, even with the right password', async () => {
    await inFreshProfile(demo.browser, 'login backoff', async (context) => {
      const page = await context.newPage();
      const email = newEmail();
      await register(demo, page, email);
      await signedInAs(page, email);
      await page.getByRole('button', { name: 'Log out', exact: true }).click();
      await signInPage(page);

      for (let i = 0; i < 2; i += 1) {
        const mark = demo.exchanges.length;
        await submitSignIn(page, email, `wrong password ${i}`);
        await waitFor('the refused login', () => demo.exchanges.slice(mark).find((e) => e.path === '/auth/login'));
        await page.getByRole('alert').filter({ hasText: 'That email and password do not match.' }).waitFor();
      }
      // The third failure engages the backoff: the server answers 429 with Retry-After at once.
      await submitSignIn(page, email, 'wrong password 2');
      const engaged = page.getByRole('alert').filter({ hasText: LIMITED });
      await engaged.waitFor();
      const first = await secondsShown(engaged);
      expect(first).toBeGreaterThan(1);
      expect(first).toBeLessThanOrEqual(60);
      expect(await page.getByRole('button', { name: 'Sign in', exact: true }).isDisabled()).toBe(true);
      await countsDownFrom(engaged, first);

      // A new page, the right password: refused while the lock lasts, in the same words.
      await page.reload();
      await signInPage(page);
      await submitSignIn(page, email, PASSWORD);
      const again = page.getByRole('alert').filter({ hasText: LIMITED });
      await again.waitFor();
      expect(await again.innerText()).toMatch(/^Too many sign-in attempts\. Try again in \d+ seconds?\.$/);
      expect(await secondsShown(again)).toBeLessThanOrEqual(60);
      expect(await page.getByRole('button', { name: 'Sign in', exact: true }).isDisabled()).toBe(true);
      await page.screenshot({ path: screenshotPath('11-sign-in-backoff') });
      const limited = demo.exchanges.filter((e) => e.path === '/auth/login' && e.status === 429);
      expect(limited.map((e) => e.code)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
    });
  });

  it('the per-IP limit: the same sentence, counting down to zero, then signing in works', async () => {
    // Its own server: two logins per 10 s from one address, the backoff out of the way.
    const perIp = await startDemo({ ...RATE_LIMITS, RATE_LIMIT_LOGIN: '2/10s', LOGIN_BACKOFF_THRESHOLD: '100' });
    try {
      await inFreshProfile(perIp.browser, 'per-ip limit', async (context) => {
        const page = await context.newPage();
        const email = newEmail();
        await perIp.server.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } });
        await page.goto(`${perIp.url}/#/login`);
        await signInPage(page);
        const limited = page.getByRole('alert').filter({ hasText: LIMITED });
        // Wrong passwords until the limit answers (a window may start between two of them).
        for (let i = 0; i < 6 && !(await limited.isVisible()); i += 1) {
          const mark = perIp.exchanges.length;
          await submitSignIn(page, email, `wrong password ${i}`);
          await waitFor('the login answered', () => perIp.exchanges.slice(mark).find((e) => e.path === '/auth/login'));
          await page.getByRole('alert').waitFor();
        }
        await limited.waitFor();
        expect(perIp.exchanges.filter((e) => e.path === '/auth/login' && e.status === 429).map((e) => e.code)).toEqual(['RATE_LIMITED']);
        expect(await limited.innerText()).toMatch(/^Too many sign-in attempts\. Try again in \d+ seconds?\.$/);
        const first = await secondsShown(limited);
        expect(first).toBeLessThanOrEqual(10);
        expect(await page.getByRole('button', { name: 'Sign in', exact: true }).isDisabled()).toBe(true);
        // Counting down to zero: then it says so, and the button is back.
        await page.getByRole('alert').filter({ hasText: 'Too many sign-in attempts. You can try again now.' }).waitFor({ timeout: 20_000 });
        expect(await page.getByRole('button', { name: 'Sign in', exact: true }).isDisabled()).toBe(false);
        await submitSignIn(page, email, PASSWORD);
        await signedInAs(page, email);
      });
    } finally {
      await perIp.close();
    }
  });

  it('revoked from another device, by an admin, new roles with end_sessions, a password changed elsewhere, a disabled account: the sign-in page says why', async () => {
    await inFreshProfile(demo.browser, 'sessions ended elsewhere', async (context) => {
      const page = await context.newPage();
      const email = newEmail();
      await register(demo, page, email);
      await signedInAs(page, email);
      const admin = await adminToken(demo);
      const id = await userId(demo, email);
      const asAdmin = (method: 'PATCH' | 'POST', url: string, payload?: object) =>
        demo.server.app.inject({ method, url, headers: { authorization: `Bearer ${admin}` }, ...(payload ? { payload } : {}) });
      /** The page finds out at its next call (a click on Sessions), and the sign-in page says `sentence`. */
      const saysWhy = async (sentence: string) => {
        await page.getByRole('link', { name: 'Sessions' }).click();
        await signInPage(page);
        await page.getByRole('status').filter({ hasText: sentence }).waitFor();
      };

      await inFreshProfile(demo.browser, 'the other device', async (device) => {
        const other = await device.newPage();
        await login(demo, other, email);
        await other.getByRole('link', { name: 'Sessions' }).click();
        await other.locator('.session', { hasNotText: 'this browser' }).getByRole('button', { name: /^Revoke/ }).click();
        await other.locator('.session').nth(1).waitFor({ state: 'detached' });
      });
      await saysWhy('You were signed out: this session was ended from another of your devices.');
      await page.screenshot({ path: screenshotPath('12-sign-in-session-revoked') });

      // An administrator ends the sessions: this tab and a second one both say so.
      await login(demo, page, email);
      const second = await context.newPage();
      await second.goto(`${demo.url}/#/profile`);
      await signedInAs(second, email);
      expect((await asAdmin('POST', `/admin/users/${id}/revoke-sessions`)).statusCode).toBe(200);
      await saysWhy('You were signed out: an administrator ended this session.');
      await signInPage(second);
      await second.getByRole('status').filter({ hasText: 'You were signed out: an administrator ended this session.' }).waitFor();
      await second.close();

      // New roles: the session goes on; with end_sessions it ends, and the page says why.
      await login(demo, page, email);
      expect((await asAdmin('PATCH', `/admin/users/${id}`, { roles: ['editor'] })).statusCode).toBe(200);
      await page.getByRole('link', { name: 'Sessions' }).click();
      await page.locator('.session').first().waitFor();
      await signedInAs(page, email);
      expect((await asAdmin('PATCH', `/admin/users/${id}`, { roles: ['user'], end_sessions: true })).statusCode).toBe(200);
      // The profile page asks for the connected apps at once: that call finds out, with no other click.
      await page.getByRole('link', { name: 'Profile' }).click();
      await signInPage(page);
      await page.getByRole('status').filter({ hasText: 'You were signed out because an administrator changed your roles.' }).waitFor();

      // The password changed on another device.
      await login(demo, page, email);
      const elsewhere = (await demo.server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } })).json().access_token as string;
      const changed = await demo.server.app.inject({
        method: 'POST',
        url: '/auth/change-password',
        headers: { authorization: `Bearer ${elsewhere}` },
        payload: { current_password: PASSWORD, new_password: NEW_PASSWORD },
      });
      expect(changed.statusCode).toBe(204);
      await saysWhy('You were signed out because your password was changed on another device. Sign in with the new password.');

      // The account disabled: said at once, and again at the next sign-in.
      await login(demo, page, email, NEW_PASSWORD);
      expect((await asAdmin('PATCH', `/admin/users/${id}`, { disabled: true })).statusCode).toBe(200);
      await saysWhy('You were signed out because this account has been disabled. Contact the administrator.');
      await submitSignIn(page, email, NEW_PASSWORD);
      await page.getByRole('alert').filter({ hasText: 'This account has been disabled. Contact the administrator.' }).waitFor();
    });
  });
});

describe('REQUIRE_VERIFIED_EMAIL=true', () => {
  it('register, sign-in refused with a way forward, the (re)sent link verifies, then sign-in works', async () => {
    await inFreshProfile(strict.browser, 'require verified email', async (context) => {
      const page = await context.newPage();
      const email = newEmail();
      await register(strict, page, email);
      await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();
      await page.getByText(`Your account has been created. We have sent a link to ${email}`).waitFor();
      await page.screenshot({ path: screenshotPath('13-check-your-inbox') });

      await page.getByRole('link', { name: 'Go to sign in' }).click();
      await signInPage(page);
      await submitSignIn(page, email, PASSWORD);
      const refused = page.getByRole('alert').filter({ hasText: 'Confirm your email address first' });
      await refused.waitFor();
      await refused.getByText(email).waitFor();
      await refused.getByRole('button', { name: 'Send the link again' }).click();
      await page.getByRole('alert').filter({ hasText: 'Asked for another link.' }).waitFor();
      await page.screenshot({ path: screenshotPath('14-sign-in-unverified') });

      const link = await newestLink(strict, email, 'verify-email');
      await page.goto(link);
      await page.getByRole('button', { name: 'Confirm email address' }).click();
      await page.getByRole('status').filter({ hasText: `Your email address ${email} is verified.` }).waitFor();
      await page.getByRole('link', { name: 'Sign in' }).click();
      await signInPage(page);
      await submitSignIn(page, email, PASSWORD);
      await signedInAs(page, email);
      await badge(page, 'verified');

      // Used once: the page says so, and how a signed-out user gets a new link.
      await page.getByRole('button', { name: 'Log out', exact: true }).click();
      await signInPage(page);
      await page.goto(link);
      await page.getByRole('button', { name: 'Confirm email address' }).click();
      await page.getByRole('alert').filter({ hasText: 'This verification link is invalid, already used or expired.' }).waitFor();
      await page.getByRole('link', { name: 'sign in' }).waitFor();
    });
  });
});

import { Secret, TOTP } from 'otpauth';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../scripts/lib/local-services.mjs';
import { startGitHubStub, startOidcProvider, type TestAccount } from '../../../packages/server/test/support/social.js';
import { inFreshProfile, realTimeClockAhead, screenshotPath, startDemo, type DemoHarness } from './harness.js';

// Social sign-in through the built demo in Debian's Chromium (playwright-core), against a real
// Latchkey (SQLite file) with /auth on the page's origin, and two providers on 127.0.0.1: a real
// OpenID provider (oidc-provider, its own keys, its development login and consent pages, which
// the browser fills in) named "Test IdP", and the server suite's GitHub-shaped stub (it signs in
// whoever the test chose, at once). ISSUER is the page's origin, so the providers send the
// browser back to /auth/oauth/<id>/callback through the page's proxy, where the sign-in's cookie is.

const PASSWORD = 'correct horse battery staple';
const clock = realTimeClockAhead();
const accounts = new Map<string, TestAccount>();

let demo: DemoHarness;
let idp: Awaited<ReturnType<typeof startOidcProvider>>;
let github: Awaited<ReturnType<typeof startGitHubStub>>;

beforeAll(async () => {
  const port = await freePort();
  const page = `http://127.0.0.1:${port}`;
  idp = await startOidcProvider({
    clientId: 'demo-e2e',
    clientSecret: 'demo-e2e-secret',
    redirectUris: [`${page}/auth/oauth/testidp/callback`],
    accounts,
  });
  github = await startGitHubStub({ clientId: 'gh-e2e', clientSecret: 'gh-e2e-secret' });
  demo = await startDemo(
    {
      ISSUER: page,
      RATE_LIMIT_LOGIN: '1000/1m',
      SOCIAL_PROVIDERS: 'testidp,github',
      SOCIAL_TESTIDP_CLIENT_ID: 'demo-e2e',
      SOCIAL_TESTIDP_CLIENT_SECRET: 'demo-e2e-secret',
      SOCIAL_TESTIDP_ISSUER: idp.issuer,
      SOCIAL_TESTIDP_NAME: 'Test IdP',
      SOCIAL_GITHUB_CLIENT_ID: 'gh-e2e',
      SOCIAL_GITHUB_CLIENT_SECRET: 'gh-e2e-secret',
      SOCIAL_GITHUB_AUTHORIZE_URL: `${github.url}/login/oauth/authorize`,
      SOCIAL_GITHUB_TOKEN_URL: `${github.url}/login/oauth/access_token`,
      SOCIAL_GITHUB_API_URL: github.url,
    },
    { port, clock },
  );
  expect(demo.url).toBe(page);
});

afterAll(async () => {
  await demo?.close();
  await idp?.close();
  await github?.close();
});

const tag = () => Math.random().toString(36).slice(2, 10);

async function signedInAs(page: Page, email: string): Promise<void> {
  await page.getByTestId('signed-in-as').filter({ hasText: email }).waitFor();
}

async function signInPage(page: Page): Promise<void> {
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
}

async function logOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Log out' }).click();
  await signInPage(page);
}

async function openSecurity(page: Page): Promise<void> {
  await page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Security' }).click();
  await page.getByRole('heading', { name: 'Connected accounts' }).waitFor();
}

/** The provider's own pages: its login form (any password: its development interactions), then its consent. */
async function atTestIdp(page: Page, login: string): Promise<void> {
  await page.waitForURL((u) => u.origin === idp.issuer);
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('whatever the provider asks');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
}

/** Clicks "Sign in with Test IdP" on the demo's sign-in page and signs in at the provider as `login`. */
async function signInWithTestIdp(page: Page, login: string): Promise<void> {
  await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();
  await atTestIdp(page, login);
}

/** Every /auth exchange since `mark`, as "METHOD path status". */
function callsSince(mark: number): string[] {
  return demo.exchanges.filter((e) => e.startedAt >= mark).map((e) => `${e.method} ${e.path} ${e.status}`);
}

describe('social sign-in in Chromium', () => {
  it('"Sign in with Test IdP" goes through the provider’s login page and back signed in; the code leaves the address bar; the only way in cannot be unlinked', async () => {
    await inFreshProfile(demo.browser, 'social sign-in', async (context) => {
      const page = await context.newPage();
      await page.setViewportSize({ width: 1000, height: 800 });
      const login = `ada-${tag()}`;
      const email = `${login}@example.com`;
      accounts.set(login, { email, email_verified: true, name: 'Ada Lovelace' });

      await page.goto(`${demo.url}/`);
      await signInPage(page);
      await page.getByRole('button', { name: 'Sign in with GitHub' }).waitFor();
      await page.screenshot({ path: screenshotPath('sign-in-with-providers'), fullPage: true });
      const mark = performance.now();
      await signInWithTestIdp(page, login);
      await signedInAs(page, email);
      await page.getByRole('heading', { name: 'Profile', exact: true }).waitFor();

      // The exchange code is gone from the address, and no token ever was in one.
      expect(page.url()).not.toMatch(/[?&](code|error)=/);
      const calls = callsSince(mark);
      expect(calls).toContain('GET /auth/oauth/testidp/start 302');
      expect(calls).toContain('GET /auth/oauth/testidp/callback 302');
      expect(calls).toContain('POST /auth/oauth/exchange 200');
      expect(demo.exchanges.some((e) => e.issuedAccessToken !== null && page.url().includes(e.issuedAccessToken))).toBe(false);
      // A new account from the provider's verified claim.
      await page.getByText('verified', { exact: true }).waitFor();
      // A reload keeps the session (the refresh cookie of the exchange, cookie mode).
      await page.reload();
      await signedInAs(page, email);

      await openSecurity(page);
      const list = page.getByRole('list', { name: 'Connected accounts' });
      await list.getByText('Test IdP').waitFor();
      await list.getByText(email).waitFor();
      await page.getByTestId('password-status').filter({ hasText: 'You have no password here' }).waitFor();
      await page.getByRole('button', { name: `Unlink Test IdP ${email}` }).click();
      await page.getByTestId('last-sign-in-method').filter({ hasText: 'This is your only way to sign in' }).waitFor();
      expect(await list.getByText('Test IdP').count()).toBe(1);
      await page.screenshot({ path: screenshotPath('connected-accounts-last-way-in'), fullPage: true });
      expect(callsSince(mark)).toContain('DELETE /auth/identities/' + (await list.locator('li').first().getAttribute('data-identity-id')) + ' 409');
    });
  });

  it('links GitHub from the Security page, unlinks Test IdP, then signs in with GitHub alone', async () => {
    await inFreshProfile(demo.browser, 'social link', async (context) => {
      const page = await context.newPage();
      await page.setViewportSize({ width: 1000, height: 800 });
      const login = `grace-${tag()}`;
      const email = `${login}@example.com`;
      accounts.set(login, { email, email_verified: true, name: 'Grace Hopper' });
      await page.goto(`${demo.url}/`);
      await signInWithTestIdp(page, login);
      await signedInAs(page, email);

      await openSecurity(page);
      github.signInAs({ id: 900_000 + Math.floor(Math.random() * 99_999), login, name: 'Grace', emails: [{ email: `${login}@github.example`, primary: true, verified: true }] });
      await page.getByRole('button', { name: 'Link GitHub' }).click();
      await page.getByText('GitHub account linked.').waitFor();
      const list = page.getByRole('list', { name: 'Connected accounts' });
      await list.getByText('GitHub').waitFor();
      expect(await list.locator('li').count()).toBe(2);
      expect(page.url()).not.toMatch(/[?&](code|error)=/);
      await page.screenshot({ path: screenshotPath('connected-accounts-linked'), fullPage: true });

      await page.getByRole('button', { name: `Unlink Test IdP ${email}` }).click();
      await page.getByText('Test IdP account unlinked.').waitFor();
      expect(await list.locator('li').count()).toBe(1);
      await list.getByText('GitHub').waitFor();

      await logOut(page);
      await page.getByRole('button', { name: 'Sign in with GitHub' }).click();
      // The same account (its email), reached through the GitHub identity.
      await signedInAs(page, email);
    });
  });

  it('an existing account whose address is not verified is not linked: the sign-in page says to sign in and link', async () => {
    await inFreshProfile(demo.browser, 'social refused link', async (context) => {
      const page = await context.newPage();
      const login = `mallory-${tag()}`;
      const email = `${login}@example.com`;
      // The account exists (registered with a password, address never confirmed) ...
      await page.goto(`${demo.url}/#/register`);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Create account' }).click();
      await signedInAs(page, email);
      await logOut(page);
      // ... and a provider vouches for the same address: still no automatic link.
      accounts.set(login, { email, email_verified: true });
      await signInWithTestIdp(page, login);
      await page.getByRole('alert').filter({ hasText: 'An account with this email address already exists' }).waitFor();
      await signInPage(page);
      expect(await page.getByTestId('signed-in-as').count()).toBe(0);
      expect(page.url()).not.toMatch(/[?&](code|error)=/);
    });
  });

  it('an account with an authenticator app gets the code step after the provider, as after a password', async () => {
    await inFreshProfile(demo.browser, 'social mfa', async (context) => {
      const page = await context.newPage();
      const login = `katherine-${tag()}`;
      const email = `${login}@example.com`;
      accounts.set(login, { email, email_verified: true });
      await page.goto(`${demo.url}/`);
      await signInWithTestIdp(page, login);
      await signedInAs(page, email);

      await page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Security' }).click();
      await page.getByRole('button', { name: 'Set up authenticator app' }).click();
      const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
      const totp = new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 });
      const codeAt = (steps: number) => totp.generate({ timestamp: demo.server.app.latchkey.clock() + steps * 30_000 });
      await page.getByLabel('Code from the app').fill(codeAt(0));
      await page.getByRole('button', { name: 'Turn on' }).click();
      await page.getByRole('button', { name: 'I have saved them' }).click();

      await logOut(page);
      // The provider remembers its own session (it would send the browser straight back): forget it,
      // so that its login page is crossed again as by a new visit.
      await context.clearCookies();
      await page.goto(`${demo.url}/`);
      await signInWithTestIdp(page, login);
      await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
      // The provider's sign-in alone started no session.
      expect(await page.getByTestId('signed-in-as').count()).toBe(0);
      await page.getByLabel('Authentication code').fill(codeAt(1));
      await page.getByRole('button', { name: 'Verify' }).click();
      await signedInAs(page, email);
    });
  });
});

/**
 * The provider's pages in Debian's Chromium (playwright-core): a real Latchkey with the provider
 * on, listening on localhost (WebAuthn's RP ID), a public client whose redirect_uri is a tiny
 * HTTP listener recording where the browser was sent, and a CDP virtual authenticator for the
 * passkey. Every page is watched for CSP violations and page errors; the suite expects none.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../../support/email.js';
import { codeAt, enrolTotp } from '../../support/factors.js';
import { createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { CHROMIUM_ARGS, LOCALHOST_TO_LOOPBACK } from '../../support/chromium.js';

const BRAND = { name: 'Acme Accounts', color: '#7c3aed', rgb: 'rgb(124, 58, 237)' };

interface Problem {
  kind: string;
  text: string;
  url: string;
}

let server: TestApp;
let origin: string;
let browser: Browser;
let rp: Server;
let rpOrigin: string;
/** Every request the client's redirect_uri received, as full URLs. */
const arrivals: URL[] = [];
const problems: Problem[] = [];
const CLIENT_ID = 'e2e-shop';

beforeAll(async () => {
  const port = await freePort();
  origin = `http://localhost:${port}`;
  server = await createTestApp({
    ISSUER: origin,
    LOG_LEVEL: 'silent',
    OAUTH_PROVIDER: 'true',
    OAUTH_BRAND_NAME: BRAND.name,
    OAUTH_BRAND_COLOR: BRAND.color,
  });
  await server.app.listen({ host: '127.0.0.1', port });
  rp = createServer((req, res) => {
    arrivals.push(new URL(req.url!, rpOrigin));
    res.writeHead(200, { 'content-type': 'text/plain' }).end('the client got it');
  });
  await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve));
  rpOrigin = `http://127.0.0.1:${(rp.address() as AddressInfo).port}`;
  const now = Date.now();
  const created = await server.app.latchkey.store.createOAuthClient({
    id: CLIENT_ID,
    name: 'Shop <Test>',
    secretHash: null,
    metadata: {
      redirect_uris: [`${rpOrigin}/cb`],
      post_logout_redirect_uris: [],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
      scope: 'openid profile email',
      client_uri: 'https://shop.example',
    },
    firstParty: false,
    dynamic: false,
    createdAt: now,
    updatedAt: now,
    secretRotatedAt: null,
  });
  expect(created).toBe(true);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: [...CHROMIUM_ARGS, LOCALHOST_TO_LOOPBACK] });
});

afterAll(async () => {
  await browser?.close();
  rp?.closeAllConnections();
  await new Promise((resolve) => (rp ? rp.close(resolve) : resolve(undefined)));
  await server?.close();
});

// Every page of every test, watched: no CSP violation, no page error (the test that saw one fails).
afterEach(() => {
  const seen = problems.splice(0);
  expect(seen).toEqual([]);
});

/** A fresh profile watched for CSP violations (reported by an init script outside the page's CSP) and page errors. */
async function freshContext(): Promise<BrowserContext> {
  const context = await browser.newContext();
  context.setDefaultTimeout(15_000);
  await context.exposeBinding('__reportCsp', ({ page }, text: string) => {
    problems.push({ kind: 'csp-violation', text, url: page.url() });
  });
  // Browser code as text: the tests are typechecked without the DOM library.
  await context.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) => { window.__reportCsp(e.effectiveDirective + ' blocked ' + (e.blockedURI || '(inline)')); });`,
  });
  context.on('weberror', (error) => problems.push({ kind: 'page-error', text: String(error.error()), url: error.page()?.url() ?? '' }));
  context.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push({ kind: 'console', text: message.text(), url: message.page()?.url() ?? '' });
  });
  return context;
}

/** A virtual authenticator in this tab, and a passkey of `access`'s user registered with it on Latchkey's origin (as the account page would). */
async function registerPasskey(context: BrowserContext, page: Page, access: string): Promise<void> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  const status = await page.evaluate(`(async () => {
    const headers = { authorization: 'Bearer ${access}', 'content-type': 'application/json' };
    const { options } = await (await fetch('/auth/passkeys/register/options', { method: 'POST', headers, body: '{}' })).json();
    const credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) });
    const res = await fetch('/auth/passkeys/register/verify', { method: 'POST', headers, body: JSON.stringify({ response: credential.toJSON() }) });
    return res.status;
  })()`);
  expect(status).toBe(201);
}

/** An authorization request of the test client (PKCE S256), and its state. */
function authorizeUrl(overrides: Record<string, string> = {}): { url: string; state: string } {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(8).toString('hex');
  const params = new URLSearchParams({
    client_id: CLIENT_ID,
    redirect_uri: `${rpOrigin}/cb`,
    response_type: 'code',
    scope: 'openid email profile',
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...overrides,
  });
  return { url: `${origin}/oauth/authorize?${params}`, state };
}

/** Waits for the client's redirect_uri to receive the request with `state`. */
async function arrivalWith(state: string): Promise<URL> {
  return waitFor(`the redirect to the client with state ${state}`, () => arrivals.find((u) => u.searchParams.get('state') === state));
}

async function signInWithPassword(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email', { exact: true }).first().fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

describe('the provider’s pages in Chromium', () => {
  it('password sign-in, then consent: back at the redirect_uri with a code, the state and iss; branded pages', async () => {
    const user = await registerAndLogin(server.app);
    const context = await freshContext();
    const page = await context.newPage();
    const { url, state } = authorizeUrl();
    await page.goto(url);
    await expect.poll(() => page.title()).toBe(`Sign in – ${BRAND.name}`);
    expect(await page.locator('header.brand').innerText()).toBe(BRAND.name);
    expect(await page.evaluate(`getComputedStyle(document.querySelector('button[type=submit]')).backgroundColor`)).toBe(BRAND.rgb);
    // A wrong password: the page says so, tied to the fields, and nothing reaches the client.
    await signInWithPassword(page, user.email, 'not the password at all');
    await expect.poll(() => page.getByRole('alert').first().innerText()).toMatch(/\S/);
    expect(await page.getByLabel('Password').getAttribute('aria-describedby')).toBe('sign-in-error');
    await signInWithPassword(page, user.email, user.password);
    await page.getByRole('heading', { name: `Shop <Test> wants to use your ${BRAND.name} account` }).waitFor();
    expect(await page.getByText('See your email address').count()).toBe(1);
    expect(await page.getByText(`Signed in as ${user.email}.`).count()).toBe(1);
    await page.getByRole('button', { name: 'Allow' }).click();
    const arrival = await arrivalWith(state);
    expect(arrival.pathname).toBe('/cb');
    expect(arrival.searchParams.get('code')).toMatch(/\S{20,}/);
    expect(arrival.searchParams.get('iss')).toBe(origin);
    await context.close();
  });

  it('Deny sends access_denied to the client with the state', async () => {
    const user = await registerAndLogin(server.app);
    const context = await freshContext();
    const page = await context.newPage();
    const { url, state } = authorizeUrl();
    await page.goto(url);
    await signInWithPassword(page, user.email, user.password);
    await page.getByRole('button', { name: 'Deny' }).click();
    const arrival = await arrivalWith(state);
    expect(arrival.searchParams.get('error')).toBe('access_denied');
    expect(arrival.searchParams.get('code')).toBeNull();
    await context.close();
  });

  it('an account with TOTP: the second-factor step, then consent, then the code', async () => {
    const user = await registerAndLogin(server.app);
    const { secret } = await enrolTotp(server.app, user.access);
    const context = await freshContext();
    const page = await context.newPage();
    const { url, state } = authorizeUrl();
    await page.goto(url);
    await signInWithPassword(page, user.email, user.password);
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    // A wrong code first: said on the page, tied to the field.
    await page.getByLabel('Code from your authenticator app').fill('000000' === codeAt(server.app, secret, 1) ? '111111' : '000000');
    await page.getByRole('button', { name: 'Continue', exact: true }).click();
    await expect.poll(() => page.locator('#mfa-error').innerText()).toBe('That code is not right. Try again with a new code.');
    expect(await page.getByLabel('Code from your authenticator app').getAttribute('aria-describedby')).toBe('mfa-error');
    // The next step's code: enrolment spent this step's, and a code works once.
    await page.getByLabel('Code from your authenticator app').fill(codeAt(server.app, secret, 1));
    await page.getByRole('button', { name: 'Continue', exact: true }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    expect((await arrivalWith(state)).searchParams.get('code')).toMatch(/\S{20,}/);
    await context.close();
  });

  it('a passkey sign-in: the page’s script signs in with the virtual authenticator, then consent, then the code', async () => {
    const user = await registerAndLogin(server.app);
    const context = await freshContext();
    const page = await context.newPage();
    const { url, state } = authorizeUrl();
    await page.goto(url);
    await registerPasskey(context, page, user.access);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    expect((await arrivalWith(state)).searchParams.get('code')).toMatch(/\S{20,}/);
    await context.close();
  });

  it('a passkey as the second factor: password, then “Use a passkey” on the second-factor step, then consent, then the code', async () => {
    const user = await registerAndLogin(server.app);
    await enrolTotp(server.app, user.access);
    const context = await freshContext();
    const page = await context.newPage();
    const { url, state } = authorizeUrl();
    await page.goto(url);
    await registerPasskey(context, page, user.access);
    await signInWithPassword(page, user.email, user.password);
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    expect((await arrivalWith(state)).searchParams.get('code')).toMatch(/\S{20,}/);
    await context.close();
  });

  it('“Not you?” on the consent page: another account signs in (oidc-provider ends the first one’s session on its own page), then its consent', async () => {
    const first = await registerAndLogin(server.app);
    const second = await registerAndLogin(server.app);
    const context = await freshContext();
    const page = await context.newPage();
    const { url } = authorizeUrl();
    await page.goto(url);
    await signInWithPassword(page, first.email, first.password);
    await page.getByText(`Signed in as ${first.email}.`).waitFor();
    await page.getByRole('link', { name: 'Not you?' }).click();
    await page.getByText('Sign in with the account you want to use.').waitFor();
    await signInWithPassword(page, second.email, second.password);
    await page.getByText(`Signed in as ${second.email}.`).waitFor();
    await page.getByRole('button', { name: 'Allow' }).click();
    await waitFor('the redirect to the client', () => arrivals.find((u) => u.searchParams.get('code') !== null && u.searchParams.get('state') === new URL(url).searchParams.get('state')));
    await context.close();
  });

  it('an unregistered redirect_uri: the error page, and no redirect at all', async () => {
    const context = await freshContext();
    const page = await context.newPage();
    const before = arrivals.length;
    const { url } = authorizeUrl({ redirect_uri: `${rpOrigin}/elsewhere` });
    const response = await page.goto(url);
    expect(response?.status()).toBe(400);
    expect(new URL(page.url()).origin).toBe(origin);
    expect(await page.locator('h1').innerText()).toMatch(/\S/);
    expect(await page.locator('header.brand').innerText()).toBe(BRAND.name);
    expect(await page.content()).not.toMatch(/at \w+ \(|node_modules/);
    expect(arrivals.length).toBe(before);
    await context.close();
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../scripts/lib/local-services.mjs';
import { createTestApp, type TestApp } from '../../server/test/support/helpers.js';
import { startGitHubStub, startOidcProvider, type TestAccount } from '../../server/test/support/social.js';
import { createClient, type ClientOptions, type LatchkeyClient } from '../src/index.js';
import { cookieJarBrowser, type CookieJarBrowser } from './cookie-jar.js';
import { newChannel, rejection, waitForState } from './support.js';

// Social sign-in through the SDK against a real Latchkey (SQLite file, HTTP on 127.0.0.1) and real
// providers on 127.0.0.1: oidc-provider (its development login and consent forms, posted here as
// a browser would) and the server suite's GitHub stub. The "browser" is the cookie jar of
// client.test.ts, which here also follows the navigations by hand: every server is on 127.0.0.1,
// and cookies, like a browser's, ignore the port. The app's page is http://app.test/ (never
// fetched: the redirect back to it is where a navigation stops).

const APP = 'http://app.test/';
const accounts = new Map<string, TestAccount>();
let server: TestApp;
let baseUrl: string;
let idp: Awaited<ReturnType<typeof startOidcProvider>>;
let github: Awaited<ReturnType<typeof startGitHubStub>>;
const open: LatchkeyClient[] = [];

beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  idp = await startOidcProvider({ clientId: 'sdk', clientSecret: 'sdk-secret', redirectUris: [`${baseUrl}/auth/oauth/testidp/callback`], accounts });
  github = await startGitHubStub({ clientId: 'sdk-gh', clientSecret: 'sdk-gh-secret' });
  server = await createTestApp({
    COOKIE_SECURE: 'false',
    LOG_LEVEL: 'silent',
    ISSUER: baseUrl,
    REDIRECT_ALLOWED_URLS: APP,
    SOCIAL_PROVIDERS: 'testidp,github',
    SOCIAL_TESTIDP_CLIENT_ID: 'sdk',
    SOCIAL_TESTIDP_CLIENT_SECRET: 'sdk-secret',
    SOCIAL_TESTIDP_ISSUER: idp.issuer,
    SOCIAL_TESTIDP_NAME: 'Test IdP',
    SOCIAL_GITHUB_CLIENT_ID: 'sdk-gh',
    SOCIAL_GITHUB_CLIENT_SECRET: 'sdk-gh-secret',
    SOCIAL_GITHUB_AUTHORIZE_URL: `${github.url}/login/oauth/authorize`,
    SOCIAL_GITHUB_TOKEN_URL: `${github.url}/login/oauth/access_token`,
    SOCIAL_GITHUB_API_URL: github.url,
  });
  await server.app.listen({ host: '127.0.0.1', port });
});

afterAll(async () => {
  await server?.close();
  await idp?.close();
  await github?.close();
});

afterEach(() => {
  for (const client of open.splice(0)) client.close();
});

/** sessionStorage of one tab. */
function tabStorage(): NonNullable<ClientOptions['verifierStorage']> & { size(): number } {
  const entries = new Map<string, string>();
  return {
    getItem: (key) => entries.get(key) ?? null,
    setItem: (key, value) => void entries.set(key, value),
    removeItem: (key) => void entries.delete(key),
    size: () => entries.size,
  };
}

interface Tab {
  client: LatchkeyClient;
  /** Where the client last asked to navigate. */
  navigations: string[];
}

function tab(browser: CookieJarBrowser, channel: string): Tab {
  const navigations: string[] = [];
  const client = createClient({
    baseUrl,
    fetch: browser.fetch,
    readCookie: browser.readCookie,
    channelName: channel,
    verifierStorage: tabStorage(),
    navigate: (url) => navigations.push(url),
  });
  open.push(client);
  return { client, navigations };
}

/**
 * The browser's navigation from `url`: redirects followed with the jar's cookies, the provider's
 * login form (any password: development interactions) and consent form posted, until the redirect
 * back to the app, whose URL is returned.
 */
async function browse(browser: CookieJarBrowser, url: string, login?: string): Promise<string> {
  let current = url;
  let post: Record<string, string> | null = null;
  for (let hop = 0; hop < 20; hop += 1) {
    if (current.startsWith(APP)) return current;
    const response: Response = await browser.fetch(current, {
      redirect: 'manual',
      ...(post ? { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(post).toString() } : {}),
    });
    post = null;
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      current = new URL(location, current).href;
      continue;
    }
    const html: string = await response.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt: string | undefined = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    if (response.status !== 200 || !action || !prompt) throw new Error(`stuck at ${current} (${response.status}): ${html.slice(0, 300)}`);
    post = prompt === 'login' ? { prompt, login: login ?? '', password: 'any' } : { prompt };
    current = new URL(action, current).href;
  }
  throw new Error('too many hops');
}

const tag = () => Math.random().toString(36).slice(2, 10);

describe('social sign-in through the SDK', () => {
  it('signs in through the provider: one exchange for repeated calls, every tab signed in, a code for another tab never exchanged', async () => {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const first = tab(browser, channel);
    const second = tab(browser, channel);
    await first.client.restore();
    await second.client.restore();
    const login = `sdk-${tag()}`;
    accounts.set(login, { email: `${login}@example.com`, email_verified: true, name: 'SDK User' });

    expect(await first.client.listProviders()).toEqual([
      { id: 'testidp', name: 'Test IdP' },
      { id: 'github', name: 'GitHub' },
    ]);
    await first.client.signInWithProvider('testidp', { redirectTo: APP });
    expect(first.navigations).toHaveLength(1);
    const back = await browse(browser, first.navigations[0]!, login);
    expect(new URL(back).searchParams.get('code')).toBeTruthy();
    expect(back).not.toContain('access_token');

    // Another tab has no verifier for this code: refused without asking the server.
    expect((await rejection(second.client.handleRedirectCallback(back))).code).toBe('INVALID_OAUTH_STATE');
    expect(browser.count('POST', '/auth/oauth/exchange')).toBe(0);

    // StrictMode's double effect: both calls share the one exchange.
    const [a, b] = await Promise.all([first.client.handleRedirectCallback(back), first.client.handleRedirectCallback(back)]);
    expect(a).toBe(b);
    expect(a).toMatchObject({ status: 'signed_in', user: { email: `${login}@example.com`, email_verified: true } });
    expect(browser.count('POST', '/auth/oauth/exchange')).toBe(1);
    expect(first.client.getState().status).toBe('authenticated');
    await waitForState(second.client, (s) => s.user?.email === `${login}@example.com`);
    // Cookie mode: the refresh token only in the HttpOnly cookie, and the session refreshes.
    expect(browser.cookie('lk_refresh')?.httpOnly).toBe(true);
    expect(await first.client.me()).toMatchObject({ email: `${login}@example.com` });
    const { identities, has_password } = await first.client.listIdentities();
    expect(has_password).toBe(false);
    expect(identities).toMatchObject([{ provider: 'testidp', provider_name: 'Test IdP', email: `${login}@example.com`, email_verified: true }]);
  });

  it('links GitHub while signed in, unlinks the first identity, and refuses to unlink the last way in', async () => {
    const browser = cookieJarBrowser();
    const { client, navigations } = tab(browser, newChannel());
    await client.restore();
    const login = `linker-${tag()}`;
    accounts.set(login, { email: `${login}@example.com`, email_verified: true });
    await client.signInWithProvider('testidp', { redirectTo: APP });
    expect(await client.handleRedirectCallback(await browse(browser, navigations[0]!, login))).toMatchObject({ status: 'signed_in' });

    github.signInAs({ id: 700_000 + Math.floor(Math.random() * 99_999), login, name: null, emails: [{ email: `${login}@gh.example`, primary: true, verified: true }] });
    await client.linkProvider('github', { redirectTo: APP });
    expect(navigations).toHaveLength(2);
    // The link URL is Latchkey's /start with a one-time ticket; the verifier stays in the tab.
    expect(navigations[1]).toMatch(new RegExp(`^${baseUrl}/auth/oauth/github/start\\?`));
    const linked = await client.handleRedirectCallback(await browse(browser, navigations[1]!));
    expect(linked).toMatchObject({ status: 'linked', identity: { provider: 'github', email: `${login}@gh.example` } });

    const { identities } = await client.listIdentities();
    expect(identities.map((i) => i.provider).sort()).toEqual(['github', 'testidp']);
    await client.unlinkIdentity(identities.find((i) => i.provider === 'testidp')!.id);
    const error = await rejection(client.unlinkIdentity(identities.find((i) => i.provider === 'github')!.id));
    expect(error.code).toBe('LAST_SIGN_IN_METHOD');
    expect(error.status).toBe(409);
    expect((await client.listIdentities()).identities).toHaveLength(1);
  });

  it('a refusal comes back as ?error=: the SDK rejects with that code and nothing is signed in', async () => {
    const browser = cookieJarBrowser();
    const { client, navigations } = tab(browser, newChannel());
    await client.restore();
    // An existing account whose address is not verified: the provider's word does not link it.
    const email = `taken-${tag()}@example.com`;
    await client.register({ email, password: 'correct horse battery staple' });
    const login = `other-${tag()}`;
    accounts.set(login, { email, email_verified: true });
    await client.signInWithProvider('testidp', { redirectTo: APP });
    const back = await browse(browser, navigations[0]!, login);
    expect(new URL(back).searchParams.get('error')).toBe('ACCOUNT_EXISTS_LINK_REQUIRED');
    const error = await rejection(client.handleRedirectCallback(back));
    expect(error.code).toBe('ACCOUNT_EXISTS_LINK_REQUIRED');
    expect(client.getState().status).toBe('anonymous');
  });
});

/**
 * A social sign-in from the provider's sign-in page (both stores): the page's "Continue with
 * GitHub" button goes to Latchkey's social start with the interaction's URL as redirect_to and a
 * PKCE challenge bound to the interaction; the provider (a GitHub-shaped stub over real HTTP)
 * comes back through Latchkey's callback to /oauth/interaction/:uid/social, whose exchange code
 * signs in. A code from a sign-in started anywhere else cannot be spent there.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../support/helpers.js';
import { REDIRECT, registerClient, startOAuthApp } from '../../support/oauth.js';
import { LATCHKEY, pkcePair, SocialBrowser, startGitHubStub } from '../../support/social.js';

let t: TestApp;
let github: Awaited<ReturnType<typeof startGitHubStub>>;
let clientId: string;

beforeAll(async () => {
  github = await startGitHubStub({ clientId: 'gh-client', clientSecret: 'gh-secret' });
  t = await startOAuthApp({
    env: {
      SOCIAL_PROVIDERS: 'github',
      SOCIAL_GITHUB_CLIENT_ID: 'gh-client',
      SOCIAL_GITHUB_CLIENT_SECRET: 'gh-secret',
      SOCIAL_GITHUB_AUTHORIZE_URL: `${github.url}/login/oauth/authorize`,
      SOCIAL_GITHUB_TOKEN_URL: `${github.url}/login/oauth/access_token`,
      SOCIAL_GITHUB_API_URL: github.url,
      // Only the apps: the provider's own interaction URLs are allowed without being listed.
      REDIRECT_ALLOWED_URLS: 'https://app.example/',
    },
  });
  ({ clientId } = await registerClient(t, { public: true, name: 'Shop' }));
});
afterAll(async () => {
  await t?.close();
  await github?.close();
});

let n = 0;
function gitHubAccount() {
  n += 1;
  const email = `gh-${n}-${randomBytes(3).toString('hex')}@example.com`;
  return { account: { id: 1000 + n, login: `gh${n}`, name: `GitHub ${n}`, emails: [{ email, primary: true, verified: true }] }, email };
}

/** Opens an authorization request of the client; answers the sign-in page's URL and body. */
async function signInPage(browser: SocialBrowser) {
  const pkce = pkcePair();
  const state = randomBytes(8).toString('hex');
  const params = new URLSearchParams({ client_id: clientId, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid email', state, code_challenge: pkce.challenge, code_challenge_method: 'S256' });
  const { url, status, body } = await follow(browser, `${LATCHKEY}/oauth/authorize?${params}`);
  expect(status).toBe(200);
  return { url, body, state };
}

/**
 * Follows redirects like SocialBrowser.follow, until an answer that is not one or the client's
 * redirect_uri (not requested). oidc-provider's own redirects are absolute, built from the Host
 * header, which app.inject sets to localhost: those are Latchkey's too.
 */
async function follow(browser: SocialBrowser, url: string, form?: Record<string, string>): Promise<{ url: string; status: number; body: string }> {
  let current = url;
  let init: { form?: Record<string, string> } = form ? { form } : {};
  for (let i = 0; i < 20; i++) {
    if (current.startsWith(REDIRECT)) return { url: current, status: 0, body: '' };
    const hop = await browser.request(current.replace(/^http:\/\/localhost(:80)?\//, `${LATCHKEY}/`), init);
    init = {};
    if (hop.status < 300 || hop.status >= 400 || hop.location === null) return { url: current, status: hop.status, body: hop.body };
    current = hop.location;
  }
  throw new Error('too many redirects');
}

function unescape(s: string): string {
  return s.replaceAll('&amp;', '&');
}

describe('social sign-in from the provider’s sign-in page', () => {
  it('Continue with GitHub: signed in, then the consent page for that account, then the code', async () => {
    const { account, email } = gitHubAccount();
    github.signInAs(account);
    const browser = new SocialBrowser(t.app);
    const page = await signInPage(browser);
    const href = unescape(/<a class="button secondary" href="([^"]+)">Continue with GitHub<\/a>/.exec(page.body)![1]!);
    const start = new URL(href, LATCHKEY);
    expect(start.pathname).toBe('/auth/oauth/github/start');
    expect(start.searchParams.get('redirect_to')).toBe(`${page.url}/social`);
    expect(start.searchParams.get('code_challenge_method')).toBe('S256');
    const consent = await follow(browser, start.href);
    expect(consent.status, consent.body.slice(0, 300)).toBe(200);
    expect(consent.body).toContain(`Signed in as <strong>${email}</strong>`);
    const action = /<form method="post" action="([^"]+\/consent)"><input type="hidden" name="csrf" value="([^"]+)">/.exec(consent.body)!;
    const redirect = new URL((await follow(browser, `${LATCHKEY}${action[1]}`, { csrf: action[2]!, decision: 'allow' })).url);
    expect(redirect.searchParams.get('state')).toBe(page.state);
    expect(redirect.searchParams.get('code')).toBeTruthy();
  });

  it('an exchange code from a sign-in started without the interaction’s challenge is refused there: the sign-in page, signed in nowhere', async () => {
    const { account, email } = gitHubAccount();
    github.signInAs(account);
    const browser = new SocialBrowser(t.app);
    const page = await signInPage(browser);
    // Someone else's starts, sent back to this interaction's URL: with their own PKCE pair, and with none.
    const foreign = pkcePair();
    const starts: Array<Record<string, string>> = [{ code_challenge: foreign.challenge, code_challenge_method: 'S256' }, {}];
    for (const pkce of starts) {
      const start = `${LATCHKEY}/auth/oauth/github/start?${new URLSearchParams({ redirect_to: `${page.url}/social`, ...pkce })}`;
      const end = await follow(browser, start);
      expect(end.url).toMatch(/\/oauth\/interaction\/[^/]+\/social\?code=/);
      expect(end.status).toBe(400);
      expect(end.body).toContain('The sign-in with that provider did not complete. Try again.');
      expect(end.body).not.toContain('Signed in as');
    }
    const user = await t.app.latchkey.store.findUserByEmail(email);
    // The account may exist (the provider's callback made it); no session was handed to the provider.
    if (user) expect(await t.app.latchkey.store.listSessions(user.id, Date.now())).toHaveLength(0);
  });
});

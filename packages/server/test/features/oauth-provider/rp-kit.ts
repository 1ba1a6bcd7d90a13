/**
 * The relying party's kit for the rp-*.test.ts suites (issue 22): a Latchkey with the OAuth
 * provider on, on the suite's database (both projects, see vitest.config.ts), reached by
 * openid-client 6 through app.inject (o2's injectFetch as its `customFetch`: every request of the
 * RP goes to the real routes, with no port), clients registered through the admin API (o1's), and
 * the browser part of the code flow driven by o2's test browser (test/support/oauth.ts).
 *
 * Every token and secret the kit sees is remembered in `seen`, so a suite can check that none of
 * them reached the server log.
 */
import type { FastifyInstance } from 'fastify';
import * as oidc from 'openid-client';
import { expect } from 'vitest';
import { bearer, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { Browser as SupportBrowser, injectFetch, startOAuthApp } from '../../support/oauth.js';

export const ISSUER = 'http://latchkey.test';
export const PASSWORD = 'correct horse battery staple';
export const APP = 'https://rp.example';
export const CALLBACK = `${APP}/callback`;
export const LOGGED_OUT = `${APP}/logged-out`;

export interface Rp {
  t: TestApp;
  app: FastifyInstance;
  /** openid-client's fetch, answered by app.inject (o2's injectFetch). */
  fetch: oidc.CustomFetch;
  adminToken: string;
  /** Every token, code and secret handed out during the suite (for the log check). */
  seen: Set<string>;
  close(): Promise<void>;
}

/** Starts Latchkey with the provider on (plus `env`) and an admin to register clients. */
export async function startRp(env: Record<string, string> = {}): Promise<Rp> {
  const t = await startOAuthApp({ env });
  const admin = await registerAndLogin(t.app, `admin-${Math.random().toString(36).slice(2)}@example.com`, PASSWORD);
  await t.app.latchkey.store.updateUser(admin.userId, { roles: ['admin'] }, Date.now());
  // The role is in the token: log in again for an admin token.
  const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: admin.email, password: PASSWORD } });
  const adminToken = (login.json() as { access_token: string }).access_token;
  return { t, app: t.app, fetch: injectFetch(t.app) as oidc.CustomFetch, adminToken, seen: new Set(), close: () => t.close() };
}

export interface ClientView {
  client_id: string;
  type: 'public' | 'confidential';
  token_endpoint_auth_method: string;
  redirect_uris: string[];
  scopes: string[];
  grant_types: string[];
  first_party: boolean;
}

/** Registers a client through the admin API (o1's POST /admin/oauth/clients). */
export async function createClient(rp: Rp, body: Record<string, unknown>): Promise<{ client: ClientView; client_secret?: string }> {
  const res = await rp.app.inject({
    method: 'POST',
    url: '/admin/oauth/clients',
    headers: bearer(rp.adminToken),
    // offline_access beside the admin API's default scopes: most cases want a refresh token.
    payload: { name: 'Relying party', redirect_uris: [CALLBACK], post_logout_redirect_uris: [LOGGED_OUT], scopes: ['openid', 'profile', 'email', 'offline_access'], ...body },
  });
  expect(res.statusCode, res.body).toBe(201);
  const out = res.json() as { client: ClientView; client_secret?: string };
  if (out.client_secret) rp.seen.add(out.client_secret);
  return out;
}

/** A confidential client (client_secret_basic) with the defaults plus `body`, and its openid-client Configuration. */
export async function confidentialRp(rp: Rp, body: Record<string, unknown> = {}) {
  const { client, client_secret } = await createClient(rp, body);
  const method = client.token_endpoint_auth_method;
  const auth = method === 'client_secret_post' ? oidc.ClientSecretPost(client_secret!) : oidc.ClientSecretBasic(client_secret!);
  return { client, secret: client_secret!, config: await discover(rp, client.client_id, auth) };
}

/** A public client (PKCE, no secret) and its Configuration. */
export async function publicRp(rp: Rp, body: Record<string, unknown> = {}) {
  const { client } = await createClient(rp, { token_endpoint_auth_method: 'none', ...body });
  return { client, config: await discover(rp, client.client_id, oidc.None()) };
}

export async function discover(rp: Rp, clientId: string, auth: oidc.ClientAuth, metadata: Partial<oidc.ClientMetadata> = {}): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(ISSUER), clientId, metadata, auth, {
    execute: [oidc.allowInsecureRequests],
    [oidc.customFetch]: rp.fetch,
  });
}

export interface User {
  email: string;
  password: string;
  userId: string;
}

export async function newUser(rp: Rp, name = 'user'): Promise<User> {
  const u = await registerAndLogin(rp.app, `${name}-${Math.random().toString(36).slice(2)}@example.com`, PASSWORD);
  return { email: u.email, password: u.password, userId: u.userId };
}

/** One answer of Latchkey, no redirect followed. */
export interface Hop {
  status: number;
  location: string | null;
  body: string;
  contentType: string | null;
}

/**
 * A browser: o2's test browser (test/support/oauth.ts: its cookie jar with paths, its form
 * parsing), seen as the relying party's tests need it: one hop, or redirects followed until the
 * browser leaves Latchkey.
 */
export class Browser {
  readonly inner: SupportBrowser;

  constructor(rp: Rp) {
    this.inner = new SupportBrowser(rp.app);
  }

  async request(url: string, init: { method?: 'GET' | 'POST'; form?: Record<string, string> } = {}): Promise<Hop> {
    const target = new URL(url, ISSUER);
    if (target.origin !== ISSUER) throw new Error(`the browser only goes to Latchkey, not ${target.href}`);
    const res = await this.inner.request(init.method ?? (init.form ? 'POST' : 'GET'), target.pathname + target.search, init.form);
    const location = res.headers.location;
    return { status: res.statusCode, location: typeof location === 'string' ? new URL(location, target).href : null, body: res.body, contentType: (res.headers['content-type'] as string | undefined) ?? null };
  }

  /** Follows redirects until an answer that is not one, or a URL off Latchkey (not requested). */
  async follow(url: string, init: { method?: 'GET' | 'POST'; form?: Record<string, string> } = {}): Promise<{ url: string; hop: Hop | null }> {
    let current = new URL(url, ISSUER).href;
    let next = init;
    for (let i = 0; i < 20; i++) {
      if (new URL(current).origin !== ISSUER) return { url: current, hop: null };
      const hop = await this.request(current, next);
      next = {};
      if (hop.status < 300 || hop.status >= 400 || hop.location === null) return { url: current, hop };
      current = hop.location;
    }
    throw new Error('too many redirects');
  }
}

/**
 * Drives the browser part of the code flow from `authUrl`: signs in as `user` on the sign-in page
 * when it shows, allows (or denies) on the consent page when it shows; the URL the browser is
 * sent to at the app (the authorization response). `trail` records the pages seen.
 */
export async function authorize(rp: Rp, authUrl: URL | string, user: User | null, opts: { browser?: Browser; consent?: 'allow' | 'deny'; trail?: string[] } = {}): Promise<URL> {
  const browser = opts.browser ?? new Browser(rp);
  let at = await browser.follow(String(authUrl));
  for (let i = 0; i < 4 && at.hop !== null; i++) {
    expect(at.hop.status, `${at.url}: ${at.hop.body.slice(0, 300)}`).toBe(200);
    if (at.hop.body.includes('/login">')) {
      if (!user) throw new Error('the sign-in page showed and no user was given');
      opts.trail?.push('sign-in');
      const f = SupportBrowser.form(at.hop.body, 'login');
      at = await browser.follow(f.action, { form: { csrf: f.csrf, email: user.email, password: user.password } });
    } else if (at.hop.body.includes('/consent">')) {
      opts.trail?.push('consent');
      const f = SupportBrowser.form(at.hop.body, 'consent');
      at = await browser.follow(f.action, { form: { csrf: f.csrf, decision: opts.consent ?? 'allow' } });
    } else {
      throw new Error(`unexpected page at ${at.url}: ${at.hop.body.slice(0, 300)}`);
    }
  }
  expect(at.hop, 'the browser never came back to the app').toBeNull();
  return new URL(at.url);
}

/** Authorization code + PKCE end to end with openid-client; the token response (ID token checked). */
export async function codeFlow(
  rp: Rp,
  config: oidc.Configuration,
  user: User,
  opts: { scope?: string; prompt?: string; browser?: Browser; extra?: Record<string, string>; trail?: string[] } = {},
) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const params: Record<string, string> = {
    redirect_uri: CALLBACK,
    scope: opts.scope ?? 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...(opts.prompt ? { prompt: opts.prompt } : {}),
    ...opts.extra,
  };
  const back = await authorize(rp, oidc.buildAuthorizationUrl(config, params), user, { browser: opts.browser, trail: opts.trail });
  rp.seen.add(back.searchParams.get('code') ?? '');
  const tokens = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: params.scope!.split(' ').includes('openid') });
  remember(rp, tokens);
  return { tokens, back, verifier, state, nonce };
}

export function remember(rp: Rp, tokens: { access_token?: string; refresh_token?: string; id_token?: string }): void {
  for (const v of [tokens.access_token, tokens.refresh_token, tokens.id_token]) if (v) rp.seen.add(v);
}

/** A raw form POST to one of the provider's endpoints, as a client that is not openid-client would send it. */
export async function post(rp: Rp, path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await rp.app.inject({
    method: 'POST',
    url: path,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams(form).toString(),
  });
  return { status: res.statusCode, json: () => res.json() as Record<string, unknown>, headers: res.headers, body: res.body };
}

export function basic(clientId: string, secret: string): { authorization: string } {
  return { authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}` };
}

/** RFC 7662 as `caller` sees it: `active` and the rest of the body. */
export async function introspect(rp: Rp, caller: { id: string; secret: string }, token: string) {
  const res = await post(rp, '/oauth/introspect', { token }, basic(caller.id, caller.secret));
  expect(res.status, res.body).toBe(200);
  return res.json();
}

/** The error of a refused openid-client call (its `error` member, as the server sent it). */
export async function refusal(promise: Promise<unknown>): Promise<{ error: string; status: number | undefined; description: string | undefined }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { error?: string; status?: number; error_description?: string; code?: string; cause?: unknown; response?: Response };
    if (e.error) return { error: e.error, status: e.status, description: e.error_description };
    // A 401 with a WWW-Authenticate challenge: openid-client hands over the response unread.
    if (e.response && !e.response.bodyUsed) {
      const body = (await e.response.json()) as { error?: string; error_description?: string };
      if (body.error) return { error: body.error, status: e.response.status, description: body.error_description };
    }
    throw err;
  }
  throw new Error('the call succeeded; a refusal was expected');
}

/** The hidden inputs and the action of the first form of a page (the logout confirmation). */
export function formOf(html: string): { action: string | null; fields: Record<string, string> } {
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input\b[^>]*>/g)) {
    const tag = m[0];
    const name = /name="([^"]+)"/.exec(tag)?.[1];
    const value = /value="([^"]*)"/.exec(tag)?.[1];
    if (name && value !== undefined && /type="hidden"/.test(tag)) fields[name] = value.replace(/&amp;/g, '&');
  }
  const action = /<form\b[^>]*action="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&') ?? null;
  return { action, fields };
}

/** Every token and secret the suite saw is absent from the server's log. */
export function expectNothingLeaked(rp: Rp): void {
  const log = rp.t.logs.join('');
  expect(log.length).toBeGreaterThan(0);
  for (const value of rp.seen) {
    if (value.length < 16) continue;
    expect(log.includes(value), `a token or secret (${value.slice(0, 8)}...) is in the server log`).toBe(false);
  }
}

/**
 * Latchkey as an OAuth provider in tests (issue 22): a real app with OAUTH_PROVIDER on (SQLite
 * file or its own PostgreSQL database), clients registered in its store, a `fetch` over
 * app.inject for openid-client and @latchkey/verify, and the browser half of the code flow
 * (authorize → sign-in page → POST login → consent → code) driven over HTTP with a cookie jar.
 *
 * @example
 * const t = await startOAuthApp({ db: 'sqlite' });
 * const { clientId, clientSecret } = await registerClient(t, { redirectUris: [REDIRECT] });
 * const user = await createUser(t);
 * const browser = new Browser(t.app);
 * const { code } = await browser.authorize(authorizationUrl, { ...user });
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { hashClientSecret } from '../../src/features/oauth-provider/clients.js';
import type { OAuthClientMetadata } from '../../src/store/types.js';
import { createTestApp, type TestApp, type TestDb } from './helpers.js';

export const ISSUER = 'http://latchkey.test';
export const REDIRECT = 'https://app.example/callback';
export const PASSWORD = 'correct horse battery staple';

/** The app with the provider on; JWT_ALG ES256 unless `env` says otherwise. */
export async function startOAuthApp(opts: { db?: TestDb; env?: Record<string, string> } = {}): Promise<TestApp> {
  return createTestApp({ ISSUER, JWT_ALG: 'ES256', OAUTH_PROVIDER: 'true', ...opts.env }, { db: opts.db });
}

export interface RegisteredClient {
  clientId: string;
  /** The plain secret (confidential clients), as the admin API shows it once. */
  clientSecret: string | undefined;
}

/**
 * Registers a client straight in the store (the admin API is the clients room's): confidential
 * with client_secret_basic unless `public`, authorization_code + refresh_token unless `grants`.
 */
export async function registerClient(
  t: TestApp,
  opts: {
    redirectUris?: string[];
    public?: boolean;
    authMethod?: string;
    grants?: string[];
    scopes?: string[];
    firstParty?: boolean;
    name?: string;
    postLogoutRedirectUris?: string[];
  } = {},
): Promise<RegisteredClient> {
  const clientId = `client_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const method = opts.public ? 'none' : (opts.authMethod ?? 'client_secret_basic');
  const secret = method.startsWith('client_secret') ? `lks_${randomBytes(32).toString('base64url')}` : undefined;
  const metadata: OAuthClientMetadata = {
    redirect_uris: opts.redirectUris ?? [REDIRECT],
    post_logout_redirect_uris: opts.postLogoutRedirectUris ?? [REDIRECT],
    grant_types: opts.grants ?? ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: method,
    scope: (opts.scopes ?? ['openid', 'profile', 'email', 'offline_access', 'roles']).join(' '),
  };
  const now = Date.now();
  const created = await t.app.latchkey.store.createOAuthClient({
    id: clientId,
    name: opts.name ?? 'Test App',
    secretHash: secret ? hashClientSecret(secret) : null,
    metadata,
    firstParty: opts.firstParty ?? false,
    dynamic: false,
    createdAt: now,
    updatedAt: now,
    secretRotatedAt: null,
  });
  if (!created) throw new Error('setup: client id taken');
  return { clientId, clientSecret: secret };
}

/** Registers a user (verified email) over the JSON API; returns its id and credentials. */
export async function createUser(t: TestApp, email = `u-${randomUUID().slice(0, 8)}@example.com`, password = PASSWORD): Promise<{ id: string; email: string; password: string }> {
  const res = await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password } });
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`);
  return { id: (res.json() as { user: { id: string } }).user.id, email, password };
}

/** A WHATWG fetch answered by app.inject (openid-client's customFetch, @latchkey/verify's fetch). */
export function injectFetch(app: FastifyInstance): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    headers.host = url.host;
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const res = await app.inject({ method: request.method as InjectOptions['method'], url: url.pathname + url.search, headers, payload: body });
    const out = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [String(value)]) out.append(name, v);
    }
    const nullBody = res.statusCode === 204 || res.statusCode === 304;
    return new Response(nullBody ? null : res.rawPayload, { status: res.statusCode, headers: out });
  };
}

interface Cookie {
  name: string;
  value: string;
  path: string;
}

/** A browser: a cookie jar over app.inject, following nothing by itself. */
export class Browser {
  private cookies: Cookie[] = [];

  constructor(private readonly app: FastifyInstance) {}

  /** One request with the jar's cookies for that path; stores the answer's cookies. */
  async request(method: 'GET' | 'POST', url: string, form?: Record<string, string>, extraHeaders: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const u = new URL(url, ISSUER);
    const cookie = this.cookies
      .filter((c) => u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
    const headers: Record<string, string> = { host: u.host, ...(cookie ? { cookie } : {}), ...extraHeaders };
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers.origin = ISSUER;
    }
    const res = await this.app.inject({ method, url: u.pathname + u.search, headers, payload: form ? new URLSearchParams(form).toString() : undefined });
    const set = res.headers['set-cookie'];
    for (const line of set === undefined ? [] : Array.isArray(set) ? set : [set]) this.store(line);
    return res;
  }

  private store(line: string): void {
    const [pair, ...attrs] = line.split(';').map((s) => s.trim());
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq);
    const value = pair!.slice(eq + 1);
    const path = attrs.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
    const expired = attrs.some((a) => a.toLowerCase().startsWith('expires=') && new Date(a.slice(8)).getTime() < Date.now()) || value === '';
    this.cookies = this.cookies.filter((c) => !(c.name === name && c.path === path));
    if (!expired) this.cookies.push({ name, value, path });
  }

  /** Follows redirects on this server until an answer that is not one, or one to another host. */
  async follow(res: LightMyRequestResponse): Promise<{ res: LightMyRequestResponse; location: string | undefined }> {
    let current = res;
    for (let i = 0; i < 10; i++) {
      const location = current.headers.location;
      if (current.statusCode < 300 || current.statusCode >= 400 || typeof location !== 'string') return { res: current, location: undefined };
      const target = new URL(location, ISSUER);
      if (target.origin !== ISSUER) return { res: current, location: target.href };
      current = await this.request('GET', target.pathname + target.search);
    }
    throw new Error('too many redirects');
  }

  /** GET a URL and follow the redirects. */
  async open(url: string) {
    return this.follow(await this.request('GET', url));
  }

  /** The interaction page's form action and CSRF token. */
  static form(html: string, action: string): { action: string; csrf: string } {
    const m = new RegExp(`<form method="post" action="([^"]*/${action})">.*?name="csrf" value="([^"]+)"`).exec(html);
    if (!m) throw new Error(`no ${action} form in the page: ${html.slice(0, 500)}`);
    return { action: m[1]!.replaceAll('&#47;', '/'), csrf: m[2]! };
  }

  /**
   * The browser half of the code flow: opens `authorizationUrl`, signs in with the credentials
   * when the sign-in page comes, allows on the consent page when it comes; returns the URL the
   * provider finally redirected to (the client's redirect_uri with `code`, or an error).
   */
  async authorize(authorizationUrl: string, credentials?: { email: string; password: string }, decision: 'allow' | 'deny' = 'allow'): Promise<URL> {
    let { res, location } = await this.open(authorizationUrl);
    for (let step = 0; step < 4 && location === undefined; step++) {
      if (res.statusCode !== 200) throw new Error(`interaction answered ${res.statusCode}: ${res.body.slice(0, 300)}`);
      if (res.body.includes('/login">')) {
        if (!credentials) throw new Error('the sign-in page came, but no credentials were given');
        const f = Browser.form(res.body, 'login');
        ({ res, location } = await this.follow(await this.request('POST', f.action, { csrf: f.csrf, email: credentials.email, password: credentials.password })));
      } else if (res.body.includes('/consent">')) {
        const f = Browser.form(res.body, 'consent');
        ({ res, location } = await this.follow(await this.request('POST', f.action, { csrf: f.csrf, decision })));
      } else {
        throw new Error(`unexpected page: ${res.body.slice(0, 300)}`);
      }
    }
    if (location === undefined) throw new Error(`no redirect to the client: ${res.statusCode} ${res.body.slice(0, 300)}`);
    return new URL(location);
  }
}

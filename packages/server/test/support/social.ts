/**
 * The providers the social sign-in tests sign in at, all real HTTP servers on 127.0.0.1:
 * - a real OpenID Connect provider (oidc-provider 9, its own signing keys, its development login
 *   and consent pages), driven by `SocialBrowser` with plain requests and cookies;
 * - a GitHub-shaped stub (authorize, token, /user, /user/emails);
 * - a hostile OpenID Connect stub (discovery, JWKS, a token endpoint that answers an ID token
 *   spoiled as the test asks: foreign key, wrong aud, expired, wrong nonce, wrong iss).
 * And `SocialBrowser`: a browser's cookie jar and redirect-following, across the providers (real
 * HTTP) and Latchkey (app.inject, at http://latchkey.test).
 */
import type { FastifyInstance } from 'fastify';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import Provider from 'oidc-provider';

export const LATCHKEY = 'http://latchkey.test';

export interface TestAccount {
  email?: string;
  email_verified?: boolean;
  name?: string;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function readBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/**
 * A real OpenID provider. `accounts` maps the login typed on its login page (the account id, the
 * ID token's `sub`) to its claims; accounts may be added while it runs.
 */
export async function startOidcProvider(opts: { clientId: string; clientSecret: string; redirectUris: string[]; accounts: Map<string, TestAccount> }) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'test-op', alg: 'RS256', use: 'sig' };
  let issuer = '';
  const holder: { handler?: (req: IncomingMessage, res: ServerResponse) => void } = {};
  const { server, url } = await listen((req, res) => holder.handler!(req, res));
  issuer = url;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: opts.clientId,
        client_secret: opts.clientSecret,
        redirect_uris: opts.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // As Google does: the scope's claims in the ID token itself.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    async findAccount(_ctx: unknown, id: string) {
      const account = opts.accounts.get(id);
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...account }) };
    },
  });
  holder.handler = provider.callback();
  return { issuer, close: () => close(server) };
}

/** A GitHub-shaped stub: `accounts` by numeric id; `emails` as /user/emails answers them. */
export interface GitHubAccount {
  id: number;
  login: string;
  name: string | null;
  emails: Array<{ email: string; primary: boolean; verified: boolean }>;
}

export async function startGitHubStub(opts: { clientId: string; clientSecret: string }) {
  const codes = new Map<string, { account: GitHubAccount; challenge: string; redirectUri: string }>();
  const tokens = new Map<string, GitHubAccount>();
  let signIn: GitHubAccount | null = null;
  const { server, url } = await listen((req, res) => {
    void (async () => {
      const u = new URL(req.url!, 'http://stub');
      if (u.pathname === '/login/oauth/authorize') {
        // Signs in whoever the test chose, at once (GitHub's own page is not the point here).
        if (!signIn || u.searchParams.get('client_id') !== opts.clientId || u.searchParams.get('code_challenge_method') !== 'S256') {
          return json(res, 400, { error: 'bad_request' });
        }
        const code = randomBytes(16).toString('hex');
        const redirectUri = u.searchParams.get('redirect_uri')!;
        codes.set(code, { account: signIn, challenge: u.searchParams.get('code_challenge')!, redirectUri });
        const back = new URL(redirectUri);
        back.searchParams.set('code', code);
        back.searchParams.set('state', u.searchParams.get('state')!);
        return res.writeHead(302, { location: back.href }).end();
      }
      if (u.pathname === '/login/oauth/access_token' && req.method === 'POST') {
        const body = await readBody(req);
        const entry = codes.get(body.get('code') ?? '');
        codes.delete(body.get('code') ?? '');
        const verifier = body.get('code_verifier') ?? '';
        const pkce = entry && createHash('sha256').update(verifier).digest('base64url') === entry.challenge;
        // GitHub answers a refused code with 200 and an error member.
        if (!entry || !pkce || body.get('client_secret') !== opts.clientSecret || body.get('redirect_uri') !== entry.redirectUri) {
          return json(res, 200, { error: 'bad_verification_code' });
        }
        const token = randomBytes(16).toString('hex');
        tokens.set(token, entry.account);
        return json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
      }
      const account = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (u.pathname === '/user') return account ? json(res, 200, { id: account.id, login: account.login, name: account.name, email: null }) : json(res, 401, {});
      if (u.pathname === '/user/emails') return account ? json(res, 200, account.emails) : json(res, 401, {});
      json(res, 404, {});
    })();
  });
  return {
    url,
    /** Who the next authorize request signs in. */
    signInAs(account: GitHubAccount) {
      signIn = account;
    },
    close: () => close(server),
  };
}

/** How the hostile provider spoils the ID token of a code. */
export type Spoil = 'none' | 'foreign_key' | 'wrong_aud' | 'expired' | 'wrong_nonce' | 'wrong_iss';

/**
 * An OpenID provider stub that signs ID tokens with `jose` and spoils them on request. The code
 * sent to the callback says how: `<spoil>.<nonce>.<sub>` (the tests read the nonce from the
 * authorization URL that /start redirected to).
 */
export async function startHostileProvider(opts: { clientId: string; email: string }) {
  const good = await generateKeyPair('ES256', { extractable: true });
  const foreign = await generateKeyPair('ES256', { extractable: true });
  const publicJwk: JWK = { ...(await exportJWK(good.publicKey)), kid: 'good', alg: 'ES256', use: 'sig' };
  let reachable = true;
  const holder = { url: '' };
  const { server, url } = await listen((req, res) => {
    void (async () => {
      if (!reachable) return req.socket.destroy();
      const u = new URL(req.url!, 'http://stub');
      if (u.pathname === '/.well-known/openid-configuration') {
        return json(res, 200, {
          issuer: holder.url,
          authorization_endpoint: `${holder.url}/authorize`,
          token_endpoint: `${holder.url}/token`,
          jwks_uri: `${holder.url}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['ES256'],
          token_endpoint_auth_methods_supported: ['client_secret_post'],
        });
      }
      if (u.pathname === '/jwks') return json(res, 200, { keys: [publicJwk] });
      if (u.pathname === '/token' && req.method === 'POST') {
        const body = await readBody(req);
        const [spoil, nonce, sub] = (body.get('code') ?? '').split('.') as [Spoil, string, string];
        const now = Math.floor(Date.now() / 1000);
        const key = spoil === 'foreign_key' ? foreign.privateKey : good.privateKey;
        const idToken = await new SignJWT({ nonce: spoil === 'wrong_nonce' ? 'not-the-nonce' : nonce, email: opts.email, email_verified: true })
          .setProtectedHeader({ alg: 'ES256', kid: 'good' })
          .setIssuer(spoil === 'wrong_iss' ? 'https://evil.example' : holder.url)
          .setAudience(spoil === 'wrong_aud' ? 'someone-else' : opts.clientId)
          .setSubject(sub || 'hostile-subject')
          .setIssuedAt(spoil === 'expired' ? now - 7200 : now)
          .setExpirationTime(spoil === 'expired' ? now - 3600 : now + 300)
          .sign(key);
        return json(res, 200, { access_token: 'at', token_type: 'Bearer', expires_in: 300, id_token: idToken });
      }
      json(res, 404, {});
    })();
  });
  holder.url = url;
  return {
    issuer: url,
    /** While false, every connection is dropped at once (a provider down). */
    setReachable(value: boolean) {
      reachable = value;
    },
    close: () => close(server),
  };
}

/** One response as the browser saw it. */
export interface Hop {
  status: number;
  location: string | null;
  body: string;
  contentType: string | null;
}

/**
 * A browser: one cookie jar per origin (name=value, paths ignored: the servers here scope theirs
 * tightly enough), following redirects by hand. Requests to LATCHKEY go through app.inject, the
 * rest over real HTTP.
 */
export class SocialBrowser {
  readonly jar = new Map<string, Map<string, string>>();

  constructor(private readonly app: FastifyInstance) {}

  cookie(origin: string, name: string): string | undefined {
    return this.jar.get(origin)?.get(name);
  }

  setCookie(origin: string, name: string, value: string | null): void {
    const jar = this.jar.get(origin) ?? new Map<string, string>();
    if (value === null) jar.delete(name);
    else jar.set(name, value);
    this.jar.set(origin, jar);
  }

  private remember(origin: string, setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = /max-age=0\b/i.test(line) || /expires=Thu, 01 Jan 1970/i.test(line);
      this.setCookie(origin, name, expired || value === '' ? null : value);
    }
  }

  private cookieHeader(origin: string): string | undefined {
    const jar = this.jar.get(origin);
    if (!jar || jar.size === 0) return undefined;
    return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** One request, no redirect followed. */
  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Hop> {
    const target = new URL(url);
    const cookie = this.cookieHeader(target.origin);
    const method = init.method ?? (init.form ? 'POST' : 'GET');
    const body = init.form ? new URLSearchParams(init.form).toString() : undefined;
    const headers: Record<string, string> = {};
    if (cookie) headers.cookie = cookie;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    if (target.origin === LATCHKEY) {
      const res = await this.app.inject({ method: method as 'GET', url: target.pathname + target.search, headers, payload: body });
      const set = res.headers['set-cookie'];
      this.remember(target.origin, set === undefined ? [] : Array.isArray(set) ? set : [set]);
      const location = res.headers.location;
      return { status: res.statusCode, location: typeof location === 'string' ? new URL(location, url).href : null, body: res.body, contentType: (res.headers['content-type'] as string | undefined) ?? null };
    }
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    this.remember(target.origin, res.headers.getSetCookie());
    const location = res.headers.get('location');
    return { status: res.status, location: location === null ? null : new URL(location, url).href, body: await res.text(), contentType: res.headers.get('content-type') };
  }

  /** Follows redirects from `url` until an answer that is not one, or a URL `stop` says to stop at (not requested). */
  async follow(url: string, stop: (url: string) => boolean = () => false, init: { method?: string; form?: Record<string, string> } = {}): Promise<{ url: string; hop: Hop | null }> {
    let current = url;
    let next = init;
    for (let i = 0; i < 20; i++) {
      if (stop(current)) return { url: current, hop: null };
      const hop = await this.request(current, next);
      next = {};
      if (hop.status < 300 || hop.status >= 400 || hop.location === null) return { url: current, hop };
      current = hop.location;
    }
    throw new Error('too many redirects');
  }
}

/** A PKCE pair, as the SDK makes one. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

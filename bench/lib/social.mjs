// The social-exchange scenario of ab.mjs: complete social sign-ins against a real OpenID provider
// (oidc-provider, in this process), driven like a browser: GET /start, the provider's authorize
// (each virtual browser signed in at the provider once, and its grant given, so later sign-ins
// pass straight through), the callback (code exchange with the provider, ID token checked against
// its JWKS) and POST /auth/oauth/exchange. A load generator cannot follow this chain, so the flows
// run here, `connections` at a time; the server's CPU is divided by the completed sign-ins.
import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

export const SOCIAL_CLIENT = { id: 'ab-bench', secret: 'ab-bench-client-secret' };

/** Starts the provider; `redirectUris` are the callbacks of the servers under test. */
export async function startBenchProvider(redirectUris) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'ab', alg: 'RS256', use: 'sig' };
  const holder = {};
  const server = createServer((req, res) => holder.handler(req, res));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{ client_id: SOCIAL_CLIENT.id, client_secret: SOCIAL_CLIENT.secret, redirect_uris: redirectUris, token_endpoint_auth_method: 'client_secret_post' }],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    ttl: { Session: 86_400, Grant: 86_400, Interaction: 3600, AuthorizationCode: 60, AccessToken: 600, IdToken: 600 },
    async findAccount(_ctx, id) {
      return { accountId: id, claims: async () => ({ sub: id, email: `${id}@bench.example`, email_verified: true }) };
    },
  });
  holder.handler = provider.callback();
  return { issuer, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }) };
}

/** A browser: cookies per origin, redirects followed by hand. */
class Browser {
  jar = new Map();
  async request(url, { method = 'GET', form, json } = {}) {
    const u = new URL(url);
    const headers = {};
    const jar = this.jar.get(u.origin);
    if (jar?.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    } else if (json) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(json);
    }
    const res = await fetch(url, { method: form || json ? 'POST' : method, headers, body, redirect: 'manual' });
    const cookies = this.jar.get(u.origin) ?? new Map();
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0];
      const eq = pair.indexOf('=');
      const value = pair.slice(eq + 1);
      if (value === '' || /max-age=0\b|expires=Thu, 01 Jan 1970/i.test(line)) cookies.delete(pair.slice(0, eq));
      else cookies.set(pair.slice(0, eq), value);
    }
    this.jar.set(u.origin, cookies);
    const location = res.headers.get('location');
    return { status: res.status, location: location && new URL(location, url).href, body: await res.text() };
  }
}

const APP = 'http://app.bench.example/done';

/**
 * One complete sign-in in `browser` at the server `base` as provider account `login`; true when
 * the exchange answered tokens.
 */
async function signIn(browser, base, login) {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  let url = `${base}/auth/oauth/bench/start?redirect_to=${encodeURIComponent(APP)}&code_challenge=${challenge}`;
  for (let hops = 0; hops < 20; hops++) {
    if (url.startsWith(APP)) break;
    let hop = await browser.request(url);
    if (hop.status === 200 && url.includes('/interaction/')) {
      // First time in this browser: the provider's login, then its consent page.
      const form = hop.body.includes('name="login"') ? { prompt: 'login', login, password: 'x' } : { prompt: 'consent' };
      hop = await browser.request(url, { form });
    }
    if (!hop.location) throw new Error(`social sign-in stopped at ${new URL(url).pathname}: ${hop.status} ${hop.body.slice(0, 200)}`);
    url = hop.location;
  }
  const code = new URL(url).searchParams.get('code');
  if (!code) throw new Error(`social sign-in refused: ${url}`);
  const res = await browser.request(`${base}/auth/oauth/exchange`, { json: { code, code_verifier: verifier } });
  return res.status === 200 && JSON.parse(res.body).access_token !== undefined;
}

/**
 * Runs complete sign-ins, `connections` browsers at once, for `seconds`; the result in runLoad's
 * shape (`requests`: completed sign-ins; `rps`: sign-ins per second; p50/p99 of one sign-in).
 */
export async function runSocialSignIns(base, { connections, seconds }) {
  const browsers = Array.from({ length: connections }, (_, i) => ({ browser: new Browser(), login: `bench-${i}` }));
  // Each browser signs in at the provider (and consents) once, outside the measurement.
  await Promise.all(browsers.map((b) => signIn(b.browser, base, b.login)));
  return async function measure() {
    const durations = [];
    let errors = 0;
    const end = performance.now() + seconds * 1000;
    await Promise.all(
      browsers.map(async (b) => {
        while (performance.now() < end) {
          const t0 = performance.now();
          if (await signIn(b.browser, base, b.login).catch(() => false)) durations.push(performance.now() - t0);
          else errors++;
        }
      }),
    );
    durations.sort((x, y) => x - y);
    const at = (q) => durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] ?? 0;
    return { requests: durations.length, rps: durations.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), errors };
  };
}

// The token-endpoint scenarios of run.mjs (Latchkey as an OAuth 2.1 / OpenID provider):
// - client_credentials: one confidential client (client_secret_basic) asking POST /oauth/token for
//   a JWT access token for a resource (OAUTH_RESOURCES), the same body every time: wrk sends it;
// - authorization-code exchange: codes prepared beforehand by driving the real flow over HTTP
//   (authorize, Latchkey's sign-in page, back with a code; a first-party client, so no consent
//   page, and the provider's session makes every later authorize answer a code at once), then
//   only POST /oauth/token with code + PKCE verifier is measured. A code is single-use (a second
//   use revokes what it gave), so a load generator's loop cannot send them: each is sent exactly
//   once here, `connections` at a time, and the server's CPU is divided by the exchanges.
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';

/** A browser for the preparation: cookies of one origin, redirects followed by hand. */
class Browser {
  jar = new Map();
  async request(url, { form } = {}) {
    const headers = {};
    if (this.jar.size) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await fetch(url, { method: form ? 'POST' : 'GET', headers, body, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0];
      const eq = pair.indexOf('=');
      const value = pair.slice(eq + 1);
      if (value === '' || /max-age=0\b|expires=Thu, 01 Jan 1970/i.test(line)) this.jar.delete(pair.slice(0, eq));
      else this.jar.set(pair.slice(0, eq), value);
    }
    const location = res.headers.get('location');
    return { status: res.status, location: location && new URL(location, url).href, body: await res.text() };
  }
}

/** The value of a hidden input of a page's form (the interaction's CSRF token). */
function hiddenInput(html, name) {
  const tag = new RegExp(`<input[^>]*name="${name}"[^>]*>`, 'i').exec(html)?.[0];
  return tag && /value="([^"]*)"/.exec(tag)?.[1];
}

/** The action of the page's form that ends with `suffix` (absolute). */
function formAction(html, suffix, base) {
  for (const m of html.matchAll(/<form[^>]*action="([^"]+)"/gi)) {
    const action = m[1].replace(/&amp;/g, '&');
    if (new URL(action, base).pathname.endsWith(suffix)) return new URL(action, base).href;
  }
  return null;
}

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

/**
 * One authorization in `browser`: the authorize request, Latchkey's sign-in page the first time
 * (email and password posted with its CSRF token), consent if a page asks for it, back at the
 * redirect URI. Returns the code and its PKCE verifier.
 */
async function authorize(browser, base, flow) {
  const { verifier, challenge } = pkce();
  const params = new URLSearchParams({
    client_id: flow.clientId,
    redirect_uri: flow.redirectUri,
    response_type: 'code',
    scope: flow.scope,
    state: randomBytes(12).toString('base64url'),
    nonce: randomBytes(12).toString('base64url'),
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  if (flow.resource) params.set('resource', flow.resource);
  let url = `${base}/oauth/authorize?${params}`;
  for (let hops = 0; hops < 20; hops++) {
    if (url.startsWith(flow.redirectUri)) {
      const answer = new URL(url).searchParams;
      const code = answer.get('code');
      if (!code) throw new Error(`authorization refused: ${answer.get('error')} ${answer.get('error_description') ?? ''}`);
      return { code, verifier };
    }
    let hop = await browser.request(url);
    if (hop.status === 200 && /\/oauth\/interaction\//.test(url)) {
      const csrf = hiddenInput(hop.body, 'csrf');
      if (/name="password"/.test(hop.body)) {
        const action = formAction(hop.body, '/login', url) ?? `${url.replace(/\/$/, '')}/login`;
        hop = await browser.request(action, { form: { email: flow.email, password: flow.password, ...(csrf ? { csrf } : {}) } });
      } else if (/name="decision"/.test(hop.body) || formAction(hop.body, '/consent', url)) {
        const action = formAction(hop.body, '/consent', url) ?? `${url.replace(/\/$/, '')}/consent`;
        hop = await browser.request(action, { form: { decision: 'allow', ...(csrf ? { csrf } : {}) } });
      } else throw new Error(`an interaction page the bench does not know: ${hop.body.slice(0, 300)}`);
    }
    if (!hop.location) throw new Error(`authorization stopped at ${new URL(url).pathname}: ${hop.status} ${hop.body.slice(0, 300)}`);
    url = hop.location;
    // The provider's own redirects name ISSUER's host (never the request's Host), which the bench
    // sets to a name that does not resolve: they lead back to the server under test.
    const at = new URL(url);
    if (!url.startsWith(flow.redirectUri) && at.origin !== new URL(base).origin) url = new URL(at.pathname + at.search, base).href;
  }
  throw new Error('authorization: too many redirects');
}

/**
 * `count` authorization codes for `flow` (each with its own PKCE verifier), `parallel` at a time,
 * from one signed-in browser: one sign-in (one argon2id hash), then each authorize request answers
 * a code at once. Codes live for oidc-provider's AuthorizationCode TTL (60 s by default): prepare
 * them right before they are spent.
 */
export async function prepareCodes(base, flow, count, parallel = 4) {
  const browser = new Browser();
  const codes = [await authorize(browser, base, flow)];
  let next = 1;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        next++;
        codes.push(await authorize(browser, base, flow));
      }
    }),
  );
  return codes;
}

/** The form body of a code exchange (client authenticated by the Basic header). */
export function exchangeBody(flow, { code, verifier }) {
  return new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: flow.redirectUri, code_verifier: verifier, ...(flow.resource ? { resource: flow.resource } : {}) }).toString();
}

export function basicAuth(clientId, secret) {
  // RFC 6749 2.3.1: both form-urlencoded before Basic.
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/**
 * Sends each body once to `url` (POST, form-urlencoded, `headers` added), `connections` at a time
 * over keep-alive connections. Returns runLoad's shape; `errors` counts answers other than 200
 * (and `errorSample` shows one).
 */
export async function sendEach(url, bodies, { connections, headers = {} }) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const target = new URL(url);
  const durations = [];
  let errors = 0;
  let errorSample;
  let next = 0;
  const one = (body) =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        const start = performance.now();
        const res = await one(body).catch((err) => ({ status: 0, body: err.message }));
        if (res.status === 200) durations.push(performance.now() - start);
        else {
          errors++;
          errorSample ??= `${res.status} ${res.body.slice(0, 200)}`;
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  durations.sort((x, y) => x - y);
  const at = (q) => durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] ?? 0;
  return { requests: durations.length, rps: durations.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), seconds, errors, errorSample, generator: 'node http (each code once)' };
}

// The four multi-instance properties, as HTTP steps that return their evidence (status codes,
// which instance answered, key ids). scripts/cluster-demo.mjs prints the evidence; the test
// packages/server/test/cli/multi-instance.postgres.test.ts asserts on it.
import { spawn } from 'node:child_process';
import { request } from 'node:http';

const PASSWORD = 'correct horse battery staple';

/** One request on its own connection; resolves { status, headers, body, json }. */
export function http(url, { method, headers = {}, json, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const h = { ...headers };
    if (body !== undefined) h['content-type'] = 'application/json';
    const req = request(url, { method: method ?? (body ? 'POST' : 'GET'), headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed = null;
        try {
          parsed = text ? JSON.parse(text) : null;
        } catch {
          parsed = null;
        }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json: parsed });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bearer = (token) => ({ authorization: `Bearer ${token}` });

/** The `kid` in a JWT's protected header. */
export function kidOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8')).kid;
}

function uniqueEmail(tag) {
  return `${tag}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}@example.com`;
}

async function registerAndLogin(baseUrl, tag) {
  const email = uniqueEmail(tag);
  const reg = await http(`${baseUrl}/auth/register`, { json: { email, password: PASSWORD } });
  if (reg.status !== 201) throw new Error(`register via ${baseUrl}: ${reg.status} ${reg.body}`);
  const login = await http(`${baseUrl}/auth/login`, { json: { email, password: PASSWORD } });
  if (login.status !== 200) throw new Error(`login via ${baseUrl}: ${login.status} ${login.body}`);
  return { email, access: login.json.access_token, refresh: login.json.refresh_token, upstream: login.headers['x-latchkey-upstream'] ?? null };
}

/**
 * nginx deals requests round-robin: `n` requests through the load balancer, and the instance
 * (upstream address) that answered each.
 */
export async function balancing(cluster, n = 9) {
  const upstreams = [];
  for (let i = 0; i < n; i++) {
    const res = await http(`${cluster.url}/health/live`);
    upstreams.push({ status: res.status, upstream: res.headers['x-latchkey-upstream'] ?? null });
  }
  return upstreams;
}

/** 1. A token issued through one instance works on every other one. */
export async function tokenWorksEverywhere(cluster) {
  const issuer = cluster.instances[0];
  const user = await registerAndLogin(issuer.url, 'everywhere');
  const direct = [];
  for (const instance of cluster.instances) {
    const me = await http(`${instance.url}/auth/me`, { headers: bearer(user.access) });
    direct.push({ instance: instance.url, status: me.status, email: me.json?.user?.email ?? null });
  }
  const throughLb = [];
  for (let i = 0; i < cluster.instances.length * 2; i++) {
    const me = await http(`${cluster.url}/auth/me`, { headers: bearer(user.access) });
    throughLb.push({ upstream: me.headers['x-latchkey-upstream'] ?? null, status: me.status });
  }
  return { issuedBy: issuer.url, email: user.email, direct, throughLb };
}

/** 2. A logout through one instance is effective on the others at once. */
export async function logoutIsEverywhere(cluster) {
  const [a, b] = cluster.instances;
  const user = await registerAndLogin(a.url, 'logout');
  const before = [];
  for (const instance of cluster.instances) {
    before.push({ instance: instance.url, status: (await http(`${instance.url}/auth/me`, { headers: bearer(user.access) })).status });
  }
  const logout = await http(`${b.url}/auth/logout`, { method: 'POST', headers: bearer(user.access) });
  // No pause: "at once" means the very next request, on any instance.
  const after = [];
  for (const instance of cluster.instances) {
    const me = await http(`${instance.url}/auth/me`, { headers: bearer(user.access) });
    after.push({ instance: instance.url, status: me.status, code: me.json?.code ?? null });
  }
  const refresh = await http(`${cluster.instances[2 % cluster.instances.length].url}/auth/refresh`, { json: { refresh_token: user.refresh } });
  return { loggedOutVia: b.url, logoutStatus: logout.status, before, after, refreshAfterLogout: { status: refresh.status, code: refresh.json?.code ?? null } };
}

/**
 * 3. A refresh token rotated through one instance and replayed through another after the grace
 * window: the replay is refused as reuse and the whole session is revoked, everywhere.
 */
export async function replayAfterGraceRevokes(cluster, graceMs) {
  const [a, b, c] = [cluster.instances[0], cluster.instances[1 % cluster.instances.length], cluster.instances[2 % cluster.instances.length]];
  const user = await registerAndLogin(a.url, 'replay');
  const rotated = await http(`${a.url}/auth/refresh`, { json: { refresh_token: user.refresh } });
  const next = rotated.json ?? {};
  await sleep(graceMs + 250);
  const replay = await http(`${b.url}/auth/refresh`, { json: { refresh_token: user.refresh } });
  const newestRefresh = await http(`${c.url}/auth/refresh`, { json: { refresh_token: next.refresh_token } });
  const newestAccess = [];
  for (const instance of cluster.instances) {
    newestAccess.push({ instance: instance.url, status: (await http(`${instance.url}/auth/me`, { headers: bearer(next.access_token) })).status });
  }
  return {
    rotatedVia: a.url,
    rotateStatus: rotated.status,
    replayedVia: b.url,
    replay: { status: replay.status, code: replay.json?.code ?? null },
    newestRefresh: { via: c.url, status: newestRefresh.status, code: newestRefresh.json?.code ?? null },
    newestAccess,
  };
}

/** Runs `latchkey keys rotate` against the shared database; resolves the new kid. */
export function rotateKeys(cli, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'keys', 'rotate'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('exit', (code) => {
      const kid = /new active key (\S+)/.exec(out)?.[1];
      if (code !== 0 || !kid) reject(new Error(`latchkey keys rotate failed (${code}): ${out}`));
      else resolve(kid);
    });
  });
}

async function jwksKids(instanceUrl) {
  const res = await http(`${instanceUrl}/.well-known/jwks.json`);
  return res.status === 200 ? res.json.keys.map((k) => k.kid).sort() : null;
}

/**
 * 4. After `latchkey keys rotate`, every instance signs with the new key and serves the same
 * JWKS. Polls every 100 ms for at most `budgetMs`; reports how long convergence took and, once
 * converged, the kid of a token freshly issued by each instance.
 */
export async function keyRotationConverges(cluster, { cli, databaseUrl, budgetMs }) {
  const user = await registerAndLogin(cluster.instances[0].url, 'keys');
  const jwksBefore = await Promise.all(cluster.instances.map((i) => jwksKids(i.url)));
  const kidBefore = kidOf(user.access);
  const started = Date.now();
  const newKid = await rotateKeys(cli, { DATABASE_URL: databaseUrl });
  const rotatedAt = Date.now();
  let jwks = [];
  let converged = false;
  while (Date.now() - rotatedAt <= budgetMs) {
    jwks = await Promise.all(cluster.instances.map((i) => jwksKids(i.url)));
    converged = jwks.every((k) => k && k.includes(newKid) && JSON.stringify(k) === JSON.stringify(jwks[0]));
    if (converged) break;
    await sleep(100);
  }
  const convergedAfterMs = converged ? Date.now() - rotatedAt : null;
  const signedWith = [];
  for (const instance of cluster.instances) {
    const login = await http(`${instance.url}/auth/login`, { json: { email: user.email, password: PASSWORD } });
    signedWith.push({ instance: instance.url, status: login.status, kid: login.status === 200 ? kidOf(login.json.access_token) : null });
  }
  // A token signed with the retired key still verifies everywhere until it expires.
  const oldTokenStillValid = [];
  for (const instance of cluster.instances) {
    oldTokenStillValid.push({ instance: instance.url, status: (await http(`${instance.url}/auth/me`, { headers: bearer(user.access) })).status });
  }
  return { kidBefore, newKid, jwksBefore, jwksAfter: jwks, converged, convergedAfterMs, rotateTookMs: rotatedAt - started, signedWith, oldTokenStillValid };
}

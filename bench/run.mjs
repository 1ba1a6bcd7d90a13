#!/usr/bin/env node
// Latchkey's load benchmark: `npm run bench` (about 5 minutes) or `npm run bench:quick` (a smoke
// run of about a minute). Starts everything itself on 127.0.0.1, one thing at a time, and prints
// req/s, p50/p99 latency and peak RSS per scenario, each as a ratio to a baseline measured in the
// same run (a bare Fastify route returning `{}`). Results go to bench/results/. See
// docs/benchmarks.md for what each scenario means.
//
// Flags: --quick, --pg (also on PostgreSQL; or BENCH_PG=1), --only=baseline,a,b,c,d,e,f,r,r-mem,token,peers,webhooks
// (a comma list; token = the OAuth provider's token endpoint: client_credentials and code exchange), --seconds=N, --warmup=N, --connections=N, --load-generator=wrk|autocannon,
// --log-level=info, --no-peers, --cpu-prof (profiles of the server go to .tmp/profiles/),
// --update-docs (replace the table in docs/benchmarks.md), --no-save, --server=DIR (another build
// of packages/server, for before/after runs), --verify=DIR (another build of packages/verify, its
// dist directory, for (a)), --a-follow ((a) with the service following the revocation feed and
// 10,000 revoked sessions in it), --revocations=N (logouts in (r), 200),
// --revocations-memory=N (revoked sessions in (r-mem), 100,000).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultGenerator, runLoad } from './lib/load.mjs';
import { findPgBin, startPostgres } from './lib/postgres.mjs';
import { freePort, latchkeyArgs, ROOT, SERVER_ENV, SERVER_NODE_OPTIONS, startProcess, UNREACHABLE_RATE_LIMITS, waitForHttp } from './lib/processes.mjs';
import { describeMachine, renderMarkdown } from './lib/report.mjs';
import { cloneSessions, pageWholeFeed, revocationLatencies, revokeSessions, summarise, verifyStats } from './lib/revocations.mjs';
import { startNginx } from '../scripts/lib/local-services.mjs';
import { basicAuth, exchangeBody, prepareCodes, sendEach } from './lib/oauth-token.mjs';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    pg: { type: 'boolean', default: process.env.BENCH_PG === '1' },
    only: { type: 'string' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '32' },
    'load-generator': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    'no-peers': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    'update-docs': { type: 'boolean', default: false },
    'no-save': { type: 'boolean', default: false },
    revocations: { type: 'string' },
    verify: { type: 'string' },
    'a-follow': { type: 'boolean', default: false },
    'revocations-memory': { type: 'string' },
    server: { type: 'string', default: 'packages/server' },
  },
});

const settings = {
  mode: flags.quick ? 'quick' : 'full',
  seconds: Number(flags.seconds ?? (flags.quick ? 3 : 10)),
  warmupSeconds: Number(flags.warmup ?? (flags.quick ? 1 : 3)),
  connections: Number(flags.connections),
  generator: flags['load-generator'] ?? defaultGenerator(),
  logLevel: flags['log-level'],
  alg: 'RS256',
  nodeOptions: SERVER_NODE_OPTIONS,
  serverEnv: SERVER_ENV,
  argon2: { memoryKib: 19456, timeCost: 2, parallelism: 1 },
};
const only = flags.only ? new Set(flags.only.split(',').map((s) => s.trim())) : null;
const wants = (key) => !only || only.has(key);
const cores = availableParallelism();
const SERVER_DIR = isAbsolute(flags.server) ? flags.server : join(ROOT, flags.server);
const PROFILE_DIR = join(ROOT, '.tmp/profiles'); // gitignored

const tmp = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
const started = new Date();
const results = {
  startedAt: started.toISOString(),
  machine: describeMachine(),
  settings,
  limits: null,
  limitSamples: [],
  baseline: null,
  scenarios: [],
  startup: [],
  revocations: [],
  revocationMemory: null,
  targets: [],
  notes: [],
};
const live = new Set();
let seq = 0;

function spawnSyncOk(cmd, args) {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

function log(line) {
  process.stderr.write(`[bench] ${line}\n`);
}

async function cleanup() {
  for (const p of live) await p.stop().catch(() => undefined);
  live.clear();
}
process.on('SIGINT', () => void cleanup().finally(() => process.exit(130)));

// ---------------------------------------------------------------------------------------------
// processes

async function start(label, command, args, { env = {}, readyPath = '/', readyStatus = 200, port } = {}) {
  const p = port ?? (await freePort());
  const t0 = performance.now();
  const proc = startProcess(label, command, args, { env: { PORT: String(p), ...env }, logFile: join(tmp, `${label}-${++seq}.log`) });
  live.add(proc);
  const readyMs = await waitForHttp(`http://127.0.0.1:${p}${readyPath}`, { since: t0, proc, status: readyStatus, timeoutMs: 60_000 });
  return Object.assign(proc, { port: p, base: `http://127.0.0.1:${p}`, readyMs });
}

async function stop(proc) {
  const peak = proc.peakRss();
  await proc.stop();
  live.delete(proc);
  return peak;
}

const BENCH_ISSUER = 'http://latchkey.bench.test';
/** REVOCATION_FEED_TOKEN of the servers in the revocation scenarios, and of the service following it. */
const FEED_TOKEN = `bench-feed-${randomBytes(24).toString('base64url')}`;

function latchkeyEnv(db, port) {
  return {
    ...SERVER_ENV,
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: db.url,
    // One issuer for every server of the run (the port changes at each start; tokens must not).
    ISSUER: BENCH_ISSUER,
    LOG_LEVEL: settings.logLevel,
    JWT_ALG: settings.alg,
    ...UNREACHABLE_RATE_LIMITS,
  };
}

async function startLatchkey(db, label, extraEnv = {}) {
  const port = await freePort();
  const nodeArgs = flags['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${label}-${db.name}-${Date.now()}.cpuprofile`] : [];
  if (flags['cpu-prof']) mkdirSync(PROFILE_DIR, { recursive: true });
  return start(`latchkey-${label}`, process.execPath, latchkeyArgs(SERVER_DIR, nodeArgs), {
    env: { ...latchkeyEnv(db, port), ...extraEnv },
    readyPath: '/health/ready',
    port,
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers for setting up users and tokens

async function postJson(url, body, headers = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return { res, json: text ? JSON.parse(text) : null };
}

const BENCH_EMAIL = 'bench.user@example.com';
const BENCH_PASSWORD = `bench-${Math.random().toString(36).slice(2)}-passphrase`;

/** n logins, `parallel` at a time; returns their TokenResponses. */
async function logins(base, n, parallel = cores) {
  const out = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        next++;
        out.push((await postJson(`${base}/auth/login`, { email: BENCH_EMAIL, password: BENCH_PASSWORD })).json);
      }
    }),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// measuring

/**
 * Warm-up then the measured run against `proc`; returns the measured LoadResult plus the
 * server's CPU time per answered request (all its threads, from /proc).
 */
async function measure(proc, spec, warmSpec = spec) {
  if (settings.warmupSeconds > 0) await runLoad(settings.generator, { ...warmSpec, seconds: settings.warmupSeconds, connections: settings.connections }, tmp);
  const load1 = loadavg()[0];
  const cpu0 = proc.cpuTimeMs();
  const r = await runLoad(settings.generator, { ...spec, seconds: settings.seconds, connections: settings.connections }, tmp);
  const cpu1 = proc.cpuTimeMs();
  const cpuUsPerRequest = cpu0 !== null && cpu1 !== null && r.requests > 0 ? ((cpu1 - cpu0) * 1000) / r.requests : null;
  const out = { ...r, cpuUsPerRequest, loadavg1: Math.round(load1 * 100) / 100 };
  if (r.errors > 0 && !spec.refreshTokens) out.errorSample = await sampleAnswer(spec);
  return out;
}

/** One request like the load's, to say in the report what the failed answers were. */
async function sampleAnswer(spec) {
  const headers = { ...(spec.headers ?? {}) };
  if (spec.bearerTokens) headers.authorization = `Bearer ${spec.bearerTokens[0]}`;
  try {
    const res = await fetch(spec.url, { method: spec.method ?? 'GET', headers, body: spec.body });
    return `${res.status} ${(await res.text()).slice(0, 200)}`;
  } catch (err) {
    return `no answer: ${err.message}`;
  }
}

async function probe(spec) {
  const load1 = Math.round(loadavg()[0] * 100) / 100;
  const child = spawn(process.execPath, [join(ROOT, 'bench/lib/probe.mjs'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`probe exited with ${code}`);
  return { ...JSON.parse(out), loadavg1: load1 };
}

function record(s) {
  results.scenarios.push(s);
  log(
    `${s.label}${s.db ? ` [${s.db}]` : ''}: ${Math.round(s.rps)} req/s, p50 ${s.p50Ms?.toFixed(2)} ms, p99 ${s.p99Ms?.toFixed(2)} ms` +
      (s.peakRss ? `, peak RSS ${Math.round(s.peakRss / 2 ** 20)} MB` : '') +
      (s.errors ? `, ${s.errors} errors` : ''),
  );
  return s;
}

/**
 * Measures the signing and hashing costs in a child process. Called at the start of the run and
 * again right before the refresh and login scenarios, so that each is compared with a bound
 * measured under the same machine load (other work on a shared machine moves both alike).
 */
async function measureLimits(label) {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bench/lib/limits-child.mjs'), JSON.stringify({ alg: settings.alg, ...settings.argon2, seconds: flags.quick ? 1 : 2 })],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`limits child exited with ${code}`);
  const l = JSON.parse(out);
  const limits = { label, ...l, cores, signingBound: cores * l.signaturesPerSecond, hashBound: (cores * 1000) / l.argon2Ms };
  results.limitSamples.push(limits);
  results.limits ??= limits;
  log(`limits (${label}): ${Math.round(l.signaturesPerSecond)} ${l.alg} signatures/s per core, argon2id ${l.argon2Ms.toFixed(1)} ms per hash`);
  return limits;
}

/**
 * The baseline measured again right before and right after a scenario whose target is a ratio
 * to it ((a), (b)): this machine's speed drifts by tens of percent within minutes (two
 * `--only=baseline,a` runs a minute apart: baseline 53,973 then 43,023 req/s), so each of those
 * ratios uses the mean of its two adjacent measurements, like (c) and (d) use bounds measured
 * just before them. Returns req/s.
 */
async function adjacentBaseline(label) {
  const r = await measureBaseline();
  log(`baseline (${label}): ${Math.round(r.rps)} req/s`);
  return r.rps;
}

async function measureBaseline() {
  const b = await start('baseline', process.execPath, [join(ROOT, 'bench/peers/baseline.mjs')]);
  const r = await measure(b, { url: `${b.base}/` });
  r.peakRss = await stop(b);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Latchkey scenarios on one database

async function latchkeyScenarios(db) {
  // Set-up: one user, registered through the API on a fresh database.
  let server = await startLatchkey(db, 'setup');
  await postJson(`${server.base}/auth/register`, { email: BENCH_EMAIL, password: BENCH_PASSWORD, name: 'Bench User' });
  await stop(server);

  const c = settings.connections;

  if (wants('b') || wants('a') || wants('e')) {
    server = await startLatchkey(db, 'me');
    const tokens = (await logins(server.base, 64)).map((t) => t.access_token);
    db.accessTokens = tokens;
    if (wants('b')) {
      const before = await adjacentBaseline(`before (b) ${db.name}`);
      const r = await measure(server, { url: `${server.base}/auth/me`, bearerTokens: tokens });
      r.peakRss = await stop(server);
      r.adjacentBaseline = [before, await adjacentBaseline(`after (b) ${db.name}`)];
      record({ key: 'b', label: '(b) GET /auth/me', db: db.name, ...r });
    } else await stop(server);
  }

  if (wants('a') && db.name === 'sqlite') await verifyScenario(db);

  if (wants('c')) {
    const limits = await measureLimits(`before (c) ${db.name}`);
    server = await startLatchkey(db, 'refresh');
    // One pool for the warm-up and a fresh one for the measured run: each holds 2 sessions per connection.
    const warm = (await logins(server.base, 2 * c)).map((t) => t.refresh_token);
    const main = (await logins(server.base, 2 * c)).map((t) => t.refresh_token);
    const r = await measure(
      server,
      { url: `${server.base}/auth/refresh`, method: 'POST', refreshTokens: main },
      { url: `${server.base}/auth/refresh`, method: 'POST', refreshTokens: warm },
    );
    r.peakRss = await stop(server);
    record({ key: 'c', label: '(c) POST /auth/refresh', db: db.name, ...r, limits });
  }

  const loginSpec = (base) => ({
    url: `${base}/auth/login`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: BENCH_EMAIL, password: BENCH_PASSWORD }),
  });

  if (wants('d')) {
    const limits = await measureLimits(`before (d) ${db.name}`);
    server = await startLatchkey(db, 'login');
    const r = await measure(server, loginSpec(server.base));
    r.peakRss = await stop(server);
    record({ key: 'd', label: '(d) POST /auth/login', db: db.name, ...r, limits });
  }

  if (wants('e')) {
    server = await startLatchkey(db, 'health');
    const [token] = await logins(server.base, 1);
    const probeSpec = {
      url: `${server.base}/auth/me`,
      headers: { authorization: `Bearer ${token.access_token}` },
      connections: 4,
      pauseMs: 5,
      seconds: settings.seconds,
    };
    await probe({ ...probeSpec, seconds: settings.warmupSeconds || 1 });
    const idle = await probe(probeSpec);
    // 32 logins at once for the whole probe: wrk starts a second before and ends a second after.
    const loginLoad = runLoad(settings.generator, { ...loginSpec(server.base), connections: 32, seconds: settings.seconds + 2 }, tmp);
    await new Promise((r) => setTimeout(r, 1000));
    const loaded = await probe(probeSpec);
    const logins32 = await loginLoad;
    const peakRss = await stop(server);
    record({ key: 'e-idle', label: '(e) GET /auth/me probe, idle', db: db.name, ...idle });
    record({ key: 'e', label: '(e) GET /auth/me probe, 32 logins at once', db: db.name, ...loaded, peakRss, idleP99Ms: idle.p99Ms });
    record({ key: 'e-logins', label: '(e) the 32 concurrent logins', db: db.name, ...logins32 });
  }

  if (wants('r') || (wants('r-mem') && db.name === 'sqlite')) await revocationScenario(db);

  if (wants('token') || wants('token-cc') || wants('token-code')) await tokenEndpointScenarios(db);

  if (wants('f')) {
    for (const kind of ['empty', 'existing']) {
      const times = [];
      let peak = 0;
      for (let i = 0; i < (flags.quick ? 3 : 5); i++) {
        const target = kind === 'empty' ? db.fresh(`startup${i}`) : db;
        const s = await startLatchkey(target, 'startup');
        times.push(s.readyMs);
        peak = Math.max(peak, (await stop(s)) ?? 0);
      }
      const sorted = [...times].sort((a, b) => a - b);
      const entry = { db: db.name, kind: kind === 'empty' ? 'new (migrations + key generation)' : 'existing', times, medianMs: sorted[Math.floor(sorted.length / 2)], maxMs: sorted.at(-1), peakRss: peak };
      results.startup.push(entry);
      log(`(f) start-up [${db.name}, ${kind}]: median ${entry.medianMs.toFixed(0)} ms, max ${entry.maxMs.toFixed(0)} ms`);
    }
  }
}

/** (a): a resource server protecting a route with packages/verify, against Latchkey's JWKS. */
async function verifyScenario(db) {
  const verifyEntry = join(ROOT, 'packages/verify/dist/fastify.js');
  if (!existsSync(verifyEntry)) {
    results.notes.push('(a) skipped: packages/verify is not built (npm run build).');
    log('(a) skipped: packages/verify/dist/fastify.js missing');
    return;
  }
  const follow = flags['a-follow'];
  const server = await startLatchkey(db, 'jwks', follow ? { REVOCATION_FEED_TOKEN: FEED_TOKEN } : {});
  const tokens = db.accessTokens ?? (await logins(server.base, 64)).map((t) => t.access_token);
  if (follow) {
    // Revocations for the follower to hold (sessions other than the 64 measured ones).
    const [one] = await logins(server.base, 1);
    const sid = JSON.parse(Buffer.from(one.access_token.split('.')[1], 'base64url').toString('utf8')).sid;
    await revokeSessions(server.base, one.access_token, cloneSessions(db.url.slice('sqlite:'.length), sid, 10_000));
  }
  const app = await start('verify-app', process.execPath, [join(ROOT, 'bench/peers/verify-app.mjs')], {
    env: {
      LATCHKEY_ISSUER: BENCH_ISSUER,
      LATCHKEY_JWKS_URL: `${server.base}/.well-known/jwks.json`,
      AUDIENCE: 'latchkey',
      ...(flags.verify ? { VERIFY_DIST: isAbsolute(flags.verify) ? flags.verify : join(ROOT, flags.verify) } : {}),
      ...(follow ? { LATCHKEY_REVOCATIONS_URL: `${server.base}/auth/revocations`, REVOCATION_FEED_TOKEN: FEED_TOKEN } : {}),
    },
    readyPath: '/health',
  });
  if (follow) {
    const held = (await verifyStats(app.base)).revocations?.revokedSessions ?? 0;
    results.notes.push(`(a) ran with the service following the revocation feed, holding ${held} revoked sessions.`);
    log(`(a) follows the feed: ${held} revoked sessions held`);
  }
  const before = await adjacentBaseline('before (a)');
  const r = await measure(app, { url: `${app.base}/protected`, bearerTokens: tokens });
  r.peakRss = await stop(app);
  await stop(server);
  r.adjacentBaseline = [before, await adjacentBaseline('after (a)')];
  record({ key: 'a', label: follow ? '(a) route protected by packages/verify, following the revocation feed' : '(a) route protected by packages/verify', db: 'none (JWKS)', ...r });
}

/** The API the benchmark's OAuth client asks tokens for (OAUTH_RESOURCES): access tokens are then JWTs. */
const BENCH_RESOURCE = 'https://api.bench.test/';
/** Never contacted: the preparation reads the code from the redirect's Location. */
const BENCH_REDIRECT = 'http://127.0.0.1:9/callback';
const BENCH_ADMIN = 'bench.admin@example.com';

/**
 * (token-cc) and (token-code): the OAuth provider's POST /oauth/token. One confidential client
 * (client_secret_basic, first-party so that no consent page stands in the preparation), created
 * through the admin API by an admin made with `latchkey users create-admin`.
 * - token-cc: client_credentials for BENCH_RESOURCE, the same request every time (wrk): one JWT
 *   access token signed per request.
 * - token-code: the authorization-code exchange of a relying party (scope openid profile email
 *   offline_access, resource BENCH_RESOURCE: an ID token and a JWT access token, two signatures,
 *   and a refresh token). Codes are prepared by driving the real flow over HTTP (bench/lib/oauth-token.mjs)
 *   and each is sent once; only the exchanges are measured.
 * Both are compared, like (c), with the cost of one signature measured just before (limits child):
 * server CPU per token request ÷ µs per signature.
 */
async function tokenEndpointScenarios(db) {
  const server = await startLatchkey(db, 'oauth', { OAUTH_PROVIDER: 'true', OAUTH_RESOURCES: BENCH_RESOURCE });
  try {
    // An admin, straight into the database by the CLI (as an operator would), then the client
    // through the admin API.
    const cli = spawnSync(process.execPath, [join(SERVER_DIR, 'bin/latchkey.js'), 'users', 'create-admin', '--email', BENCH_ADMIN], {
      env: { ...process.env, ...latchkeyEnv(db, server.port), LOG_LEVEL: 'warn', LATCHKEY_ADMIN_PASSWORD: BENCH_PASSWORD },
      encoding: 'utf8',
    });
    if (cli.status !== 0 && !/exists/i.test(`${cli.stdout}${cli.stderr}`)) throw new Error(`latchkey users create-admin: ${cli.stdout}${cli.stderr}`);
    const admin = (await postJson(`${server.base}/auth/login`, { email: BENCH_ADMIN, password: BENCH_PASSWORD })).json;
    const { json: created } = await postJson(
      `${server.base}/admin/oauth/clients`,
      {
        name: 'Bench relying party',
        redirect_uris: [BENCH_REDIRECT],
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        scopes: ['openid', 'profile', 'email', 'offline_access'],
        first_party: true,
      },
      { authorization: `Bearer ${admin.access_token}` },
    );
    const clientId = created.client.client_id;
    const authorization = basicAuth(clientId, created.client_secret);
    const tokenUrl = `${server.base}/oauth/token`;

    if (wants('token-cc') || wants('token')) {
      const limits = await measureLimits(`before (token-cc) ${db.name}`);
      const spec = {
        url: tokenUrl,
        method: 'POST',
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: BENCH_RESOURCE }).toString(),
      };
      const first = await fetch(spec.url, { method: 'POST', headers: spec.headers, body: spec.body });
      if (first.status !== 200) throw new Error(`client_credentials: ${first.status} ${await first.text()}`);
      const r = await measure(server, spec);
      r.peakRss = server.peakRss();
      record({ key: 'token-cc', label: '(token-cc) POST /oauth/token, client_credentials (JWT for a resource)', db: db.name, ...r, limits, signatures: 1 });
    }

    if (wants('token-code') || wants('token')) {
      const flow = { clientId, redirectUri: BENCH_REDIRECT, scope: 'openid profile email offline_access', resource: BENCH_RESOURCE, email: BENCH_EMAIL, password: BENCH_PASSWORD };
      const count = flags.quick ? 600 : 2500;
      const send = (codes) => sendEach(tokenUrl, codes.map((c) => exchangeBody(flow, c)), { connections: settings.connections, headers: { authorization } });
      // Warm-up with codes of their own; then a fresh batch (codes live 60 s), measured alone.
      const warm = await send(await prepareCodes(server.base, flow, Math.round(count / 4)));
      if (warm.requests === 0) throw new Error(`code exchange: every warm-up exchange failed: ${warm.errorSample}`);
      const limits = await measureLimits(`before (token-code) ${db.name}`);
      // Batches of codes, each prepared and then spent at once (a code lives 60 s, and on a busy
      // machine preparing thousands takes longer); only the sends are measured.
      const batch = 250;
      const load1 = loadavg()[0];
      let prepareSeconds = 0;
      let cpuMs = 0;
      const parts = [];
      for (let done = 0; done < count; done += batch) {
        const t0 = performance.now();
        const codes = await prepareCodes(server.base, flow, Math.min(batch, count - done));
        prepareSeconds += (performance.now() - t0) / 1000;
        const cpu0 = server.cpuTimeMs();
        parts.push(await send(codes));
        cpuMs += server.cpuTimeMs() - cpu0;
      }
      const requests = parts.reduce((n, p) => n + p.requests, 0);
      const seconds = parts.reduce((n, p) => n + p.seconds, 0);
      const r = {
        requests,
        rps: requests / seconds,
        // Per batch; the median batch's p50 and the worst batch's p99.
        p50Ms: parts.map((p) => p.p50Ms).sort((a, b) => a - b)[Math.floor(parts.length / 2)],
        p99Ms: Math.max(...parts.map((p) => p.p99Ms)),
        errors: parts.reduce((n, p) => n + p.errors, 0),
        errorSample: parts.find((p) => p.errorSample)?.errorSample,
        generator: parts[0].generator,
      };
      const cpuUsPerRequest = (cpuMs * 1000) / requests;
      log(`(token-code) ${count} codes prepared over HTTP in ${prepareSeconds.toFixed(1)} s, in batches of ${batch}`);
      record({ key: 'token-code', label: '(token-code) POST /oauth/token, authorization code + PKCE (ID token, JWT access token, refresh token)', db: db.name, ...r, cpuUsPerRequest, peakRss: server.peakRss(), loadavg1: Math.round(load1 * 100) / 100, limits, signatures: 2 });
    }
  } finally {
    await stop(server);
  }
}

/**
 * (r) and (r-mem): a verify-protected service following the revocation feed. (r): the time from a
 * logout answered by Latchkey to the first 401 of the service, over 200 logouts one after the
 * other, each after a random pause of 0–500 ms; on SQLite one instance, on PostgreSQL three behind nginx (round robin: most logouts land
 * on another instance than the one holding the service's stream). (r-mem, SQLite): the verify
 * process's memory with 100,000 revoked sessions in the window, and the start-up of a second
 * follower that reads them all.
 */
async function revocationScenario(db) {
  const feed = { REVOCATION_FEED_TOKEN: FEED_TOKEN };
  const count = Number(flags.revocations ?? (flags.quick ? 50 : 200));
  const instances = db.name === 'postgres' ? 3 : 1;
  const servers = [];
  let lb = null;
  const apps = [];
  const startVerifyApp = (base, label) =>
    start(label, process.execPath, ['--expose-gc', join(ROOT, 'bench/peers/verify-app.mjs')], {
      env: {
        LATCHKEY_ISSUER: BENCH_ISSUER,
        LATCHKEY_JWKS_URL: `${base}/.well-known/jwks.json`,
        LATCHKEY_REVOCATIONS_URL: `${base}/auth/revocations`,
        AUDIENCE: 'latchkey',
        ...feed,
      },
      readyPath: '/health',
    }).then((app) => (apps.push(app), app));
  try {
    // One after the other: the first runs the migrations and makes the key the others share.
    for (let i = 0; i < instances; i++) servers.push(await startLatchkey(db, `feed${i}`, feed));
    if (instances > 1) lb = await startNginx({ upstreams: servers.map((s) => s.port), parent: tmp });
    const base = lb ? lb.url : servers[0].base;
    const app = await startVerifyApp(base, 'verify-follow');
    if (wants('r')) {
      const tokens = (await logins(base, count, 2)).map((t) => t.access_token);
      const load1 = Math.round(loadavg()[0] * 100) / 100;
      const { latencies, upstreams } = await revocationLatencies({ latchkeyBase: base, protectedUrl: `${app.base}/protected`, accessTokens: tokens });
      const entry = { db: db.name, instances, via: lb ? 'nginx' : 'direct', upstreamsSeen: new Set(upstreams.filter(Boolean)).size, ...summarise(latencies), loadavg1: load1, latencies };
      results.revocations.push(entry);
      log(`(r) logout → first 401 [${db.name}, ${instances} instance(s)${lb ? ' behind nginx' : ''}]: p50 ${entry.p50Ms.toFixed(1)} ms, p99 ${entry.p99Ms.toFixed(1)} ms, max ${entry.maxMs.toFixed(1)} ms over ${entry.count}`);
    }
    if (wants('r-mem') && db.name === 'sqlite') {
      const n = Number(flags['revocations-memory'] ?? (flags.quick ? 20_000 : 100_000));
      const before = await verifyStats(app.base);
      const [one] = await logins(base, 1);
      const sid = JSON.parse(Buffer.from(one.access_token.split('.')[1], 'base64url').toString('utf8')).sid;
      const ids = cloneSessions(db.url.slice('sqlite:'.length), sid, n);
      const t0 = performance.now();
      await revokeSessions(base, one.access_token, ids);
      const revokeMs = performance.now() - t0;
      const want = before.revocations.revokedSessions + n;
      const deadline = performance.now() + 120_000;
      let after;
      for (;;) {
        after = await verifyStats(app.base);
        if (after.revocations.revokedSessions >= want) break;
        if (performance.now() > deadline) throw new Error(`the follower holds ${after.revocations.revokedSessions} of ${want} revocations after 120 s`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const paging = await pageWholeFeed(`${base}/auth/revocations`, FEED_TOKEN);
      // A second service started now reads all of them before it listens (verify-app awaits revocationsReady()).
      const late = await startVerifyApp(base, 'verify-follow-late');
      const lateStats = await verifyStats(late.base);
      results.revocationMemory = {
        entries: n,
        revokeSeconds: revokeMs / 1000,
        heapBefore: before.heapUsed,
        heapAfter: after.heapUsed,
        rssBefore: before.rss,
        rssAfter: after.rss,
        peakRss: app.peakRss(),
        bytesPerEntry: (after.heapUsed - before.heapUsed) / n,
        held: after.revocations.revokedSessions,
        lateReadyMs: late.readyMs,
        lateHeld: lateStats.revocations.revokedSessions,
        lateHeap: lateStats.heapUsed,
        lateRss: lateStats.rss,
        paging,
      };
      const m = results.revocationMemory;
      log(`(r-mem) paging the whole feed from the bench: ${Math.round(m.paging.ms)} ms for ${m.paging.pages} pages`);
      log(`(r-mem) ${n} revocations: heap ${Math.round(m.heapBefore / 2 ** 20)} → ${Math.round(m.heapAfter / 2 ** 20)} MB (${Math.round(m.bytesPerEntry)} B/entry), RSS ${Math.round(m.rssBefore / 2 ** 20)} → ${Math.round(m.rssAfter / 2 ** 20)} MB; a new follower ready in ${Math.round(m.lateReadyMs)} ms`);
    }
  } finally {
    for (const a of apps) await stop(a);
    await lb?.stop();
    for (const s of servers) await stop(s);
  }
}

// ---------------------------------------------------------------------------------------------
// peers

async function peers() {
  const data = join(tmp, 'peers');
  mkdirSync(data, { recursive: true });
  const env = { DATA_DIR: data, BENCH_EMAIL, BENCH_PASSWORD };

  // The tutorials' stack: FastAPI + PyJWT + passlib bcrypt on uvicorn (Debian's python3), once as
  // Debian installs it (uvicorn on h11 and asyncio) and once with httptools and uvloop (what
  // `pip install "uvicorn[standard]"` adds) when Debian's python3-httptools/-uvloop are there.
  if (existsSync('/usr/bin/python3')) {
    const hasFast = spawnSyncOk('/usr/bin/python3', ['-c', 'import httptools, uvloop']);
    const variants = [
      { key: 'peer-fastapi', label: 'peer: FastAPI + PyJWT HS256, GET /users/me/ (uvicorn h11 + asyncio, Debian default)', args: ['--http', 'h11', '--loop', 'asyncio'] },
      ...(hasFast ? [{ key: 'peer-fastapi-fast', label: 'peer: FastAPI + PyJWT HS256, GET /users/me/ (uvicorn httptools + uvloop)', args: ['--http', 'httptools', '--loop', 'uvloop'] }] : []),
    ];
    if (!hasFast) results.notes.push('FastAPI with httptools + uvloop not measured: Debian packages python3-httptools and python3-uvloop are not installed.');
    for (const v of variants) {
      const port = await freePort();
      const app = await start(
        'fastapi',
        '/usr/bin/python3',
        ['-m', 'uvicorn', 'fastapi_app:app', '--app-dir', join(ROOT, 'bench/peers'), '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning', '--no-access-log', ...v.args],
        { env, readyPath: '/docs', port },
      );
      const form = new URLSearchParams({ username: BENCH_EMAIL, password: BENCH_PASSWORD });
      const res = await fetch(`${app.base}/token`, { method: 'POST', body: form });
      if (!res.ok) throw new Error(`fastapi /token: ${res.status} ${await res.text()}`);
      const { access_token } = await res.json();
      const r = await measure(app, { url: `${app.base}/users/me/`, headers: { authorization: `Bearer ${access_token}` } });
      r.peakRss = await stop(app);
      record({ key: v.key, label: v.label, db: 'sqlite', ...r });
    }
  } else results.notes.push('FastAPI peer skipped: /usr/bin/python3 is missing.');

  // A typical Node stack: Express + jsonwebtoken + bcryptjs.
  {
    const app = await start('express', process.execPath, [join(ROOT, 'bench/peers/express-app.mjs')], { env, readyPath: '/me', readyStatus: 401 });
    const { json } = await postJson(`${app.base}/login`, { email: BENCH_EMAIL, password: BENCH_PASSWORD });
    const r = await measure(app, { url: `${app.base}/me`, headers: { authorization: `Bearer ${json.access_token}` } });
    r.peakRss = await stop(app);
    record({ key: 'peer-express', label: 'peer: Express + jsonwebtoken RS256, GET /me', db: 'sqlite', ...r });
  }

  // better-auth on SQLite: its get-session against our GET /auth/me.
  const baDir = join(ROOT, 'bench/peers/better-auth');
  try {
    if (!existsSync(join(baDir, 'node_modules/better-auth'))) {
      log('installing better-auth for its peer (npm ci in bench/peers/better-auth)');
      await new Promise((resolve, reject) => {
        const npm = spawn('flock', ['/tmp/latchkey-npm.lock', 'npm', 'ci', '--no-audit', '--no-fund'], { cwd: baDir, stdio: 'inherit' });
        npm.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`npm ci exited with ${code}`))));
        npm.on('error', reject);
      });
    }
    const app = await start('better-auth', process.execPath, [join(baDir, 'server.mjs')], { env, readyPath: '/api/auth/ok' });
    // better-auth refuses a POST without an Origin it trusts (its CSRF check), as a browser would send.
    const { res } = await postJson(
      `${app.base}/api/auth/sign-up/email`,
      { email: BENCH_EMAIL, password: BENCH_PASSWORD, name: 'Bench User' },
      { origin: app.base },
    );
    const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    if (!cookie.includes('session_token')) throw new Error('better-auth set no session cookie');
    const r = await measure(app, { url: `${app.base}/api/auth/get-session`, headers: { cookie } });
    r.peakRss = await stop(app);
    record({ key: 'peer-better-auth', label: 'peer: better-auth, GET /api/auth/get-session', db: 'sqlite', ...r });
  } catch (err) {
    results.notes.push(`better-auth peer not measured: ${err.message}`);
    log(`better-auth peer failed: ${err.stack}`);
  }
}

// ---------------------------------------------------------------------------------------------
// targets

function evaluate() {
  const base = results.baseline.rps;
  const find = (key, db = 'sqlite') => results.scenarios.find((s) => s.key === key && (s.db === db || db === null));
  const target = (s, ratio, of, text, limit) => {
    s.ratio = ratio;
    s.ratioOf = of;
    s.target = text;
    s.met = ratio >= limit;
  };
  for (const s of results.scenarios) if (s.ratio === undefined && s.rps && !s.key.startsWith('e')) {
    s.ratio = s.rps / base;
    s.ratioOf = 'baseline';
  }
  const dbs = [...new Set(results.scenarios.map((s) => s.db).filter((d) => d === 'sqlite' || d === 'postgres'))];
  /** The baseline a scenario is compared with: the mean of its adjacent measurements when it has them. */
  const baseOf = (s) => (s.adjacentBaseline ? s.adjacentBaseline.reduce((x, y) => x + y, 0) / s.adjacentBaseline.length : base);
  const adjacentText = (s) =>
    s.adjacentBaseline ? ` of ${Math.round(baseOf(s))} req/s measured around it (${s.adjacentBaseline.map((x) => Math.round(x)).join(' before, ')} after; ${(s.rps / base).toFixed(2)} × the run's start/end baseline)` : '';
  const a = find('a', null);
  if (a) {
    target(a, a.rps / baseOf(a), 'baseline', '≥ 0.80 × baseline', 0.8);
    results.targets.push({ met: a.met, text: `(a) verify: ${a.ratio.toFixed(2)} × baseline${adjacentText(a)} (target ≥ 0.80)` });
  }
  const fastapi = find('peer-fastapi');
  for (const db of dbs) {
    const b = find('b', db);
    if (b) {
      target(b, b.rps / baseOf(b), 'baseline', '≥ 0.50 × baseline', 0.5);
      results.targets.push({ met: b.met, text: `(b) /auth/me [${db}]: ${b.ratio.toFixed(2)} × baseline${adjacentText(b)} (target ≥ 0.50)` });
      if (fastapi) {
        const x = b.rps / fastapi.rps;
        b.vsFastapi = x;
        results.targets.push({ met: x >= 10, text: `(b) /auth/me [${db}]: ${x.toFixed(1)} × the FastAPI peer as Debian installs it (target ≥ 10)` });
      }
      const fast = find('peer-fastapi-fast');
      if (fast) {
        const x = b.rps / fast.rps;
        b.vsFastapiFast = x;
        results.targets.push({ met: x >= 10, text: `(b) /auth/me [${db}]: ${x.toFixed(1)} × the FastAPI peer on httptools + uvloop (same target, stricter peer)` });
      }
    }
    const c = find('c', db);
    if (c) {
      const bound = c.limits.signingBound;
      target(c, c.rps / bound, 'signing bound', '≥ 0.70 × signing bound', 0.7);
      results.targets.push({ met: c.met, text: `(c) refresh [${db}]: ${c.ratio.toFixed(2)} × signing bound of ${Math.round(bound)}/s measured just before (target ≥ 0.70); CPU-bound ceiling at its ${Math.round(c.cpuUsPerRequest)} µs of server CPU per request: ${Math.round((cores * 1e6) / c.cpuUsPerRequest)}/s = ${((cores * 1e6) / c.cpuUsPerRequest / bound).toFixed(2)} × the bound` });
    }
    const d = find('d', db);
    if (d) {
      const bound = d.limits.hashBound;
      target(d, d.rps / bound, 'hash bound', '≥ 0.90 × hash bound', 0.9);
      results.targets.push({ met: d.met, text: `(d) login [${db}]: ${d.ratio.toFixed(2)} × hash bound of ${Math.round(bound)}/s measured just before (target ≥ 0.90)` });
    }
    for (const key of ['token-cc', 'token-code']) {
      const t = find(key, db);
      if (!t || !t.cpuUsPerRequest) continue;
      // The cost of one signature on one core, measured just before; a token request cannot cost
      // less than the signatures it makes.
      const signatureUs = 1e6 / t.limits.signaturesPerSecond;
      const perSignature = t.cpuUsPerRequest / signatureUs;
      t.ratio = perSignature / t.signatures;
      t.ratioOf = t.signatures === 1 ? 'one signature (CPU)' : `${t.signatures} signatures (CPU)`;
      t.target = `≤ 1.3 × ${t.signatures === 1 ? 'one signature' : `its ${t.signatures} signatures`}`;
      t.met = t.ratio <= 1.3;
      results.targets.push({
        met: t.met,
        text: `${t.label.split(',')[0]} ${key === 'token-cc' ? 'client_credentials' : 'code exchange'} [${db}]: ${Math.round(t.cpuUsPerRequest)} µs of server CPU per token request = ${perSignature.toFixed(2)} × one ${settings.alg} signature of ${Math.round(signatureUs)} µs measured just before` +
          (t.signatures > 1 ? ` = ${t.ratio.toFixed(2)} × the ${t.signatures} signatures it makes` : '') + ` (target ≤ 1.3); ${Math.round(t.rps)} token requests/s`,
      });
    }
    const e = find('e', db);
    if (e) {
      e.ratio = e.p99Ms / e.idleP99Ms;
      e.ratioOf = 'idle p99';
      e.target = 'p99 ≤ 2 × idle p99';
      e.met = e.ratio <= 2;
      results.targets.push({ met: e.met, text: `(e) /auth/me p99 under 32 logins [${db}]: ${e.p99Ms.toFixed(2)} ms = ${e.ratio.toFixed(2)} × idle p99 of ${e.idleP99Ms.toFixed(2)} ms (target ≤ 2)` });
    }
    const rss = results.scenarios.filter((s) => s.db === db && s.key.match(/^[bcde]$/) && s.peakRss);
    if (rss.length) {
      const peak = Math.max(...rss.map((s) => s.peakRss));
      results.targets.push({ met: peak < 150 * 2 ** 20, text: `peak RSS of the server [${db}]: ${Math.round(peak / 2 ** 20)} MB (target < 150 MB)` });
    }
    for (const st of results.startup.filter((x) => x.db === db)) {
      results.targets.push({ met: st.maxMs < 1000, text: `(f) start-up [${db}, ${st.kind}]: median ${Math.round(st.medianMs)} ms, max ${Math.round(st.maxMs)} ms (target < 1 s)` });
    }
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  if (!existsSync(join(SERVER_DIR, 'dist/cli.js'))) throw new Error('packages/server is not built: run npm run build first');
  log(`${settings.mode} run, ${settings.generator}, ${settings.seconds} s per scenario, ${settings.connections} connections; temp dir ${tmp}`);
  await measureLimits('start');
  const baselines = [await measureBaseline()];
  log(`baseline: ${Math.round(baselines[0].rps)} req/s`);

  // Latchkey creates no directory for a database but ./data: each one is made here first.
  const sqliteIn = (name) => {
    mkdirSync(join(tmp, name), { recursive: true });
    return `sqlite:${join(tmp, name, 'latchkey.db')}`;
  };
  const dbs = [{ name: 'sqlite', url: sqliteIn('sqlite'), fresh: (n) => ({ name: 'sqlite', url: sqliteIn('sqlite-' + n) }) }];
  let pg = null;
  if (flags.pg) {
    const bin = findPgBin();
    if (!bin) results.notes.push('--pg given but no PostgreSQL binaries were found: PostgreSQL not measured.');
    else {
      pg = await startPostgres(bin);
      dbs.push({ name: 'postgres', url: pg.url, fresh: (n) => ({ name: 'postgres', url: pg.freshDatabase(`fresh_${n}_${Date.now()}`) }) });
    }
  }
  try {
    for (const db of dbs) await latchkeyScenarios(db);
    if (!flags['no-peers'] && wants('peers')) await peers();
    if (wants('webhooks')) await webhooksBench();
  } finally {
    await cleanup();
    pg?.stop();
  }

  baselines.push(await measureBaseline());
  log(`baseline again: ${Math.round(baselines[1].rps)} req/s`);
  const mean = (k) => baselines.reduce((s, b) => s + b[k], 0) / baselines.length;
  results.baseline = { rps: mean('rps'), p50Ms: mean('p50Ms'), p99Ms: mean('p99Ms'), cpuUsPerRequest: mean('cpuUsPerRequest'), peakRss: Math.max(...baselines.map((b) => b.peakRss ?? 0)), samples: baselines };
  evaluate();

  results.notes.push(
    `The load generator and the server share the machine's ${cores} cores; other work on the machine during the run ` +
      `shows in each row's load column (the 1-minute load average).`,
  );
  const md = renderMarkdown(results);
  process.stdout.write('\n' + md + '\n');
  if (!flags['no-save']) {
    const dir = join(ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const stamp = started.toISOString().replace(/[:]/g, '').replace(/\..*/, '');
    const name = `${stamp}-${results.machine.hostname}${flags.quick ? '-quick' : ''}`;
    writeFileSync(join(dir, `${name}.md`), md + '\n');
    writeFileSync(join(dir, `${name}.json`), JSON.stringify(results, null, 2) + '\n');
    log(`results written to bench/results/${name}.{md,json}`);
  }
  if (flags['update-docs']) updateDocs(md);
}

/**
 * bench/webhooks.mjs in its own process: delivery throughput to a local receiver and the effect of
 * a subscribed endpoint on POST /auth/register (a ratio measured in the same run), as a note.
 */
async function webhooksBench() {
  log('webhooks: delivery throughput and /auth/register with and without an endpoint');
  const args = [join(ROOT, 'bench/webhooks.mjs'), '--json', `--events=${flags.quick ? 500 : 2000}`, `--registrations=${flags.quick ? 10 : 40}`];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  const [code] = await once(child, 'exit');
  if (code !== 0) {
    results.notes.push(`webhooks benchmark failed (exit ${code}).`);
    return;
  }
  const r = JSON.parse(out.trim().split('\n').pop());
  results.webhooks = r;
  results.notes.push(
    `Webhooks (SQLite, bench/webhooks.mjs): ${Math.round(r.throughput.eventsPerSecond)} events/s delivered to a receiver on 127.0.0.1 ` +
      `(${r.throughput.events} events); POST /auth/register median ${r.register.withoutMs.toFixed(1)} ms without an endpoint, ` +
      `${r.register.withMs.toFixed(1)} ms with one subscribed to user.created (x${r.register.ratio.toFixed(2)}).`,
  );
}

/** Replaces the text between the markers in docs/benchmarks.md with this run's report. */
function updateDocs(md) {
  const file = join(ROOT, 'docs/benchmarks.md');
  const text = readFileSync(file, 'utf8');
  const startMark = '<!-- bench:results:start -->';
  const endMark = '<!-- bench:results:end -->';
  const i = text.indexOf(startMark);
  const j = text.indexOf(endMark);
  if (i < 0 || j < i) throw new Error('docs/benchmarks.md has no results markers');
  const body = md.replace(/^# .*\n/, '').trim().replace(/^/, `Latest run: ${results.startedAt}.\n`);
  writeFileSync(file, text.slice(0, i + startMark.length) + '\n' + body + '\n' + text.slice(j));
  log('docs/benchmarks.md updated');
}

try {
  await main();
} catch (err) {
  log(`failed: ${err.stack ?? err}`);
  await cleanup();
  process.exitCode = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

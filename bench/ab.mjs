#!/usr/bin/env node
// Before/after comparison of one scenario between two builds of the server (or two settings),
// interleaved A B B A ... so that drift in the machine's load hits both alike.
//
//   cp -r packages/server/{bin,dist,data,package.json} .tmp/before/   # before the change
//   node bench/ab.mjs --scenario=me --a=.tmp/before --b=packages/server --rounds=4
//   node bench/ab.mjs --scenario=me --a-env=LOG_LEVEL=info --b-env=LOG_LEVEL=warn
//   node bench/ab.mjs --pg --scenario=me --a=.tmp/before --b=packages/server   # on PostgreSQL
//
// --pg: a throwaway PostgreSQL cluster (bench/lib/postgres.mjs), one database per variant, and
// the cluster's CPU per request (postmaster and backends) printed beside the server's.
//
// Scenarios: me (GET /auth/me), refresh, login, mfa-reject (POST /auth/mfa/verify with a wrong
// TOTP code: what one guess at a second factor costs the server; the login backoff is off for it,
// else it would lock the account after LOGIN_BACKOFF_THRESHOLD guesses; every answer is a 400,
// counted under "errors"), passkey-login (POST /auth/passkeys/login/verify: a sign-in with a
// passkey alone, real ES256 assertions from bench/lib/webauthn.mjs; each needs a challenge of its
// own, so every round first asks for --pool options and signs them, and the load sends each
// assertion once; needs wrk), social-exchange (complete social sign-ins against a local OpenID
// provider: /start, the provider, the callback and POST /auth/oauth/exchange, driven by
// bench/lib/social.mjs; the "requests" are completed sign-ins, the CPU is the server's per sign-in),
// email-sign-in (complete email sign-ins: POST /auth/email/sign-in, the mail over SMTP to a capture
// server here, POST /auth/email/sign-in/verify with the code; each with a new address, so each
// creates its account; bench/lib/email-sign-in.mjs; the CPU is the server's per sign-in, its SMTP
// client included).
// Prints the median of each variant and B/A.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultGenerator, runLoad } from './lib/load.mjs';
import { findPgBin, startPostgres } from './lib/postgres.mjs';
import { BenchAuthenticator } from './lib/webauthn.mjs';
import { runSocialSignIns, SOCIAL_CLIENT, startBenchProvider } from './lib/social.mjs';
import { runEmailSignIns, startCaptureSmtp } from './lib/email-sign-in.mjs';
import { freePort, latchkeyArgs, ROOT, SERVER_ENV, startProcess, UNREACHABLE_RATE_LIMITS, waitForHttp } from './lib/processes.mjs';

const { values: f } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'me' },
    a: { type: 'string', default: 'packages/server' },
    b: { type: 'string', default: 'packages/server' },
    'a-env': { type: 'string', default: '' },
    'b-env': { type: 'string', default: '' },
    rounds: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    'load-generator': { type: 'string' },
    pg: { type: 'boolean', default: false },
    pool: { type: 'string', default: '12000' },
  },
});
const tmp = mkdtempSync(join(tmpdir(), 'latchkey-ab-'));
const generator = f['load-generator'] ?? defaultGenerator();
const seconds = Number(f.seconds);
const connections = Number(f.connections);
const EMAIL = 'ab.user@example.com';
/** The account with an authenticator (scenario mfa-reject). */
const MFA_EMAIL = 'ab.mfa@example.com';
const PASSWORD = 'ab-bench-passphrase-1234';
const parseEnv = (s) => Object.fromEntries(s.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
let pg = null;
if (f.pg) {
  const bin = findPgBin();
  if (!bin) throw new Error('--pg: no PostgreSQL binaries found (PG_BIN)');
  pg = await startPostgres(bin);
}
/** A SQLite URL in its own directory, made here: Latchkey creates no database directory but ./data. */
function sqliteIn(name) {
  mkdirSync(join(tmp, name), { recursive: true });
  return `sqlite:${join(tmp, name, 'latchkey.db')}`;
}
const variants = ['a', 'b'].map((k) => ({
  name: k.toUpperCase(),
  dir: isAbsolute(f[k]) ? f[k] : join(ROOT, f[k]),
  env: parseEnv(f[`${k}-env`]),
  db: pg ? pg.freshDatabase(`ab_${k}_${Date.now()}`) : sqliteIn(k),
  results: [],
}));
// social-exchange: each variant keeps one port, so that its callback can be registered at the provider.
let socialProvider = null;
if (f.scenario === 'social-exchange') {
  for (const v of variants) v.port = await freePort();
  socialProvider = await startBenchProvider(variants.map((v) => `http://127.0.0.1:${v.port}/auth/oauth/bench/callback`));
  for (const v of variants) {
    v.env = {
      SOCIAL_PROVIDERS: 'bench',
      SOCIAL_BENCH_ISSUER: socialProvider.issuer,
      SOCIAL_BENCH_CLIENT_ID: SOCIAL_CLIENT.id,
      SOCIAL_BENCH_CLIENT_SECRET: SOCIAL_CLIENT.secret,
      REDIRECT_ALLOWED_URLS: 'http://app.bench.example/',
      ...v.env,
    };
  }
}

// email-sign-in: the mail goes to a capture server here; a new address per sign-in (the per-address
// limit), each making its account; the per-IP mail limit out of the way.
let captureSmtp = null;
if (f.scenario === 'email-sign-in') {
  captureSmtp = await startCaptureSmtp();
  for (const v of variants) {
    v.env = { SMTP_URL: captureSmtp.url, EMAIL_SIGN_IN_CREATES_USERS: 'true', RATE_LIMIT_MAIL: '1000000/1s', ...v.env };
  }
}

/** CPU ms of the PostgreSQL cluster: postmaster (with its reaped children) and live backends. */
function pgCpuMs() {
  if (!pg) return 0;
  const port = new URL(pg.url).port;
  const stats = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      stats.push({ pid: Number(pid), cmd, fields: stat.slice(stat.lastIndexOf(')') + 2).split(' ') });
    } catch {
      // exited meanwhile
    }
  }
  const master = stats.find((p) => p.cmd.includes(`port=${port}`) && p.cmd.split('\0')[0].endsWith('/postgres'));
  if (!master) return 0;
  let ticks = 0;
  for (const p of stats) {
    // fields: [0] state, [1] ppid, ... [11] utime, [12] stime, [13] cutime, [14] cstime
    if (p === master) ticks += Number(p.fields[11]) + Number(p.fields[12]) + Number(p.fields[13]) + Number(p.fields[14]);
    else if (Number(p.fields[1]) === master.pid) ticks += Number(p.fields[11]) + Number(p.fields[12]);
  }
  return (ticks * 1000) / 100;
}

async function startServer(v) {
  const port = v.port ?? (await freePort());
  const proc = startProcess(`server-${v.name}`, process.execPath, latchkeyArgs(v.dir), {
    env: {
      ...SERVER_ENV, HOST: '127.0.0.1', PORT: String(port), DATABASE_URL: v.db, ISSUER: `http://127.0.0.1:${port}`, LOG_LEVEL: 'info',
      ...UNREACHABLE_RATE_LIMITS,
      ...(f.scenario === 'mfa-reject' ? { RATE_LIMIT_ENABLED: 'false' } : {}),
      ...v.env,
    },
    logFile: join(tmp, `${v.name}.log`),
  });
  await waitForHttp(`http://127.0.0.1:${port}/health/ready`, { proc });
  return Object.assign(proc, { base: `http://127.0.0.1:${port}` });
}

async function post(url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function logins(base, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await post(`${base}/auth/login`, { email: EMAIL, password: PASSWORD }));
  return out;
}

async function spec(base) {
  switch (f.scenario) {
    case 'me':
      return { url: `${base}/auth/me`, bearerTokens: (await logins(base, 64)).map((t) => t.access_token) };
    case 'refresh':
      return { url: `${base}/auth/refresh`, method: 'POST', refreshTokens: (await logins(base, 2 * connections)).map((t) => t.refresh_token) };
    case 'login':
      return { url: `${base}/auth/login`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: EMAIL, password: PASSWORD }) };
    case 'passkey-login':
      return { url: `${base}/auth/passkeys/login/verify`, method: 'POST', bodies: await signedAssertions(base, Number(f.pool)) };
    case 'mfa-reject': {
      const { mfa_token: mfaToken } = await post(`${base}/auth/login`, { email: MFA_EMAIL, password: PASSWORD });
      // A wrong code (the chance that 000000 is the right one at some moment of the run is about 3 in a million per step).
      const body = JSON.stringify({ mfa_token: mfaToken, code: '000000' });
      return { url: `${base}/auth/mfa/verify`, method: 'POST', headers: { 'content-type': 'application/json' }, body };
    }
    default:
      throw new Error(`unknown scenario ${f.scenario}`);
  }
}

/** One passkey per variant's database, registered for EMAIL (scenario passkey-login). */
const authenticators = new Map();

async function registerPasskey(v, base) {
  const { access_token: access } = await post(`${base}/auth/login`, { email: EMAIL, password: PASSWORD });
  const headers = { authorization: `Bearer ${access}`, 'content-type': 'application/json' };
  const opts = await (await fetch(`${base}/auth/passkeys/register/options`, { method: 'POST', headers: { authorization: headers.authorization } })).json();
  const authenticator = new BenchAuthenticator(new URL(base).hostname);
  const response = authenticator.create(opts.options, base);
  const res = await fetch(`${base}/auth/passkeys/register/verify`, { method: 'POST', headers, body: JSON.stringify({ response }) });
  if (!res.ok) throw new Error(`passkey registration: ${res.status} ${await res.text()}`);
  authenticators.set(v.name, authenticator);
}

/** `n` single-use sign-in bodies: each a challenge asked of this server and the assertion signed over it. */
async function signedAssertions(base, n) {
  const authenticator = authenticators.get(currentVariant.name);
  const bodies = [];
  const batch = 32;
  for (let i = 0; i < n; i += batch) {
    const got = await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, async () => {
        const { options } = await post(`${base}/auth/passkeys/login/options`, {});
        return JSON.stringify({ response: authenticator.get(options, base) });
      }),
    );
    bodies.push(...got);
  }
  return bodies;
}

/** Registers MFA_EMAIL and enrols an authenticator for it (the code computed with otpauth, as an app would). */
async function enrolAuthenticator(base) {
  const { TOTP, Secret } = await import('otpauth');
  await post(`${base}/auth/register`, { email: MFA_EMAIL, password: PASSWORD });
  const { access_token: access } = await post(`${base}/auth/login`, { email: MFA_EMAIL, password: PASSWORD });
  const auth = { authorization: `Bearer ${access}`, 'content-type': 'application/json' };
  const started = await fetch(`${base}/auth/factors/totp`, { method: 'POST', headers: { authorization: auth.authorization } });
  const { secret } = await started.json();
  const code = new TOTP({ secret: Secret.fromBase32(secret) }).generate();
  const confirmed = await fetch(`${base}/auth/factors/totp/confirm`, { method: 'POST', headers: auth, body: JSON.stringify({ code }) });
  if (!confirmed.ok) throw new Error(`confirm: ${confirmed.status} ${await confirmed.text()}`);
}

let currentVariant = null;

async function round(v) {
  currentVariant = v;
  const server = await startServer(v);
  try {
    // The warm-up of passkey-login spends a quarter of a pool; its own pool is signed separately.
    if (f.scenario === 'social-exchange' || f.scenario === 'email-sign-in') {
      const measure =
        f.scenario === 'social-exchange'
          ? await runSocialSignIns(server.base, { connections, seconds })
          : await runEmailSignIns(server.base, captureSmtp, { connections, seconds });
      const cpu0 = server.cpuTimeMs();
      const r = await measure();
      r.cpuUsPerRequest = ((server.cpuTimeMs() - cpu0) * 1000) / r.requests;
      r.pgCpuUsPerRequest = 0;
      r.peakRss = server.peakRss();
      v.results.push(r);
      process.stderr.write(`${v.name}: ${r.rps.toFixed(1)} sign-ins/s p50 ${r.p50Ms.toFixed(1)} p99 ${r.p99Ms.toFixed(1)} ms, server CPU ${r.cpuUsPerRequest.toFixed(0)} µs/sign-in${r.errors ? ` errors ${r.errors}` : ''}\n`);
      return;
    }
    const warm =
      f.scenario === 'passkey-login'
        ? { url: `${server.base}/auth/passkeys/login/verify`, method: 'POST', bodies: await signedAssertions(server.base, Number(f.pool) / 4) }
        : await spec(server.base);
    await runLoad(generator, { ...warm, connections, seconds: 2 }, tmp);
    const s = await spec(server.base);
    const cpu0 = server.cpuTimeMs();
    const pg0 = pgCpuMs();
    const r = await runLoad(generator, { ...s, connections, seconds }, tmp);
    r.cpuUsPerRequest = ((server.cpuTimeMs() - cpu0) * 1000) / r.requests;
    r.pgCpuUsPerRequest = ((pgCpuMs() - pg0) * 1000) / r.requests;
    r.peakRss = server.peakRss();
    v.results.push(r);
    process.stderr.write(`${v.name}: ${Math.round(r.rps)} req/s p50 ${r.p50Ms.toFixed(2)} p99 ${r.p99Ms.toFixed(2)} ms, server CPU ${r.cpuUsPerRequest.toFixed(0)} µs/req${pg ? `, postgres CPU ${r.pgCpuUsPerRequest.toFixed(0)} µs/req` : ''}${r.errors ? ` errors ${r.errors}` : ''}\n`);
  } finally {
    await server.stop();
  }
}

try {
  for (const v of variants) {
    const s = await startServer(v);
    await post(`${s.base}/auth/register`, { email: EMAIL, password: PASSWORD });
    if (f.scenario === 'mfa-reject') await enrolAuthenticator(s.base);
    if (f.scenario === 'passkey-login') await registerPasskey(v, s.base);
    await s.stop();
  }
  const rounds = Number(f.rounds);
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) await round(v);
  }
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const summary = variants.map((v) => ({
    name: v.name,
    rps: median(v.results.map((r) => r.rps)),
    p50: median(v.results.map((r) => r.p50Ms)),
    p99: median(v.results.map((r) => r.p99Ms)),
    cpu: median(v.results.map((r) => r.cpuUsPerRequest)),
    pgCpu: median(v.results.map((r) => r.pgCpuUsPerRequest)),
    rssMb: Math.max(...v.results.map((r) => r.peakRss ?? 0)) / 2 ** 20,
  }));
  for (const s of summary) console.log(`${s.name}: median ${Math.round(s.rps)} req/s, p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, server CPU ${s.cpu.toFixed(0)} µs/request${pg ? `, postgres CPU ${s.pgCpu.toFixed(0)} µs/request` : ''}, peak RSS ${Math.round(s.rssMb)} MB`);
  console.log(`B/A req/s: ${(summary[1].rps / summary[0].rps).toFixed(2)}; B/A server CPU per request: ${(summary[1].cpu / summary[0].cpu).toFixed(2)}`);
  console.log(`load average at the end: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
  pg?.stop();
  await socialProvider?.close();
  await captureSmtp?.close();
}

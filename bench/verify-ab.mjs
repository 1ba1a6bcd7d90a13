#!/usr/bin/env node
// Before/after comparison of scenario (a), the route protected by @latchkey/verify, between two
// builds of packages/verify (their dist directories), interleaved A B B A ... so that drift in the
// machine's load hits both alike. Prints req/s and the verify process's CPU per request (from
// /proc), the figure a shared machine disturbs least.
//
//   cp -r packages/verify/dist .tmp/verify-before     # before the change
//   node bench/verify-ab.mjs --a=.tmp/verify-before --b=packages/verify/dist --b-follow --rounds=4
//
// --a-follow / --b-follow: that variant's service follows Latchkey's revocation feed, which then
// holds --revoked revoked sessions (10,000 by default) besides the 64 live ones measured.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultGenerator, runLoad } from './lib/load.mjs';
import { freePort, latchkeyArgs, ROOT, SERVER_ENV, startProcess, UNREACHABLE_RATE_LIMITS, waitForHttp } from './lib/processes.mjs';
import { cloneSessions, revokeSessions, verifyStats } from './lib/revocations.mjs';

const { values: f } = parseArgs({
  options: {
    a: { type: 'string', default: 'packages/verify/dist' },
    b: { type: 'string', default: 'packages/verify/dist' },
    'a-follow': { type: 'boolean', default: false },
    'b-follow': { type: 'boolean', default: false },
    revoked: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
  },
});
const tmp = mkdtempSync(join(tmpdir(), 'latchkey-verify-ab-'));
const generator = defaultGenerator();
const ISSUER = 'http://latchkey.bench.test';
const FEED_TOKEN = `bench-feed-${randomBytes(24).toString('base64url')}`;
const EMAIL = 'verify-ab@example.com';
const PASSWORD = 'verify-ab-bench-passphrase';
const abs = (p) => (isAbsolute(p) ? p : join(ROOT, p));
const variants = ['a', 'b'].map((k) => ({ name: k.toUpperCase(), dist: abs(f[k]), follow: f[`${k}-follow`], results: [] }));
const live = new Set();

async function start(label, command, args, env, readyPath) {
  const port = await freePort();
  const proc = startProcess(label, command, args, { env: { PORT: String(port), ...env }, logFile: join(tmp, `${label}.log`) });
  live.add(proc);
  await waitForHttp(`http://127.0.0.1:${port}${readyPath}`, { proc, timeoutMs: 60_000 });
  return Object.assign(proc, { base: `http://127.0.0.1:${port}` });
}

async function post(url, body, headers = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

try {
  mkdirSync(join(tmp, 'db'));
  const dbFile = join(tmp, 'db', 'latchkey.db');
  const server = await start('latchkey', process.execPath, latchkeyArgs(join(ROOT, 'packages/server')), {
    ...SERVER_ENV,
    HOST: '127.0.0.1',
    DATABASE_URL: `sqlite:${dbFile}`,
    ISSUER,
    LOG_LEVEL: 'warn',
    REVOCATION_FEED_TOKEN: FEED_TOKEN,
    ...UNREACHABLE_RATE_LIMITS,
  }, '/health/ready');
  await post(`${server.base}/auth/register`, { email: EMAIL, password: PASSWORD });
  const tokens = [];
  for (let i = 0; i < 64; i++) tokens.push((await post(`${server.base}/auth/login`, { email: EMAIL, password: PASSWORD })).access_token);
  if (variants.some((v) => v.follow) && Number(f.revoked) > 0) {
    const { access_token: one } = await post(`${server.base}/auth/login`, { email: EMAIL, password: PASSWORD });
    const sid = JSON.parse(Buffer.from(one.split('.')[1], 'base64url').toString('utf8')).sid;
    await revokeSessions(server.base, one, cloneSessions(dbFile, sid, Number(f.revoked)));
  }
  for (let round = 0; round < Number(f.rounds); round++) {
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
      const app = await start(`verify-${v.name}`, process.execPath, ['--expose-gc', join(ROOT, 'bench/peers/verify-app.mjs')], {
        LATCHKEY_ISSUER: ISSUER,
        LATCHKEY_JWKS_URL: `${server.base}/.well-known/jwks.json`,
        AUDIENCE: 'latchkey',
        VERIFY_DIST: v.dist,
        ...(v.follow ? { LATCHKEY_REVOCATIONS_URL: `${server.base}/auth/revocations`, REVOCATION_FEED_TOKEN: FEED_TOKEN } : {}),
      }, '/health');
      const held = v.follow ? (await verifyStats(app.base)).revocations.revokedSessions : 0;
      const spec = { url: `${app.base}/protected`, bearerTokens: tokens, connections: Number(f.connections) };
      await runLoad(generator, { ...spec, seconds: 2 }, tmp);
      const cpu0 = app.cpuTimeMs();
      const r = await runLoad(generator, { ...spec, seconds: Number(f.seconds) }, tmp);
      r.cpuUsPerRequest = ((app.cpuTimeMs() - cpu0) * 1000) / r.requests;
      r.held = held;
      v.results.push(r);
      console.error(`[verify-ab] ${v.name}${v.follow ? ' (following, ' + held + ' revoked held)' : ''} round ${round + 1}: ${Math.round(r.rps)} req/s, ${r.cpuUsPerRequest.toFixed(1)} µs CPU/req, p99 ${r.p99Ms.toFixed(2)} ms${r.errors ? `, ${r.errors} errors` : ''}`);
      await app.stop();
      live.delete(app);
    }
  }
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const s = variants.map((v) => ({ name: v.name, follow: v.follow, rps: median(v.results.map((r) => r.rps)), cpu: median(v.results.map((r) => r.cpuUsPerRequest)) }));
  for (const x of s) console.log(`${x.name}${x.follow ? ' (following the feed)' : ''}: median ${Math.round(x.rps)} req/s, ${x.cpu.toFixed(1)} µs CPU/request`);
  console.log(`B/A: req/s × ${(s[1].rps / s[0].rps).toFixed(2)}, CPU/request × ${(s[1].cpu / s[0].cpu).toFixed(2)}`);
} finally {
  for (const p of live) await p.stop().catch(() => undefined);
  rmSync(tmp, { recursive: true, force: true });
}

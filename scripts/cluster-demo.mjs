#!/usr/bin/env node
// npm run cluster:demo — three Latchkey instances sharing one PostgreSQL behind nginx (round
// robin) on 127.0.0.1, then a walkthrough that shows, over HTTP:
//   1. a token issued by one instance works on the others;
//   2. a logout through one is effective on the others at once;
//   3. a refresh token rotated on one and replayed on another after the grace window revokes
//      the session;
//   4. after `latchkey keys rotate`, every instance signs with the new key and serves the same
//      JWKS within KEY_RELOAD_INTERVAL.
// Then it keeps running until Ctrl-C (or exits after the walkthrough with --once).
//
// Environment: DATABASE_URL=postgres://... to use an existing database (default: a throwaway
// cluster in a temp dir, Debian's postgresql); INSTANCES (default 3); LB_PORT (default free);
// every other Latchkey variable is passed to the instances. The demo's own defaults:
// REFRESH_GRACE=2s, KEY_RELOAD_INTERVAL=5s, LOG_LEVEL=warn. Options: --once, --no-walkthrough.
// Machine-readable: one stdout line `cluster-demo ready {json}` when the cluster is up and, with
// the walkthrough, `cluster-demo result {json}`.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  balancing,
  http,
  keyRotationConverges,
  logoutIsEverywhere,
  replayAfterGraceRevokes,
  tokenWorksEverywhere,
} from './lib/cluster-walkthrough.mjs';
import { createDatabase, freePort, startNginx, startPostgres } from './lib/local-services.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(root, 'packages', 'server', 'bin', 'latchkey.js');
const args = new Set(process.argv.slice(2));
const once = args.has('--once');
const walkthrough = !args.has('--no-walkthrough');

function say(line = '') {
  process.stdout.write(line + '\n');
}

function parseMs(raw) {
  const m = /^(\d+)(ms|s|m)?$/.exec(String(raw).trim());
  if (!m) return NaN;
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] ?? 's']);
}

function redact(url) {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

if (!existsSync(join(root, 'packages', 'server', 'dist', 'cli.js'))) {
  process.stderr.write('cluster-demo: packages/server/dist is missing; run `npm run build` first\n');
  process.exit(1);
}

const count = Number(process.env.INSTANCES ?? 3);
if (!Number.isInteger(count) || count < 2 || count > 16) {
  process.stderr.write('cluster-demo: INSTANCES must be a whole number from 2 to 16\n');
  process.exit(1);
}
const env = {
  REFRESH_GRACE: '2s',
  KEY_RELOAD_INTERVAL: '5s',
  LOG_LEVEL: 'warn',
  ...process.env,
};
const graceMs = parseMs(env.REFRESH_GRACE);
const reloadMs = parseMs(env.KEY_RELOAD_INTERVAL);

const cleanups = [];
let stopping = false;
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`cluster-demo: cleanup failed: ${err.message}\n`);
    }
  }
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

async function waitReady(url, child, name) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited during start-up`);
    const res = await http(`${url}/health/ready`, { timeoutMs: 2000 }).catch(() => null);
    if (res?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${name} not ready within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  // The database: the one given, or a throwaway cluster of our own.
  let databaseUrl = env.DATABASE_URL;
  if (!databaseUrl || !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    say('starting a throwaway PostgreSQL cluster ...');
    const pg = await startPostgres();
    cleanups.push(() => pg.destroy());
    databaseUrl = await createDatabase(pg.url, 'latchkey_demo');
  }

  const lbPort = env.LB_PORT ? Number(env.LB_PORT) : await freePort();
  const lbUrl = `http://127.0.0.1:${lbPort}`;
  const work = mkdtempSync(join(tmpdir(), 'latchkey-cluster-'));
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));

  // Every instance: same database, same ISSUER (tokens name it; all instances must agree), and
  // nginx's X-Forwarded-For trusted so that sessions record the client's address.
  const instances = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const name = `instance-${i + 1}`;
    const child = spawn(process.execPath, [CLI, 'serve'], {
      cwd: work,
      env: {
        ...env,
        DATABASE_URL: databaseUrl,
        PORT: String(port),
        HOST: '127.0.0.1',
        ISSUER: env.ISSUER ?? lbUrl,
        TRUST_PROXY: env.TRUST_PROXY ?? '127.0.0.1',
        COOKIE_SECURE: env.COOKIE_SECURE ?? 'false',
        MAIL_OUTBOX_DIR: env.MAIL_OUTBOX_DIR ?? join(work, 'outbox'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk) => {
        for (const line of String(chunk).split('\n')) if (line) process.stderr.write(`[${name}] ${line}\n`);
      });
    }
    child.on('exit', (code, signal) => {
      if (!stopping) process.stderr.write(`[${name}] exited (${code ?? signal}); nginx sends its share to the others\n`);
    });
    const instance = { name, port, url: `http://127.0.0.1:${port}`, child };
    instances.push(instance);
    cleanups.push(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    });
  }
  // All started at once on purpose: migrations and the first signing key are race-safe.
  await Promise.all(instances.map((i) => waitReady(i.url, i.child, i.name)));

  const nginx = await startNginx({ upstreams: instances.map((i) => i.port), port: lbPort });
  cleanups.push(() => nginx.stop());

  const cluster = {
    url: lbUrl,
    databaseUrl,
    nginxPid: nginx.pid,
    nginxConfig: nginx.configFile,
    instances: instances.map((i) => ({ name: i.name, url: i.url, pid: i.child.pid })),
  };
  say('');
  say(`load balancer  ${lbUrl}   (nginx round robin, config ${nginx.configFile})`);
  for (const i of instances) say(`${i.name.padEnd(14)} ${i.url}   pid ${i.child.pid}`);
  say(`database       ${redact(databaseUrl)}`);
  say(`rotate keys    DATABASE_URL='${databaseUrl}' npx latchkey keys rotate`);
  say(`cluster-demo ready ${JSON.stringify(cluster)}`);

  if (walkthrough) {
    const ok = (cond) => (cond ? 'ok  ' : 'FAIL');
    let allOk = true;
    const check = (cond) => {
      allOk &&= cond;
      return ok(cond);
    };
    say('');
    const rr = await balancing(cluster);
    const seen = new Set(rr.map((r) => r.upstream));
    say(`${check(seen.size === count)} round robin: ${rr.length} requests through nginx reached ${seen.size} instances`);

    const t = await tokenWorksEverywhere(cluster);
    say(`${check(t.direct.every((d) => d.status === 200))} 1. token issued by ${t.issuedBy} accepted by ${t.direct.map((d) => `${d.instance.split(':').pop()}=${d.status}`).join(' ')}`);

    const l = await logoutIsEverywhere(cluster);
    say(`${check(l.logoutStatus === 204 && l.after.every((a) => a.status === 401))} 2. logout via ${l.loggedOutVia}: next request on every instance ${l.after.map((a) => `${a.instance.split(':').pop()}=${a.status}`).join(' ')}`);

    const r = await replayAfterGraceRevokes(cluster, graceMs);
    say(
      `${check(r.rotateStatus === 200 && r.replay.code === 'REFRESH_TOKEN_REUSED' && r.newestRefresh.status === 401)} 3. rotated via ${r.rotatedVia}, replayed ${graceMs} ms+ later via ${r.replayedVia}: ${r.replay.status} ${r.replay.code}; newest token then ${r.newestRefresh.status}`,
    );

    const k = await keyRotationConverges(cluster, { cli: CLI, databaseUrl, budgetMs: reloadMs + 3000 });
    say(
      `${check(k.converged && k.signedWith.every((s) => s.kid === k.newKid))} 4. keys rotate -> ${k.newKid.slice(0, 12)}...: all ${count} JWKS identical after ${k.convergedAfterMs} ms (KEY_RELOAD_INTERVAL ${reloadMs} ms); new tokens signed with it on every instance`,
    );
    say(`cluster-demo result ${JSON.stringify({ ok: allOk, balancing: rr, token: t, logout: l, replay: r, keys: k })}`);
    if (once) return shutdown(allOk ? 0 : 1);
  } else if (once) {
    return shutdown(0);
  }
  say('');
  say('running; Ctrl-C stops everything');
}

main().catch((err) => {
  process.stderr.write(`cluster-demo: ${err.stack ?? err}\n`);
  void shutdown(1);
});

#!/usr/bin/env node
// Start-up time of several builds (or settings) of the server, interleaved start by start so that
// the machine's load hits them alike: spawn `latchkey serve`, poll /health/ready every 5 ms, stop.
// Prints the median and max milliseconds from spawn to the first 200, and VmRSS/VmHWM 300 ms
// after it (the idle memory of the server).
//
//   node bench/startup-ab.mjs --rounds=8 --db=new 'before=.tmp/before' 'after=packages/server'
//   node bench/startup-ab.mjs --db=existing 'docs=packages/server' 'nodocs=packages/server:DOCS_ENABLED=false'
//
// Each variant is LABEL=DIR[:K=V,K=V]. --db=new gives every start a new SQLite file (migrations
// and the first signing key); --db=existing reuses one file per variant (its first start is not
// counted). Run it under the benchmark lock on a shared machine.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, latchkeyArgs, ROOT, SERVER_ENV, waitForHttp } from './lib/processes.mjs';

const { values: f, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string', default: '8' }, db: { type: 'string', default: 'new' } },
});
if (!['new', 'existing'].includes(f.db) || positionals.length === 0) {
  process.stderr.write('usage: node bench/startup-ab.mjs [--rounds=N] [--db=new|existing] LABEL=DIR[:K=V,...] ...\n');
  process.exit(2);
}
const variants = positionals.map((spec) => {
  const [label, rest] = [spec.slice(0, spec.indexOf('=')), spec.slice(spec.indexOf('=') + 1)];
  const [dir, envList = ''] = rest.split(':');
  const env = Object.fromEntries(envList.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return { label, dir: isAbsolute(dir) ? dir : join(ROOT, dir), env, times: [], rss: [], hwm: [] };
});
const tmp = mkdtempSync(join(tmpdir(), 'latchkey-startup-'));
const status = (pid, field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

async function startOnce(v, dbFile) {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, latchkeyArgs(v.dir), {
    cwd: ROOT,
    env: {
      ...process.env, NODE_ENV: 'production', ...SERVER_ENV, HOST: '127.0.0.1', PORT: String(port), DATABASE_URL: `sqlite:${dbFile}`,
      ISSUER: 'http://latchkey.bench.test', LOG_LEVEL: 'info', JWT_ALG: 'RS256', MAIL_OUTBOX_DIR: join(tmp, 'outbox'), ...v.env,
    },
    stdio: 'ignore',
  });
  try {
    const ms = await waitForHttp(`http://127.0.0.1:${port}/health/ready`, { since: t0, proc: Object.assign(child, { label: v.label, output: () => '' }), timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 300));
    return { ms, rss: status(child.pid, 'VmRSS'), hwm: status(child.pid, 'VmHWM') };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

let n = 0;
const rounds = Number(f.rounds);
for (let r = 0; r < rounds + (f.db === 'existing' ? 1 : 0); r++) {
  // Alternate the order each round (A B, B A, ...) so that neither always goes first.
  for (const v of r % 2 ? [...variants].reverse() : variants) {
    const dbFile = f.db === 'new' ? join(tmp, `new-${n++}.db`) : join(tmp, `existing-${v.label}.db`);
    const res = await startOnce(v, dbFile);
    if (f.db === 'existing' && r === 0) continue;
    v.times.push(res.ms);
    v.rss.push(res.rss);
    v.hwm.push(res.hwm);
  }
}
rmSync(tmp, { recursive: true, force: true });
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
for (const v of variants) {
  console.log(
    `${f.db} ${v.label.padEnd(10)} median ${median(v.times).toFixed(0)} ms, max ${Math.max(...v.times).toFixed(0)} ms ` +
      `[${v.times.map(Math.round).join(' ')}]  idle RSS ${median(v.rss).toFixed(0)} MB, HWM ${median(v.hwm).toFixed(0)} MB`,
  );
}

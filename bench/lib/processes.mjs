// Starting and stopping the processes under test: the Latchkey server, the baseline and the
// peers. Every one listens on 127.0.0.1 on a free port; peak memory is read from /proc.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * How the server runs as users start it: the environment defaults and Node options of the root
 * package's `start` script (`[NAME=${NAME:-default} ...] exec node <options>
 * packages/server/bin/latchkey.js serve`), so that the benchmarks measure the server the way
 * `npm start` and docs/deploy.md run it. A variable already set in this environment wins, as in
 * the script.
 */
const START_SCRIPT = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start;
const START = /^((?:\w+=\S+ )*)exec node((?: --?[\w-]+(?:=\S+)?)*) packages\/server\/bin\/latchkey\.js serve$/.exec(START_SCRIPT);
if (!START) throw new Error(`bench: cannot read the start script: ${START_SCRIPT}`);
export const SERVER_NODE_OPTIONS = START[2].trim().split(/\s+/).filter(Boolean);
export const SERVER_ENV = Object.fromEntries(
  START[1].trim().split(/\s+/).filter(Boolean).map((assignment) => {
    const [, name, value] = /^(\w+)=(.*)$/.exec(assignment);
    const withDefault = /^\$\{(\w+):-([^}]*)\}$/.exec(value);
    return [name, withDefault ? (process.env[withDefault[1]] || withDefault[2]) : value];
  }),
);

/** The server's command line as `npm start` runs it, for the build in `dir` (`nodeArgs` before the script). */
export function latchkeyArgs(dir, nodeArgs = []) {
  return [...SERVER_NODE_OPTIONS, ...nodeArgs, join(dir, 'bin/latchkey.js'), 'serve'];
}

/** The rate limiter stays on, so that its cost is measured, with limits no load here can reach. */
export const UNREACHABLE_RATE_LIMITS = Object.fromEntries(
  ['RATE_LIMIT_LOGIN', 'RATE_LIMIT_REGISTER', 'RATE_LIMIT_REFRESH', 'RATE_LIMIT_PASSKEY_OPTIONS', 'RATE_LIMIT_OAUTH_TOKEN', 'RATE_LIMIT_DEFAULT'].map((k) => [k, '1000000/1s']),
);

/** A free TCP port on 127.0.0.1 (the kernel picks it; closed again before use). */
export async function freePort() {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address());
  srv.close();
  await once(srv, 'close');
  return port;
}

/** Peak resident set (VmHWM) of a live process, in bytes; null when /proc cannot tell. */
export function peakRss(pid) {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * CPU time (user + system, all threads) a live process has used so far, in milliseconds; null
 * when /proc cannot tell. Differences of it give CPU per request, which the machine's other
 * load disturbs far less than throughput does.
 */
export function cpuTimeMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime), counted from the state field (3) here.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
const CLOCK_TICKS = 100; // USER_HZ on Linux

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `url` until it answers `status` (default 200). Returns the milliseconds from `since`
 * (a performance.now() value) to the first such answer. Throws after `timeoutMs`, or at once
 * when the process has exited.
 */
export async function waitForHttp(url, { since = performance.now(), timeoutMs = 20_000, status = 200, proc, intervalMs = 5 } = {}) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (proc && proc.exitCode !== null) throw new Error(`${proc.label} exited with ${proc.exitCode} before ${url} answered\n${proc.output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === status) return performance.now() - since;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms\n${proc?.output() ?? ''}`);
    await sleep(intervalMs);
  }
}

/**
 * Spawns a process with stdout and stderr going to `logFile` (a file, so that no reader in this
 * process competes for CPU with the load). The returned child has `label`, `output()` (the log's
 * last 16 KiB), `peakRss()` and `stop()`.
 */
export function startProcess(label, command, args, { env = {}, cwd = ROOT, logFile }) {
  const fd = openSync(logFile, 'a');
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const proc = Object.assign(child, {
    label,
    output: () => {
      try {
        const size = statSync(logFile).size;
        return readFileSync(logFile, 'utf8').slice(-Math.min(size, 16384));
      } catch {
        return '';
      }
    },
    peakRss: () => peakRss(child.pid),
    cpuTimeMs: () => cpuTimeMs(child.pid),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  });
  return proc;
}

/** Stops every process given, ignoring ones already gone. */
export async function stopAll(procs) {
  for (const p of procs) if (p) await p.stop();
}

// Throwaway local services for tests and demos: a PostgreSQL cluster, a Redis server and an nginx
// load balancer, each in its own temporary directory, listening on 127.0.0.1 on a free port, and
// stopped by PID. Used by the vitest global setup, the database-outage test and
// scripts/cluster-demo.mjs. Plain JavaScript (typed by local-services.d.mts) so that node runs it
// without a build step.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(address.port));
    });
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function tail(file, lines = 20) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Services to stop if this process ends without stopping them: on a normal exit, an 'exit' hook;
 * on a death by signal (a test run killed by a timeout, SIGKILL included), a small watchdog
 * process, connected by an IPC channel that closes when we die, which then stops them.
 */
const orphans = new Map();
let exitHookInstalled = false;
let watchdog;

const WATCHDOG = `
const services = new Map();
process.on('message', (m) => {
  if (m.adopt) services.set(m.adopt.pid, m.adopt);
  if (m.release) services.delete(m.release);
});
process.on('disconnect', () => {
  const { rmSync } = require('node:fs');
  for (const s of services.values()) { try { process.kill(s.pid, s.signal); } catch {} }
  setTimeout(() => {
    for (const s of services.values()) {
      try { process.kill(s.pid, 'SIGKILL'); } catch {}
      if (s.dir) { try { rmSync(s.dir, { recursive: true, force: true }); } catch {} }
    }
    process.exit(0);
  }, 3000);
});
`;

function tellWatchdog(message) {
  try {
    if (!watchdog) {
      watchdog = spawn(process.execPath, ['-e', WATCHDOG], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], detached: true });
      watchdog.on('error', () => undefined);
      watchdog.unref();
      watchdog.channel?.unref();
    }
    if (watchdog.connected) watchdog.send(message);
  } catch {
    // best effort: the exit hook still covers a normal exit
  }
}

function adopt(pid, signal, cleanupDir) {
  orphans.set(pid, { signal, cleanupDir });
  tellWatchdog({ adopt: { pid, signal, dir: cleanupDir } });
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [orphanPid, { signal: sig, cleanupDir: dir }] of orphans) {
      try {
        process.kill(orphanPid, sig);
      } catch {
        // already gone
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
    watchdog?.kill();
  });
}

function release(pid) {
  orphans.delete(pid);
  tellWatchdog({ release: pid });
}

function waitForExit(child, timeoutMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Stops a child by PID: `signal` first, SIGKILL if it has not exited after `graceMs`. */
async function stopChild(child, signal, graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    return;
  }
  if (!(await waitForExit(child, graceMs))) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    await waitForExit(child, 5000);
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/**
 * The directory holding initdb and postgres: $PG_BIN, else the newest Debian
 * /usr/lib/postgresql/<version>/bin, else whatever `initdb` is on the PATH. Null when none.
 */
export function findPostgresBin() {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv && existsSync(join(fromEnv, 'initdb'))) return fromEnv;
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => existsSync(join(debian, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(debian, versions[0], 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  const path = which.stdout.trim();
  return which.status === 0 && path ? path.replace(/\/initdb$/, '') : null;
}

/** uid/gid of a user from /etc/passwd, or null. */
function lookupUser(name) {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    // no passwd file
  }
  return null;
}

/**
 * A parent directory for a temp dir that another OS user (postgres, nobody) must enter: the
 * system temp dir, unless some ancestor of it is closed to others (TMPDIR under /root, say);
 * then /tmp.
 */
function sharedTmpParent() {
  const base = tmpdir();
  let dir = base;
  for (;;) {
    try {
      if ((statSync(dir).mode & 0o001) === 0) return '/tmp';
    } catch {
      return '/tmp';
    }
    const up = dirname(dir);
    if (up === dir) return base;
    dir = up;
  }
}

/**
 * initdb and postgres refuse to run as root. As root, run them as the `postgres` OS user (the
 * Debian package creates it) or, failing that, `nobody`; otherwise as ourselves.
 */
function postgresIdentity() {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const id = lookupUser('postgres') ?? lookupUser('nobody');
  if (!id) throw new Error('running as root, but there is neither a "postgres" nor a "nobody" user to run PostgreSQL as');
  return id;
}

/**
 * Starts a throwaway PostgreSQL cluster: initdb into a new temp dir, then `postgres` on
 * 127.0.0.1:<free port> with trust authentication for the superuser `postgres`, its unix socket
 * in the temp dir, and durability off (fsync) since the data is thrown away.
 * `stop()` and `start()` stop and restart the same cluster (same port and data); `destroy()`
 * stops it and deletes the directory.
 */
export async function startPostgres(options = {}) {
  const bin = options.bin ?? findPostgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed (no initdb found); run scripts/ensure-system-deps.sh');
  const identity = postgresIdentity();
  const dir = mkdtempSync(join(options.parent ?? (identity ? sharedTmpParent() : tmpdir()), 'latchkey-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  mkdirSync(data, { mode: 0o700 });
  if (identity) {
    chmodSync(dir, 0o755);
    chownSync(dir, identity.uid, identity.gid);
    chownSync(data, identity.uid, identity.gid);
  }
  const asUser = identity ? { uid: identity.uid, gid: identity.gid } : {};
  const env = { ...process.env, LC_ALL: 'C', LANG: 'C' };
  const init = spawnSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'],
    { ...asUser, env, encoding: 'utf8', cwd: dir },
  );
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}): ${init.stderr || init.error}`);
  }
  const port = options.port ?? (await freePort());
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dir,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_connections: String(options.maxConnections ?? 300),
    shared_buffers: '64MB',
    log_min_messages: 'warning',
    ...options.settings,
  };
  let child;
  const cluster = {
    dir,
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    get pid() {
      return child?.pid ?? null;
    },
    get running() {
      return Boolean(child && child.exitCode === null && child.signalCode === null);
    },
    async start() {
      if (cluster.running) return;
      const args = ['-D', data, '-p', String(port)];
      for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
      const log = openSync(logFile, 'a');
      if (identity) chownSync(logFile, identity.uid, identity.gid);
      child = spawn(join(bin, 'postgres'), args, { ...asUser, env, cwd: dir, stdio: ['ignore', log, log] });
      closeSync(log);
      adopt(child.pid, 'SIGQUIT', dir);
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`postgres exited during start-up:\n${tail(logFile)}`);
        }
        if ((await canConnect(port)) && (await pgIsReady(bin, port, asUser, env))) return;
        if (Date.now() > deadline) throw new Error(`postgres did not become ready in 30 s:\n${tail(logFile)}`);
        await sleep(50);
      }
    },
    /** Fast shutdown (SIGINT): open connections are terminated, as in a real outage. */
    async stop() {
      if (!child) return;
      await stopChild(child, 'SIGINT');
      release(child.pid);
    },
    async destroy() {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    log() {
      return tail(logFile, 50);
    },
  };
  try {
    await cluster.start();
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
  return cluster;
}

async function pgIsReady(bin, port, asUser, env) {
  return new Promise((resolve) => {
    const p = spawn(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'], {
      ...asUser,
      env,
      stdio: 'ignore',
    });
    p.on('exit', (code) => resolve(code === 0));
    p.on('error', () => resolve(false));
  });
}

/**
 * Creates a database with a random name on the cluster at `adminUrl` and returns its URL.
 * Each test file (or test app) gets its own, so files stay independent.
 */
export async function createDatabase(adminUrl, prefix = 'latchkey_test') {
  const { default: pg } = await import('pg');
  const name = `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 10)}`.toLowerCase();
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops a database made by createDatabase, terminating its remaining connections. */
export async function dropDatabase(adminUrl, databaseUrl) {
  const { default: pg } = await import('pg');
  const name = new URL(databaseUrl).pathname.slice(1);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Redis

/** redis-server on the PATH or in /usr/bin, or null. */
export function findRedisServer() {
  for (const candidate of [process.env.REDIS_SERVER, '/usr/bin/redis-server', '/usr/local/bin/redis-server']) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() ? which.stdout.trim() : null;
}

/** Starts redis-server on 127.0.0.1:<free port>, no persistence, in a temp dir. */
export async function startRedis(options = {}) {
  const bin = options.bin ?? findRedisServer();
  if (!bin) throw new Error('redis-server is not installed; run scripts/ensure-system-deps.sh');
  const dir = mkdtempSync(join(options.parent ?? tmpdir(), 'latchkey-redis-'));
  const port = options.port ?? (await freePort());
  const logFile = join(dir, 'redis.log');
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--protected-mode', 'yes',
    '--logfile', logFile,
  ];
  const child = spawn(bin, args, { cwd: dir, stdio: 'ignore' });
  adopt(child.pid, 'SIGKILL', dir);
  const deadline = Date.now() + 15_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server exited during start-up:\n${tail(logFile)}`);
    }
    if (Date.now() > deadline) throw new Error(`redis-server did not listen in 15 s:\n${tail(logFile)}`);
    await sleep(25);
  }
  return {
    dir,
    port,
    pid: child.pid,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await stopChild(child, 'SIGTERM');
      release(child.pid);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// nginx

/** nginx on the PATH or in /usr/sbin, or null. */
export function findNginx() {
  for (const candidate of [process.env.NGINX, '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx']) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  return null;
}

/**
 * The nginx.conf of a round-robin load balancer on 127.0.0.1:`port` in front of `upstreams`
 * (ports on 127.0.0.1). Each response names the instance that served it in
 * `X-Latchkey-Upstream`, so a test (or a curious operator) can see the rotation.
 */
export function nginxConfig({ dir, port, upstreams, user }) {
  return `# generated by scripts/lib/local-services.mjs
${user ? `user ${user};` : ''}
daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream latchkey {
    # round robin (nginx's default) over the instances
${upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n')}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    # The revocation feed's Server-Sent Events: passed on as they come, not buffered into chunks
    # (its heartbeat every 15 s keeps it under proxy_read_timeout).
    location = /auth/revocations/stream {
      proxy_pass http://latchkey;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_cache off;
      add_header X-Latchkey-Upstream $upstream_addr always;
    }
    location / {
      proxy_pass http://latchkey;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      # Only a connection failure moves a request to the next instance: a POST that reached an
      # instance is never replayed on another one.
      proxy_next_upstream error;
      add_header X-Latchkey-Upstream $upstream_addr always;
    }
  }
}
`;
}

/** Starts nginx (foreground, by PID) with a generated config in a temp dir. */
export async function startNginx({ upstreams, port: wantedPort, parent } = {}) {
  const bin = findNginx();
  if (!bin) throw new Error('nginx is not installed; run scripts/ensure-system-deps.sh');
  const dir = mkdtempSync(join(parent ?? sharedTmpParent(), 'latchkey-nginx-'));
  chmodSync(dir, 0o755);
  const port = wantedPort ?? (await freePort());
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  // As root nginx drops its workers to an unprivileged user; nobody exists everywhere.
  const nobody = lookupUser('nobody');
  const user = root && nobody ? `nobody ${groupName(nobody.gid) ?? 'nogroup'}` : null;
  const confFile = join(dir, 'nginx.conf');
  writeFileSync(confFile, nginxConfig({ dir, port, upstreams, user }));
  const child = spawn(bin, ['-p', dir, '-c', confFile, '-e', join(dir, 'error.log')], { cwd: dir, stdio: 'ignore' });
  adopt(child.pid, 'SIGTERM', dir);
  const deadline = Date.now() + 15_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = tail(join(dir, 'error.log'));
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`nginx exited during start-up:\n${log}`);
    }
    if (Date.now() > deadline) throw new Error(`nginx did not listen in 15 s:\n${tail(join(dir, 'error.log'))}`);
    await sleep(25);
  }
  return {
    dir,
    port,
    pid: child.pid,
    configFile: confFile,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      // SIGQUIT is nginx's graceful shutdown; SIGTERM its fast one.
      await stopChild(child, 'SIGQUIT', 5000);
      release(child.pid);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function groupName(gid) {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const f = line.split(':');
      if (Number(f[2]) === gid) return f[0];
    }
  } catch {
    // no group file
  }
  return null;
}

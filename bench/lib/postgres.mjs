// A throwaway PostgreSQL cluster for the --pg runs: initdb in a temp directory, listening on
// 127.0.0.1 on a free port (socket in the same directory), trust authentication, stock
// settings otherwise (fsync and synchronous_commit on). Run as the `postgres` OS user when we
// are root, since PostgreSQL refuses to run as root.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './processes.mjs';

const PG_BIN_DIRS = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'];

/** The directory with initdb and pg_ctl, or null when PostgreSQL is not installed. */
export function findPgBin() {
  if (process.env.PG_BIN && existsSync(join(process.env.PG_BIN, 'pg_ctl'))) return process.env.PG_BIN;
  return PG_BIN_DIRS.find((d) => existsSync(join(d, 'pg_ctl'))) ?? null;
}

function pgUid() {
  const out = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim();
  const gid = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
  return { uid: Number(out), gid: Number(gid) };
}

/**
 * Starts a cluster and creates database `latchkey_bench`. Returns its URL and `stop()`, which
 * stops the server and deletes the directory.
 */
export async function startPostgres(bin) {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? pgUid() : null;
  if (ids) chownSync(dir, ids.uid, ids.gid);
  const run = (cmd, args) =>
    execFileSync(join(bin, cmd), args, { stdio: ['ignore', 'pipe', 'pipe'], ...(ids ?? {}), cwd: dir, encoding: 'utf8' });
  const port = await freePort();
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions']);
  run('pg_ctl', [
    '-D', data, '-l', join(dir, 'postgres.log'), '-w', '-t', '30',
    '-o', `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${dir} -c max_connections=100`,
    'start',
  ]);
  run('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'latchkey_bench']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/latchkey_bench`,
    /** A fresh, empty database on the same cluster (for the start-up measurement). */
    freshDatabase(name) {
      run('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', name]);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

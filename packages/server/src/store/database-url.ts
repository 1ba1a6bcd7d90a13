import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ensurePrivateDir } from '../lib/private-files.js';
import { DatabaseDirectoryMissingError } from './errors.js';

/**
 * Resolves `sqlite:PATH` (relative to the working directory) or `sqlite::memory:`: where
 * DATABASE_URL puts the embedded database. A module of its own, free of any database driver, so
 * that `latchkey serve` can look for the file first thing, and the CLI, doctor and the import
 * command can check whether it exists before they open it.
 *
 * @example
 * sqlitePathFromUrl('sqlite:./data/latchkey.db'); // './data/latchkey.db'
 */
export function sqlitePathFromUrl(url: string): string {
  const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
  return path === '' ? ':memory:' : path;
}

/**
 * The database a DATABASE_URL names, for people and logs: the SQLite file's absolute path, or
 * PostgreSQL's user, host, port and database. Never the password (nor query parameters, which
 * may carry one).
 *
 * @example
 * describeDatabaseUrl('postgres://app:s3cret@db.internal:5432/latchkey'); // 'postgres app@db.internal:5432/latchkey'
 * describeDatabaseUrl('sqlite:./data/latchkey.db'); // 'sqlite /srv/latchkey/data/latchkey.db'
 */
export function describeDatabaseUrl(url: string): string {
  if (url.startsWith('sqlite:')) {
    const path = sqlitePathFromUrl(url);
    return `sqlite ${path === ':memory:' ? path : resolve(path)}`;
  }
  try {
    const u = new URL(url);
    const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
    return `postgres ${user}${u.host || 'localhost'}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return 'postgres (DATABASE_URL is not a valid URL)';
  }
}

/** The working directory's `data`: home of the default database (and of the mail outbox). */
const DATA_DIRECTORY = 'data';

/**
 * Makes sure the directory of a SQLite file exists before the file is created there: the data
 * directory (`./data`) is made when missing (0700), any other missing directory is a
 * DatabaseDirectoryMissingError, so that a typo in DATABASE_URL does not silently become a new,
 * empty database in a directory nobody meant to create.
 *
 * @example
 * ensureSqliteDirectory('./data/latchkey.db'); // creates ./data on the first start
 */
export function ensureSqliteDirectory(path: string): void {
  const dir = dirname(path);
  if (existsSync(dir)) return;
  if (resolve(dir) !== resolve(DATA_DIRECTORY)) throw new DatabaseDirectoryMissingError(resolve(dir));
  ensurePrivateDir(dir);
}

import { chmodSync, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { copyToPrivateFile, createPrivateFile, PRIVATE_FILE_MODE } from '../lib/private-files.js';
import { copyLatchkeyFileOnline, inspectLatchkeyFile, latchkeyFileInUse } from '../store/sqlite/backup.js';
import { ensureSqliteDirectory, sqlitePathFromUrl } from '../store/database-url.js';

export class BackupError extends Error {
  override name = 'BackupError';
}

function sqliteFile(databaseUrl: string): string {
  if (!databaseUrl.startsWith('sqlite:')) {
    throw new BackupError(
      'backup and restore are for the embedded SQLite database; for PostgreSQL use pg_dump / pg_restore (docs/deploy.md)',
    );
  }
  const path = sqlitePathFromUrl(databaseUrl);
  if (path === ':memory:') throw new BackupError('an in-memory database cannot be backed up');
  return path;
}

/** Checks that `file` is a consistent Latchkey SQLite database; returns its user count. */
export function checkLatchkeyDatabase(file: string): { users: number; schemaVersion: number } {
  const check = inspectLatchkeyFile(file);
  if (!check.ok) throw new BackupError(check.problem);
  return { users: check.users, schemaVersion: check.schemaVersion };
}

/**
 * Online backup with SQLite's backup API: safe while the server is running and writing (the
 * copy is a consistent snapshot). Written to a temporary file first, checked, then renamed.
 */
export async function backupSqlite(databaseUrl: string, target: string): Promise<{ users: number; bytes: number }> {
  const source = sqliteFile(databaseUrl);
  if (!existsSync(source)) throw new BackupError(`no database at ${source}`);
  if (existsSync(target)) throw new BackupError(`${target} exists; choose a new file name`);
  const tmp = join(dirname(target), `.${Date.now()}-${process.pid}.latchkey-backup`);
  // A backup holds what the database holds: created 0600 before SQLite writes into it.
  createPrivateFile(tmp);
  try {
    await copyLatchkeyFileOnline(source, tmp);
    chmodSync(tmp, PRIVATE_FILE_MODE);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  try {
    const { users } = checkLatchkeyDatabase(tmp);
    renameSync(tmp, target);
    return { users, bytes: statSync(target).size };
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Replaces the database with a backup. The server must be stopped: the file is checked, then
 * copied next to the database and renamed over it, and the old WAL files are removed so that
 * SQLite cannot replay them onto the restored copy. The previous database is kept as
 * `<db>.before-restore`.
 */
export function restoreSqlite(databaseUrl: string, backupFile: string): { users: number } {
  const target = sqliteFile(databaseUrl);
  const { users } = checkLatchkeyDatabase(backupFile);
  if (existsSync(target)) {
    // Refuse while another process (a running server) has the database open.
    if (latchkeyFileInUse(target)) throw new BackupError('the database is in use: stop the server before restoring');
    rmSync(`${target}.before-restore`, { force: true });
    copyToPrivateFile(target, `${target}.before-restore`);
  }
  // As at start-up: only the data directory is made when missing.
  ensureSqliteDirectory(target);
  const tmp = `${target}.restoring`;
  rmSync(tmp, { force: true });
  copyToPrivateFile(backupFile, tmp);
  rmSync(`${target}-wal`, { force: true });
  rmSync(`${target}-shm`, { force: true });
  renameSync(tmp, target);
  return { users };
}

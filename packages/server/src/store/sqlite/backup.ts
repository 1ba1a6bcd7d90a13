import Database from 'better-sqlite3';

/** What `inspectLatchkeyFile` found: a consistent Latchkey database, or what is wrong with the file. */
export type LatchkeyFileCheck = { ok: true; users: number; schemaVersion: number } | { ok: false; problem: string };

/**
 * Opens `file` read-only and checks that it is a consistent Latchkey SQLite database (integrity
 * check, schema table); returns its user count and schema version. Throws only when the file
 * cannot be opened at all.
 *
 * @example
 * const check = inspectLatchkeyFile('backup.db');
 * if (!check.ok) throw new Error(check.problem);
 */
export function inspectLatchkeyFile(file: string): LatchkeyFileCheck {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') return { ok: false, problem: `${file} fails the integrity check: ${String(integrity)}` };
    const hasSchema = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (!hasSchema) return { ok: false, problem: `${file} is not a Latchkey database (no schema_migrations table)` };
    const { v } = db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number };
    const { n } = db.prepare('SELECT count(*) AS n FROM users').get() as { n: number };
    return { ok: true, users: n, schemaVersion: v };
  } catch (err) {
    return { ok: false, problem: `${file} is not a readable Latchkey database: ${(err as Error).message}` };
  } finally {
    db.close();
  }
}

/**
 * Online backup of the database `source` into the existing (empty) file `target` with SQLite's
 * backup API: safe while the server is running and writing (the copy is a consistent snapshot).
 *
 * @example
 * await copyLatchkeyFileOnline('./data/latchkey.db', './backups/.tmp-copy');
 */
export async function copyLatchkeyFileOnline(source: string, target: string): Promise<void> {
  const db = new Database(source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(target);
  } finally {
    db.close();
  }
}

/**
 * Whether another process has the database open. In WAL mode an EXCLUSIVE locking-mode
 * transaction fails with SQLITE_BUSY as long as any other connection (a running server) exists.
 *
 * @example
 * if (latchkeyFileInUse('./data/latchkey.db')) throw new Error('stop the server first');
 */
export function latchkeyFileInUse(file: string): boolean {
  const probe = new Database(file, { fileMustExist: true });
  try {
    probe.pragma('busy_timeout = 0');
    probe.pragma('locking_mode = EXCLUSIVE');
    probe.exec('BEGIN EXCLUSIVE; COMMIT;');
    return false;
  } catch {
    return true;
  } finally {
    probe.close();
  }
}

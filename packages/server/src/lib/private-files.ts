/**
 * Files that hold secrets (the SQLite database with the signing keys and password hashes, its
 * backups, user exports) are created readable by their owner only: 0600, in directories Latchkey
 * creates as 0700. Explicit modes rather than the process umask, so that embedding Latchkey does
 * not change how the host application creates its own files. A directory or file the operator
 * made is never chmod-ed behind their back: `latchkey doctor` reports it with the command.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readSync, statSync, writeSync } from 'node:fs';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** Creates `dir` and its missing parents as 0700; an existing directory is left as it is. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * Creates `path` empty with mode 0600 unless it exists; true when it created it. An empty file is
 * a valid empty SQLite database, and SQLite gives the -wal and -shm files the mode of the database
 * file, so creating the database this way makes all three private.
 */
export function createPrivateFile(path: string): boolean {
  try {
    closeSync(openSync(path, 'wx', PRIVATE_FILE_MODE));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Copies `source` to the new file `target`, created 0600 before a byte is written (copyFile would
 * give it the source's mode). Fails if `target` exists.
 */
export function copyToPrivateFile(source: string, target: string): void {
  const from = openSync(source, 'r');
  try {
    const to = openSync(target, 'wx', PRIVATE_FILE_MODE);
    try {
      const chunk = Buffer.allocUnsafe(1 << 20);
      for (let n = readSync(from, chunk); n > 0; n = readSync(from, chunk)) {
        for (let written = 0; written < n; ) written += writeSync(to, chunk, written, n - written);
      }
    } finally {
      closeSync(to);
    }
  } finally {
    closeSync(from);
  }
  // The umask can only have removed bits; this makes the mode exact whatever it was.
  chmodSync(target, PRIVATE_FILE_MODE);
}

/** The mode bits (0o777) of `path`, or null when it does not exist. */
export function modeOf(path: string): number | null {
  try {
    return statSync(path).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** `path` quoted for a POSIX shell when it needs it, for the commands `latchkey doctor` prints. */
export function shellQuote(path: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

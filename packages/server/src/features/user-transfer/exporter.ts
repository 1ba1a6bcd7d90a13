/**
 * `latchkey users export --format jsonl`: every user, one JSON object per line, with the password
 * hash and every field the importer's `jsonl` format reads back, so that importing the file into
 * an empty database reproduces the users exactly (ids, hashes, roles, flags, timestamps).
 */
import type { Store, UserRecord } from '../../store/types.js';
import { publicUser, type PublicUser } from '../users/public-user.js';
import type { ProgressReporter } from './progress.js';

export const EXPORT_FORMATS = ['jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** One line of the export: the public user fields plus `password_hash`. */
export interface ExportedUser extends PublicUser {
  password_hash: string;
}

export function exportedUser(u: UserRecord): ExportedUser {
  return { ...publicUser(u), password_hash: u.passwordHash };
}

export interface ExportSink {
  write(chunk: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

export interface ExportOptions {
  /** Users per page read from the store; default 1000. */
  pageSize?: number;
  progress?: ProgressReporter | null;
}

/**
 * Writes every user to `out`, oldest first (created_at, id), page by page.
 *
 * @example
 * const { users } = await exportUsers(store, createWriteStream('users.jsonl', { mode: 0o600 }));
 */
export async function exportUsers(
  store: Pick<Store, 'listUsers'>,
  out: ExportSink,
  options: ExportOptions = {},
): Promise<{ users: number; elapsedMs: number }> {
  const started = performance.now();
  let cursor: string | null = null;
  let users = 0;
  do {
    const page = await store.listUsers({ cursor, limit: options.pageSize ?? 1000 });
    if (page.users.length > 0) {
      const chunk = page.users.map((u) => JSON.stringify(exportedUser(u)) + '\n').join('');
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
      users += page.users.length;
      options.progress?.update({ rows: users, bytes: 0, totalBytes: 0 });
    }
    cursor = page.nextCursor;
  } while (cursor);
  options.progress?.done({ rows: users, bytes: 0, totalBytes: 0 });
  return { users, elapsedMs: Math.round(performance.now() - started) };
}

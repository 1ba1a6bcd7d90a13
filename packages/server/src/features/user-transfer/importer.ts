/**
 * `latchkey users import`: reads a file record by record, validates and maps each one, and
 * writes valid rows in batches, one transaction per batch. Each batch is first planned against
 * the database with one read-only lookup, which is also exactly what a dry run reports: a dry
 * run performs the same reads and planning and skips only the writes.
 */
import type { NewUser, Store, UserRecord } from '../../store/types.js';
import { quote } from './fields.js';
import { mapRecord } from './formats.js';
import type { ProgressReporter } from './progress.js';
import { openSource } from './source.js';
import type { IdMapping, ImportCandidate, ImportFormat, ImportSummary, OnConflict, RowFailure } from './types.js';

export type ImportLookupStore = Pick<Store, 'findUsersByEmailOrId' | 'importUsers'>;

export interface ImportOptions {
  file: string;
  format: ImportFormat;
  /** What to do when the email already exists: leave it (default) or overwrite it from the file. */
  onConflict?: OnConflict;
  /** Plan and report, write nothing. */
  dryRun?: boolean;
  /** Rows per transaction; default 1000. */
  batchSize?: number;
  /** `sql`: a username that is not an email becomes `username@emailDomain`. */
  emailDomain?: string | null;
  /** Import time for rows without a creation time; default Date.now. */
  now?: () => number;
  progress?: ProgressReporter | null;
  /** Receives where every valid row ended up (source id to Latchkey id). */
  onMapping?: (mapping: IdMapping) => void;
}

/** Only what an update would change; updated_at alone is not a change. */
function sameUser(stored: UserRecord, incoming: NewUser): boolean {
  return (
    stored.name === incoming.name &&
    stored.passwordHash === incoming.passwordHash &&
    stored.emailVerified === incoming.emailVerified &&
    stored.disabled === (incoming.disabled ?? false) &&
    stored.roles.length === incoming.roles.length &&
    stored.roles.every((r, i) => r === incoming.roles[i])
  );
}

/**
 * Imports users from a file.
 *
 * @param store the database; `null` only for a dry run against a database that does not exist yet
 * (every valid row would then be imported).
 *
 * @example
 * const summary = await importUsersFromFile(store, { file: 'users.json', format: 'mongo', dryRun: true });
 * console.log(summary.imported, summary.failures);
 */
export async function importUsersFromFile(store: ImportLookupStore | null, options: ImportOptions): Promise<ImportSummary> {
  const started = performance.now();
  const onConflict = options.onConflict ?? 'skip';
  const dryRun = options.dryRun ?? false;
  const batchSize = options.batchSize ?? 1000;
  const now = options.now ?? Date.now;
  if (!store && !dryRun) throw new Error('a database is required unless --dry-run');
  const summary: ImportSummary = {
    format: options.format,
    dryRun,
    onConflict,
    rows: 0,
    imported: 0,
    updated: 0,
    skipped: 0,
    skippedReasons: { exists: 0, unchanged: 0 },
    failed: 0,
    failures: [],
    weakHashes: 0,
    elapsedMs: 0,
  };
  const fail = (line: number, reason: string): void => {
    summary.failed++;
    summary.failures.push({ line, reason } satisfies RowFailure);
  };
  const map = (c: ImportCandidate, id: string, outcome: IdMapping['outcome']): void =>
    options.onMapping?.({ line: c.line, sourceId: c.sourceId, id, email: c.user.email, outcome });

  const flush = async (batch: ImportCandidate[]): Promise<void> => {
    if (batch.length === 0) return;
    const existing = store
      ? await store.findUsersByEmailOrId(
          batch.map((c) => c.user.email),
          batch.filter((c) => c.idKept).map((c) => c.user.id),
        )
      : [];
    const byEmail = new Map(existing.map((u) => [u.email, u]));
    const byId = new Map(existing.map((u) => [u.id, u]));
    const writes: NewUser[] = [];
    // In file order, emitted once the batch is written.
    const outcomes: Array<[ImportCandidate, string, IdMapping['outcome']]> = [];
    let inserts = 0;
    let updates = 0;
    for (const c of batch) {
      const stored = byEmail.get(c.user.email);
      if (stored) {
        if (onConflict === 'skip' || sameUser(stored, c.user)) {
          summary.skipped++;
          summary.skippedReasons[onConflict === 'skip' ? 'exists' : 'unchanged']++;
          outcomes.push([c, stored.id, 'skipped']);
          continue;
        }
        writes.push({ ...c.user, id: stored.id });
        outcomes.push([c, stored.id, 'updated']);
        updates++;
        if (c.weakHash) summary.weakHashes++;
        continue;
      }
      const owner = c.idKept ? byId.get(c.user.id) : undefined;
      if (owner) {
        fail(c.line, `id ${quote(c.user.id)} already belongs to another user (${quote(owner.email)})`);
        continue;
      }
      writes.push(c.user);
      outcomes.push([c, c.user.id, 'imported']);
      inserts++;
      if (c.weakHash) summary.weakHashes++;
    }
    if (dryRun || !store) {
      summary.imported += inserts;
      summary.updated += updates;
    } else if (writes.length > 0) {
      const result = await store.importUsers(writes, onConflict);
      summary.imported += result.inserted;
      summary.updated += result.updated;
      // Only when another writer registered the same email between the lookup and this batch.
      summary.skipped += result.skipped;
      summary.skippedReasons.exists += result.skipped;
    }
    for (const [c, id, outcome] of outcomes) map(c, id, outcome);
  };

  const progressDetail = (): string =>
    `${(summary.imported + summary.updated).toLocaleString('en-US')} ${dryRun ? 'would be written' : 'written'}, ` +
    `${summary.failed.toLocaleString('en-US')} failed`;
  const source = await openSource(options.file, options.format);
  const seenEmails = new Map<string, number>();
  const seenIds = new Map<string, number>();
  const progress = (): void =>
    options.progress?.update({
      rows: summary.rows,
      bytes: source.bytesRead(),
      totalBytes: source.totalBytes,
      detail: progressDetail(),
    });
  let batch: ImportCandidate[] = [];
  for await (const record of source.records) {
    summary.rows++;
    if ((summary.rows & 1023) === 0) progress();
    if ('error' in record) {
      fail(record.line, record.error);
      continue;
    }
    const mapped = mapRecord(options.format, record.line, record.value, record.key, {
      now: now(),
      emailDomain: options.emailDomain ?? null,
    });
    if (!mapped.ok) {
      fail(record.line, mapped.reason);
      continue;
    }
    const c = mapped.candidate;
    const emailLine = seenEmails.get(c.user.email);
    if (emailLine !== undefined) {
      fail(c.line, `duplicate email ${quote(c.user.email)} (same normalised address as line ${emailLine})`);
      continue;
    }
    const idLine = c.idKept ? seenIds.get(c.user.id) : undefined;
    if (idLine !== undefined) {
      fail(c.line, `duplicate id ${quote(c.user.id)} (same as line ${idLine})`);
      continue;
    }
    seenEmails.set(c.user.email, c.line);
    if (c.idKept) seenIds.set(c.user.id, c.line);
    batch.push(c);
    if (batch.length >= batchSize) {
      await flush(batch);
      batch = [];
    }
  }
  await flush(batch);
  summary.failures.sort((a, b) => a.line - b.line);
  summary.elapsedMs = Math.round(performance.now() - started);
  options.progress?.done({
    rows: summary.rows,
    bytes: source.bytesRead(),
    totalBytes: source.totalBytes,
    detail: progressDetail(),
  });
  return summary;
}

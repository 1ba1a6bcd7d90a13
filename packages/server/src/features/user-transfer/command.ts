/**
 * The `latchkey users import` and `latchkey users export` commands: argument parsing, opening
 * the database, progress on stderr, the summary on stdout. Exit codes: 0 done, 1 usage or fatal
 * error, 2 done but some rows failed.
 */
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { StoreConfig } from '../../config.js';
import { openStore } from '../../store/index.js';
import { sqlitePathFromUrl } from '../../store/database-url.js';
import { recordCliAudit } from '../audit/service.js';
import type { Store } from '../../store/types.js';
import { EXPORT_FORMATS, exportUsers } from './exporter.js';
import { importUsersFromFile } from './importer.js';
import { ProgressReporter } from './progress.js';
import { formatSummary } from './summary.js';
import { IMPORT_FORMATS, type ImportFormat, type OnConflict } from './types.js';

export const IMPORT_USAGE = `usage: latchkey users import FILE --format mongo|sql|kv|jsonl [--dry-run]
         [--on-conflict skip|update] [--email-domain DOMAIN] [--id-map FILE]
         [--failures FILE] [--batch-size N] [--json] [--quiet]`;
export const EXPORT_USAGE = 'usage: latchkey users export --format jsonl [--output FILE] [--quiet]';

function err(line: string): void {
  process.stderr.write(`latchkey: ${line}\n`);
}

function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

async function closeStream(stream: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) => stream.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

/** Opens the database for an import: migrated for a real run; read-only use, never migrated, for a dry run. */
async function openForImport(config: StoreConfig, dryRun: boolean): Promise<Store | null> {
  if (dryRun && config.databaseUrl.startsWith('sqlite:')) {
    const path = sqlitePathFromUrl(config.databaseUrl);
    // Opening would create the file: a dry run against a database that does not exist plans against nothing.
    if (path !== ':memory:' && !existsSync(path)) return null;
  }
  const store = await openStore(config.databaseUrl, { poolSize: 2 });
  if (!dryRun) await store.migrate();
  return store;
}

export async function runUsersImport(config: StoreConfig, args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        format: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        'on-conflict': { type: 'string', default: 'skip' },
        'email-domain': { type: 'string' },
        'id-map': { type: 'string' },
        failures: { type: 'string' },
        'batch-size': { type: 'string', default: '1000' },
        json: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    err(`${e instanceof Error ? e.message : String(e)}\n${IMPORT_USAGE}`);
    return 1;
  }
  const { values, positionals } = parsed;
  const file = positionals[0];
  if (!file || positionals.length > 1) return usage(IMPORT_USAGE, 'give exactly one FILE');
  const format = values.format as ImportFormat | undefined;
  if (!format || !IMPORT_FORMATS.includes(format)) return usage(IMPORT_USAGE, '--format must be mongo, sql, kv or jsonl');
  const onConflict = values['on-conflict'] as OnConflict;
  if (onConflict !== 'skip' && onConflict !== 'update') return usage(IMPORT_USAGE, '--on-conflict must be skip or update');
  const batchSize = Number(values['batch-size']);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 50_000) {
    return usage(IMPORT_USAGE, '--batch-size must be an integer from 1 to 50000');
  }
  const emailDomain = values['email-domain']?.trim().toLowerCase().replace(/^@/, '') || null;
  if (values['email-domain'] !== undefined && (!emailDomain || !/^[a-z0-9.-]+\.[a-z0-9-]+$/.test(emailDomain))) {
    return usage(IMPORT_USAGE, '--email-domain must be a domain like example.com');
  }
  if (values['email-domain'] !== undefined && format !== 'sql') return usage(IMPORT_USAGE, '--email-domain applies to --format sql only');
  const dryRun = values['dry-run'] === true;
  if (dryRun && values['id-map']) return usage(IMPORT_USAGE, '--id-map cannot be used with --dry-run: ids are assigned by a real run');
  if (!existsSync(file)) {
    err(`${file}: no such file`);
    return 1;
  }

  const store = await openForImport(config, dryRun);
  // The id map and the failures list name users (emails, ids): owner-only like the export.
  const idMap = values['id-map'] ? createWriteStream(values['id-map'], { mode: 0o600 }) : null;
  idMap?.write('line,source_id,latchkey_id,email,outcome\n');
  try {
    const summary = await importUsersFromFile(store, {
      file,
      format,
      onConflict,
      dryRun,
      batchSize,
      emailDomain,
      progress: values.quiet ? null : new ProgressReporter(process.stderr, dryRun ? 'import (dry run)' : 'import'),
      onMapping: idMap
        ? (m) => {
            idMap.write(`${m.line},${csvField(m.sourceId ?? '')},${m.id},${csvField(m.email)},${m.outcome}\n`);
          }
        : undefined,
    });
    if (values.failures) {
      const out = createWriteStream(values.failures, { mode: 0o600 });
      for (const f of summary.failures) out.write(JSON.stringify(f) + '\n');
      await closeStream(out);
    }
    if (store && !dryRun && summary.imported + summary.updated > 0) {
      await recordCliAudit(store, Date.now, 'admin.users.imported', null, {
        file: basename(file),
        format,
        on_conflict: onConflict,
        imported: summary.imported,
        updated: summary.updated,
        skipped: summary.skipped,
        failed: summary.failed,
      });
    }
    process.stdout.write(values.json ? JSON.stringify(summary) + '\n' : formatSummary(summary, file));
    return summary.failed > 0 ? 2 : 0;
  } catch (e) {
    if (dryRun && e instanceof Error && /no such table|does not exist/.test(e.message)) {
      err('the database has no users table yet: run `latchkey migrate` first, or run without --dry-run');
      return 1;
    }
    throw e;
  } finally {
    if (idMap) await closeStream(idMap);
    await store?.close();
  }
}

export async function runUsersExport(config: StoreConfig, args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        format: { type: 'string', default: 'jsonl' },
        output: { type: 'string', short: 'o' },
        quiet: { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    err(`${e instanceof Error ? e.message : String(e)}\n${EXPORT_USAGE}`);
    return 1;
  }
  const { values } = parsed;
  if (!(EXPORT_FORMATS as readonly string[]).includes(values.format)) return usage(EXPORT_USAGE, '--format must be jsonl');
  const store = await openStore(config.databaseUrl, { poolSize: 2 });
  let file: WriteStream | null = null;
  try {
    await store.migrate();
    if (values.output) {
      // The export holds password hashes: readable by its owner only.
      file = createWriteStream(values.output, { mode: 0o600 });
      await new Promise<void>((resolve, reject) => {
        file!.once('open', () => resolve());
        file!.once('error', reject);
      });
      await chmod(values.output, 0o600);
    }
    const out = file ?? process.stdout;
    const progress = values.quiet ? null : new ProgressReporter(process.stderr, 'export');
    const result = await exportUsers(store, out, { progress });
    if (file) await closeStream(file);
    process.stderr.write(
      `exported ${result.users} users${values.output ? ` to ${values.output}` : ''} in ${(result.elapsedMs / 1000).toFixed(2)} s\n`,
    );
    return 0;
  } finally {
    if (file && !file.closed) file.destroy();
    await store.close();
  }
}

function usage(text: string, problem: string): number {
  err(`${problem}\n${text}`);
  return 1;
}

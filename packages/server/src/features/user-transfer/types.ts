import type { NewUser } from '../../store/types.js';

/** The source formats `latchkey users import` understands. */
export const IMPORT_FORMATS = ['mongo', 'sql', 'kv', 'jsonl'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export type OnConflict = 'skip' | 'update';

/** One record read from the source file, before validation. */
export type SourceRecord =
  | { line: number; value: unknown; key?: string }
  | { line: number; error: string };

/** A valid row, ready to be planned against the database. */
export interface ImportCandidate {
  line: number;
  /** The id in the source system, as text (ObjectId hex, integer, UUID...); null when absent. */
  sourceId: string | null;
  /** True when `user.id` is the source id (a UUID, or Latchkey's own export). */
  idKept: boolean;
  /** The hash is below DESIGN.md's minimum cost (passwords/hash-costs.ts): accepted, re-hashed at the next login. */
  weakHash: boolean;
  user: NewUser & { updatedAt: number; disabled: boolean };
}

/** A row that cannot be imported; `reason` never contains a password hash. */
export interface RowFailure {
  line: number;
  reason: string;
}

/** What mapping one source record gives: a candidate or the reason it fails. */
export type MappedRow = { ok: true; candidate: ImportCandidate } | { ok: false; reason: string };

export type RowOutcome = 'imported' | 'updated' | 'skipped';

/** Where a source id ended up; written by `--id-map`. */
export interface IdMapping {
  line: number;
  sourceId: string | null;
  id: string;
  email: string;
  outcome: RowOutcome;
}

export interface ImportSummary {
  format: ImportFormat;
  dryRun: boolean;
  onConflict: OnConflict;
  /** Records read from the file (valid or not). */
  rows: number;
  imported: number;
  updated: number;
  skipped: number;
  /** Why rows were skipped: the email exists (`skip` mode) or the row equals the stored user (`update` mode). */
  skippedReasons: { exists: number; unchanged: number };
  failed: number;
  failures: RowFailure[];
  /** Rows imported or updated whose hash is weak (below DESIGN.md's minimum): re-hashed at each user's next login. */
  weakHashes: number;
  elapsedMs: number;
}

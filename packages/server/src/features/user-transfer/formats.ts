/**
 * Maps one source record of each format to a Latchkey user, or to the reason it cannot be
 * imported. docs/import.md describes every field mapping and the decisions behind it.
 */
import { checkImportHash } from './hash-check.js';
import {
  chooseId,
  FieldError,
  isPlainObject,
  millisecondsToTime,
  parseBool,
  parseEmail,
  parseName,
  parseRoles,
  parseTimestamp,
  pick,
  quote,
  rolesFromRoleString,
  sourceIdText,
} from './fields.js';
import type { ImportCandidate, ImportFormat, MappedRow } from './types.js';
import { isValidEmail, normaliseEmail, normaliseLocale } from '../users/fields.js';
import { newUser } from '../users/service.js';

export interface MapOptions {
  /** Import time, for rows without a creation timestamp. */
  now: number;
  /** `sql`: a username that is not an email becomes `username@emailDomain`. */
  emailDomain?: string | null;
}

interface Fields {
  sourceId: string | null;
  /** Use this id verbatim (Latchkey's own export) instead of `chooseId`. */
  exactId?: string;
  email: string;
  name: string | null;
  hash: unknown;
  roles: string[];
  emailVerified: boolean;
  disabled: boolean;
  createdAt: number | null;
  updatedAt: number | null;
  /** Latchkey's own export carries it; other sources have none. */
  locale?: string | null;
}

function build(line: number, f: Fields, now: number): MappedRow {
  const hash = checkImportHash(f.hash);
  if (!hash.ok) return { ok: false, reason: hash.reason };
  const { id, kept } = f.exactId !== undefined ? { id: f.exactId, kept: true } : chooseId(f.sourceId);
  const createdAt = f.createdAt ?? now;
  const candidate: ImportCandidate = {
    line,
    sourceId: f.sourceId,
    idKept: kept,
    weakHash: hash.weak,
    // The row as the users room builds every user; the fields were checked by the parsers
    // above with the users room's rules (features/users/fields.ts).
    user: newUser(
      { email: f.email, name: f.name, roles: f.roles, emailVerified: f.emailVerified, disabled: f.disabled, locale: f.locale ?? null },
      hash.hash,
      createdAt,
      { id, updatedAt: f.updatedAt ?? createdAt },
    ),
  };
  return { ok: true, candidate };
}

// ---- MongoDB Extended JSON (relaxed or canonical, as mongoexport writes it) ----

/** Unwraps `{$numberLong: "1"}`, `{$numberInt}`, `{$numberDouble}` to a number; anything else as is. */
function mongoNumber(v: unknown): unknown {
  if (isPlainObject(v)) {
    const n = v.$numberLong ?? v.$numberInt ?? v.$numberDouble;
    if (typeof n === 'string' && n.trim() !== '') return Number(n);
  }
  return v;
}

function mongoDate(v: unknown, field: string): number | null {
  if (isPlainObject(v) && '$date' in v) {
    // Extended JSON dates are always milliseconds, even small ones.
    const d = mongoNumber(v.$date);
    return typeof d === 'number' ? millisecondsToTime(d, field) : parseTimestamp(d, field);
  }
  return parseTimestamp(mongoNumber(v), field);
}

function uuidFromBase64(b64: string): string | null {
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length !== 16) return null;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** `_id` as text: an ObjectId's hex, a UUID (`$uuid` or binary subtype 4), a string or a number. */
function mongoId(v: unknown): { text: string | null; objectIdTime: number | null } {
  if (isPlainObject(v)) {
    if (typeof v.$oid === 'string' && /^[0-9a-f]{24}$/i.test(v.$oid)) {
      // An ObjectId starts with its creation time in seconds: a fallback for a missing created_at.
      return { text: v.$oid.toLowerCase(), objectIdTime: parseInt(v.$oid.slice(0, 8), 16) * 1000 };
    }
    if (typeof v.$uuid === 'string') return { text: v.$uuid, objectIdTime: null };
    const bin = v.$binary;
    if (isPlainObject(bin) && typeof bin.base64 === 'string' && (bin.subType === '04' || bin.subType === '4')) {
      return { text: uuidFromBase64(bin.base64), objectIdTime: null };
    }
    return { text: null, objectIdTime: null };
  }
  return { text: sourceIdText(mongoNumber(v)), objectIdTime: null };
}

function mapMongo(line: number, doc: Record<string, unknown>, o: MapOptions): MappedRow {
  const id = mongoId(doc._id);
  const roles = Array.isArray(doc.roles) ? parseRoles(doc.roles) : rolesFromRoleString(doc.role);
  const active = pick(doc, ['is_active', 'active']);
  return build(
    line,
    {
      sourceId: id.text,
      email: parseEmail(doc.email),
      name: parseName(doc.name ?? doc.full_name),
      hash: pick(doc, ['password', 'hashed_password', 'password_hash']),
      roles,
      emailVerified: parseBool(pick(doc, ['verified', 'email_verified', 'is_verified']), 'verified'),
      disabled: parseBool(doc.disabled, 'disabled') || !parseBool(active, 'is_active', true),
      createdAt: mongoDate(pick(doc, ['created_at', 'createdAt']), 'created_at') ?? id.objectIdTime,
      updatedAt: mongoDate(pick(doc, ['updated_at', 'updatedAt']), 'updated_at'),
    },
    o.now,
  );
}

// ---- SQL table exports (CSV or JSON lines) ----

function sqlEmail(row: Record<string, unknown>, o: MapOptions): string {
  if (row.email !== undefined && row.email !== null && row.email !== '') return parseEmail(row.email);
  const username = row.username;
  if (typeof username !== 'string' || username.trim() === '') throw new FieldError('neither email nor username is present');
  const asEmail = normaliseEmail(username);
  if (isValidEmail(asEmail)) return asEmail;
  if (o.emailDomain) {
    const synthesised = `${asEmail}@${o.emailDomain}`;
    if (isValidEmail(synthesised)) return synthesised;
    throw new FieldError(`username ${quote(username)} cannot form an email address with --email-domain`);
  }
  throw new FieldError(
    `username ${quote(username)} is not an email address (pass --email-domain DOMAIN to import it as ${quote(`${asEmail}@DOMAIN`)})`,
  );
}

function sqlRoles(row: Record<string, unknown>): string[] {
  let roles: string[] = [];
  const raw = row.roles;
  if (Array.isArray(raw)) roles = parseRoles(raw);
  else if (typeof raw === 'string' && raw.trim().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new FieldError('roles is not a JSON list');
    }
    if (!Array.isArray(parsed)) throw new FieldError('roles is not a JSON list');
    roles = parseRoles(parsed);
  } else if (typeof raw === 'string') roles = parseRoles(raw.split(','));
  else roles = rolesFromRoleString(row.role);
  if (parseBool(row.is_superuser, 'is_superuser') && !roles.includes('admin')) roles.push('admin');
  return roles;
}

function mapSql(line: number, row: Record<string, unknown>, o: MapOptions): MappedRow {
  return build(
    line,
    {
      sourceId: sourceIdText(row.id),
      email: sqlEmail(row, o),
      name: parseName(pick(row, ['full_name', 'name']), 'full_name'),
      hash: pick(row, ['hashed_password', 'password_hash', 'password']),
      roles: sqlRoles(row),
      emailVerified: parseBool(pick(row, ['email_verified', 'is_verified', 'verified']), 'email_verified'),
      disabled: parseBool(row.disabled, 'disabled') || !parseBool(row.is_active, 'is_active', true),
      createdAt: parseTimestamp(row.created_at, 'created_at'),
      updatedAt: parseTimestamp(row.updated_at, 'updated_at'),
    },
    o.now,
  );
}

// ---- a JSON object keyed by email ----

function mapKv(line: number, key: string, value: Record<string, unknown>, o: MapOptions): MappedRow {
  const fromKey = parseEmail(key, 'the member name');
  const email = value.email === undefined || value.email === null ? fromKey : parseEmail(value.email);
  if (email !== fromKey) {
    throw new FieldError(`the member name ${quote(fromKey)} and its email ${quote(email)} differ`);
  }
  return build(
    line,
    {
      sourceId: sourceIdText(value.id),
      email,
      name: parseName(pick(value, ['full_name', 'name'])),
      hash: pick(value, ['password', 'hashed_password', 'password_hash']),
      roles: Array.isArray(value.roles) ? parseRoles(value.roles) : rolesFromRoleString(value.role),
      emailVerified: parseBool(pick(value, ['email_verified', 'verified']), 'email_verified'),
      disabled: parseBool(value.disabled, 'disabled'),
      createdAt: parseTimestamp(value.created_at, 'created_at'),
      updatedAt: parseTimestamp(value.updated_at, 'updated_at'),
    },
    o.now,
  );
}

// ---- Latchkey's own export ----

// eslint-disable-next-line no-control-regex
const SAFE_ID = /^[^\u0000-\u001f\u007f]{1,128}$/;

function mapJsonl(line: number, u: Record<string, unknown>, o: MapOptions): MappedRow {
  if (typeof u.id !== 'string' || !SAFE_ID.test(u.id)) throw new FieldError('id is missing or not a valid id');
  if (!Array.isArray(u.roles)) throw new FieldError('roles must be a list');
  const createdAt = parseTimestamp(u.created_at, 'created_at');
  if (createdAt === null) throw new FieldError('created_at is missing');
  return build(
    line,
    {
      sourceId: u.id,
      exactId: u.id,
      email: parseEmail(u.email),
      name: parseName(u.name),
      hash: u.password_hash,
      roles: parseRoles(u.roles),
      emailVerified: parseBool(u.email_verified, 'email_verified'),
      disabled: parseBool(u.disabled, 'disabled'),
      createdAt,
      updatedAt: parseTimestamp(u.updated_at, 'updated_at'),
      locale: parseLocale(u.locale),
    },
    o.now,
  );
}

/** The `locale` of Latchkey's own export: absent or null is none; a malformed tag refuses the row. */
function parseLocale(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const locale = typeof value === 'string' ? normaliseLocale(value) : undefined;
  if (locale === undefined) throw new FieldError('locale must be a BCP 47 language tag such as en or de-AT');
  return locale;
}

/** Maps one record; field problems become a failure with a printable reason. */
export function mapRecord(format: ImportFormat, line: number, value: unknown, key: string | undefined, o: MapOptions): MappedRow {
  if (!isPlainObject(value)) {
    return { ok: false, reason: format === 'kv' ? 'the value is not a JSON object' : 'the record is not a JSON object' };
  }
  try {
    switch (format) {
      case 'mongo':
        return mapMongo(line, value, o);
      case 'sql':
        return mapSql(line, value, o);
      case 'kv':
        return mapKv(line, key ?? '', value, o);
      case 'jsonl':
        return mapJsonl(line, value, o);
    }
  } catch (err) {
    if (err instanceof FieldError) return { ok: false, reason: err.message };
    throw err;
  }
}

/**
 * Field parsers shared by every import format. Each returns the parsed value or a `FieldError`
 * whose message is safe to print: it may quote an email or a role, never a password hash.
 */
import { randomUUID } from 'node:crypto';
import { isValidEmail, MAX_NAME_LENGTH, normaliseEmail, normaliseName } from '../users/fields.js';

export class FieldError extends Error {
  override name = 'FieldError';
}

const MAX_ROLE = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Shortens user-supplied text quoted in a message. */
export function quote(text: string, max = 60): string {
  const t = text.length > max ? text.slice(0, max) + '…' : text;
  return JSON.stringify(t);
}

/** Normalises and validates as registration does: the users room's rule (features/users/fields.ts). */
export function parseEmail(raw: unknown, field = 'email'): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw new FieldError(`${field} is missing`);
  const email = normaliseEmail(raw);
  if (!isValidEmail(email)) throw new FieldError(`${field} ${quote(email)} is not a valid email address`);
  return email;
}

export function parseName(raw: unknown, field = 'name'): string | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'string') throw new FieldError(`${field} must be text`);
  const name = normaliseName(raw);
  if (name !== null && name.length > MAX_NAME_LENGTH) throw new FieldError(`${field} is longer than ${MAX_NAME_LENGTH} characters`);
  return name;
}

/** Role names: non-empty, at most 100 characters, no control characters; duplicates dropped. */
export function parseRoles(raw: unknown[], field = 'roles'): string[] {
  const roles: string[] = [];
  for (const r of raw) {
    if (typeof r !== 'string') throw new FieldError(`${field} must be a list of text`);
    const role = r.trim();
    if (role === '') continue;
    if (role.length > MAX_ROLE || CONTROL.test(role)) throw new FieldError(`${field} contains an invalid role ${quote(role)}`);
    if (!roles.includes(role)) roles.push(role);
  }
  return roles;
}

/**
 * The tutorial apps' single `role` string: "user" (their default) means no role, anything else
 * ("admin", "editor") becomes that role.
 */
export function rolesFromRoleString(raw: unknown, field = 'role'): string[] {
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== 'string') throw new FieldError(`${field} must be text`);
  const role = raw.trim();
  if (role === '' || role.toLowerCase() === 'user') return [];
  return parseRoles([role], field);
}

const TRUE = new Set(['1', 'true', 't', 'yes', 'y', 'on']);
const FALSE = new Set(['0', 'false', 'f', 'no', 'n', 'off', '']);

/** Booleans as SQL exports write them: true/false, 1/0, t/f (PostgreSQL), yes/no; absent is `fallback`. */
export function parseBool(raw: unknown, field: string, fallback = false): boolean {
  if (raw === undefined || raw === null) return fallback;
  if (typeof raw === 'boolean') return raw;
  if (raw === 1 || raw === 0) return raw === 1;
  if (typeof raw === 'string') {
    const v = raw.trim().toLowerCase();
    if (v === '') return fallback;
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
  }
  throw new FieldError(`${field} is not a boolean`);
}

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;
/** Latest accepted instant: the end of year 9999. */
const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function checkRange(ms: number, field: string): number {
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIME) throw new FieldError(`${field} is out of range`);
  return Math.floor(ms);
}

/** Epoch milliseconds, range-checked. */
export function millisecondsToTime(ms: number, field: string): number {
  return checkRange(ms, field);
}

/** Epoch numbers: below 10^11 they are seconds (until year 5138), else milliseconds. */
export function epochToMs(n: number, field: string): number {
  return checkRange(Math.abs(n) < 1e11 ? n * 1000 : n, field);
}

/**
 * ISO 8601 / SQL timestamps (`2024-05-01 12:34:56.789012`, `...T...Z`, `...+02:00`, PostgreSQL's
 * `+00`) or epoch numbers. A timestamp without a zone is read as UTC; digits past milliseconds
 * are dropped.
 */
export function parseTimestamp(raw: unknown, field: string): number | null {
  if (raw === undefined || raw === null || raw === '') return null;
  if (typeof raw === 'number') return epochToMs(raw, field);
  if (typeof raw !== 'string') throw new FieldError(`${field} is not a timestamp`);
  const text = raw.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return epochToMs(Number(text), field);
  const m = DATE_TIME.exec(text);
  if (!m) throw new FieldError(`${field} ${quote(text)} is not a timestamp`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  let t = Date.UTC(year, month - 1, day, Number(h), Number(mi), Number(s), ms);
  const check = new Date(t);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  ) {
    throw new FieldError(`${field} ${quote(text)} is not a valid date`);
  }
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offset = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
    t -= sign * offset * 60_000;
  }
  return checkRange(t, field);
}

/** A source id as text for reports (ids can be numbers, strings or ObjectIds). */
export function sourceIdText(raw: unknown): string | null {
  if (typeof raw === 'string' && raw.trim() !== '') return raw.trim();
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  return null;
}

/**
 * Source ids are kept only when they are UUIDs (the shape of Latchkey's own ids); any other id
 * (ObjectId, integer) gets a new random UUID and the mapping is reported.
 */
export function chooseId(sourceId: string | null): { id: string; kept: boolean } {
  if (sourceId !== null && UUID.test(sourceId)) return { id: sourceId.toLowerCase(), kept: true };
  return { id: randomUUID(), kept: false };
}

/** The first present field of `names` (an alias list like `hashed_password`, `password`). */
export function pick(record: Record<string, unknown>, names: readonly string[]): unknown {
  for (const n of names) {
    const v = record[n];
    if (v !== undefined && v !== null && v !== '') return v;
  }
  return undefined;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The audit log: who did what to whom, append-only (docs/audit.md). Admin actions write their
 * entry from their service (features/admin, the admin identity and webhook routes), security
 * changes a user makes on their own account from recordEvent (features/events), the CLI from its
 * commands. A failure to write an entry is logged and swallowed, as a security event's is: the
 * change it records has already been made and committed, and failing the request afterwards would
 * tell the caller that it was not.
 */
import { userInfo } from 'node:os';
import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { newId } from '../../lib/ids.js';
import { invalid, success, type Outcome } from '../../outcome.js';
import type { AuditActorType, AuditQuery, AuditRecord, AuditStore, UserRecord } from '../../store/types.js';

export interface AuditActor {
  type: AuditActorType;
  id: string | null;
  email: string | null;
}

export interface AuditInput {
  actor: AuditActor;
  action: string;
  target?: { type: string; id: string } | null;
  changes?: Record<string, unknown> | null;
  meta?: RequestMeta | null;
}

/** Longest user agent kept, as on security events. */
const USER_AGENT_MAX = 512;

/**
 * Appends an audit entry; a failure is logged (with the action, never the changes) and swallowed.
 *
 * @example
 * await recordAudit(ctx, { actor: adminActor(adminId, meta), action: 'admin.user.deleted', target: { type: 'user', id }, meta });
 */
export async function recordAudit(ctx: Pick<LatchkeyContext, 'store' | 'clock' | 'log'>, input: AuditInput): Promise<void> {
  const meta = input.meta ?? null;
  const entry: AuditRecord = {
    id: newId(),
    at: ctx.clock(),
    actorType: input.actor.type,
    actorId: input.actor.id,
    actorEmail: input.actor.email,
    action: input.action,
    targetType: input.target?.type ?? null,
    targetId: input.target?.id ?? null,
    changes: input.changes ?? null,
    ip: meta?.ip ?? null,
    userAgent: meta?.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
    requestId: meta?.requestId ?? null,
  };
  try {
    await ctx.store.appendAudit(entry);
  } catch (err) {
    ctx.log.error({ err, action: entry.action, requestId: entry.requestId }, 'could not write audit entry');
  }
}

/** Who ran a command: the operating-system user, the nearest thing to an actor the CLI has. */
function cliUser(): string | null {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? null;
  }
}

/**
 * Appends the audit entry of a CLI command (`latchkey users ...`): actor `cli` with the
 * operating-system user as its id, user agent `latchkey-cli`. A failure is swallowed: the change
 * is made already, and the command's own output says what it did.
 *
 * @example
 * await recordCliAudit(store, clock, 'admin.user.deleted', { type: 'user', id }, { email: { from: email, to: null } });
 */
export async function recordCliAudit(
  store: Pick<AuditStore, 'appendAudit'>,
  clock: () => number,
  action: string,
  target: { type: string; id: string } | null,
  changes: Record<string, unknown> | null,
): Promise<void> {
  await store
    .appendAudit({
      id: newId(),
      at: clock(),
      actorType: 'cli',
      actorId: cliUser(),
      actorEmail: null,
      action,
      targetType: target?.type ?? null,
      targetId: target?.id ?? null,
      changes,
      ip: null,
      userAgent: 'latchkey-cli',
      requestId: null,
    })
    .catch(() => undefined);
}

/** The admin who made the request: its id, and its address from the request's authenticated caller. */
export function adminActor(adminId: string, meta: RequestMeta): AuditActor {
  return { type: 'admin', id: adminId, email: meta.caller?.id === adminId ? meta.caller.email : null };
}

/** A user target. */
export function userTarget(userId: string): { type: 'user'; id: string } {
  return { type: 'user', id: userId };
}

/** The fields of a user an audit entry compares: never the password hash. */
const USER_FIELDS = ['email', 'name', 'roles', 'disabled', 'emailVerified'] as const;
const FIELD_NAMES: Record<(typeof USER_FIELDS)[number], string> = {
  email: 'email',
  name: 'name',
  roles: 'roles',
  disabled: 'disabled',
  emailVerified: 'email_verified',
};

/**
 * `{ field: { from, to } }` for each public field that differs between two versions of a user
 * (the API's field names); empty when nothing changed.
 *
 * @example
 * userChanges(before, after); // { roles: { from: [], to: ['admin'] } }
 */
export function userChanges(before: UserRecord, after: UserRecord): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of USER_FIELDS) {
    const from = before[field];
    const to = after[field];
    const same = Array.isArray(from) && Array.isArray(to) ? from.length === to.length && from.every((v) => to.includes(v)) : from === to;
    if (!same) changes[FIELD_NAMES[field]] = { from, to };
  }
  return changes;
}

/** An audit entry as the API shows it (AuditEntry in the OpenAPI document). */
export interface PublicAuditEntry {
  id: string;
  at: string;
  actor: { type: AuditActorType; id: string | null; email: string | null };
  action: string;
  target: { type: string | null; id: string | null };
  changes: Record<string, unknown> | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
}

export function publicAuditEntry(e: AuditRecord): PublicAuditEntry {
  return {
    id: e.id,
    at: new Date(e.at).toISOString(),
    actor: { type: e.actorType, id: e.actorId, email: e.actorEmail },
    action: e.action,
    target: { type: e.targetType, id: e.targetId },
    changes: e.changes,
    ip: e.ip,
    user_agent: e.userAgent,
    request_id: e.requestId,
  };
}

/** The filters of GET /admin/audit and its export, as the query string gives them. */
export interface AuditFilterInput {
  actor?: string;
  action?: string;
  target?: string;
  since?: string;
  until?: string;
}

/** A page cursor: the (at, id) of the last entry shown, base64url JSON. */
export function encodeAuditCursor(last: { at: number; id: string }): string {
  return Buffer.from(JSON.stringify([last.at, last.id])).toString('base64url');
}

function decodeAuditCursor(cursor: string): { at: number; id: string } | null {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') return { at: v[0] as number, id: v[1] };
  } catch {
    // fall through: not one of ours
  }
  return null;
}

function instant(field: 'since' | 'until', raw: string | undefined): Outcome<number | null> {
  if (raw === undefined || raw.trim() === '') return success(null);
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms)) {
    return invalid({ field, message: `${field === 'since' ? 'Since' : 'Until'} must be a date or a date-time (ISO 8601), e.g. 2026-12-01 or 2026-12-01T10:00:00Z.` });
  }
  return success(ms);
}

/**
 * The store query of the filters and cursor, or the validation failure of a bad date or cursor.
 *
 * @example
 * const query = auditQuery({ action: 'admin.*', since: '2026-12-01' }, null, 50);
 */
export function auditQuery(filters: AuditFilterInput, cursor: string | null, limit: number): Outcome<AuditQuery> {
  const since = instant('since', filters.since);
  if (!since.ok) return since;
  const until = instant('until', filters.until);
  if (!until.ok) return until;
  let before: AuditQuery['before'] = null;
  if (cursor) {
    before = decodeAuditCursor(cursor);
    if (!before) return invalid({ field: 'cursor', message: 'Cursor must be the next_cursor of a previous page; start again without it.' });
  }
  const text = (v: string | undefined) => (v === undefined || v.trim() === '' ? null : v.trim());
  return success({ actor: text(filters.actor), action: text(filters.action), target: text(filters.target), since: since.value, until: until.value, before, limit });
}

/**
 * A page of the audit log, newest first, and the cursor of the next page (null on the last).
 * One more row than shown is read to know whether there is a next page.
 *
 * @example
 * const { entries, nextCursor } = unwrap(await listAuditPage(ctx, { action: 'admin.*' }, null, 50));
 */
export async function listAuditPage(
  ctx: Pick<LatchkeyContext, 'store'>,
  filters: AuditFilterInput,
  cursor: string | null,
  limit: number,
): Promise<Outcome<{ entries: AuditRecord[]; nextCursor: string | null }>> {
  const query = auditQuery(filters, cursor, limit + 1);
  if (!query.ok) return query;
  const rows = await ctx.store.listAudit(query.value);
  const entries = rows.slice(0, limit);
  const last = entries[entries.length - 1];
  return success({ entries, nextCursor: rows.length > limit && last ? encodeAuditCursor(last) : null });
}

/** Entries read per query while exporting: the export's memory is one batch, whatever its size. */
export const EXPORT_BATCH = 500;

/**
 * Every entry matching the query, newest first, as JSON lines, read in keyset batches of
 * EXPORT_BATCH: a consumer that reads slowly holds the next query back (the generator runs only
 * when pulled), so memory stays one batch however large the log.
 *
 * @example
 * for await (const line of exportAuditLines(ctx, query)) stream.write(line);
 */
export async function* exportAuditLines(ctx: Pick<LatchkeyContext, 'store'>, query: AuditQuery): AsyncGenerator<string> {
  let before = query.before;
  for (;;) {
    const rows = await ctx.store.listAudit({ ...query, before, limit: EXPORT_BATCH });
    if (rows.length === 0) return;
    yield rows.map((r) => JSON.stringify(publicAuditEntry(r)) + '\n').join('');
    if (rows.length < EXPORT_BATCH) return;
    const last = rows[rows.length - 1]!;
    before = { at: last.at, id: last.id };
  }
}

/**
 * Audit entries older than AUDIT_RETENTION, at most `limit` per run; none when the retention
 * keeps everything.
 *
 * @example
 * const deleted = await purgeOldAudit(ctx);
 */
export function purgeOldAudit(ctx: Pick<LatchkeyContext, 'store' | 'clock' | 'config'>, limit: number): Promise<number> {
  const retention = ctx.config.housekeeping.auditRetentionMs;
  if (retention === null) return Promise.resolve(0);
  return ctx.store.purgeAudit(ctx.clock() - retention, limit);
}

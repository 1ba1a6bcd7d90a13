/**
 * The WHERE clause of an audit-log page, the same in both adapters (features/audit): filters and
 * the keyset condition, with the adapter's placeholders. Newest first is the only order, so the
 * keyset is `(at, id) < (cursor)`, written out for the index on (at, id) as user pages are.
 */
import type { AuditQuery } from './types.js';

/** `placeholder(n)` names the n-th parameter (1-based): `?` for SQLite, `$n` for PostgreSQL. */
export function auditWhere(query: AuditQuery, placeholder: (n: number) => string): { where: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const p = (value: unknown) => {
    params.push(value);
    return placeholder(params.length);
  };
  if (query.actor !== null) clauses.push(`(actor_id = ${p(query.actor)} OR actor_email = ${p(query.actor.toLowerCase())})`);
  if (query.action !== null) {
    if (query.action.endsWith('*')) {
      // A prefix: LIKE with its wildcards escaped, so `admin.user_*` stays literal before the star.
      const prefix = query.action.slice(0, -1).replace(/[\\%_]/g, (c) => '\\' + c);
      clauses.push(`action LIKE ${p(prefix + '%')} ESCAPE '\\'`);
    } else {
      clauses.push(`action = ${p(query.action)}`);
    }
  }
  if (query.target !== null) clauses.push(`target_id = ${p(query.target)}`);
  if (query.since !== null) clauses.push(`at >= ${p(query.since)}`);
  if (query.until !== null) clauses.push(`at < ${p(query.until)}`);
  if (query.before !== null) {
    const at = p(query.before.at);
    const atAgain = p(query.before.at);
    clauses.push(`at <= ${at} AND (at < ${atAgain} OR id < ${p(query.before.id)})`);
  }
  return { where: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

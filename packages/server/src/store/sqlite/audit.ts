import type { AuditRecord, AuditStore } from '../types.js';
import { auditWhere } from '../audit-query.js';
import type { SqliteConnection } from './connection.js';
import { guardOutages } from './errors.js';

interface AuditRow {
  id: string;
  at: number;
  actor_type: AuditRecord['actorType'];
  actor_id: string | null;
  actor_email: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  changes: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
}

function fromRow(r: AuditRow): AuditRecord {
  return {
    id: r.id,
    at: r.at,
    actorType: r.actor_type,
    actorId: r.actor_id,
    actorEmail: r.actor_email,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    changes: r.changes === null ? null : (JSON.parse(r.changes) as Record<string, unknown>),
    ip: r.ip,
    userAgent: r.user_agent,
    requestId: r.request_id,
  };
}

/** The audit log on SQLite. Appends are queued in the group commit (write-batch.ts), as security events are. */
export function sqliteAudit(c: SqliteConnection): AuditStore {
  const s = c.statements((db) => ({
    insert: db.prepare(
      `INSERT INTO audit_log (id, at, actor_type, actor_id, actor_email, action, target_type, target_id, changes, ip, user_agent, request_id)
       VALUES (@id, @at, @actorType, @actorId, @actorEmail, @action, @targetType, @targetId, @changes, @ip, @userAgent, @requestId)`,
    ),
    purge: db.prepare('DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ? LIMIT ?)'),
  }));

  return guardOutages<AuditStore>({
    appendAudit(e) {
      const row = { ...e, changes: e.changes === null ? null : JSON.stringify(e.changes) };
      return c.writes.run(() => {
        s().insert.run(row);
      });
    },

    listAudit(query) {
      const { where, params } = auditWhere(query, () => '?');
      // Filters vary per call: prepared per call (better-sqlite3 caches nothing; the page is an admin's read).
      const rows = c.db.prepare<unknown[], AuditRow>(`SELECT * FROM audit_log ${where} ORDER BY at DESC, id DESC LIMIT ?`).all(...params, query.limit);
      return rows.map(fromRow);
    },

    purgeAudit(before, limit) {
      return s().purge.run(before, limit).changes;
    },
  });
}

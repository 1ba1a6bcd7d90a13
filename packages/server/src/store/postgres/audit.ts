import type { AuditRecord, AuditStore } from '../types.js';
import { auditWhere } from '../audit-query.js';
import type { PgConnection } from './connection.js';

interface AuditRow {
  id: string;
  at: number;
  actor_type: AuditRecord['actorType'];
  actor_id: string | null;
  actor_email: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  changes: Record<string, unknown> | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
}

/** The audit log on PostgreSQL (changes as JSONB). */
export function postgresAudit(db: PgConnection): AuditStore {
  return {
    async appendAudit(e) {
      await db.execute(
        `INSERT INTO audit_log (id, at, actor_type, actor_id, actor_email, action, target_type, target_id, changes, ip, user_agent, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [e.id, e.at, e.actorType, e.actorId, e.actorEmail, e.action, e.targetType, e.targetId, e.changes === null ? null : JSON.stringify(e.changes), e.ip, e.userAgent, e.requestId],
      );
    },

    async listAudit(query) {
      const { where, params } = auditWhere(query, (n) => `$${n}`);
      const rows = await db.query<AuditRow>(`SELECT * FROM audit_log ${where} ORDER BY at DESC, id DESC LIMIT $${params.length + 1}`, [...params, query.limit]);
      return rows.map((r) => ({
        id: r.id,
        at: Number(r.at),
        actorType: r.actor_type,
        actorId: r.actor_id,
        actorEmail: r.actor_email,
        action: r.action,
        targetType: r.target_type,
        targetId: r.target_id,
        changes: r.changes,
        ip: r.ip,
        userAgent: r.user_agent,
        requestId: r.request_id,
      }));
    },

    async purgeAudit(before, limit) {
      return db.execute('DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)', [before, limit]);
    },
  };
}

import type { SecurityEventStore } from '../types.js';
import type { PgConnection } from './connection.js';

interface EventRow {
  id: string;
  user_id: string | null;
  type: string;
  ip: string | null;
  user_agent: string | null;
  detail: Record<string, unknown> | null;
  created_at: number;
}

/** The security events concern on PostgreSQL (details as JSONB). */
export function postgresSecurityEvents(db: PgConnection): SecurityEventStore {
  return {
    async recordEvent(e) {
      await db.execute(
        `INSERT INTO security_events (id, user_id, type, ip, user_agent, detail, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [e.id, e.userId, e.type, e.ip, e.userAgent, e.detail === null ? null : JSON.stringify(e.detail), e.createdAt],
      );
    },

    async listEvents(userId, limit) {
      const rows = await db.query<EventRow>(
        'SELECT * FROM security_events WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2',
        [userId, limit],
      );
      return rows.map((r) => ({
        id: r.id,
        userId: r.user_id,
        type: r.type,
        ip: r.ip,
        userAgent: r.user_agent,
        detail: r.detail,
        createdAt: r.created_at,
      }));
    },

    async purgeEvents(before, limit) {
      return db.execute(
        'DELETE FROM security_events WHERE id IN (SELECT id FROM security_events WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)',
        [before, limit],
      );
    },
  };
}

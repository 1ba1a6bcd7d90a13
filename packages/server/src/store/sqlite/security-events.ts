import type Database from 'better-sqlite3';
import type { SecurityEventStore } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { guardOutages } from './errors.js';

interface EventRow {
  id: string;
  user_id: string | null;
  type: string;
  ip: string | null;
  user_agent: string | null;
  detail: string | null;
  created_at: number;
}

function prepareEventStatements(db: Database.Database) {
  return {
    insertEvent: db.prepare(
      `INSERT INTO security_events (id, user_id, type, ip, user_agent, detail, created_at)
       VALUES (@id, @userId, @type, @ip, @userAgent, @detail, @createdAt)`,
    ),
    listEvents: db.prepare<[string, number], EventRow>(
      'SELECT * FROM security_events WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?',
    ),
    purgeEvents: db.prepare(
      'DELETE FROM security_events WHERE id IN (SELECT id FROM security_events WHERE created_at < ? LIMIT ?)',
    ),
  };
}

/** The security events concern on SQLite. Recording is queued in the group commit (write-batch.ts). */
export function sqliteSecurityEvents(c: SqliteConnection): SecurityEventStore {
  const s = c.statements(prepareEventStatements);

  return guardOutages<SecurityEventStore>({
    recordEvent(e) {
      const row = { ...e, detail: e.detail ? JSON.stringify(e.detail) : null };
      return c.writes.run(() => {
        s().insertEvent.run(row);
      });
    },

    listEvents(userId, limit) {
      return s()
        .listEvents.all(userId, limit)
        .map((r) => ({
          id: r.id,
          userId: r.user_id,
          type: r.type,
          ip: r.ip,
          userAgent: r.user_agent,
          detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
          createdAt: r.created_at,
        }));
    },

    purgeEvents(before, limit) {
      return s().purgeEvents.run(before, limit).changes;
    },
  });
}

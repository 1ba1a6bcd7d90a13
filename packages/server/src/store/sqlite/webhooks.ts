import type Database from 'better-sqlite3';
import type { OutboxEvent, WebhookEndpointRecord, WebhookStore } from '../types.js';
import {
  claimedDeliveryFromRow,
  decodeDeliveryCursor,
  disabledReasonText,
  encodeDeliveryCursor,
  webhookDeliveryFromRow,
  webhookEndpointFromRow,
  type ClaimedDeliveryRow,
  type WebhookDeliveryRow,
  type WebhookEndpointRow,
} from '../webhook-rows.js';
import type { SqliteConnection } from './connection.js';
import { guardOutages } from './errors.js';

const ENDPOINT_SELECT = `SELECT e.*, (SELECT group_concat(event_type) FROM webhook_subscriptions s WHERE s.endpoint_id = e.id) AS event_types
  FROM webhook_endpoints e`;

function prepareWebhookStatements(db: Database.Database) {
  return {
    endpointById: db.prepare<[string], WebhookEndpointRow>(`${ENDPOINT_SELECT} WHERE e.id = ?`),
    endpoints: db.prepare<[], WebhookEndpointRow>(`${ENDPOINT_SELECT} ORDER BY e.created_at, e.id`),
    insertEndpoint: db.prepare(
      `INSERT INTO webhook_endpoints (id, url, description, enabled, secret, created_at, updated_at)
       VALUES (@id, @url, @description, @enabled, @secret, @createdAt, @createdAt)`,
    ),
    subscribe: db.prepare('INSERT OR IGNORE INTO webhook_subscriptions (event_type, endpoint_id) VALUES (?, ?)'),
    unsubscribeAll: db.prepare('DELETE FROM webhook_subscriptions WHERE endpoint_id = ?'),
    deleteEndpoint: db.prepare('DELETE FROM webhook_endpoints WHERE id = ?'),
    rotate: db.prepare(
      `UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_expires_at = ?, secret = ?, updated_at = ? WHERE id = ?`,
    ),
    outbox: db.prepare<[number], { seq: number; id: string; type: string; occurred_at: number; data: string }>(
      'SELECT * FROM webhook_outbox ORDER BY seq LIMIT ?',
    ),
    deleteOutboxUpTo: db.prepare('DELETE FROM webhook_outbox WHERE seq <= ?'),
    countOutbox: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM webhook_outbox'),
    purgeDeliveries: db.prepare<[number, number]>(
      "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE status IN ('succeeded', 'exhausted') AND created_at < ? LIMIT ?)",
    ),
    subscribers: db.prepare<[string], { id: string }>(
      `SELECT e.id FROM webhook_subscriptions s JOIN webhook_endpoints e ON e.id = s.endpoint_id
       WHERE s.event_type = ? AND e.enabled = 1 ORDER BY e.id`,
    ),
    insertDelivery: db.prepare(
      `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, payload, status, created_at, next_attempt_at)
       VALUES (@id, @endpointId, @eventId, @eventType, @payload, 'pending', @createdAt, @createdAt)`,
    ),
    deliveryById: db.prepare<[string, string], WebhookDeliveryRow>('SELECT * FROM webhook_deliveries WHERE id = ? AND endpoint_id = ?'),
    due: db.prepare<{ now: number; limit: number }, { id: string }>(
      `SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
       WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= @now AND (d.leased_until IS NULL OR d.leased_until <= @now)
         AND e.enabled = 1
       ORDER BY d.next_attempt_at LIMIT @limit`,
    ),
    lease: db.prepare('UPDATE webhook_deliveries SET leased_until = ? WHERE id = ?'),
    claimed: db.prepare<[string], ClaimedDeliveryRow>(
      `SELECT d.*, e.url, e.secret, e.previous_secret, e.previous_secret_expires_at
       FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = ?`,
    ),
    succeeded: db.prepare(
      `UPDATE webhook_deliveries SET status = 'succeeded', attempts = attempts + 1, last_status_code = @statusCode, last_error = NULL,
         latency_ms = @latencyMs, next_attempt_at = NULL, delivered_at = @now, leased_until = NULL WHERE id = @deliveryId`,
    ),
    failed: db.prepare(
      `UPDATE webhook_deliveries SET status = @status, attempts = attempts + 1, last_status_code = @statusCode, last_error = @error,
         latency_ms = @latencyMs, next_attempt_at = @retryAt, leased_until = NULL WHERE id = @deliveryId`,
    ),
    endpointSucceeded: db.prepare('UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL'),
    endpointFailed: db.prepare('UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, ?) WHERE id = ?'),
    failingSince: db.prepare<[string], { failing_since: number | null; enabled: number }>(
      'SELECT failing_since, enabled FROM webhook_endpoints WHERE id = ?',
    ),
    disable: db.prepare('UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?'),
  };
}

/** The webhooks concern on SQLite: each write is one BEGIN IMMEDIATE transaction, so processes on one file claim each row once. */
export function sqliteWebhooks(c: SqliteConnection): WebhookStore {
  const { db } = c;
  const s = c.statements(prepareWebhookStatements);

  function endpoint(id: string): WebhookEndpointRecord | null {
    const row = s().endpointById.get(id);
    return row ? webhookEndpointFromRow(row) : null;
  }

  const create = db.transaction((e: Parameters<WebhookStore['createWebhookEndpoint']>[0]) => {
    s().insertEndpoint.run({ id: e.id, url: e.url, description: e.description, enabled: e.enabled ? 1 : 0, secret: e.secret, createdAt: e.createdAt });
    for (const type of e.eventTypes) s().subscribe.run(type, e.id);
    return endpoint(e.id)!;
  });

  const update = db.transaction((id: string, patch: Parameters<WebhookStore['updateWebhookEndpoint']>[1], now: number) => {
    const sets = ['updated_at = @now'];
    const params: Record<string, unknown> = { id, now };
    if (patch.url !== undefined) {
      sets.push('url = @url');
      params.url = patch.url;
    }
    if (patch.description !== undefined) {
      sets.push('description = @description');
      params.description = patch.description;
    }
    if (patch.enabled !== undefined) {
      sets.push('enabled = @enabled');
      params.enabled = patch.enabled ? 1 : 0;
      // Enabled again by an admin: the failure clock starts afresh and the reason goes.
      if (patch.enabled) sets.push('disabled_reason = NULL', 'failing_since = NULL');
    }
    if (db.prepare(`UPDATE webhook_endpoints SET ${sets.join(', ')} WHERE id = @id`).run(params).changes === 0) return null;
    if (patch.eventTypes !== undefined) {
      s().unsubscribeAll.run(id);
      for (const type of patch.eventTypes) s().subscribe.run(type, id);
    }
    return endpoint(id);
  });

  const fanOut = db.transaction((now: number, limit: number, body: (e: OutboxEvent) => string, newId: () => string) => {
    const rows = s().outbox.all(limit);
    for (const row of rows) {
      const event: OutboxEvent = { id: row.id, type: row.type, occurredAt: row.occurred_at, data: JSON.parse(row.data) as Record<string, unknown> };
      const subscribers = s().subscribers.all(event.type);
      if (subscribers.length === 0) continue;
      const payload = body(event);
      for (const sub of subscribers) {
        s().insertDelivery.run({ id: newId(), endpointId: sub.id, eventId: event.id, eventType: event.type, payload, createdAt: now });
      }
    }
    if (rows.length > 0) s().deleteOutboxUpTo.run(rows[rows.length - 1]!.seq);
    return rows.length;
  });

  const claim = db.transaction((now: number, leaseUntil: number, limit: number) => {
    const ids = s().due.all({ now, limit });
    return ids.map(({ id }) => {
      s().lease.run(leaseUntil, id);
      return claimedDeliveryFromRow(s().claimed.get(id)!);
    });
  });

  const record = db.transaction((a: Parameters<WebhookStore['recordWebhookAttempt']>[0]) => {
    if (a.ok) {
      s().succeeded.run({ deliveryId: a.deliveryId, statusCode: a.statusCode, latencyMs: a.latencyMs, now: a.now });
      s().endpointSucceeded.run(a.endpointId);
      return;
    }
    s().failed.run({
      deliveryId: a.deliveryId,
      status: a.retryAt === null ? 'exhausted' : 'failed',
      statusCode: a.statusCode,
      error: a.error,
      latencyMs: a.latencyMs,
      retryAt: a.retryAt,
    });
    s().endpointFailed.run(a.now, a.endpointId);
    const row = s().failingSince.get(a.endpointId);
    if (row && row.enabled === 1 && row.failing_since !== null && a.now - row.failing_since >= a.disableAfterMs) {
      s().disable.run(disabledReasonText(row.failing_since, a.error), a.now, a.endpointId);
    }
  });

  return guardOutages<WebhookStore>({
    createWebhookEndpoint(e) {
      return create.immediate(e);
    },
    listWebhookEndpoints() {
      return s().endpoints.all().map(webhookEndpointFromRow);
    },
    findWebhookEndpoint(id) {
      return endpoint(id);
    },
    updateWebhookEndpoint(id, patch, now) {
      return update.immediate(id, patch, now);
    },
    rotateWebhookSecret(id, secret, previousExpiresAt, now) {
      if (s().rotate.run(previousExpiresAt, secret, now, id).changes === 0) return null;
      return endpoint(id);
    },
    deleteWebhookEndpoint(id) {
      return s().deleteEndpoint.run(id).changes === 1;
    },
    fanOutWebhookEvents(now, limit, body, newId) {
      return fanOut.immediate(now, limit, body, newId);
    },
    countOutboxEvents() {
      return s().countOutbox.get()!.n;
    },
    purgeWebhookDeliveries(before, limit) {
      return s().purgeDeliveries.run(before, limit).changes;
    },
    enqueueWebhookDelivery(d) {
      s().insertDelivery.run(d);
      return webhookDeliveryFromRow(s().deliveryById.get(d.id, d.endpointId)!);
    },
    claimWebhookDeliveries(now, leaseUntil, limit) {
      return claim.immediate(now, leaseUntil, limit);
    },
    recordWebhookAttempt(attempt) {
      record.immediate(attempt);
    },
    listWebhookDeliveries(endpointId, q) {
      const where = ['endpoint_id = @endpointId'];
      const params: Record<string, unknown> = { endpointId, limit: q.limit + 1 };
      if (q.status) {
        where.push('status = @status');
        params.status = q.status;
      }
      if (q.cursor) {
        const cursor = decodeDeliveryCursor(q.cursor);
        if (!cursor) return { deliveries: [], nextCursor: null };
        where.push('(created_at < @cAt OR (created_at = @cAt AND id < @cId))');
        params.cAt = cursor.createdAt;
        params.cId = cursor.id;
      }
      const rows = db
        .prepare<Record<string, unknown>, WebhookDeliveryRow>(
          `SELECT * FROM webhook_deliveries WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT @limit`,
        )
        .all(params);
      const deliveries = rows.slice(0, q.limit).map(webhookDeliveryFromRow);
      const last = deliveries[deliveries.length - 1];
      return { deliveries, nextCursor: rows.length > q.limit && last ? encodeDeliveryCursor(last.createdAt, last.id) : null };
    },
    findWebhookDelivery(endpointId, deliveryId) {
      const row = s().deliveryById.get(deliveryId, endpointId);
      return row ? webhookDeliveryFromRow(row) : null;
    },
  });
}

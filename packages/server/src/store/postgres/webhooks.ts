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
import type { PgConnection } from './connection.js';

const ENDPOINT_SELECT = `SELECT e.*, (SELECT string_agg(event_type, ',') FROM webhook_subscriptions s WHERE s.endpoint_id = e.id) AS event_types
  FROM webhook_endpoints e`;

/**
 * The webhooks concern on PostgreSQL. The outbox and the due deliveries are taken with
 * `FOR UPDATE SKIP LOCKED`: instances sharing the database each take rows no other has, and none
 * waits for another; a delivery's lease (`leased_until`) keeps it claimed after the claiming
 * transaction commits, until its attempt is recorded or the lease runs out.
 */
export function postgresWebhooks(db: PgConnection): WebhookStore {
  async function endpoint(id: string): Promise<WebhookEndpointRecord | null> {
    const rows = await db.query<WebhookEndpointRow>(`${ENDPOINT_SELECT} WHERE e.id = $1`, [id]);
    return rows[0] ? webhookEndpointFromRow(rows[0]) : null;
  }

  return {
    async createWebhookEndpoint(e) {
      await db.tx(async (c) => {
        await c.query(
          `INSERT INTO webhook_endpoints (id, url, description, enabled, secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)`,
          [e.id, e.url, e.description, e.enabled, e.secret, e.createdAt],
        );
        await c.query('INSERT INTO webhook_subscriptions (event_type, endpoint_id) SELECT DISTINCT t, $2 FROM unnest($1::text[]) AS t', [e.eventTypes, e.id]);
      });
      return (await endpoint(e.id))!;
    },

    async listWebhookEndpoints() {
      return (await db.query<WebhookEndpointRow>(`${ENDPOINT_SELECT} ORDER BY e.created_at, e.id`)).map(webhookEndpointFromRow);
    },

    findWebhookEndpoint: endpoint,

    async updateWebhookEndpoint(id, patch, now) {
      const found = await db.tx(async (c) => {
        const values: unknown[] = [id, now];
        const sets = ['updated_at = $2'];
        const set = (column: string, value: unknown) => {
          values.push(value);
          sets.push(`${column} = $${values.length}`);
        };
        if (patch.url !== undefined) set('url', patch.url);
        if (patch.description !== undefined) set('description', patch.description);
        if (patch.enabled !== undefined) {
          set('enabled', patch.enabled);
          // Enabled again by an admin: the failure clock starts afresh and the reason goes.
          if (patch.enabled) sets.push('disabled_reason = NULL', 'failing_since = NULL');
        }
        const updated = await c.query(`UPDATE webhook_endpoints SET ${sets.join(', ')} WHERE id = $1`, values);
        if (updated.rowCount !== 1) return false;
        if (patch.eventTypes !== undefined) {
          await c.query('DELETE FROM webhook_subscriptions WHERE endpoint_id = $1', [id]);
          await c.query('INSERT INTO webhook_subscriptions (event_type, endpoint_id) SELECT DISTINCT t, $2 FROM unnest($1::text[]) AS t', [patch.eventTypes, id]);
        }
        return true;
      });
      return found ? endpoint(id) : null;
    },

    async rotateWebhookSecret(id, secret, previousExpiresAt, now) {
      const n = await db.execute(
        'UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_expires_at = $2, secret = $3, updated_at = $4 WHERE id = $1',
        [id, previousExpiresAt, secret, now],
      );
      return n === 1 ? endpoint(id) : null;
    },

    async deleteWebhookEndpoint(id) {
      return (await db.execute('DELETE FROM webhook_endpoints WHERE id = $1', [id])) === 1;
    },

    async fanOutWebhookEvents(now, limit, body, newId) {
      return db.tx(async (c) => {
        const { rows } = await c.query<{ seq: number; id: string; type: string; occurred_at: number; data: Record<string, unknown> }>(
          `DELETE FROM webhook_outbox WHERE seq IN (SELECT seq FROM webhook_outbox ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING seq, id, type, occurred_at, data`,
          [limit],
        );
        if (rows.length === 0) return 0;
        rows.sort((a, b) => Number(a.seq) - Number(b.seq));
        const types = [...new Set(rows.map((r) => r.type))];
        const subs = await c.query<{ event_type: string; id: string }>(
          `SELECT s.event_type, e.id FROM webhook_subscriptions s JOIN webhook_endpoints e ON e.id = s.endpoint_id
           WHERE s.event_type = ANY ($1::text[]) AND e.enabled ORDER BY e.id`,
          [types],
        );
        const ids: string[] = [];
        const endpoints: string[] = [];
        const eventIds: string[] = [];
        const eventTypes: string[] = [];
        const payloads: string[] = [];
        for (const row of rows) {
          const subscribers = subs.rows.filter((s) => s.event_type === row.type);
          if (subscribers.length === 0) continue;
          const event: OutboxEvent = { id: row.id, type: row.type, occurredAt: Number(row.occurred_at), data: row.data };
          const payload = body(event);
          for (const sub of subscribers) {
            ids.push(newId());
            endpoints.push(sub.id);
            eventIds.push(event.id);
            eventTypes.push(event.type);
            payloads.push(payload);
          }
        }
        if (ids.length > 0) {
          await c.query(
            `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, payload, status, created_at, next_attempt_at)
             SELECT id, endpoint_id, event_id, event_type, payload, 'pending', $6, $6
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t (id, endpoint_id, event_id, event_type, payload)`,
            [ids, endpoints, eventIds, eventTypes, payloads, now],
          );
        }
        return rows.length;
      });
    },

    async countOutboxEvents() {
      return Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM webhook_outbox'))[0]!.n);
    },

    async purgeWebhookDeliveries(before, limit) {
      return db.execute(
        "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE status IN ('succeeded', 'exhausted') AND created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
        [before, limit],
      );
    },

    async enqueueWebhookDelivery(d) {
      const rows = await db.query<WebhookDeliveryRow>(
        `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, payload, status, created_at, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6) RETURNING *`,
        [d.id, d.endpointId, d.eventId, d.eventType, d.payload, d.createdAt],
      );
      return webhookDeliveryFromRow(rows[0]!);
    },

    async claimWebhookDeliveries(now, leaseUntil, limit) {
      const rows = await db.query<ClaimedDeliveryRow>(
        `WITH claimed AS (
           UPDATE webhook_deliveries SET leased_until = $2
           WHERE id IN (
             SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
             WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= $1 AND (d.leased_until IS NULL OR d.leased_until <= $1)
               AND e.enabled
             ORDER BY d.next_attempt_at LIMIT $3
             FOR UPDATE OF d SKIP LOCKED)
           RETURNING *
         )
         SELECT claimed.*, e.url, e.secret, e.previous_secret, e.previous_secret_expires_at
         FROM claimed JOIN webhook_endpoints e ON e.id = claimed.endpoint_id ORDER BY claimed.next_attempt_at`,
        [now, leaseUntil, limit],
      );
      return rows.map(claimedDeliveryFromRow);
    },

    async recordWebhookAttempt(a) {
      await db.tx(async (c) => {
        if (a.ok) {
          await c.query(
            `UPDATE webhook_deliveries SET status = 'succeeded', attempts = attempts + 1, last_status_code = $2, last_error = NULL,
               latency_ms = $3, next_attempt_at = NULL, delivered_at = $4, leased_until = NULL WHERE id = $1`,
            [a.deliveryId, a.statusCode, a.latencyMs, a.now],
          );
          await c.query('UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL', [a.endpointId]);
          return;
        }
        await c.query(
          `UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, last_status_code = $3, last_error = $4,
             latency_ms = $5, next_attempt_at = $6, leased_until = NULL WHERE id = $1`,
          [a.deliveryId, a.retryAt === null ? 'exhausted' : 'failed', a.statusCode, a.error, a.latencyMs, a.retryAt],
        );
        const { rows } = await c.query<{ failing_since: number; enabled: boolean }>(
          'UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $2) WHERE id = $1 RETURNING failing_since, enabled',
          [a.endpointId, a.now],
        );
        const row = rows[0];
        if (row && row.enabled && a.now - Number(row.failing_since) >= a.disableAfterMs) {
          await c.query('UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = $3 WHERE id = $1', [
            a.endpointId,
            disabledReasonText(Number(row.failing_since), a.error),
            a.now,
          ]);
        }
      });
    },

    async listWebhookDeliveries(endpointId, q) {
      const values: unknown[] = [endpointId];
      const where = ['endpoint_id = $1'];
      if (q.status) {
        values.push(q.status);
        where.push(`status = $${values.length}`);
      }
      if (q.cursor) {
        const cursor = decodeDeliveryCursor(q.cursor);
        if (!cursor) return { deliveries: [], nextCursor: null };
        values.push(cursor.createdAt, cursor.id);
        where.push(`(created_at, id) < ($${values.length - 1}, $${values.length})`);
      }
      values.push(q.limit + 1);
      const rows = await db.query<WebhookDeliveryRow>(
        `SELECT * FROM webhook_deliveries WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $${values.length}`,
        values,
      );
      const deliveries = rows.slice(0, q.limit).map(webhookDeliveryFromRow);
      const last = deliveries[deliveries.length - 1];
      return { deliveries, nextCursor: rows.length > q.limit && last ? encodeDeliveryCursor(last.createdAt, last.id) : null };
    },

    async findWebhookDelivery(endpointId, deliveryId) {
      const rows = await db.query<WebhookDeliveryRow>('SELECT * FROM webhook_deliveries WHERE id = $1 AND endpoint_id = $2', [deliveryId, endpointId]);
      return rows[0] ? webhookDeliveryFromRow(rows[0]) : null;
    },
  };
}

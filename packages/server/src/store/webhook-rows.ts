/** Row shapes of the webhooks tables, shared by both adapters (SQLite integers, PostgreSQL booleans). */
import type { ClaimedDelivery, WebhookDeliveryRecord, WebhookDeliveryStatus, WebhookEndpointRecord } from './types.js';

export interface WebhookEndpointRow {
  id: string;
  url: string;
  description: string | null;
  enabled: number | boolean;
  disabled_reason: string | null;
  failing_since: number | null;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: number | null;
  created_at: number;
  updated_at: number;
  /** Subscribed types, comma-separated (aggregated by the query). */
  event_types: string | null;
}

export function webhookEndpointFromRow(r: WebhookEndpointRow): WebhookEndpointRecord {
  return {
    id: r.id,
    url: r.url,
    eventTypes: r.event_types ? r.event_types.split(',').sort() : [],
    description: r.description,
    enabled: r.enabled === true || r.enabled === 1,
    disabledReason: r.disabled_reason,
    failingSince: r.failing_since === null ? null : Number(r.failing_since),
    secret: r.secret,
    previousSecret: r.previous_secret,
    previousSecretExpiresAt: r.previous_secret_expires_at === null ? null : Number(r.previous_secret_expires_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export interface WebhookDeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  payload: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  latency_ms: number | null;
  created_at: number;
  next_attempt_at: number | null;
  delivered_at: number | null;
}

const num = (v: number | null): number | null => (v === null ? null : Number(v));

export function webhookDeliveryFromRow(r: WebhookDeliveryRow): WebhookDeliveryRecord {
  return {
    id: r.id,
    endpointId: r.endpoint_id,
    eventId: r.event_id,
    eventType: r.event_type,
    payload: r.payload,
    status: r.status as WebhookDeliveryStatus,
    attempts: Number(r.attempts),
    lastStatusCode: num(r.last_status_code),
    lastError: r.last_error,
    latencyMs: num(r.latency_ms),
    createdAt: Number(r.created_at),
    nextAttemptAt: num(r.next_attempt_at),
    deliveredAt: num(r.delivered_at),
  };
}

export type ClaimedDeliveryRow = WebhookDeliveryRow & {
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: number | null;
};

export function claimedDeliveryFromRow(r: ClaimedDeliveryRow): ClaimedDelivery {
  return {
    ...webhookDeliveryFromRow(r),
    url: r.url,
    secret: r.secret,
    previousSecret: r.previous_secret,
    previousSecretExpiresAt: num(r.previous_secret_expires_at),
  };
}

/** Delivery-page cursor: (created_at, id) of the last row, base64url JSON; null when malformed. */
export function encodeDeliveryCursor(createdAt: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

export function decodeDeliveryCursor(cursor: string): { createdAt: number; id: string } | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') return { createdAt: v[0] as number, id: v[1] };
  } catch {
    // not JSON: malformed
  }
  return null;
}

/** Why a failing endpoint was disabled, as the admin API shows it. */
export function disabledReasonText(failingSince: number, lastError: string | null): string {
  return `failing since ${new Date(failingSince).toISOString()} without a success${lastError ? `; last error: ${lastError}` : ''}`;
}

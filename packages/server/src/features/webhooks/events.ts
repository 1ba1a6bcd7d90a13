/**
 * The webhook event types and the bodies sent for them. The outbox holds what a trigger saw
 * (store/contract/webhooks.ts); the body is made from it once, when the event is fanned out,
 * and every attempt and redelivery sends those very bytes.
 */
import type { OutboxEvent } from '../../store/types.js';
import type { PublicUser } from '../users/public-user.js';

/** Every type an endpoint may subscribe to, in the order the admin API lists them. */
export const WEBHOOK_EVENT_TYPES = [
  'user.created',
  'user.updated',
  'user.deleted',
  'user.email_verified',
  'session.created',
  'session.revoked',
  'session.reuse_detected',
  'password.changed',
  'factor.added',
  'factor.removed',
  'identity.linked',
  'identity.unlinked',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The type of the event `POST /admin/webhooks/{id}/test` sends; not subscribable. */
export const TEST_EVENT_TYPE = 'webhook.test';

export function isWebhookEventType(type: string): type is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(type);
}

/** The body of every delivery. */
export interface WebhookPayload {
  type: string;
  /** When the change happened (ISO 8601). */
  timestamp: string;
  data: Record<string, unknown>;
}

/** The public fields a user.updated event compares, as PublicUser names them. */
const USER_FIELDS = ['email', 'name', 'roles', 'email_verified', 'disabled'] as const;

/** A trigger's snapshot of a users row (SQLite gives 0/1 for booleans, PostgreSQL true/false) as PublicUser. */
function userFromSnapshot(raw: unknown): PublicUser {
  const u = raw as Record<string, unknown>;
  return {
    id: String(u.id),
    email: String(u.email),
    name: u.name === null || u.name === undefined ? null : String(u.name),
    roles: Array.isArray(u.roles) ? u.roles.map(String) : [],
    email_verified: u.email_verified === true || u.email_verified === 1,
    disabled: u.disabled === true || u.disabled === 1,
    created_at: new Date(Number(u.created_at)).toISOString(),
    updated_at: new Date(Number(u.updated_at)).toISOString(),
  };
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The `data` of an event: the public user for user.* (user.updated adds `before` and `after`,
 * the changed fields only), the trigger's ids for the others. Never a hash, token or secret:
 * the triggers do not read those columns.
 */
export function eventData(event: Pick<OutboxEvent, 'type' | 'data'>): Record<string, unknown> {
  const { type, data } = event;
  if (type === 'user.updated') {
    const before = userFromSnapshot(data.before);
    const after = userFromSnapshot(data.after);
    const changedBefore: Record<string, unknown> = {};
    const changedAfter: Record<string, unknown> = {};
    for (const field of USER_FIELDS) {
      if (sameValue(before[field], after[field])) continue;
      changedBefore[field] = before[field];
      changedAfter[field] = after[field];
    }
    return { user: after, before: changedBefore, after: changedAfter };
  }
  if (type.startsWith('user.')) return { user: userFromSnapshot(data.user) };
  return { ...data };
}

/**
 * The body of an event, as sent and signed.
 *
 * @example
 * webhookBody({ id: 'evt_1', type: 'session.created', occurredAt: 0, data: { user_id: 'u', session_id: 's' } });
 * // '{"type":"session.created","timestamp":"1970-01-01T00:00:00.000Z","data":{"user_id":"u","session_id":"s"}}'
 */
export function webhookBody(event: OutboxEvent): string {
  const payload: WebhookPayload = { type: event.type, timestamp: new Date(event.occurredAt).toISOString(), data: eventData(event) };
  return JSON.stringify(payload);
}

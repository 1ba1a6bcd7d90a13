/**
 * The webhook endpoints as the admin API and the CLI manage them: create (the secret is shown
 * once), list, change, rotate the secret with an overlap, delete, and the delivery log with
 * redelivery and a test event.
 */
import { randomBytes } from 'node:crypto';
import { parseDuration, type WebhooksConfig } from '../../config.js';
import type { Clock } from '../../clock.js';
import { newId } from '../../lib/ids.js';
import type { SecretBox } from '../../lib/secret-box.js';
import { failure, invalid, success, type Outcome } from '../../outcome.js';
import type { Store, WebhookDeliveryRecord, WebhookDeliveryStatus, WebhookEndpointRecord, WebhookEndpointPatch } from '../../store/types.js';
import { addressRefusal, hostOf, urlRefusal } from './address-guard.js';
import { isWebhookEventType, TEST_EVENT_TYPE, WEBHOOK_EVENT_TYPES } from './events.js';
import { newWebhookSecret } from './signing.js';
import { secretContext } from './worker.js';

export interface WebhookServiceDeps {
  store: Store;
  clock: Clock;
  secrets: SecretBox;
  config: { webhooks: WebhooksConfig };
}

/** An endpoint as the admin API shows it: never its secret. */
export interface PublicEndpoint {
  id: string;
  url: string;
  event_types: string[];
  description: string | null;
  enabled: boolean;
  disabled_reason: string | null;
  failing_since: string | null;
  created_at: string;
  updated_at: string;
}

export interface PublicDelivery {
  id: string;
  event_id: string;
  event_type: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  latency_ms: number | null;
  created_at: string;
  next_attempt_at: string | null;
  delivered_at: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function publicEndpoint(e: WebhookEndpointRecord): PublicEndpoint {
  return {
    id: e.id,
    url: e.url,
    event_types: e.eventTypes,
    description: e.description,
    enabled: e.enabled,
    disabled_reason: e.disabledReason,
    failing_since: iso(e.failingSince),
    created_at: iso(e.createdAt)!,
    updated_at: iso(e.updatedAt)!,
  };
}

export function publicDelivery(d: WebhookDeliveryRecord): PublicDelivery {
  return {
    id: d.id,
    event_id: d.eventId,
    event_type: d.eventType,
    status: d.status,
    attempts: d.attempts,
    last_status_code: d.lastStatusCode,
    last_error: d.lastError,
    latency_ms: d.latencyMs,
    created_at: iso(d.createdAt)!,
    next_attempt_at: iso(d.nextAttemptAt),
    delivered_at: iso(d.deliveredAt),
  };
}

export interface EndpointInput {
  url: string;
  event_types: string[];
  description?: string | null;
  enabled?: boolean;
}

export type EndpointPatchInput = Partial<EndpointInput>;

const NOT_FOUND = 'No such webhook endpoint.';
/** The longest overlap of two secrets after a rotation. */
const MAX_OVERLAP_MS = 7 * 86_400_000;
const DEFAULT_OVERLAP = '24h';

/** The URL refused (scheme, credentials, a private address now), or null. Resolves the host unless WEBHOOK_ALLOW_PRIVATE. */
async function checkUrl(url: string, config: WebhooksConfig): Promise<string | null> {
  const refusal = urlRefusal(url, config.allowPrivate);
  if (refusal || config.allowPrivate) return refusal;
  return addressRefusal(hostOf(new URL(url)));
}

function checkTypes(types: readonly string[]): Outcome<string[]> {
  const unknown = types.filter((t) => !isWebhookEventType(t));
  if (unknown.length > 0) {
    return failure('UNKNOWN_EVENT_TYPE', `Unknown event type ${unknown.map((t) => `"${t}"`).join(', ')}; GET /admin/webhooks/event-types lists them.`);
  }
  return success([...new Set(types)].sort());
}

/**
 * Registers an endpoint; its secret is returned here and never again.
 *
 * @example
 * const created = await createEndpoint(ctx, { url: 'https://hooks.example/latchkey', event_types: ['user.created'] });
 * if (created.ok) console.log(created.value.secret); // whsec_...
 */
export async function createEndpoint(deps: WebhookServiceDeps, input: EndpointInput): Promise<Outcome<{ endpoint: WebhookEndpointRecord; secret: string }>> {
  const types = checkTypes(input.event_types);
  if (!types.ok) return types;
  const refusal = await checkUrl(input.url, deps.config.webhooks);
  if (refusal) return failure('WEBHOOK_URL_NOT_ALLOWED', refusal);
  const id = newId();
  const secret = newWebhookSecret();
  const endpoint = await deps.store.createWebhookEndpoint({
    id,
    url: input.url,
    eventTypes: types.value,
    description: input.description ?? null,
    enabled: input.enabled ?? true,
    secret: deps.secrets.store(secret, secretContext(id)),
    createdAt: deps.clock(),
  });
  return success({ endpoint, secret });
}

export async function getEndpoint(deps: Pick<WebhookServiceDeps, 'store'>, id: string): Promise<Outcome<WebhookEndpointRecord>> {
  const endpoint = await deps.store.findWebhookEndpoint(id);
  return endpoint ? success(endpoint) : failure('WEBHOOK_NOT_FOUND', NOT_FOUND);
}

export async function updateEndpoint(deps: WebhookServiceDeps, id: string, input: EndpointPatchInput): Promise<Outcome<WebhookEndpointRecord>> {
  const patch: WebhookEndpointPatch = {};
  if (input.event_types !== undefined) {
    const types = checkTypes(input.event_types);
    if (!types.ok) return types;
    patch.eventTypes = types.value;
  }
  if (input.url !== undefined) {
    if (!(await deps.store.findWebhookEndpoint(id))) return failure('WEBHOOK_NOT_FOUND', NOT_FOUND);
    const refusal = await checkUrl(input.url, deps.config.webhooks);
    if (refusal) return failure('WEBHOOK_URL_NOT_ALLOWED', refusal);
    patch.url = input.url;
  }
  if (input.description !== undefined) patch.description = input.description;
  if (input.enabled !== undefined) patch.enabled = input.enabled;
  const endpoint = await deps.store.updateWebhookEndpoint(id, patch, deps.clock());
  return endpoint ? success(endpoint) : failure('WEBHOOK_NOT_FOUND', NOT_FOUND);
}

export async function deleteEndpoint(deps: Pick<WebhookServiceDeps, 'store'>, id: string): Promise<Outcome<null>> {
  return (await deps.store.deleteWebhookEndpoint(id)) ? success(null) : failure('WEBHOOK_NOT_FOUND', NOT_FOUND);
}

/**
 * A new secret; the old one keeps signing (a second signature) for `overlap` (default 24h, at most 7d).
 *
 * @example
 * const rotated = await rotateSecret(ctx, id, '1h');
 */
export async function rotateSecret(
  deps: WebhookServiceDeps,
  id: string,
  overlap: string | undefined,
): Promise<Outcome<{ secret: string; previousExpiresAt: number }>> {
  let overlapMs: number;
  try {
    overlapMs = parseDuration('overlap', overlap ?? DEFAULT_OVERLAP);
  } catch {
    return invalid({ field: 'overlap', message: 'Overlap must be a duration like 24h, 30m or 0.' });
  }
  if (overlapMs > MAX_OVERLAP_MS) return invalid({ field: 'overlap', message: 'Overlap must be at most 7d.' });
  const secret = newWebhookSecret();
  const now = deps.clock();
  const previousExpiresAt = now + overlapMs;
  const endpoint = await deps.store.rotateWebhookSecret(id, deps.secrets.store(secret, secretContext(id)), previousExpiresAt, now);
  return endpoint ? success({ secret, previousExpiresAt }) : failure('WEBHOOK_NOT_FOUND', NOT_FOUND);
}

export async function listDeliveries(
  deps: Pick<WebhookServiceDeps, 'store'>,
  id: string,
  query: { status?: WebhookDeliveryStatus | null; cursor?: string | null; limit: number },
): Promise<Outcome<{ deliveries: WebhookDeliveryRecord[]; nextCursor: string | null }>> {
  if (!(await deps.store.findWebhookEndpoint(id))) return failure('WEBHOOK_NOT_FOUND', NOT_FOUND);
  return success(await deps.store.listWebhookDeliveries(id, query));
}

/** Sends a delivery's event again, as a new delivery with the same `webhook-id` and body. */
export async function redeliver(deps: WebhookServiceDeps, id: string, deliveryId: string): Promise<Outcome<WebhookDeliveryRecord>> {
  if (!(await deps.store.findWebhookEndpoint(id))) return failure('WEBHOOK_NOT_FOUND', NOT_FOUND);
  const original = await deps.store.findWebhookDelivery(id, deliveryId);
  if (!original) return failure('DELIVERY_NOT_FOUND', 'No such delivery of this endpoint.');
  const delivery = await deps.store.enqueueWebhookDelivery({
    id: newId(),
    endpointId: id,
    eventId: original.eventId,
    eventType: original.eventType,
    payload: original.payload,
    createdAt: deps.clock(),
  });
  return success(delivery);
}

/** Queues a `webhook.test` event to this endpoint only (enabled or not: it is sent once enabled). */
export async function sendTestEvent(deps: WebhookServiceDeps, id: string): Promise<Outcome<WebhookDeliveryRecord>> {
  if (!(await deps.store.findWebhookEndpoint(id))) return failure('WEBHOOK_NOT_FOUND', NOT_FOUND);
  const now = deps.clock();
  const payload = JSON.stringify({ type: TEST_EVENT_TYPE, timestamp: new Date(now).toISOString(), data: { endpoint_id: id } });
  const delivery = await deps.store.enqueueWebhookDelivery({
    id: newId(),
    endpointId: id,
    eventId: 'evt_' + randomBytes(16).toString('hex'),
    eventType: TEST_EVENT_TYPE,
    payload,
    createdAt: now,
  });
  return success(delivery);
}

export { WEBHOOK_EVENT_TYPES };

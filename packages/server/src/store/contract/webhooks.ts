/**
 * The webhooks concern of the storage contract (docs/webhooks.md): endpoints with their sealed
 * secrets, the outbox of events, and the deliveries made from it.
 *
 * The outbox rule. An event is written to `webhook_outbox` by the database itself, by triggers
 * on the rows that change (migration 8 of each adapter): a user inserted, updated (a public field
 * really changed), deleted; a password changed (`users.password_changed_at` set, which
 * `setPasswordHash` and `replacePasswordHash` do unless the call is a rehash); a session inserted
 * or revoked (`revoked_at` going from NULL to a time; `refresh_token_reused` also writes
 * `session.reuse_detected`); a factor confirmed or a passkey added, either removed; an identity
 * linked or unlinked. So the event is in the transaction of the change whatever method or branch
 * made it: a change rolled back takes its event with it, a statement that changed nothing (a
 * taken email, a session already revoked, an UPDATE that matched no row) writes none. Removals of
 * a user's factors, passkeys and identities that cascade from the deletion of the user write
 * nothing of their own (`user.deleted` says it). A trigger writes only when some endpoint
 * subscribes to the type (`webhook_subscriptions`): without endpoints a change costs one index
 * probe of an empty table, and refresh (which changes no column a trigger watches) nothing.
 *
 * Times of outbox rows come from the changed row (`created_at`, `updated_at`, `revoked_at`,
 * `password_changed_at`, `confirmed_at`) — the caller's clock — except for deletions, which carry
 * no time of their own and take the database's clock.
 */

export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'exhausted';

export interface WebhookEndpointRecord {
  id: string;
  url: string;
  eventTypes: string[];
  description: string | null;
  enabled: boolean;
  /** Why the worker disabled it (failing for WEBHOOK_DISABLE_AFTER); null when enabled or disabled by an admin. */
  disabledReason: string | null;
  /** First failure since the last success; null while it succeeds. */
  failingSince: number | null;
  /** The signing secret in its stored form (SecretBox.store), `whsec_...` once opened. */
  secret: string;
  /** The secret before the last rotation, still signing until `previousSecretExpiresAt`. */
  previousSecret: string | null;
  previousSecretExpiresAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface NewWebhookEndpoint {
  id: string;
  url: string;
  eventTypes: string[];
  description: string | null;
  enabled: boolean;
  secret: string;
  createdAt: number;
}

export interface WebhookEndpointPatch {
  url?: string;
  eventTypes?: string[];
  description?: string | null;
  /** true also clears `disabledReason` and `failingSince`. */
  enabled?: boolean;
}

/** One row of the outbox: what a trigger saw. `data` is the trigger's snapshot (see features/webhooks/events.ts). */
export interface OutboxEvent {
  id: string;
  type: string;
  occurredAt: number;
  data: Record<string, unknown>;
}

export interface WebhookDeliveryRecord {
  id: string;
  endpointId: string;
  /** The event's id: `webhook-id`, the same for every attempt and redelivery. */
  eventId: string;
  eventType: string;
  /** The exact body sent (and signed), fixed when the delivery was made. */
  payload: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  latencyMs: number | null;
  createdAt: number;
  /** When the next attempt is due; null once succeeded or exhausted. */
  nextAttemptAt: number | null;
  deliveredAt: number | null;
}

export type NewWebhookDelivery = Pick<WebhookDeliveryRecord, 'id' | 'endpointId' | 'eventId' | 'eventType' | 'payload' | 'createdAt'>;

/** A delivery claimed for an attempt, with what the attempt needs of its endpoint. */
export interface ClaimedDelivery extends WebhookDeliveryRecord {
  url: string;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: number | null;
}

/** What an attempt gave. */
export interface WebhookAttempt {
  deliveryId: string;
  endpointId: string;
  now: number;
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  latencyMs: number | null;
  /** When to try again after a failure; null: no more attempts (`exhausted`). Ignored when ok. */
  retryAt: number | null;
  /** A failure disables the endpoint when its first failure since a success is this old or older. */
  disableAfterMs: number;
}

export interface WebhookDeliveryQuery {
  status?: WebhookDeliveryStatus | null;
  cursor?: string | null;
  limit: number;
}

export interface WebhookStore {
  createWebhookEndpoint(endpoint: NewWebhookEndpoint): Promise<WebhookEndpointRecord>;
  /** Oldest first. */
  listWebhookEndpoints(): Promise<WebhookEndpointRecord[]>;
  findWebhookEndpoint(id: string): Promise<WebhookEndpointRecord | null>;
  updateWebhookEndpoint(id: string, patch: WebhookEndpointPatch, now: number): Promise<WebhookEndpointRecord | null>;
  /** The current secret becomes the previous one until `previousExpiresAt`; `secret` becomes current. */
  rotateWebhookSecret(id: string, secret: string, previousExpiresAt: number, now: number): Promise<WebhookEndpointRecord | null>;
  /** Deletes the endpoint with its subscriptions and deliveries. */
  deleteWebhookEndpoint(id: string): Promise<boolean>;
  /**
   * Takes up to `limit` events out of the outbox, oldest first, and makes one pending delivery
   * (due at `now`) per enabled endpoint subscribed to each event's type, with the body
   * `body(event)` gives, in one transaction: an event leaves the outbox exactly when its
   * deliveries exist. Of concurrent callers (instances on one PostgreSQL) none takes an event
   * another took (SKIP LOCKED). Returns how many events it took.
   */
  fanOutWebhookEvents(now: number, limit: number, body: (event: OutboxEvent) => string, newId: () => string): Promise<number>;
  /** How many events wait in the outbox (metrics, tests). */
  countOutboxEvents(): Promise<number>;
  /** Inserts a delivery due at once (a test event, a redelivery). */
  enqueueWebhookDelivery(delivery: NewWebhookDelivery): Promise<WebhookDeliveryRecord>;
  /**
   * Claims up to `limit` due deliveries (pending or failed, due at `now`, endpoint enabled, not
   * leased) by leasing them until `leaseUntil`: of concurrent callers exactly one claims each
   * delivery; a delivery whose lease ran out (its claimer died) is due again.
   */
  claimWebhookDeliveries(now: number, leaseUntil: number, limit: number): Promise<ClaimedDelivery[]>;
  /**
   * Records an attempt and releases the lease: success marks the delivery succeeded and clears
   * the endpoint's failure clock; a failure marks it failed (due at `retryAt`) or exhausted, sets
   * the failure clock if unset and disables the endpoint (with a reason) once the clock is
   * `disableAfterMs` old. One transaction.
   */
  recordWebhookAttempt(attempt: WebhookAttempt): Promise<void>;
  /** Newest first, keyset paging. */
  listWebhookDeliveries(endpointId: string, query: WebhookDeliveryQuery): Promise<{ deliveries: WebhookDeliveryRecord[]; nextCursor: string | null }>;
  findWebhookDelivery(endpointId: string, deliveryId: string): Promise<WebhookDeliveryRecord | null>;
  /**
   * Deletes finished deliveries (succeeded or exhausted) created before `before`, at most `limit`;
   * returns the count. Pending and failed ones (still being retried) are kept whatever their age.
   */
  purgeWebhookDeliveries(before: number, limit: number): Promise<number>;
}

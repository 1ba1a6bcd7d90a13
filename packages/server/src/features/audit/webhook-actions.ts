/**
 * The audit entries of the webhook admin routes (features/webhooks/routes.ts): which endpoint an
 * admin created, changed, deleted, re-keyed, tested or redelivered to. Never a secret: a rotation
 * is `secret: {rotated: true}`, and a URL's query string (where a receiver may keep a token) is
 * recorded as `?…`.
 */
import type { FastifyRequest } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { requestMeta } from '../../http/request.js';
import type { WebhookEndpointRecord } from '../../store/types.js';
import { adminActor, recordAudit } from './service.js';

/** An endpoint URL without its query string or fragment. */
export function auditableUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(not a URL)';
  }
}

function fields(e: WebhookEndpointRecord): Record<string, unknown> {
  return { url: auditableUrl(e.url), event_types: e.eventTypes, description: e.description, enabled: e.enabled };
}

/** `{field: {from, to}}` of the fields that differ (null `before`: every field, from null). */
export function webhookChanges(before: WebhookEndpointRecord | null, after: WebhookEndpointRecord | null): Record<string, { from: unknown; to: unknown }> {
  const a = before ? fields(before) : {};
  const b = after ? fields(after) : {};
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const from = a[key] ?? null;
    const to = b[key] ?? null;
    if (JSON.stringify(from) !== JSON.stringify(to)) changes[key] = { from, to };
  }
  return changes;
}

/**
 * Appends the entry of a webhook admin action done by the request's admin.
 *
 * @example
 * await auditWebhookAction(ctx, request, 'admin.webhook.deleted', id, webhookChanges(before, null));
 */
export function auditWebhookAction(
  ctx: LatchkeyContext,
  request: FastifyRequest,
  action: string,
  endpointId: string,
  changes: Record<string, unknown> | null,
): Promise<void> {
  const meta = requestMeta(request);
  return recordAudit(ctx, { actor: adminActor(request.auth!.user.id, meta), action, target: { type: 'webhook', id: endpointId }, changes, meta });
}

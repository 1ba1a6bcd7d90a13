/**
 * `latchkey webhooks create|list|rotate-secret|delete|deliveries`: the admin API's endpoint
 * management on the server's database, with the same rules (the URL check, known event types,
 * the secret sealed under KEY_ENCRYPTION_KEY and printed once). Results to stdout, errors to
 * stderr (exit 1).
 */
import type { Config } from '../../config.js';
import { parseCommandArgs, UsageError } from '../../lib/cli-args.js';
import type { Store } from '../../store/types.js';
import { secretBoxFor } from '../../tokens/keys.js';
import { recordCliAudit } from '../audit/service.js';
import { webhookChanges } from '../audit/webhook-actions.js';
import { describeFailure } from '../users/command.js';
import { WEBHOOK_EVENT_TYPES } from './events.js';
import { createEndpoint, deleteEndpoint, listDeliveries, rotateSecret } from './service.js';

export interface WebhooksCommandDeps {
  config: Config;
  clock: () => number;
  withStore<T>(fn: (store: Store) => Promise<T>): Promise<T>;
  out(line: string): void;
  fail(message: string): number;
}

export const WEBHOOKS_USAGE = `usage: latchkey webhooks <command>
  create --url URL --events TYPE,TYPE... [--description TEXT] [--disabled]
  list
  rotate-secret ID [--overlap 24h]
  delete ID
  deliveries ID [--status pending|succeeded|failed|exhausted] [--limit N]
Event types: ${WEBHOOK_EVENT_TYPES.join(', ')}`;

function usage(sub: string): string {
  const line = WEBHOOKS_USAGE.split('\n').find((l) => l.trim().startsWith(`${sub} `) || l.trim() === sub);
  return line ? `usage: latchkey webhooks ${line.trim()}` : WEBHOOKS_USAGE;
}

const iso = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

function serviceDeps(deps: WebhooksCommandDeps, store: Store) {
  return { store, clock: deps.clock, secrets: secretBoxFor(deps.config.tokens), config: deps.config };
}

async function create(deps: WebhooksCommandDeps, args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    { url: { type: 'string' }, events: { type: 'string' }, description: { type: 'string' }, disabled: { type: 'boolean' } },
    usage('create'),
  );
  if (!values.url || !values.events) throw new UsageError('--url and --events are required', usage('create'));
  const types = values.events.split(',').map((t) => t.trim()).filter(Boolean);
  return deps.withStore(async (store) => {
    const created = await createEndpoint(serviceDeps(deps, store), { url: values.url!, event_types: types, description: values.description ?? null, enabled: !values.disabled });
    if (!created.ok) return deps.fail(describeFailure(created));
    const hook = { type: 'webhook', id: created.value.endpoint.id };
    await recordCliAudit(store, deps.clock, 'admin.webhook.created', hook, { ...webhookChanges(null, created.value.endpoint), secret: { set: true } });
    deps.out(`endpoint ${created.value.endpoint.id} created for ${created.value.endpoint.eventTypes.join(', ')}`);
    deps.out(`secret (shown once, keep it for the receiver): ${created.value.secret}`);
    return 0;
  });
}

async function list(deps: WebhooksCommandDeps, args: string[]): Promise<number> {
  parseCommandArgs(args, {}, usage('list'));
  return deps.withStore(async (store) => {
    const endpoints = await store.listWebhookEndpoints();
    if (endpoints.length === 0) {
      deps.out('no webhook endpoints yet: create one with `latchkey webhooks create`');
      return 0;
    }
    deps.out(['id', 'url', 'events', 'status', 'created'].join('\t'));
    for (const e of endpoints) {
      const status = e.enabled ? (e.failingSince === null ? 'enabled' : `enabled, failing since ${iso(e.failingSince)}`) : `disabled${e.disabledReason ? `: ${e.disabledReason}` : ''}`;
      deps.out([e.id, e.url, e.eventTypes.join(','), status, iso(e.createdAt)].join('\t'));
    }
    return 0;
  });
}

async function rotate(deps: WebhooksCommandDeps, args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { overlap: { type: 'string' } }, usage('rotate-secret'), { min: 1, max: 1 });
  return deps.withStore(async (store) => {
    const rotated = await rotateSecret(serviceDeps(deps, store), positionals[0]!, values.overlap);
    if (!rotated.ok) return deps.fail(describeFailure(rotated));
    await recordCliAudit(store, deps.clock, 'admin.webhook.secret_rotated', { type: 'webhook', id: positionals[0]! }, {
      secret: { rotated: true },
      previous_expires_at: new Date(rotated.value.previousExpiresAt).toISOString(),
    });
    deps.out(`new secret (shown once): ${rotated.value.secret}`);
    deps.out(`the previous secret also signs until ${iso(rotated.value.previousExpiresAt)}`);
    return 0;
  });
}

async function remove(deps: WebhooksCommandDeps, args: string[]): Promise<number> {
  const { positionals } = parseCommandArgs(args, {}, usage('delete'), { min: 1, max: 1 });
  return deps.withStore(async (store) => {
    const before = await store.findWebhookEndpoint(positionals[0]!);
    const deleted = await deleteEndpoint({ store }, positionals[0]!);
    if (!deleted.ok) return deps.fail(describeFailure(deleted));
    await recordCliAudit(store, deps.clock, 'admin.webhook.deleted', { type: 'webhook', id: positionals[0]! }, webhookChanges(before, null));
    deps.out(`endpoint ${positionals[0]} deleted with its delivery log`);
    return 0;
  });
}

const STATUSES = ['pending', 'succeeded', 'failed', 'exhausted'] as const;

async function deliveries(deps: WebhooksCommandDeps, args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { status: { type: 'string' }, limit: { type: 'string' } }, usage('deliveries'), { min: 1, max: 1 });
  const status = values.status as (typeof STATUSES)[number] | undefined;
  if (status !== undefined && !STATUSES.includes(status)) throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`, usage('deliveries'));
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new UsageError('--limit must be a whole number from 1 to 200', usage('deliveries'));
  return deps.withStore(async (store) => {
    const page = await listDeliveries({ store }, positionals[0]!, { status: status ?? null, limit });
    if (!page.ok) return deps.fail(describeFailure(page));
    if (page.value.deliveries.length === 0) {
      deps.out('no deliveries yet');
      return 0;
    }
    deps.out(['id', 'event', 'type', 'status', 'attempts', 'last', 'created', 'next attempt'].join('\t'));
    for (const d of page.value.deliveries) {
      const last = d.lastError ?? (d.lastStatusCode === null ? '-' : `HTTP ${d.lastStatusCode}`);
      deps.out([d.id, d.eventId, d.eventType, d.status, String(d.attempts), last, iso(d.createdAt), iso(d.nextAttemptAt)].join('\t'));
    }
    return 0;
  });
}

/**
 * @example
 * process.exitCode = await runWebhooksCommand(deps, 'list', []);
 */
export async function runWebhooksCommand(deps: WebhooksCommandDeps, sub: string | undefined, args: string[]): Promise<number> {
  switch (sub) {
    case 'create':
      return create(deps, args);
    case 'list':
      return list(deps, args);
    case 'rotate-secret':
      return rotate(deps, args);
    case 'delete':
      return remove(deps, args);
    case 'deliveries':
      return deliveries(deps, args);
    default:
      throw new UsageError(sub ? `unknown command "webhooks ${sub}"` : 'which webhooks command?', WEBHOOKS_USAGE);
  }
}

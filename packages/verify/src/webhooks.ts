/**
 * The receiver's check of a Latchkey webhook (Standard Webhooks, https://www.standardwebhooks.com):
 * `webhook-signature` holds one or more space-separated `v1,<base64 HMAC-SHA256>` of
 * `<webhook-id>.<webhook-timestamp>.<raw body>`, keyed with the base64 bytes after `whsec_`.
 * Node only (node:crypto).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookVerificationError } from './errors.js';

/** A Latchkey event as delivered. */
export interface WebhookEvent<D = Record<string, unknown>> {
  /** `user.created`, `session.revoked`, ... or `webhook.test`. */
  type: string;
  /** When the change happened (ISO 8601). */
  timestamp: string;
  data: D;
}

export interface VerifyWebhookOptions {
  /** The endpoint's secret, `whsec_<base64>`. */
  secret?: string;
  /** Several secrets (during a rotation): a signature by any of them is accepted. */
  secrets?: readonly string[];
  /** The request headers (Node's IncomingHttpHeaders, a Headers object, or a plain record; names case-insensitive). */
  headers: Headers | Record<string, string | string[] | undefined>;
  /** The raw body exactly as received (a re-serialised JSON object would not match). */
  body: string | Uint8Array;
  /** How far `webhook-timestamp` may be from now, either way; default 300 s. */
  toleranceSeconds?: number;
  /** Now, in epoch milliseconds (tests); default Date.now(). */
  now?: number;
}

function header(headers: VerifyWebhookOptions['headers'], name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  let value = record[name];
  if (value === undefined) {
    const key = Object.keys(record).find((k) => k.toLowerCase() === name);
    value = key === undefined ? undefined : record[key];
  }
  return Array.isArray(value) ? value[0] : value;
}

function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

/**
 * Checks a delivery's headers, timestamp and signature, and returns the parsed event; throws
 * WebhookVerificationError otherwise. Compare in constant time; deduplicate on `webhook-id`
 * yourself (a delivery may come more than once).
 *
 * @example
 * app.post('/hooks/latchkey', { config: { rawBody: true } }, async (req, reply) => {
 *   const event = verifyWebhook({ secret: process.env.LATCHKEY_WEBHOOK_SECRET!, headers: req.headers, body: req.rawBody! });
 *   if (event.type === 'user.created') await provision(event.data.user);
 *   return reply.code(204).send();
 * });
 */
export function verifyWebhook<D = Record<string, unknown>>(options: VerifyWebhookOptions): WebhookEvent<D> {
  const secrets = options.secrets ?? (options.secret !== undefined ? [options.secret] : []);
  if (secrets.length === 0) throw new TypeError('verifyWebhook needs `secret` or `secrets`');
  const id = header(options.headers, 'webhook-id');
  const timestamp = header(options.headers, 'webhook-timestamp');
  const signature = header(options.headers, 'webhook-signature');
  if (!id || !timestamp || !signature) throw new WebhookVerificationError('ERR_WEBHOOK_HEADERS', 'missing webhook-id, webhook-timestamp or webhook-signature');
  if (!/^\d{1,12}$/.test(timestamp)) throw new WebhookVerificationError('ERR_WEBHOOK_HEADERS', 'webhook-timestamp is not a number of seconds');
  const tolerance = options.toleranceSeconds ?? 300;
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  const sent = Number(timestamp);
  if (sent < nowSeconds - tolerance) throw new WebhookVerificationError('ERR_WEBHOOK_TIMESTAMP', 'webhook-timestamp is too old');
  if (sent > nowSeconds + tolerance) throw new WebhookVerificationError('ERR_WEBHOOK_TIMESTAMP', 'webhook-timestamp is in the future');

  const body = typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : Buffer.from(options.body);
  const given = signature
    .split(' ')
    .map((part) => part.split(','))
    .filter(([version, value]) => version === 'v1' && value)
    .map(([, value]) => Buffer.from(value!, 'base64'));
  const matches = secrets.some((secret) => {
    const expected = createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.`).update(body).digest();
    // Every candidate is compared (no early exit on the first byte): timingSafeEqual per length match.
    return given.some((g) => g.length === expected.length && timingSafeEqual(g, expected));
  });
  if (!matches) throw new WebhookVerificationError('ERR_WEBHOOK_SIGNATURE', 'no signature matches');

  let event: unknown;
  try {
    event = JSON.parse(body.toString('utf8'));
  } catch {
    throw new WebhookVerificationError('ERR_WEBHOOK_PAYLOAD', 'the body is not JSON');
  }
  const e = event as Partial<WebhookEvent<D>> | null;
  if (!e || typeof e !== 'object' || typeof e.type !== 'string' || typeof e.timestamp !== 'string' || typeof e.data !== 'object' || e.data === null) {
    throw new WebhookVerificationError('ERR_WEBHOOK_PAYLOAD', 'the body is not a webhook event');
  }
  return e as WebhookEvent<D>;
}

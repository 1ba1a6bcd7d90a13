/**
 * The delivery worker: moves events from the outbox into deliveries (fan-out), then claims the
 * due deliveries and sends them. Started by the plugin (WEBHOOK_WORKER, default on) and stopped
 * with the app; every WEBHOOK_POLL_INTERVAL it makes one pass (`runOnce`), which with nothing to
 * do costs two indexed queries. Passes never overlap: `runOnce` called while one runs waits for
 * it and then runs its own, so a test can drive the worker step by step with a frozen clock.
 *
 * Nothing is lost on a crash: an event leaves the outbox in the transaction that makes its
 * deliveries, and a delivery claimed by a process that dies is claimed again once its lease
 * (WEBHOOK_TIMEOUT + LEASE_MARGIN_MS) runs out. Delivery is at least once: a receiver that
 * answered but whose answer was not recorded gets the same `webhook-id` again.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../../clock.js';
import type { WebhooksConfig } from '../../config.js';
import { newId } from '../../lib/ids.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { ClaimedDelivery, Store } from '../../store/types.js';
import { webhookBody } from './events.js';
import { sendWebhook, type SendResult } from './sender.js';
import { webhookHeaders } from './signing.js';

/** Outbox events fanned out per transaction, and transactions per pass at most. */
const FAN_OUT_BATCH = 200;
const FAN_OUT_BATCHES = 10;
/** Deliveries claimed per pass, all sent at once. */
const CLAIM_BATCH = 32;
/** A claim outlives its attempt's time-out by this much before another process may take it. */
export const LEASE_MARGIN_MS = 5000;

/** First retry delay; each further one is RETRY_FACTOR times longer, up to RETRY_MAX_MS. */
export const RETRY_BASE_MS = 5000;
export const RETRY_FACTOR = 3;
export const RETRY_MAX_MS = 4 * 3_600_000;
/** Each delay is scaled by a random factor in [1 - JITTER, 1 + JITTER]. */
export const RETRY_JITTER = 0.2;

/**
 * When to try again after the `failures`-th failed attempt (1 for the first), or null when that
 * would start later than WEBHOOK_RETRY_FOR after the delivery was made: 5 s, 15 s, 45 s, 2¼ min,
 * 6¾ min, 20 min, 1 h, 3 h, then every 4 h, each ±20 %.
 *
 * @example
 * retryAt(1, 0, 0, 86_400_000, () => 0.5); // 5000
 */
export function retryAt(failures: number, now: number, createdAt: number, retryForMs: number, random: () => number): number | null {
  const delay = Math.min(RETRY_BASE_MS * RETRY_FACTOR ** (failures - 1), RETRY_MAX_MS);
  const at = now + Math.round(delay * (1 - RETRY_JITTER + 2 * RETRY_JITTER * random()));
  return at > createdAt + retryForMs ? null : at;
}

/** The store context a sealed endpoint secret is bound to. */
export function secretContext(endpointId: string): string {
  return `webhook_endpoints:${endpointId}`;
}

export interface WebhookWorkerDeps {
  store: Store;
  clock: Clock;
  log: FastifyBaseLogger;
  secrets: SecretBox;
  config: WebhooksConfig;
  /** Jitter source; tests pass a constant. */
  random?: () => number;
  /** The attempt itself; tests may wrap it. */
  send?: typeof sendWebhook;
}

export interface WorkerPass {
  /** Events taken out of the outbox. */
  events: number;
  /** Attempts made (each recorded). */
  attempts: number;
}

export class WebhookWorker {
  readonly #deps: WebhookWorkerDeps;
  #last: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;
  #failing = false;

  constructor(deps: WebhookWorkerDeps) {
    this.#deps = deps;
  }

  /** Starts the polling loop (the timer does not keep the process alive). */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.runOnce()
        .then(() => {
          if (this.#failing) this.#deps.log.info('webhook delivery resumed');
          this.#failing = false;
        })
        .catch((err: unknown) => {
          // Said once per outage, not at every poll; the next pass tries again.
          if (!this.#failing) this.#deps.log.warn({ err }, 'webhook delivery pass failed; retrying every WEBHOOK_POLL_INTERVAL');
          this.#failing = true;
        })
        .finally(() => this.#schedule());
    }, this.#deps.config.pollIntervalMs);
    this.#timer.unref();
  }

  /** Stops the loop and waits for the pass in flight (its attempts end within WEBHOOK_TIMEOUT). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#last.catch(() => undefined);
  }

  /**
   * One pass: fan out the outbox, then claim and send the due deliveries, recording each attempt.
   *
   * @example
   * await app.latchkey.webhooks.runOnce(); // in a test, after clock.advance(...)
   */
  runOnce(): Promise<WorkerPass> {
    const pass = this.#last.catch(() => undefined).then(() => this.#pass());
    this.#last = pass;
    return pass;
  }

  async #pass(): Promise<WorkerPass> {
    const { store, clock } = this.#deps;
    let events = 0;
    for (let i = 0; i < FAN_OUT_BATCHES; i++) {
      const n = await store.fanOutWebhookEvents(clock(), FAN_OUT_BATCH, webhookBody, newId);
      events += n;
      if (n < FAN_OUT_BATCH) break;
    }
    const now = clock();
    const claimed = await store.claimWebhookDeliveries(now, now + this.#deps.config.timeoutMs + LEASE_MARGIN_MS, CLAIM_BATCH);
    await Promise.all(claimed.map((d) => this.#attempt(d)));
    return { events, attempts: claimed.length };
  }

  /** The secrets that sign now: the current one, and the previous one until its overlap ends. */
  #signingSecrets(d: ClaimedDelivery, now: number): string[] {
    const { secrets } = this.#deps;
    const context = secretContext(d.endpointId);
    const list = [secrets.open(d.secret, context)];
    if (d.previousSecret !== null && d.previousSecretExpiresAt !== null && now < d.previousSecretExpiresAt) {
      list.push(secrets.open(d.previousSecret, context));
    }
    return list;
  }

  async #attempt(d: ClaimedDelivery): Promise<void> {
    const { store, clock, config, log } = this.#deps;
    const started = clock();
    let result: SendResult;
    try {
      const headers = webhookHeaders(this.#signingSecrets(d, started), d.eventId, Math.floor(started / 1000), d.payload);
      result = await (this.#deps.send ?? sendWebhook)({ url: d.url, headers, body: d.payload, timeoutMs: config.timeoutMs, allowPrivate: config.allowPrivate });
    } catch (err) {
      // A secret that does not open (KEY_ENCRYPTION_KEY changed): a failure of this attempt, retried.
      log.error({ err: { message: (err as Error).message }, endpoint: d.endpointId }, 'webhook delivery could not be signed');
      result = { ok: false, statusCode: null, error: 'the endpoint secret could not be opened', latencyMs: 0 };
    }
    const now = clock();
    const failures = d.attempts + 1;
    await store.recordWebhookAttempt({
      deliveryId: d.id,
      endpointId: d.endpointId,
      now,
      ok: result.ok,
      statusCode: result.statusCode,
      error: result.error,
      latencyMs: result.latencyMs,
      retryAt: result.ok ? null : retryAt(failures, now, d.createdAt, config.retryForMs, this.#deps.random ?? Math.random),
      disableAfterMs: config.disableAfterMs,
    });
    if (!result.ok) log.info({ endpoint: d.endpointId, delivery: d.id, attempt: failures, error: result.error }, 'webhook delivery failed');
  }
}

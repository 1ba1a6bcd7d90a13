import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { MailDispatcher } from './features/email/dispatcher.js';
import type { MailTemplates } from './features/email/template-catalog.js';
import type { SecretBox } from './lib/secret-box.js';
import type { PasswordHasher } from './passwords/hasher.js';
import type { CounterStore } from './features/ratelimit/counters.js';
import type { Metrics } from './features/metrics/registry.js';
import type { LoginBackoff } from './features/ratelimit/login-backoff.js';
import type { Store } from './store/types.js';
import type { AccessTokens } from './tokens/access-token.js';
import type { KeyRing } from './tokens/keys.js';
import type { WebhookWorker } from './features/webhooks/worker.js';

/** Everything a feature needs, built once by `createContext` and passed down explicitly. */
export interface LatchkeyContext {
  readonly config: Config;
  readonly clock: Clock;
  readonly store: Store;
  readonly hasher: PasswordHasher;
  readonly keys: KeyRing;
  /**
   * Secrets at rest (KEY_ENCRYPTION_KEY; plaintext without it): the box the signing keys are
   * sealed with, also used for TOTP secrets.
   */
  readonly secrets: SecretBox;
  readonly tokens: AccessTokens;
  readonly log: FastifyBaseLogger;
  /** Background mail delivery (SMTP or the outbox directory), see docs/email.md. */
  readonly mail: MailDispatcher;
  /** Every language's mail templates (built-in and MAIL_TEMPLATES_DIR), checked at start-up; see features/email/render.ts. */
  readonly mailTemplates: MailTemplates;
  /** Rate-limit and backoff counters: memory, Redis or the database (RATE_LIMIT_STORE). */
  readonly counters: CounterStore;
  readonly backoff: LoginBackoff;
  /** Prometheus metrics; served only when METRICS_TOKEN or METRICS_PORT is set. */
  readonly metrics: Metrics;
  /** Webhook delivery (docs/webhooks.md): running when WEBHOOK_WORKER is on; `runOnce()` makes one pass. */
  readonly webhooks: WebhookWorker;
}

/** Who made a request: recorded on sessions, security events and the audit log. */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
  /** The Accept-Language header, for the language of a mail this request sends (features/email/render.ts). */
  acceptLanguage?: string | null;
  /** The request's id (Fastify's request.id, the access log's `reqId`): recorded on audit entries. */
  requestId?: string | null;
  /** The signed-in caller (request.auth's user), when the route authenticated one: an audit entry's actor. */
  caller?: { id: string; email: string } | null;
}

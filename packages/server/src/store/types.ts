/**
 * The storage contract. Every adapter (SQLite, PostgreSQL) implements it and passes the shared
 * conformance suite (test/store/cases/, one case file per concern). Times are epoch
 * milliseconds, supplied by the caller (the injected clock), never read inside the store.
 *
 * One interface per concern, in contract/; `Store` is all of them, so callers keep one flat
 * object (`ctx.store.createUser`, `ctx.store.rotateRefreshToken`), and a component that needs one
 * concern can take just that interface (the key ring takes a `SigningKeyStore`).
 *
 * Concurrency guarantees are stated per method; the conformance suite fires concurrent calls to
 * prove them. Outages: a method that cannot reach the database rejects with
 * `DatabaseUnavailableError` (store/errors.ts), whatever the adapter; any other error means
 * something else went wrong.
 */
import type { EmailSignInStore } from './contract/email-sign-in.js';
import type { AuditStore } from './contract/audit.js';
import type { FactorStore } from './contract/factors.js';
import type { IdentityStore } from './contract/identities.js';
import type { StoreLifecycle } from './contract/lifecycle.js';
import type { MigrationStore } from './contract/migrations.js';
import type { OAuthClientStore, OAuthPayloadStore } from './contract/oauth.js';
import type { OneTimeTokenStore } from './contract/one-time-tokens.js';
import type { PasskeyStore } from './contract/passkeys.js';
import type { RateCounterStore } from './contract/rate-counters.js';
import type { RevocationStore } from './contract/revocations.js';
import type { SecurityEventStore } from './contract/security-events.js';
import type { SessionStore } from './contract/sessions.js';
import type { SigningKeyStore } from './contract/signing-keys.js';
import type { UserStore } from './contract/users.js';
import type { WebhookStore } from './contract/webhooks.js';

export type * from './contract/email-sign-in.js';
export type * from './contract/audit.js';
export type * from './contract/factors.js';
export type * from './contract/identities.js';
export type * from './contract/lifecycle.js';
export type * from './contract/migrations.js';
export type * from './contract/oauth.js';
export type * from './contract/one-time-tokens.js';
export type * from './contract/passkeys.js';
export type * from './contract/rate-counters.js';
export type * from './contract/revocations.js';
export type * from './contract/security-events.js';
export type * from './contract/sessions.js';
export type * from './contract/signing-keys.js';
export type * from './contract/users.js';
export type * from './contract/webhooks.js';

export type Store = StoreLifecycle &
  UserStore &
  SessionStore &
  SigningKeyStore &
  SecurityEventStore &
  OneTimeTokenStore &
  FactorStore &
  PasskeyStore &
  IdentityStore &
  RateCounterStore &
  EmailSignInStore &
  WebhookStore &
  AuditStore &
  RevocationStore &
  OAuthClientStore &
  OAuthPayloadStore &
  MigrationStore;

/** Every concern of the contract, without the lifecycle: what an adapter composes from its concern files. */
export type StoreConcerns = Omit<Store, keyof StoreLifecycle>;

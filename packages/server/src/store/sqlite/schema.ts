import type { Migration } from '../contract/migrations.js';

/** Versioned SQLite migrations. Append only: never edit a released entry. */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'core',
    sql: `
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        name TEXT,
        password_hash TEXT NOT NULL,
        roles TEXT NOT NULL DEFAULT '[]',
        email_verified INTEGER NOT NULL DEFAULT 0,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX users_email_key ON users (email);
      CREATE INDEX users_created_idx ON users (created_at, id);

      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        idle_expires_at INTEGER NOT NULL,
        user_agent TEXT,
        ip TEXT,
        revoked_at INTEGER,
        revoked_reason TEXT
      );
      CREATE INDEX sessions_user_idx ON sessions (user_id);
      CREATE INDEX sessions_expiry_idx ON sessions (expires_at);

      CREATE TABLE refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        used_at INTEGER
      );
      CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
      CREATE INDEX refresh_tokens_used_idx ON refresh_tokens (used_at);

      CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        alg TEXT NOT NULL,
        private_jwk TEXT NOT NULL,
        public_jwk TEXT,
        created_at INTEGER NOT NULL,
        retired_at INTEGER,
        expires_at INTEGER
      );

      CREATE TABLE security_events (
        id TEXT PRIMARY KEY,
        user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        ip TEXT,
        user_agent TEXT,
        detail TEXT,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX security_events_user_idx ON security_events (user_id, created_at);
      CREATE INDEX security_events_created_idx ON security_events (created_at);

      CREATE TABLE one_time_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        purpose TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER
      );
      CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, purpose);

      CREATE TABLE rate_counters (
        key TEXT PRIMARY KEY,
        count INTEGER NOT NULL,
        reset_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'spent refresh tokens only in the used_at index',
    // Live tokens (used_at NULL) were all in this index, so every rotation rewrote a page of
    // its NULL region as well as its tail; only the purge of spent tokens reads it, and its
    // condition (used_at IS NOT NULL AND used_at <= ?) implies the partial index's.
    sql: `
      DROP INDEX refresh_tokens_used_idx;
      CREATE INDEX refresh_tokens_used_idx ON refresh_tokens (used_at) WHERE used_at IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'last sign-in of each user',
    // Written with every new session (sessions.ts, in the session's transaction). The index is on
    // the admin list's sort key (query-helpers.ts USER_SORT_SQL: never signed in sorts as -1),
    // with the id as tie-break, so that its pages are keyset scans in either direction. Existing
    // users get the start of their newest session still stored, the best record there is.
    sql: `
      ALTER TABLE users ADD COLUMN last_sign_in_at INTEGER;
      UPDATE users SET last_sign_in_at = (SELECT max(created_at) FROM sessions WHERE sessions.user_id = users.id);
      CREATE INDEX users_last_sign_in_idx ON users (coalesce(last_sign_in_at, -1), id);
    `,
  },
  {
    version: 4,
    name: 'second factors',
    // factors: a TOTP secret per user (sealed under KEY_ENCRYPTION_KEY when set), pending until
    // its first code confirms it; last_used_step makes every code single-use. One TOTP factor per
    // user (partial index: passkeys, a later kind, may be several). recovery_codes: SHA-256 of each
    // code with the user id, spent once. sessions.auth_time / amr feed the access tokens' claims;
    // auth_time is NULL on older sessions and read as created_at (no rewrite of the table).
    sql: `
      CREATE TABLE factors (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        secret TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        confirmed_at INTEGER,
        last_used_step INTEGER,
        last_used_at INTEGER
      );
      CREATE INDEX factors_user_idx ON factors (user_id);
      CREATE UNIQUE INDEX factors_one_totp_key ON factors (user_id) WHERE kind = 'totp';

      CREATE TABLE recovery_codes (
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        code_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        used_at INTEGER,
        PRIMARY KEY (user_id, code_hash)
      );

      ALTER TABLE sessions ADD COLUMN auth_time INTEGER;
      ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
    `,
  },
  {
    version: 5,
    name: 'passkeys',
    // passkeys: WebAuthn credentials, several per user; credential_id (base64url) is unique across
    // users. counter only grows (usePasskey's WHERE). passkey_challenges: the SHA-256 of each
    // ceremony's challenge, spent once (deleted); user_id is NULL for a discoverable sign-in, which
    // is why these are not one-time tokens (whose user is required).
    sql: `
      CREATE TABLE passkeys (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        credential_id TEXT NOT NULL UNIQUE,
        public_key TEXT NOT NULL,
        counter INTEGER NOT NULL,
        transports TEXT NOT NULL,
        device_type TEXT NOT NULL,
        backed_up INTEGER NOT NULL,
        aaguid TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER
      );
      CREATE INDEX passkeys_user_idx ON passkeys (user_id);

      CREATE TABLE passkey_challenges (
        challenge_hash TEXT PRIMARY KEY,
        purpose TEXT NOT NULL,
        user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX passkey_challenges_expires_idx ON passkey_challenges (expires_at);
      CREATE INDEX passkey_challenges_user_idx ON passkey_challenges (user_id);
    `,
  },
  {
    version: 6,
    name: 'social sign-in',
    // identities: provider accounts linked to a user, (provider, subject) unique across users.
    // oauth_states: a sign-in in flight at a provider (10 minutes), keyed by the SHA-256 of its
    // state, bound to the browser by the hash of a cookie; spent once (deleted). The provider's
    // PKCE verifier and the nonce are kept as they are: they are worth nothing without the
    // authorization code the provider sends to the callback, and die with the row.
    // oauth_exchange_codes: the SHA-256 of the single-use code (2 minutes) the app exchanges.
    // Users without a password keep a marker in password_hash (passwords/no-password.ts), so
    // users.password_hash stays NOT NULL.
    sql: `
      CREATE TABLE identities (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        provider TEXT NOT NULL,
        subject TEXT NOT NULL,
        email TEXT,
        email_verified INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER
      );
      CREATE UNIQUE INDEX identities_provider_subject_key ON identities (provider, subject);
      CREATE INDEX identities_user_idx ON identities (user_id);

      CREATE TABLE oauth_states (
        state_hash TEXT PRIMARY KEY,
        browser_hash TEXT NOT NULL,
        provider TEXT NOT NULL,
        nonce TEXT,
        code_verifier TEXT NOT NULL,
        redirect_to TEXT NOT NULL,
        app_code_challenge TEXT,
        link_user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX oauth_states_expires_idx ON oauth_states (expires_at);
      CREATE INDEX oauth_states_user_idx ON oauth_states (link_user_id);

      CREATE TABLE oauth_exchange_codes (
        code_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
        purpose TEXT NOT NULL,
        app_code_challenge TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX oauth_exchange_codes_expires_idx ON oauth_exchange_codes (expires_at);
      CREATE INDEX oauth_exchange_codes_user_idx ON oauth_exchange_codes (user_id);
      CREATE INDEX oauth_exchange_codes_identity_idx ON oauth_exchange_codes (identity_id);
    `,
  },
  {
    version: 7,
    name: 'revocation feed',
    // revocations: what was revoked, for services that verify access tokens offline (GET
    // /auth/revocations, docs/verify.md). Writers are serialised (one write lock for every
    // process on the file), so the row id order is the commit order; AUTOINCREMENT so that an id
    // is never reused once the purge has emptied the table (a reader's cursor would skip it).
    // The trigger writes a session entry in the transaction of every revocation of a session,
    // whichever statement revokes it.
    sql: `
      CREATE TABLE revocations (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('session', 'user')),
        subject TEXT NOT NULL,
        iat_before INTEGER,
        revoked_at INTEGER NOT NULL
      );
      CREATE INDEX revocations_revoked_at_idx ON revocations (revoked_at);

      CREATE TRIGGER sessions_revoked_feed AFTER UPDATE OF revoked_at ON sessions
        WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
      BEGIN
        INSERT INTO revocations (kind, subject, revoked_at) VALUES ('session', NEW.id, NEW.revoked_at);
      END;
    `,
  },
  {
    version: 8,
    name: 'webhooks',
    // The outbox is written by triggers, in the transaction of the change (store/contract/webhooks.ts):
    // no method of any concern has to remember it, and a change rolled back takes its event along.
    // Each trigger writes only when an endpoint subscribes to its type. password_changed_at tells
    // a change of password from a rehash of the same one (both replace password_hash).
    // webhook_deliveries keeps the exact body sent; leased_until is the claim of an attempt in flight.
    sql: `
      ALTER TABLE users ADD COLUMN password_changed_at INTEGER;

      CREATE TABLE webhook_endpoints (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        description TEXT,
        enabled INTEGER NOT NULL,
        disabled_reason TEXT,
        failing_since INTEGER,
        secret TEXT NOT NULL,
        previous_secret TEXT,
        previous_secret_expires_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );

      CREATE TABLE webhook_subscriptions (
        event_type TEXT NOT NULL,
        endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        PRIMARY KEY (event_type, endpoint_id)
      );
      CREATE INDEX webhook_subscriptions_endpoint_idx ON webhook_subscriptions (endpoint_id);

      CREATE TABLE webhook_outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL,
        type TEXT NOT NULL,
        occurred_at INTEGER NOT NULL,
        data TEXT NOT NULL
      );

      CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        event_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_status_code INTEGER,
        last_error TEXT,
        latency_ms INTEGER,
        created_at INTEGER NOT NULL,
        next_attempt_at INTEGER,
        delivered_at INTEGER,
        leased_until INTEGER
      );
      CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status IN ('pending', 'failed');
      CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at, id);

      CREATE TRIGGER webhook_user_created AFTER INSERT ON users FOR EACH ROW
        BEGIN
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'user.created', NEW.created_at, json_object('user', json_object('id', NEW.id, 'email', NEW.email, 'name', NEW.name, 'roles', json(NEW.roles), 'email_verified', NEW.email_verified, 'disabled', NEW.disabled, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at))
            WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'user.created');
        END;

      CREATE TRIGGER webhook_user_updated AFTER UPDATE OF email, name, roles, email_verified, disabled ON users FOR EACH ROW
        WHEN OLD.email IS NOT NEW.email OR OLD.name IS NOT NEW.name OR OLD.roles IS NOT NEW.roles OR OLD.email_verified IS NOT NEW.email_verified OR OLD.disabled IS NOT NEW.disabled
        BEGIN
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'user.updated', NEW.updated_at, json_object('before', json_object('id', OLD.id, 'email', OLD.email, 'name', OLD.name, 'roles', json(OLD.roles), 'email_verified', OLD.email_verified, 'disabled', OLD.disabled, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), 'after', json_object('id', NEW.id, 'email', NEW.email, 'name', NEW.name, 'roles', json(NEW.roles), 'email_verified', NEW.email_verified, 'disabled', NEW.disabled, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at))
            WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'user.updated');
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'user.email_verified', NEW.updated_at, json_object('user', json_object('id', NEW.id, 'email', NEW.email, 'name', NEW.name, 'roles', json(NEW.roles), 'email_verified', NEW.email_verified, 'disabled', NEW.disabled, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at))
            WHERE NEW.email_verified = 1 AND OLD.email_verified = 0 AND EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'user.email_verified');
        END;

      CREATE TRIGGER webhook_user_deleted AFTER DELETE ON users FOR EACH ROW
        BEGIN
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'user.deleted', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), json_object('user', json_object('id', OLD.id, 'email', OLD.email, 'name', OLD.name, 'roles', json(OLD.roles), 'email_verified', OLD.email_verified, 'disabled', OLD.disabled, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at))
            WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'user.deleted');
        END;

      CREATE TRIGGER webhook_password_changed AFTER UPDATE OF password_changed_at ON users FOR EACH ROW
        WHEN NEW.password_changed_at IS NOT NULL
        BEGIN
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'password.changed', NEW.password_changed_at, json_object('user_id', NEW.id)
            WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'password.changed');
        END;

      CREATE TRIGGER webhook_session_created AFTER INSERT ON sessions FOR EACH ROW
        BEGIN
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'session.created', NEW.created_at, json_object('user_id', NEW.user_id, 'session_id', NEW.id)
            WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'session.created');
        END;

      CREATE TRIGGER webhook_session_revoked AFTER UPDATE OF revoked_at ON sessions FOR EACH ROW
        WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
        BEGIN
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'session.revoked', NEW.revoked_at, json_object('user_id', NEW.user_id, 'session_id', NEW.id, 'reason', NEW.revoked_reason)
            WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'session.revoked');
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'session.reuse_detected', NEW.revoked_at, json_object('user_id', NEW.user_id, 'session_id', NEW.id)
            WHERE NEW.revoked_reason = 'refresh_token_reused' AND EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'session.reuse_detected');
        END;

      CREATE TRIGGER webhook_factor_confirmed AFTER UPDATE OF confirmed_at ON factors FOR EACH ROW
        WHEN OLD.confirmed_at IS NULL AND NEW.confirmed_at IS NOT NULL
        BEGIN
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'factor.added', NEW.confirmed_at, json_object('user_id', NEW.user_id, 'factor', NEW.kind, 'factor_id', NEW.id)
            WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'factor.added');
        END;

      CREATE TRIGGER webhook_factor_deleted AFTER DELETE ON factors FOR EACH ROW
        WHEN OLD.confirmed_at IS NOT NULL
        BEGIN
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'factor.removed', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), json_object('user_id', OLD.user_id, 'factor', OLD.kind, 'factor_id', OLD.id)
            WHERE EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id) AND EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'factor.removed');
        END;

      CREATE TRIGGER webhook_passkey_added AFTER INSERT ON passkeys FOR EACH ROW
        BEGIN
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'factor.added', NEW.created_at, json_object('user_id', NEW.user_id, 'factor', 'passkey', 'factor_id', NEW.id)
            WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'factor.added');
        END;

      CREATE TRIGGER webhook_passkey_deleted AFTER DELETE ON passkeys FOR EACH ROW
        BEGIN
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'factor.removed', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), json_object('user_id', OLD.user_id, 'factor', 'passkey', 'factor_id', OLD.id)
            WHERE EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id) AND EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'factor.removed');
        END;

      CREATE TRIGGER webhook_identity_linked AFTER INSERT ON identities FOR EACH ROW
        BEGIN
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'identity.linked', NEW.created_at, json_object('user_id', NEW.user_id, 'provider', NEW.provider, 'identity_id', NEW.id)
            WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'identity.linked');
        END;

      CREATE TRIGGER webhook_identity_unlinked AFTER DELETE ON identities FOR EACH ROW
        BEGIN
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'identity.unlinked', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), json_object('user_id', OLD.user_id, 'provider', OLD.provider, 'identity_id', OLD.id)
            WHERE EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id) AND EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'identity.unlinked');
        END;
    `,
  },
  {
    version: 9,
    name: 'audit log',
    // Append-only: who did what to whom (features/audit). No foreign key to users: an entry
    // outlives its actor and its target. The trigger refuses every UPDATE; the retention purge
    // is the only DELETE. Newest first is the one order read, by (at, id), alone or after an
    // actor, action or target filter.
    sql: `
      CREATE TABLE audit_log (
        id TEXT PRIMARY KEY,
        at INTEGER NOT NULL,
        actor_type TEXT NOT NULL,
        actor_id TEXT,
        actor_email TEXT,
        action TEXT NOT NULL,
        target_type TEXT,
        target_id TEXT,
        changes TEXT,
        ip TEXT,
        user_agent TEXT,
        request_id TEXT
      );
      CREATE INDEX audit_log_at_idx ON audit_log (at, id);
      CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at);
      CREATE INDEX audit_log_actor_email_idx ON audit_log (actor_email, at);
      CREATE INDEX audit_log_target_idx ON audit_log (target_id, at);
      CREATE INDEX audit_log_action_idx ON audit_log (action, at);
      CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
      BEGIN
        SELECT RAISE(ABORT, 'audit_log is append-only');
      END;
    `,
  },
  {
    version: 10,
    name: 'user locale',
    // The language the user's mail is written in (features/email/locale.ts): a well-formed BCP 47
    // tag, lower-cased, at most 35 characters; null = none chosen (Accept-Language, then
    // DEFAULT_LOCALE decide).
    sql: `ALTER TABLE users ADD COLUMN locale TEXT;`,
  },
  {
    version: 11,
    name: 'email sign-in challenges',
    // One live challenge per address (the primary key: a new request replaces the old in one
    // upsert); no user_id, since with EMAIL_SIGN_IN_CREATES_USERS the account is made only when the
    // challenge is answered. The link's token is kept as its SHA-256 (unique: the link's lookup),
    // the 6-digit code as its keyed hash (features/email/sign-in-code.ts); `attempts` counts codes
    // tried, and a challenge whose count reached the limit is dead. Spent challenges are deleted.
    sql: `
      CREATE TABLE email_sign_in_challenges (
        email TEXT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        token_hash TEXT NOT NULL UNIQUE,
        code_hash TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX email_sign_in_challenges_expires_idx ON email_sign_in_challenges (expires_at);
      -- A deleted account takes its address's pending challenge along (no row of it survives).
      CREATE TRIGGER email_sign_in_challenges_user_deleted AFTER DELETE ON users FOR EACH ROW
        BEGIN
          DELETE FROM email_sign_in_challenges WHERE email = OLD.email;
        END;
    `,
  },
  {
    version: 12,
    name: 'account deletion',
    // When a user's self-service deletion falls due (ACCOUNT_DELETION_GRACE, docs/account.md);
    // NULL when none is scheduled. Cleared by the user's next sign-in (the session's insert,
    // sessions.ts), read by the housekeeping purge through the partial index (few rows are set).
    sql: `
      ALTER TABLE users ADD COLUMN deletion_due_at INTEGER;
      CREATE INDEX users_deletion_due_idx ON users (deletion_due_at) WHERE deletion_due_at IS NOT NULL;
    `,
  },
  {
    version: 13,
    name: 'webhook user events carry the locale',
    // Migration 10 gave users a locale after migration 8 wrote the webhook triggers: the user.*
    // events' user shape (PublicUser) gains it, and a change of locale alone is a user.updated.
    sql: `
      DROP TRIGGER webhook_user_created;
      CREATE TRIGGER webhook_user_created AFTER INSERT ON users FOR EACH ROW
        BEGIN
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'user.created', NEW.created_at, json_object('user', json_object('id', NEW.id, 'email', NEW.email, 'name', NEW.name, 'roles', json(NEW.roles), 'email_verified', NEW.email_verified, 'disabled', NEW.disabled, 'locale', NEW.locale, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at))
            WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'user.created');
        END;

      DROP TRIGGER webhook_user_updated;
      CREATE TRIGGER webhook_user_updated AFTER UPDATE OF email, name, roles, email_verified, disabled, locale ON users FOR EACH ROW
        WHEN OLD.email IS NOT NEW.email OR OLD.name IS NOT NEW.name OR OLD.roles IS NOT NEW.roles OR OLD.email_verified IS NOT NEW.email_verified OR OLD.disabled IS NOT NEW.disabled OR OLD.locale IS NOT NEW.locale
        BEGIN
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'user.updated', NEW.updated_at, json_object('before', json_object('id', OLD.id, 'email', OLD.email, 'name', OLD.name, 'roles', json(OLD.roles), 'email_verified', OLD.email_verified, 'disabled', OLD.disabled, 'locale', OLD.locale, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), 'after', json_object('id', NEW.id, 'email', NEW.email, 'name', NEW.name, 'roles', json(NEW.roles), 'email_verified', NEW.email_verified, 'disabled', NEW.disabled, 'locale', NEW.locale, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at))
            WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'user.updated');
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'user.email_verified', NEW.updated_at, json_object('user', json_object('id', NEW.id, 'email', NEW.email, 'name', NEW.name, 'roles', json(NEW.roles), 'email_verified', NEW.email_verified, 'disabled', NEW.disabled, 'locale', NEW.locale, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at))
            WHERE NEW.email_verified = 1 AND OLD.email_verified = 0 AND EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'user.email_verified');
        END;

      DROP TRIGGER webhook_user_deleted;
      CREATE TRIGGER webhook_user_deleted AFTER DELETE ON users FOR EACH ROW
        BEGIN
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
            SELECT 'evt_' || lower(hex(randomblob(16))), 'user.deleted', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), json_object('user', json_object('id', OLD.id, 'email', OLD.email, 'name', OLD.name, 'roles', json(OLD.roles), 'email_verified', OLD.email_verified, 'disabled', OLD.disabled, 'locale', OLD.locale, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at))
            WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE event_type = 'user.deleted');
        END;
    `,
  },
  {
    version: 14,
    name: 'oauth provider',
    // Issue 22 (features/oauth-provider, docs/oauth-provider.md). oauth_clients: the apps that sign
    // their users in through Latchkey; the secret only as its SHA-256 (a generated 256-bit value
    // needs no slow hash), everything oidc-provider reads of a client in `metadata` (JSON).
    // oauth_payloads: oidc-provider's storage (its Adapter): one row per (model, id), the payload
    // as JSON; the columns beside it are what the adapter and the grant listings look rows up by.
    // A deleted user or client takes its rows along (cascade); expired rows are purged.
    sql: `
      CREATE TABLE oauth_clients (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        secret_hash TEXT,
        metadata TEXT NOT NULL,
        first_party INTEGER NOT NULL DEFAULT 0,
        dynamic INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        secret_rotated_at INTEGER
      );
      CREATE TABLE oauth_payloads (
        model TEXT NOT NULL,
        id TEXT NOT NULL,
        payload TEXT NOT NULL,
        grant_id TEXT,
        user_code TEXT,
        uid TEXT,
        account_id TEXT REFERENCES users (id) ON DELETE CASCADE,
        client_id TEXT REFERENCES oauth_clients (id) ON DELETE CASCADE,
        expires_at INTEGER,
        consumed_at INTEGER,
        PRIMARY KEY (model, id)
      );
      CREATE INDEX oauth_payloads_grant_idx ON oauth_payloads (grant_id) WHERE grant_id IS NOT NULL;
      CREATE INDEX oauth_payloads_uid_idx ON oauth_payloads (uid) WHERE uid IS NOT NULL;
      CREATE INDEX oauth_payloads_user_code_idx ON oauth_payloads (user_code) WHERE user_code IS NOT NULL;
      CREATE INDEX oauth_payloads_account_idx ON oauth_payloads (account_id, model) WHERE account_id IS NOT NULL;
      CREATE INDEX oauth_payloads_client_idx ON oauth_payloads (client_id, model) WHERE client_id IS NOT NULL;
      CREATE INDEX oauth_payloads_expires_idx ON oauth_payloads (expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
];

import type { Migration } from '../contract/migrations.js';

/**
 * Versioned PostgreSQL migrations. Append only: never edit a released entry. Every version here
 * has the same number, name and meaning as in sqlite/schema.ts (a test checks that the two
 * lists match), so a database moved between adapters is at the same schema version.
 *
 * Differences from SQLite are in types only: times are BIGINT epoch milliseconds, flags are
 * BOOLEAN, roles are TEXT[], event details JSONB. Identifiers and emails use the "C" collation so
 * that ordering (the admin list's cursor) is bytewise, as in SQLite, whatever the database locale.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'core',
    sql: `
      CREATE TABLE users (
        id TEXT COLLATE "C" PRIMARY KEY,
        email TEXT COLLATE "C" NOT NULL,
        name TEXT,
        password_hash TEXT NOT NULL,
        roles TEXT[] NOT NULL DEFAULT '{}',
        email_verified BOOLEAN NOT NULL DEFAULT false,
        disabled BOOLEAN NOT NULL DEFAULT false,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE UNIQUE INDEX users_email_key ON users (email);
      CREATE INDEX users_created_idx ON users (created_at, id);

      CREATE TABLE sessions (
        id TEXT COLLATE "C" PRIMARY KEY,
        user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        idle_expires_at BIGINT NOT NULL,
        user_agent TEXT,
        ip TEXT,
        revoked_at BIGINT,
        revoked_reason TEXT
      );
      CREATE INDEX sessions_user_idx ON sessions (user_id);
      CREATE INDEX sessions_expiry_idx ON sessions (expires_at);
      CREATE INDEX sessions_idle_idx ON sessions (idle_expires_at);
      CREATE INDEX sessions_revoked_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

      CREATE TABLE refresh_tokens (
        token_hash TEXT COLLATE "C" PRIMARY KEY,
        session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        created_at BIGINT NOT NULL,
        used_at BIGINT
      );
      CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
      CREATE INDEX refresh_tokens_used_idx ON refresh_tokens (used_at) WHERE used_at IS NOT NULL;

      CREATE TABLE signing_keys (
        kid TEXT COLLATE "C" PRIMARY KEY,
        alg TEXT NOT NULL,
        private_jwk TEXT NOT NULL,
        public_jwk TEXT,
        created_at BIGINT NOT NULL,
        retired_at BIGINT,
        expires_at BIGINT
      );

      CREATE TABLE security_events (
        id TEXT COLLATE "C" PRIMARY KEY,
        user_id TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        ip TEXT,
        user_agent TEXT,
        detail JSONB,
        created_at BIGINT NOT NULL
      );
      CREATE INDEX security_events_user_idx ON security_events (user_id, created_at);
      CREATE INDEX security_events_created_idx ON security_events (created_at);

      CREATE TABLE one_time_tokens (
        token_hash TEXT COLLATE "C" PRIMARY KEY,
        user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        purpose TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT
      );
      CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, purpose);

      -- Counters live for one window: losing them in a crash only resets a rate limit, so the
      -- table skips the write-ahead log (UNLOGGED) and costs no WAL traffic on every hit.
      CREATE UNLOGGED TABLE rate_counters (
        key TEXT COLLATE "C" PRIMARY KEY,
        count INTEGER NOT NULL,
        reset_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'spent refresh tokens only in the used_at index',
    // Version 1 on PostgreSQL already made this index partial; the SQLite migration of the same
    // version catches up. Kept so that both stores carry the same versions.
    sql: `
      CREATE INDEX IF NOT EXISTS refresh_tokens_used_idx ON refresh_tokens (used_at) WHERE used_at IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'last sign-in of each user',
    // As in SQLite: written with every new session, in the statement that creates it; the index
    // is on the admin list's sort key (never signed in sorts as -1) with the id as tie-break.
    // Existing users get the start of their newest session still stored. CREATE INDEX holds
    // writes to users while it builds (migrations run at start-up, before any request).
    sql: `
      ALTER TABLE users ADD COLUMN last_sign_in_at BIGINT;
      UPDATE users u SET last_sign_in_at = s.latest
        FROM (SELECT user_id, max(created_at) AS latest FROM sessions GROUP BY user_id) s
        WHERE s.user_id = u.id;
      CREATE INDEX users_last_sign_in_idx ON users ((coalesce(last_sign_in_at, -1)), id);
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
        id TEXT COLLATE "C" PRIMARY KEY,
        user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        secret TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        confirmed_at BIGINT,
        last_used_step BIGINT,
        last_used_at BIGINT
      );
      CREATE INDEX factors_user_idx ON factors (user_id);
      CREATE UNIQUE INDEX factors_one_totp_key ON factors (user_id) WHERE kind = 'totp';

      CREATE TABLE recovery_codes (
        user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        code_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        used_at BIGINT,
        PRIMARY KEY (user_id, code_hash)
      );

      ALTER TABLE sessions ADD COLUMN auth_time BIGINT;
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
        id TEXT COLLATE "C" PRIMARY KEY,
        user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        credential_id TEXT COLLATE "C" NOT NULL UNIQUE,
        public_key TEXT NOT NULL,
        counter BIGINT NOT NULL,
        transports TEXT NOT NULL,
        device_type TEXT NOT NULL,
        backed_up BOOLEAN NOT NULL,
        aaguid TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT
      );
      CREATE INDEX passkeys_user_idx ON passkeys (user_id);

      CREATE TABLE passkey_challenges (
        challenge_hash TEXT COLLATE "C" PRIMARY KEY,
        purpose TEXT NOT NULL,
        user_id TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
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
        id TEXT COLLATE "C" PRIMARY KEY,
        user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        provider TEXT COLLATE "C" NOT NULL,
        subject TEXT COLLATE "C" NOT NULL,
        email TEXT,
        email_verified BOOLEAN NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT
      );
      CREATE UNIQUE INDEX identities_provider_subject_key ON identities (provider, subject);
      CREATE INDEX identities_user_idx ON identities (user_id);

      CREATE TABLE oauth_states (
        state_hash TEXT COLLATE "C" PRIMARY KEY,
        browser_hash TEXT NOT NULL,
        provider TEXT NOT NULL,
        nonce TEXT,
        code_verifier TEXT NOT NULL,
        redirect_to TEXT NOT NULL,
        app_code_challenge TEXT,
        link_user_id TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX oauth_states_expires_idx ON oauth_states (expires_at);
      CREATE INDEX oauth_states_user_idx ON oauth_states (link_user_id);

      CREATE TABLE oauth_exchange_codes (
        code_hash TEXT COLLATE "C" PRIMARY KEY,
        user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        identity_id TEXT COLLATE "C" NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
        purpose TEXT NOT NULL,
        app_code_challenge TEXT,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
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
    // /auth/revocations, docs/verify.md). `xid` is the writing transaction's id: a transaction
    // that took seq 5 may commit after one that took seq 6, so a reader ordering by seq alone
    // would move past 5 before it exists; the feed serves only rows of transactions older than
    // every running one (xid < pg_snapshot_xmin), in (xid, seq) order. No foreign key: a user
    // entry outlives the user it names. The trigger writes a session entry in the transaction
    // of every revocation of a session, whichever statement revokes it.
    sql: `
      CREATE TABLE revocations (
        xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        kind TEXT NOT NULL CHECK (kind IN ('session', 'user')),
        subject TEXT COLLATE "C" NOT NULL,
        iat_before BIGINT,
        revoked_at BIGINT NOT NULL,
        PRIMARY KEY (xid, seq)
      );
      CREATE INDEX revocations_revoked_at_idx ON revocations (revoked_at);

      CREATE FUNCTION latchkey_feed_session_revoked() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO revocations (kind, subject, revoked_at) VALUES ('session', NEW.id, NEW.revoked_at);
        RETURN NULL;
      END
      $fn$;
      CREATE TRIGGER sessions_revoked_feed AFTER UPDATE OF revoked_at ON sessions FOR EACH ROW
        WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
        EXECUTE FUNCTION latchkey_feed_session_revoked();
    `,
  },
  {
    version: 8,
    name: 'webhooks',
    // As SQLite's migration 8: the outbox is written by triggers, in the transaction of the change
    // (store/contract/webhooks.ts), only when an endpoint subscribes to the type. Each trigger
    // fires per row; UPDATE OF lists the columns whose change it is about, so a refresh (which sets
    // last_used_at) and a sign-in (last_sign_in_at) fire none.
    sql: `
      ALTER TABLE users ADD COLUMN password_changed_at BIGINT;

      CREATE TABLE webhook_endpoints (
        id TEXT COLLATE "C" PRIMARY KEY,
        url TEXT NOT NULL,
        description TEXT,
        enabled BOOLEAN NOT NULL,
        disabled_reason TEXT,
        failing_since BIGINT,
        secret TEXT NOT NULL,
        previous_secret TEXT,
        previous_secret_expires_at BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );

      CREATE TABLE webhook_subscriptions (
        event_type TEXT COLLATE "C" NOT NULL,
        endpoint_id TEXT COLLATE "C" NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        PRIMARY KEY (event_type, endpoint_id)
      );
      CREATE INDEX webhook_subscriptions_endpoint_idx ON webhook_subscriptions (endpoint_id);

      CREATE TABLE webhook_outbox (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT COLLATE "C" NOT NULL,
        type TEXT COLLATE "C" NOT NULL,
        occurred_at BIGINT NOT NULL,
        data JSONB NOT NULL
      );

      CREATE TABLE webhook_deliveries (
        id TEXT COLLATE "C" PRIMARY KEY,
        endpoint_id TEXT COLLATE "C" NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        event_id TEXT COLLATE "C" NOT NULL,
        event_type TEXT COLLATE "C" NOT NULL,
        payload TEXT NOT NULL,
        status TEXT COLLATE "C" NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_status_code INTEGER,
        last_error TEXT,
        latency_ms INTEGER,
        created_at BIGINT NOT NULL,
        next_attempt_at BIGINT,
        delivered_at BIGINT,
        leased_until BIGINT
      );
      CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status IN ('pending', 'failed');
      CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at, id);

      CREATE FUNCTION latchkey_webhook_event(p_type text, p_at bigint, p_data jsonb) RETURNS void LANGUAGE plpgsql AS $fn$
      BEGIN
        IF EXISTS (SELECT 1 FROM webhook_subscriptions s WHERE s.event_type = p_type) THEN
          INSERT INTO webhook_outbox (id, type, occurred_at, data)
          VALUES ('evt_' || replace(gen_random_uuid()::text, '-', ''), p_type, p_at, p_data);
        END IF;
      END
      $fn$;

      CREATE FUNCTION latchkey_webhook_user_created() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM latchkey_webhook_event('user.created', NEW.created_at, jsonb_build_object('user', jsonb_build_object('id', NEW.id, 'email', NEW.email, 'name', NEW.name, 'roles', to_jsonb(NEW.roles), 'email_verified', NEW.email_verified, 'disabled', NEW.disabled, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at)));
        RETURN NULL;
      END
      $fn$;

      CREATE TRIGGER webhook_user_created AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION latchkey_webhook_user_created();

      CREATE FUNCTION latchkey_webhook_user_updated() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM latchkey_webhook_event('user.updated', NEW.updated_at, jsonb_build_object('before', jsonb_build_object('id', OLD.id, 'email', OLD.email, 'name', OLD.name, 'roles', to_jsonb(OLD.roles), 'email_verified', OLD.email_verified, 'disabled', OLD.disabled, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), 'after', jsonb_build_object('id', NEW.id, 'email', NEW.email, 'name', NEW.name, 'roles', to_jsonb(NEW.roles), 'email_verified', NEW.email_verified, 'disabled', NEW.disabled, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at)));
        IF NEW.email_verified AND NOT OLD.email_verified THEN
          PERFORM latchkey_webhook_event('user.email_verified', NEW.updated_at, jsonb_build_object('user', jsonb_build_object('id', NEW.id, 'email', NEW.email, 'name', NEW.name, 'roles', to_jsonb(NEW.roles), 'email_verified', NEW.email_verified, 'disabled', NEW.disabled, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at)));
        END IF;
        RETURN NULL;
      END
      $fn$;

      CREATE TRIGGER webhook_user_updated AFTER UPDATE OF email, name, roles, email_verified, disabled ON users FOR EACH ROW WHEN (OLD.email IS DISTINCT FROM NEW.email OR OLD.name IS DISTINCT FROM NEW.name OR OLD.roles IS DISTINCT FROM NEW.roles OR OLD.email_verified IS DISTINCT FROM NEW.email_verified OR OLD.disabled IS DISTINCT FROM NEW.disabled) EXECUTE FUNCTION latchkey_webhook_user_updated();

      CREATE FUNCTION latchkey_webhook_user_deleted() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM latchkey_webhook_event('user.deleted', (extract(epoch FROM clock_timestamp()) * 1000)::bigint, jsonb_build_object('user', jsonb_build_object('id', OLD.id, 'email', OLD.email, 'name', OLD.name, 'roles', to_jsonb(OLD.roles), 'email_verified', OLD.email_verified, 'disabled', OLD.disabled, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at)));
        RETURN NULL;
      END
      $fn$;

      CREATE TRIGGER webhook_user_deleted AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION latchkey_webhook_user_deleted();

      CREATE FUNCTION latchkey_webhook_password_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM latchkey_webhook_event('password.changed', NEW.password_changed_at, jsonb_build_object('user_id', NEW.id));
        RETURN NULL;
      END
      $fn$;

      CREATE TRIGGER webhook_password_changed AFTER UPDATE OF password_changed_at ON users FOR EACH ROW WHEN (NEW.password_changed_at IS NOT NULL) EXECUTE FUNCTION latchkey_webhook_password_changed();

      CREATE FUNCTION latchkey_webhook_session_created() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM latchkey_webhook_event('session.created', NEW.created_at, jsonb_build_object('user_id', NEW.user_id, 'session_id', NEW.id));
        RETURN NULL;
      END
      $fn$;

      CREATE TRIGGER webhook_session_created AFTER INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION latchkey_webhook_session_created();

      CREATE FUNCTION latchkey_webhook_session_revoked() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM latchkey_webhook_event('session.revoked', NEW.revoked_at, jsonb_build_object('user_id', NEW.user_id, 'session_id', NEW.id, 'reason', NEW.revoked_reason));
        IF NEW.revoked_reason = 'refresh_token_reused' THEN
          PERFORM latchkey_webhook_event('session.reuse_detected', NEW.revoked_at, jsonb_build_object('user_id', NEW.user_id, 'session_id', NEW.id));
        END IF;
        RETURN NULL;
      END
      $fn$;

      CREATE TRIGGER webhook_session_revoked AFTER UPDATE OF revoked_at ON sessions FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL) EXECUTE FUNCTION latchkey_webhook_session_revoked();

      CREATE FUNCTION latchkey_webhook_factor_confirmed() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM latchkey_webhook_event('factor.added', NEW.confirmed_at, jsonb_build_object('user_id', NEW.user_id, 'factor', NEW.kind, 'factor_id', NEW.id));
        RETURN NULL;
      END
      $fn$;

      CREATE TRIGGER webhook_factor_confirmed AFTER UPDATE OF confirmed_at ON factors FOR EACH ROW WHEN (OLD.confirmed_at IS NULL AND NEW.confirmed_at IS NOT NULL) EXECUTE FUNCTION latchkey_webhook_factor_confirmed();

      CREATE FUNCTION latchkey_webhook_factor_deleted() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        IF EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id) THEN
          PERFORM latchkey_webhook_event('factor.removed', (extract(epoch FROM clock_timestamp()) * 1000)::bigint, jsonb_build_object('user_id', OLD.user_id, 'factor', OLD.kind, 'factor_id', OLD.id));
        END IF;
        RETURN NULL;
      END
      $fn$;

      CREATE TRIGGER webhook_factor_deleted AFTER DELETE ON factors FOR EACH ROW WHEN (OLD.confirmed_at IS NOT NULL) EXECUTE FUNCTION latchkey_webhook_factor_deleted();

      CREATE FUNCTION latchkey_webhook_passkey_added() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM latchkey_webhook_event('factor.added', NEW.created_at, jsonb_build_object('user_id', NEW.user_id, 'factor', 'passkey', 'factor_id', NEW.id));
        RETURN NULL;
      END
      $fn$;

      CREATE TRIGGER webhook_passkey_added AFTER INSERT ON passkeys FOR EACH ROW EXECUTE FUNCTION latchkey_webhook_passkey_added();

      CREATE FUNCTION latchkey_webhook_passkey_deleted() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        IF EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id) THEN
          PERFORM latchkey_webhook_event('factor.removed', (extract(epoch FROM clock_timestamp()) * 1000)::bigint, jsonb_build_object('user_id', OLD.user_id, 'factor', 'passkey', 'factor_id', OLD.id));
        END IF;
        RETURN NULL;
      END
      $fn$;

      CREATE TRIGGER webhook_passkey_deleted AFTER DELETE ON passkeys FOR EACH ROW EXECUTE FUNCTION latchkey_webhook_passkey_deleted();

      CREATE FUNCTION latchkey_webhook_identity_linked() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM latchkey_webhook_event('identity.linked', NEW.created_at, jsonb_build_object('user_id', NEW.user_id, 'provider', NEW.provider, 'identity_id', NEW.id));
        RETURN NULL;
      END
      $fn$;

      CREATE TRIGGER webhook_identity_linked AFTER INSERT ON identities FOR EACH ROW EXECUTE FUNCTION latchkey_webhook_identity_linked();

      CREATE FUNCTION latchkey_webhook_identity_unlinked() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        IF EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id) THEN
          PERFORM latchkey_webhook_event('identity.unlinked', (extract(epoch FROM clock_timestamp()) * 1000)::bigint, jsonb_build_object('user_id', OLD.user_id, 'provider', OLD.provider, 'identity_id', OLD.id));
        END IF;
        RETURN NULL;
      END
      $fn$;

      CREATE TRIGGER webhook_identity_unlinked AFTER DELETE ON identities FOR EACH ROW EXECUTE FUNCTION latchkey_webhook_identity_unlinked();
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
        id TEXT COLLATE "C" PRIMARY KEY,
        at BIGINT NOT NULL,
        actor_type TEXT NOT NULL,
        actor_id TEXT COLLATE "C",
        actor_email TEXT COLLATE "C",
        action TEXT COLLATE "C" NOT NULL,
        target_type TEXT,
        target_id TEXT COLLATE "C",
        changes JSONB,
        ip TEXT,
        user_agent TEXT,
        request_id TEXT
      );
      CREATE INDEX audit_log_at_idx ON audit_log (at, id);
      CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at);
      CREATE INDEX audit_log_actor_email_idx ON audit_log (actor_email, at);
      CREATE INDEX audit_log_target_idx ON audit_log (target_id, at);
      CREATE INDEX audit_log_action_idx ON audit_log (action, at);
      CREATE FUNCTION audit_log_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_log is append-only';
      END;
      $$;
      CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_update();
    `,
  },
  {
    version: 10,
    name: 'user locale',
    // See sqlite/schema.ts, version 10.
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
        email TEXT COLLATE "C" PRIMARY KEY,
        id TEXT COLLATE "C" NOT NULL UNIQUE,
        token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
        code_hash TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX email_sign_in_challenges_expires_idx ON email_sign_in_challenges (expires_at);
      -- A deleted account takes its address's pending challenge along (no row of it survives).
      CREATE FUNCTION email_sign_in_challenges_user_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          DELETE FROM email_sign_in_challenges WHERE email = OLD.email;
          RETURN NULL;
        END;
      $$;
      CREATE TRIGGER email_sign_in_challenges_user_deleted AFTER DELETE ON users FOR EACH ROW
        EXECUTE FUNCTION email_sign_in_challenges_user_deleted();
    `,
  },
  {
    version: 12,
    name: 'account deletion',
    // As in SQLite: when a self-service deletion falls due (NULL: none scheduled), cleared by the
    // user's next sign-in in the statement that creates the session; the purge reads it through
    // the partial index.
    sql: `
      ALTER TABLE users ADD COLUMN deletion_due_at BIGINT;
      CREATE INDEX users_deletion_due_idx ON users (deletion_due_at) WHERE deletion_due_at IS NOT NULL;
    `,
  },
  {
    version: 13,
    name: 'webhook user events carry the locale',
    // As SQLite's migration 13: the user.* events' user shape gains the locale (migration 10),
    // and a change of locale alone is a user.updated.
    sql: `
      CREATE OR REPLACE FUNCTION latchkey_webhook_user_created() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM latchkey_webhook_event('user.created', NEW.created_at, jsonb_build_object('user', jsonb_build_object('id', NEW.id, 'email', NEW.email, 'name', NEW.name, 'roles', to_jsonb(NEW.roles), 'email_verified', NEW.email_verified, 'disabled', NEW.disabled, 'locale', NEW.locale, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at)));
        RETURN NULL;
      END
      $fn$;

      CREATE OR REPLACE FUNCTION latchkey_webhook_user_updated() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM latchkey_webhook_event('user.updated', NEW.updated_at, jsonb_build_object('before', jsonb_build_object('id', OLD.id, 'email', OLD.email, 'name', OLD.name, 'roles', to_jsonb(OLD.roles), 'email_verified', OLD.email_verified, 'disabled', OLD.disabled, 'locale', OLD.locale, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), 'after', jsonb_build_object('id', NEW.id, 'email', NEW.email, 'name', NEW.name, 'roles', to_jsonb(NEW.roles), 'email_verified', NEW.email_verified, 'disabled', NEW.disabled, 'locale', NEW.locale, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at)));
        IF NEW.email_verified AND NOT OLD.email_verified THEN
          PERFORM latchkey_webhook_event('user.email_verified', NEW.updated_at, jsonb_build_object('user', jsonb_build_object('id', NEW.id, 'email', NEW.email, 'name', NEW.name, 'roles', to_jsonb(NEW.roles), 'email_verified', NEW.email_verified, 'disabled', NEW.disabled, 'locale', NEW.locale, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at)));
        END IF;
        RETURN NULL;
      END
      $fn$;

      CREATE OR REPLACE FUNCTION latchkey_webhook_user_deleted() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM latchkey_webhook_event('user.deleted', (extract(epoch FROM clock_timestamp()) * 1000)::bigint, jsonb_build_object('user', jsonb_build_object('id', OLD.id, 'email', OLD.email, 'name', OLD.name, 'roles', to_jsonb(OLD.roles), 'email_verified', OLD.email_verified, 'disabled', OLD.disabled, 'locale', OLD.locale, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at)));
        RETURN NULL;
      END
      $fn$;

      DROP TRIGGER webhook_user_updated ON users;
      CREATE TRIGGER webhook_user_updated AFTER UPDATE OF email, name, roles, email_verified, disabled, locale ON users FOR EACH ROW WHEN (OLD.email IS DISTINCT FROM NEW.email OR OLD.name IS DISTINCT FROM NEW.name OR OLD.roles IS DISTINCT FROM NEW.roles OR OLD.email_verified IS DISTINCT FROM NEW.email_verified OR OLD.disabled IS DISTINCT FROM NEW.disabled OR OLD.locale IS DISTINCT FROM NEW.locale) EXECUTE FUNCTION latchkey_webhook_user_updated();
    `,
  },
  {
    version: 14,
    name: 'oauth provider',
    // See sqlite/schema.ts, version 14. JSONB payloads; times in milliseconds like every table.
    sql: `
      CREATE TABLE oauth_clients (
        id TEXT COLLATE "C" PRIMARY KEY,
        name TEXT NOT NULL,
        secret_hash TEXT,
        metadata JSONB NOT NULL,
        first_party BOOLEAN NOT NULL DEFAULT false,
        dynamic BOOLEAN NOT NULL DEFAULT false,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        secret_rotated_at BIGINT
      );
      CREATE TABLE oauth_payloads (
        model TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL,
        payload JSONB NOT NULL,
        grant_id TEXT COLLATE "C",
        user_code TEXT COLLATE "C",
        uid TEXT COLLATE "C",
        account_id TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
        client_id TEXT COLLATE "C" REFERENCES oauth_clients (id) ON DELETE CASCADE,
        expires_at BIGINT,
        consumed_at BIGINT,
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

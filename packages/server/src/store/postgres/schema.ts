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
];

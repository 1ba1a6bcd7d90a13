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
];

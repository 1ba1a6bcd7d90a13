import type Database from 'better-sqlite3';
import { exchangeCodeFromRow, identityFromRow, oauthStateFromRow, type ExchangeCodeRow, type IdentityRow, type OAuthStateRow } from '../rows.js';
import type { IdentityStore } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { guardOutages } from './errors.js';

function prepareIdentityStatements(db: Database.Database) {
  return {
    // The unique index on (provider, subject) settles a duplicate: nothing is inserted, changes is 0.
    insert: db.prepare(
      `INSERT INTO identities (id, user_id, provider, subject, email, email_verified, created_at)
       VALUES (@id, @userId, @provider, @subject, @email, @emailVerified, @createdAt)
       ON CONFLICT (provider, subject) DO NOTHING`,
    ),
    find: db.prepare<[string, string], IdentityRow>('SELECT * FROM identities WHERE provider = ? AND subject = ?'),
    list: db.prepare<[string], IdentityRow>('SELECT * FROM identities WHERE user_id = ? ORDER BY created_at, id'),
    remove: db.prepare('DELETE FROM identities WHERE id = ? AND user_id = ?'),
    // One statement: the count and the delete see the same state (SQLite has one writer at a time).
    removeKeepingOne: db.prepare(
      'DELETE FROM identities WHERE id = ? AND user_id = ? AND (SELECT count(*) FROM identities WHERE user_id = ?) > 1',
    ),
    touch: db.prepare('UPDATE identities SET email = ?, email_verified = ?, last_used_at = ? WHERE id = ?'),
    insertState: db.prepare(
      `INSERT INTO oauth_states (state_hash, browser_hash, provider, nonce, code_verifier, redirect_to, app_code_challenge, link_user_id, created_at, expires_at)
       VALUES (@stateHash, @browserHash, @provider, @nonce, @codeVerifier, @redirectTo, @appCodeChallenge, @linkUserId, @createdAt, @expiresAt)`,
    ),
    consumeState: db.prepare<[string, number], OAuthStateRow>('DELETE FROM oauth_states WHERE state_hash = ? AND expires_at > ? RETURNING *'),
    insertCode: db.prepare(
      `INSERT INTO oauth_exchange_codes (code_hash, user_id, identity_id, purpose, app_code_challenge, created_at, expires_at)
       VALUES (@codeHash, @userId, @identityId, @purpose, @appCodeChallenge, @createdAt, @expiresAt)`,
    ),
    consumeCode: db.prepare<[string, number], ExchangeCodeRow>('DELETE FROM oauth_exchange_codes WHERE code_hash = ? AND expires_at > ? RETURNING *'),
    purgeStates: db.prepare(
      'DELETE FROM oauth_states WHERE state_hash IN (SELECT state_hash FROM oauth_states WHERE expires_at <= ? LIMIT ?)',
    ),
    purgeCodes: db.prepare(
      'DELETE FROM oauth_exchange_codes WHERE code_hash IN (SELECT code_hash FROM oauth_exchange_codes WHERE expires_at <= ? LIMIT ?)',
    ),
  };
}

/**
 * The identities concern on SQLite. Each "exactly one" is a single statement (an insert against
 * a unique index, a DELETE ... RETURNING), which runs without yielding in this process; another
 * process on the file waits for the write lock, then sees the committed change.
 */
export function sqliteIdentities(c: SqliteConnection): IdentityStore {
  const s = c.statements(prepareIdentityStatements);

  return guardOutages<IdentityStore>({
    createIdentity(i) {
      return s().insert.run({ ...i, emailVerified: i.emailVerified ? 1 : 0 }).changes === 1;
    },

    findIdentity(provider, subject) {
      const row = s().find.get(provider, subject);
      return row ? identityFromRow(row) : null;
    },

    listIdentities(userId) {
      return s().list.all(userId).map(identityFromRow);
    },

    deleteIdentity(userId, id, keepOne = false) {
      return (keepOne ? s().removeKeepingOne.run(id, userId, userId) : s().remove.run(id, userId)).changes === 1;
    },

    touchIdentity(id, email, emailVerified, now) {
      s().touch.run(email, emailVerified ? 1 : 0, now, id);
    },

    createOAuthState(state) {
      s().insertState.run(state);
    },

    consumeOAuthState(stateHash, now) {
      const row = s().consumeState.get(stateHash, now);
      return row ? oauthStateFromRow(row) : undefined;
    },

    createExchangeCode(code) {
      s().insertCode.run(code);
    },

    consumeExchangeCode(codeHash, now) {
      const row = s().consumeCode.get(codeHash, now);
      return row ? exchangeCodeFromRow(row) : undefined;
    },

    purgeOAuthStates(now, limit) {
      return s().purgeStates.run(now, limit).changes + s().purgeCodes.run(now, limit).changes;
    },
  });
}

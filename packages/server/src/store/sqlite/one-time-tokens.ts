import type Database from 'better-sqlite3';
import type { OneTimeTokenStore } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { guardOutages } from './errors.js';

function prepareOneTimeTokenStatements(db: Database.Database) {
  return {
    insertOtt: db.prepare(
      `INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at)
       VALUES (@tokenHash, @userId, @purpose, @createdAt, @expiresAt)`,
    ),
    consumeOtt: db.prepare<[number, string, string, number], { user_id: string }>(
      `UPDATE one_time_tokens SET used_at = ? WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?
       RETURNING user_id`,
    ),
    findOtt: db.prepare<[string, string, number], { user_id: string }>(
      'SELECT user_id FROM one_time_tokens WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?',
    ),
    deleteOtts: db.prepare('DELETE FROM one_time_tokens WHERE user_id = ? AND purpose = ?'),
  };
}

/** The one-time tokens concern on SQLite (email verification, password reset). */
export function sqliteOneTimeTokens(c: SqliteConnection): OneTimeTokenStore {
  const s = c.statements(prepareOneTimeTokenStatements);

  return guardOutages<OneTimeTokenStore>({
    createOneTimeToken(t) {
      s().insertOtt.run(t);
    },

    consumeOneTimeToken(tokenHash, purpose, now) {
      return s().consumeOtt.get(now, tokenHash, purpose, now)?.user_id ?? null;
    },

    findOneTimeToken(tokenHash, purpose, now) {
      return s().findOtt.get(tokenHash, purpose, now)?.user_id ?? null;
    },

    deleteOneTimeTokens(userId, purpose) {
      s().deleteOtts.run(userId, purpose);
    },
  });
}
